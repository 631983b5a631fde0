//! `kpledger cert`: issue, show, confirm, approve, void and list certificates, and the text of a certificate record.

use super::*;

pub(super) fn cert(client: &Client, out: &Output, command: CertCommand) -> Result<(), CliError> {
    match command {
        CertCommand::Issue { signer, file } => {
            let key = read_key(&signer.key)?;
            let certificate = read_certificate(&file)?;
            send(
                client,
                out,
                &signer,
                &key,
                Payload::IssueCertificate(certificate),
            )?;
        }
        CertCommand::Show { number } => {
            let number: CertificateNumber = parse("certificate number", &number)?;
            let record = client.get(&format!("/v1/certificates/{number}"))?;
            out.show(&record, || describe_certificate(&record));
        }
        CertCommand::Verify {
            number,
            genesis,
            also,
            light,
        } => verify(client, out, &number, &genesis, &also, &light)?,
        CertCommand::Confirm {
            signer,
            number,
            authority,
            carats,
            parcels,
            received_on,
        } => {
            let key = read_key(&signer.key)?;
            let number: CertificateNumber = parse("certificate number", &number)?;
            let record = client.get(&format!("/v1/certificates/{number}"))?;
            let certified: Certificate = serde_json::from_value(record["certificate"].clone())
                .map_err(|e| usage(format!("the node's certificate does not decode: {e}")))?;
            let confirmation = ImportConfirmation {
                number,
                authority: authority_or_signer(client, authority.as_ref(), &key)?,
                carats: match carats {
                    Some(c) => parse("carats", &c)?,
                    None => certified.total_carats(),
                },
                parcels: parcels.unwrap_or(certified.total_parcels()),
                received_on: date_or_today(received_on.as_ref())?,
            };
            send(
                client,
                out,
                &signer,
                &key,
                Payload::ConfirmImport(confirmation),
            )?;
        }
        CertCommand::Void {
            signer,
            number,
            authority,
            reason,
        } => {
            let key = read_key(&signer.key)?;
            let void = VoidCertificate {
                number: parse("certificate number", &number)?,
                authority: authority_or_signer(client, authority.as_ref(), &key)?,
                reason,
            };
            send(client, out, &signer, &key, Payload::VoidCertificate(void))?;
        }
        CertCommand::Approve {
            signer,
            number,
            monitor,
        } => {
            let key = read_key(&signer.key)?;
            let number: CertificateNumber = parse("certificate number", &number)?;
            let monitor = match monitor {
                Some(m) => parse("participant code", &m)?,
                None => {
                    let record = client.get(&format!("/v1/certificates/{number}"))?;
                    if record["approval"].is_null() {
                        return Err(usage(format!(
                            "certificate {number} needs no monitor's approval (status {})",
                            s(&record["status"])
                        )));
                    }
                    parse("participant code", &s(&record["approval"]["monitor"]))?
                }
            };
            let approval = CertificateApproval { number, monitor };
            send(
                client,
                out,
                &signer,
                &key,
                Payload::ApproveCertificate(approval),
            )?;
        }
        CertCommand::List {
            exporting,
            importing,
            awaiting_approval,
            monitor,
            status,
            period,
            after,
            limit,
        } => {
            let status = if awaiting_approval {
                Some("awaiting-approval".to_string())
            } else {
                status
            };
            let mut query = vec![format!("limit={limit}")];
            for (name, value) in [
                ("exporting", exporting),
                ("importing", importing),
                ("monitor", monitor),
                ("status", status),
                ("period", period),
                ("after", after),
            ] {
                if let Some(v) = value {
                    query.push(format!("{name}={v}"));
                }
            }
            let page = client.get(&format!("/v1/certificates?{}", query.join("&")))?;
            out.show(&page, || {
                let mut text = format!(
                    "{:<14} {:<4} {:<4} {:>12} {:>14} {:<10} {}",
                    "NUMBER", "FROM", "TO", "CARATS", "USD", "ISSUED", "STATUS"
                );
                for r in page["items"].as_array().into_iter().flatten() {
                    let c: Option<Certificate> =
                        serde_json::from_value(r["certificate"].clone()).ok();
                    if let Some(c) = c {
                        text.push_str(&format!(
                            "\n{:<14} {:<4} {:<4} {:>12} {:>14} {:<10} {}",
                            c.number.as_str(),
                            c.exporting.as_str(),
                            c.importing.as_str(),
                            c.total_carats().to_string(),
                            c.total_value().to_string(),
                            c.issued_on.to_string(),
                            s(&r["status"])
                        ));
                    }
                }
                if !page["next"].is_null() {
                    text.push_str(&format!("\nmore: --after {}", s(&page["next"])));
                }
                text
            });
        }
    }
    Ok(())
}

pub(super) fn describe_certificate(record: &Value) -> String {
    let c = &record["certificate"];
    let mut text = format!(
        "certificate {}  status {}\n  from {} (authority {}) to {} (destination {})\n  exporter {} / importer {}\n  issued {}  expires {}",
        s(&c["number"]), s(&record["status"]), s(&c["exporting"]), s(&c["issuing_authority"]),
        s(&c["importing"]), s(&c["destination"]), s(&c["exporter"]["name"]),
        s(&c["importer"]["name"]), s(&c["issued_on"]), s(&c["expires_on"])
    );
    for line in c["lines"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  line {}: {} ct, USD {}, {} parcels",
            s(&line["hs_code"]),
            s(&line["carats"]),
            s(&line["value_usd"]),
            line["parcels"]
        ));
    }
    for h in record["history"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  history: {} at height {} (tx {})",
            s(&h["event"]),
            h["height"],
            s(&h["tx"])
        ));
    }
    let r = &record["receipt"];
    if !r.is_null() {
        text.push_str(&format!(
            "\n  received {} ct, {} parcels on {} (authority {})",
            s(&r["carats"]),
            r["parcels"],
            s(&r["received_on"]),
            s(&r["authority"])
        ));
    }
    let d = &record["discrepancy"];
    if !d.is_null() {
        text.push_str(&format!(
            "\n  DISCREPANCY: certified {} ct, {} parcels; received {} ct, {} parcels",
            s(&d["certified_carats"]),
            d["certified_parcels"],
            s(&d["received_carats"]),
            d["received_parcels"]
        ));
    }
    let a = &record["approval"];
    if !a.is_null() {
        match a["approved_height"].as_u64() {
            Some(h) => text.push_str(&format!(
                "\n  approved by monitor {} at height {h}",
                s(&a["monitor"])
            )),
            None => text.push_str(&format!(
                "\n  AWAITING APPROVAL by monitor {}: it cannot be confirmed before",
                s(&a["monitor"])
            )),
        }
    }
    if record["enhanced_vigilance"].as_bool() == Some(true) {
        text.push_str("\n  ENHANCED VIGILANCE: check the shipment on arrival");
    }
    if !record["void_reason"].is_null() {
        text.push_str(&format!("\n  void: {}", s(&record["void_reason"])));
    }
    for a in record["alerts"].as_array().into_iter().flatten() {
        text.push_str(&format!("\n  ALERT: {a}"));
    }
    text
}
