//! `kpledger seizure`, `authority` and `production`: seizure alerts, the authority registry and production figures.

use super::*;

pub(super) fn seizure(
    client: &Client,
    out: &Output,
    command: SeizureCommand,
) -> Result<(), CliError> {
    match command {
        SeizureCommand::Report {
            signer,
            authority,
            territory,
            location,
            carats,
            value,
            reason,
            certificate,
            date,
        } => {
            let key = signer.load()?;
            let reason: SeizureReason = serde_json::from_value(Value::String(reason.clone()))
                .map_err(|_| usage(format!("reason {reason:?}: no-certificate, forged-certificate, contents-mismatch or sanctioned-origin")))?;
            let report = SeizureReport {
                authority: authority_or_signer(client, authority.as_ref(), &key)?,
                territory: parse::<Territory>("territory", &territory)?,
                location,
                carats: parse::<Carats>("carats", &carats)?,
                value_usd: value.map(|v| parse::<UsdCents>("value", &v)).transpose()?,
                reason,
                certificate: certificate
                    .map(|n| parse::<CertificateNumber>("certificate number", &n))
                    .transpose()?,
                seized_on: date_or_today(date.as_ref())?,
            };
            send(client, out, &signer, &key, Payload::ReportSeizure(report))?;
        }
        SeizureCommand::List { limit } => {
            let page = client.seizures(limit)?;
            out.show(&page, || {
                let mut text = String::from(
                    "SEQ  REPORTER  TERRITORY  CARATS      REASON               CERTIFICATE",
                );
                for r in &page.items {
                    text.push_str(&format!(
                        "\n{:<4} {:<9} {:<10} {:<11} {:<20} {}",
                        r.sequence,
                        text_of(&r.reporter),
                        text_of(&r.report.territory),
                        text_of(&r.report.carats),
                        text_of(&r.report.reason),
                        text_of(&r.report.certificate)
                    ));
                }
                text
            });
        }
    }
    Ok(())
}

pub(super) fn authority(
    client: &Client,
    out: &Output,
    command: AuthorityCommand,
) -> Result<(), CliError> {
    match command {
        AuthorityCommand::Register {
            signer,
            participant,
            id,
            name,
            authority_key,
            encryption_key,
        } => {
            let key = signer.load()?;
            let authority = Authority {
                id: parse("authority id", &id)?,
                participant: parse("participant code", &participant)?,
                name,
                key: keys::public_of(&authority_key)?,
                encryption_key: encryption_key.map(|k| encryption_key_arg(&k)).transpose()?,
            };
            send(
                client,
                out,
                &signer,
                &key,
                Payload::RegisterAuthority(authority),
            )?;
        }
        AuthorityCommand::SetEncryptionKey {
            signer,
            participant,
            id,
            encryption_key,
        } => {
            let key = signer.load()?;
            let payload = Payload::SetEncryptionKey {
                participant: parse("participant code", &participant)?,
                authority: parse("authority id", &id)?,
                key: encryption_key_arg(&encryption_key)?,
            };
            send(client, out, &signer, &key, payload)?;
        }
        AuthorityCommand::Revoke {
            signer,
            participant,
            id,
            compromised_since,
        } => {
            let key = signer.load()?;
            let compromised_since = compromised_since
                .as_deref()
                .map(compromise_time)
                .transpose()?;
            let payload = Payload::RevokeAuthority {
                participant: parse("participant code", &participant)?,
                authority: parse("authority id", &id)?,
                compromised_since,
            };
            send(client, out, &signer, &key, payload)?;
        }
    }
    Ok(())
}

pub(super) fn production(
    client: &Client,
    out: &Output,
    command: ProductionCommand,
) -> Result<(), CliError> {
    let ProductionCommand::Report {
        signer,
        authority,
        period,
        carats,
        value,
    } = command;
    let key = signer.load()?;
    let report = ProductionReport {
        authority: authority_or_signer(client, authority.as_ref(), &key)?,
        period: parse::<Period>("period", &period)?,
        carats: parse("carats", &carats)?,
        value_usd: parse("value", &value)?,
    };
    send(
        client,
        out,
        &signer,
        &key,
        Payload::ReportProduction(report),
    )?;
    Ok(())
}

/// A "compromised since" time: a timestamp, or a date meaning its start
/// (00:00 UTC).
fn compromise_time(text: &str) -> Result<Timestamp, CliError> {
    if let Ok(date) = text.parse::<Date>() {
        return Ok(Timestamp::at_start_of(date));
    }
    parse::<Timestamp>("time (YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DD)", text)
}

/// An encryption key given as 64 hex digits, or derived from an encryption
/// key file (only its public half is used).
pub(super) fn encryption_key_arg(text: &str) -> Result<kp_types::EncryptionKey, CliError> {
    if let Some(key) = kp_types::EncryptionKey::from_hex(text).filter(|_| text.trim().len() == 64) {
        return Ok(key);
    }
    keys::read(Path::new(text))
        .map(|k| kp_types::DecryptionKey::from_seed(&k.seed()).public())
        .map_err(|e| {
            usage(format!(
                "encryption key {text:?}: neither 64 hex digits nor a key file ({e})"
            ))
        })
}
