//! `kpledger keys rotate | recover | cancel-recovery`: a member's keys on
//! the ledger (`docs/adr/0008-government-keys-and-recovery.md`).

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

/// Runs a `kpledger keys` command that changes the ledger.
pub fn run_keys(global: &Global, command: KeyChangeCommand) -> Result<(), CliError> {
    let client = Client::connect(&global.node, &global.connection())?;
    let out = Output { json: global.json };
    match command {
        KeyChangeCommand::Rotate {
            role,
            signer,
            participant,
            new_key,
        } => {
            let key = signer.load()?;
            let payload = Payload::RotateKey {
                participant: parse("participant code", &participant)?,
                role: parse("key role", &role)?,
                new_key: public_key_arg("new key", &new_key)?,
            };
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
