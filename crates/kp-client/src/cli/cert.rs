//! `kpledger cert`: issue, show, confirm, approve, void and list certificates, and the text of a certificate record.

use super::*;

pub(super) fn cert(client: &Client, out: &Output, command: CertCommand) -> Result<(), CliError> {
    match command {
        CertCommand::Issue {
            signer,
            file,
            importing_authority,
        } => {
            let key = signer.load()?;
            let draft = read_certificate(&file)?;
            let certificate = seal::seal_draft(client, draft, importing_authority.as_deref())?;
            send(
                client,
                out,
                &signer,
                &key,
                Payload::IssueCertificate(certificate),
            )?;
        }
        CertCommand::Show {
            number,
            key,
            document_out,
        } => {
            let number: CertificateNumber = parse("certificate number", &number)?;
            match client.certificate_view(&number)? {
                crate::CertificateView::Full(answer) => {
                    let answer = *answer;
                    match key {
                        None => out.show(&answer, || describe_certificate(&answer, None)),
                        Some(key) => {
                            let certificate = &answer.record.certificate;
                            let opened = seal::open(certificate, &key)?;
                            if let Some(path) = &document_out {
                                Document::of(&number, &opened).write(path)?;
                            }
                            let value = serde_json::json!({
                                "certificate": &answer,
                                "opened": Document::of(&number, &opened),
                                "proven": false,
                            });
                            out.show(&value, || {
                                format!(
                                    "{}\n  note: opened from this node's answer, not proven: a node \
                                     can seal invented names to your key. `cert verify {number} \
                                     --genesis FILE --key FILE` opens the proven record.",
                                    describe_certificate(&answer, Some(&opened))
                                )
                            });
                            if let Some(path) = &document_out {
                                if !out.json {
                                    println!("wrote the document {}", path.display());
                                }
                            }
                        }
                    }
                }
                crate::CertificateView::Public(_) if key.is_some() => {
                    return Err(usage(
                        "the node serves only the public view of this certificate, \
                         without its sealed fields: give a participant token of its \
                         exporting or importing side (--token)",
                    ));
                }
                crate::CertificateView::Public(view) => out.show(&view, || {
                    let c = &view["certificate"];
                    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
                    format!(
                        "{} {}  {} -> {}  issued by {} on {}, expires {}\n\
                         public view: the shipment's details are for its exporting and \
                         importing Participants (a participant token of either side shows them)\n\
                         alerts: {}",
                        text(&c["number"]),
                        text(&view["status"]),
                        text(&c["exporting"]),
                        text(&c["importing"]),
                        text(&c["issuing_authority"]),
                        text(&c["issued_on"]),
                        text(&c["expires_on"]),
                        view["alerts"].as_array().map_or(0, Vec::len)
                    )
                }),
            }
        }
        CertCommand::Verify {
            number,
            genesis,
            also,
            light,
            document,
            key,
            document_out,
        } => {
            let document = document.map(|p| Document::read(&p)).transpose()?;
            verify(
                client,
                out,
                &number,
                &genesis,
                &also,
                &light,
                super::verify::Extras {
                    document: document.as_ref(),
                    key: key.as_deref(),
                    document_out: document_out.as_deref(),
                },
            )?
        }
        CertCommand::Confirm {
            signer,
            number,
            authority,
            carats,
            parcels,
            received_on,
        } => {
            let key = signer.load()?;
            let number: CertificateNumber = parse("certificate number", &number)?;
            let certified = client.certificate(&number)?.record.certificate;
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
            let key = signer.load()?;
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
            let key = signer.load()?;
            let number: CertificateNumber = parse("certificate number", &number)?;
            let monitor = match monitor {
                Some(m) => parse("participant code", &m)?,
                None => {
                    let record = client.certificate(&number)?.record;
                    match record.approval {
                        Some(approval) => approval.monitor,
                        None => {
                            return Err(usage(format!(
                                "certificate {number} needs no monitor's approval (status {})",
                                record.status.name()
                            )))
                        }
                    }
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
            authority,
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
                ("authority", authority),
                ("status", status),
                ("period", period),
                ("after", after),
            ] {
                if let Some(v) = value {
                    query.push(format!("{name}={v}"));
                }
            }
            let page = client.certificates(&query.join("&"))?;
            out.show(&page, || {
                let mut text = format!(
                    "{:<14} {:<4} {:<4} {:>12} {:>14} {:<10} {}",
                    "NUMBER", "FROM", "TO", "CARATS", "USD", "ISSUED", "STATUS"
                );
                for r in &page.items {
                    let c = &r.certificate;
                    text.push_str(&format!(
                        "\n{:<14} {:<4} {:<4} {:>12} {:>14} {:<10} {}",
                        c.number.as_str(),
                        c.exporting.as_str(),
                        c.importing.as_str(),
                        c.total_carats().to_string(),
                        c.total_value().to_string(),
                        c.issued_on.to_string(),
                        r.status.name()
                    ));
                }
                if let Some(next) = &page.next {
                    text.push_str(&format!("\nmore: --after {next}"));
                }
                text
            });
        }
    }
    Ok(())
}

pub(super) fn describe_certificate(
    answer: &CertificateAnswer,
    opened: Option<&kp_types::sealed::Opened>,
) -> String {
    let record = &answer.record;
    let c = &record.certificate;
    let parties = match opened {
        Some(o) => seal::describe_opened(o, c.parties.sealed().is_some()),
        None => seal::describe_parties(&c.parties),
    };
    let mut text = format!(
        "certificate {}  status {}\n  from {} (authority {}) to {} (destination {})\n{parties}\n  issued {}  expires {}",
        text_of(&c.number), record.status.name(), text_of(&c.exporting),
        text_of(&c.issuing_authority), text_of(&c.importing), text_of(&c.destination),
        text_of(&c.issued_on), text_of(&c.expires_on)
    );
    for line in &c.lines {
        text.push_str(&format!(
            "\n  line {}: {} ct, USD {}, {} parcels",
            text_of(&line.hs_code),
            text_of(&line.carats),
            text_of(&line.value_usd),
            line.parcels
        ));
    }
    for h in &record.history {
        text.push_str(&format!(
            "\n  history: {} at height {} (tx {})",
            text_of(&h.event),
            h.height,
            text_of(&h.tx)
        ));
    }
    if let Some(r) = &record.receipt {
        text.push_str(&format!(
            "\n  received {} ct, {} parcels on {} (authority {})",
            text_of(&r.carats),
            r.parcels,
            text_of(&r.received_on),
            text_of(&r.authority)
        ));
        if r.late {
            text.push_str(&format!(
                "\n  LATE CONFIRMATION: entered after the expiry on {}, for goods received before it",
                text_of(&c.expires_on)
            ));
        }
    }
    if let Some(d) = &record.discrepancy {
        text.push_str(&format!(
            "\n  DISCREPANCY: certified {} ct, {} parcels; received {} ct, {} parcels",
            text_of(&d.certified_carats),
            d.certified_parcels,
            text_of(&d.received_carats),
            d.received_parcels
        ));
    }
    if let Some(a) = &record.approval {
        match a.approved_height {
            Some(h) => text.push_str(&format!(
                "\n  approved by monitor {} at height {h}",
                text_of(&a.monitor)
            )),
            None => text.push_str(&format!(
                "\n  AWAITING APPROVAL by monitor {}: it cannot be confirmed before",
                text_of(&a.monitor)
            )),
        }
    }
    if record.enhanced_vigilance {
        text.push_str("\n  ENHANCED VIGILANCE: check the shipment on arrival");
    }
    if let Some(reason) = &record.void_reason {
        text.push_str(&format!("\n  void: {reason}"));
    }
    for a in &answer.alerts {
        match a {
            CertificateAlert::CompromisedAuthority {
                authority,
                since,
                issued_at,
            } => text.push_str(&format!(
                "\n  ALERT: COMPROMISED AUTHORITY: {} was revoked as compromised since {}; this certificate was issued in a block of {}: it may be forged",
                text_of(authority),
                since,
                issued_at
            )),
            CertificateAlert::SanctionedOrigin { participants } => text.push_str(&format!(
                "\n  ALERT: SANCTIONED ORIGIN: the declared origin includes {} under a sanction forbidding its exports: check the shipment closely",
                participants
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            CertificateAlert::LateConfirmation { .. } => {}
            other => text.push_str(&format!("\n  ALERT: {}", json_of(other))),
        }
    }
    text
}
