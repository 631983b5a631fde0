//! `kpledger keys rotate | recover | cancel-recovery`: a member's keys (and
//! its authorities' signing keys) on the ledger (`docs/adr/0008-government-keys-and-recovery.md`).

use super::*;

/// A public key given as 64 hex digits, or read from a key file (only its
/// public half is used): a new cold key need not touch this machine.
fn public_key_arg(what: &str, text: &str) -> Result<PublicKey, CliError> {
    if let Some(key) = PublicKey::from_hex(text).filter(|_| text.trim().len() == 64) {
        return Ok(key);
    }
    keys::public_of(Path::new(text)).map_err(|e| {
        usage(format!(
            "{what} {text:?}: neither 64 hex digits nor a key file ({e})"
        ))
    })
}

/// The Participant that owns `authority`, from the node's listing (the
/// ledger checks it again: a lie only gets the rotation refused).
fn owner_of(client: &Client, authority: &AuthorityId) -> Result<ParticipantCode, CliError> {
    for member in client.participants()?.items {
        if member
            .authorities
            .iter()
            .any(|a| &a.authority.id == authority)
        {
            return Ok(member.participant.code);
        }
    }
    Err(usage(format!(
        "authority {authority} is not on the ledger; check the id, or give --participant"
    )))
}

/// Runs a `kpledger keys` command that changes the ledger.
pub fn run_keys(global: &Global, command: KeyChangeCommand) -> Result<(), CliError> {
    let client = Client::connect(&global.node, &global.connection())?;
    let out = Output { json: global.json };
    match command {
        KeyChangeCommand::Rotate {
            role,
            signer,
            participant,
            authority,
            new_key,
            new_encryption_key,
        } => {
            let new_key = public_key_arg("new key", &new_key)?;
            let payload = if role == "authority" {
                let Some(authority) = authority else {
                    return Err(usage("keys rotate authority needs --authority ID"));
                };
                let authority: AuthorityId = parse("authority id", &authority)?;
                let participant = match participant {
                    Some(code) => parse("participant code", &code)?,
                    None => owner_of(&client, &authority)?,
                };
                Payload::RotateAuthorityKey {
                    participant,
                    authority,
                    new_key,
                    new_encryption_key: new_encryption_key
                        .map(|k| registry::encryption_key_arg(&k))
                        .transpose()?,
                }
            } else {
                if authority.is_some() || new_encryption_key.is_some() {
                    return Err(usage(format!(
                        "--authority and --new-encryption-key belong to keys rotate authority, not {role}"
                    )));
                }
                let Some(participant) = participant else {
                    return Err(usage(format!(
                        "keys rotate {role} needs --participant CODE"
                    )));
                };
                Payload::RotateKey {
                    participant: parse("participant code", &participant)?,
                    role: parse("key role", &role)?,
                    new_key,
                }
            };
            let key = signer.load()?;
            send(&client, &out, &signer, &key, payload)?;
        }
        KeyChangeCommand::Recover {
            signer,
            participant,
            new_government_key,
            new_recovery_key,
        } => {
            let key = signer.load()?;
            let payload = Payload::BeginRecovery {
                participant: parse("participant code", &participant)?,
                new_government_key: public_key_arg("new government key", &new_government_key)?,
                new_recovery_key: new_recovery_key
                    .map(|k| public_key_arg("new recovery key", &k))
                    .transpose()?,
            };
            send(&client, &out, &signer, &key, payload)?;
        }
        KeyChangeCommand::CancelRecovery {
            signer,
            participant,
        } => {
            let key = signer.load()?;
            let payload = Payload::CancelRecovery {
                participant: parse("participant code", &participant)?,
            };
            send(&client, &out, &signer, &key, payload)?;
        }
    }
    Ok(())
}
