//! Offline signing: `--generate-only` writes an unsigned transaction,
//! `kpledger tx sign` signs it where the key is kept (no node needed),
//! `kpledger tx submit` sends it. The files are JSON: a `Transaction`, then
//! a `SignedTransaction`, in the ledger's JSON form.

use super::*;

/// Largest transaction file read (a transaction is at most 64 KiB encoded;
/// its JSON is larger).
const TX_FILE_BYTES_MAX: u64 = 1024 * 1024;

fn read_json<T: serde::de::DeserializeOwned>(what: &str, path: &Path) -> Result<T, CliError> {
    let cannot = |e: String| usage(format!("cannot read {what} {}: {e}", path.display()));
    let len = std::fs::metadata(path)
        .map_err(|e| cannot(e.to_string()))?
        .len();
    if len > TX_FILE_BYTES_MAX {
        return Err(cannot(format!("{len} bytes; at most {TX_FILE_BYTES_MAX}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| cannot(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| cannot(e.to_string()))
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| usage(format!("cannot encode the transaction: {e}")))?;
    if path == Path::new("-") {
        println!("{text}");
        return Ok(());
    }
    std::fs::write(path, text + "\n")
        .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))
}

/// What a transaction does, for the person about to sign it.
fn describe(tx: &Transaction) -> String {
    format!(
        "{} on chain {} by {}, expires {}, hash {}\n{}",
        tx.payload.kind(),
        tx.chain_id,
        text_of(&tx.signer),
        text_of(&tx.expires_at),
        tx.hash(),
        serde_json::to_string_pretty(&tx.payload).unwrap_or_default()
    )
}

/// Writes `tx` unsigned (`--generate-only`).
pub(super) fn write_unsigned(path: &Path, tx: &Transaction) -> Result<(), CliError> {
    write_json(path, tx)?;
    if path != Path::new("-") {
        eprintln!(
            "unsigned {} transaction {} written to {}; sign it with `kpledger tx sign --key KEY {} OUT` before {}",
            tx.payload.kind(),
            tx.hash(),
            path.display(),
            path.display(),
            text_of(&tx.expires_at)
        );
    }
    Ok(())
}

/// `kpledger tx sign | submit`.
pub(super) fn tx_command(
    client: &Client,
    out: &Output,
    command: TxCommand,
) -> Result<(), CliError> {
    match command {
        TxCommand::Sign { key, input, output } => {
            let key = read_key(&key)?;
            let tx: Transaction = read_json("unsigned transaction", &input)?;
            if tx.signer != key.public() {
                return Err(usage(format!(
                    "the transaction names signer {}, the key file holds {}",
                    text_of(&tx.signer),
                    text_of(&key.public())
                )));
            }
            let summary = describe(&tx);
            let signed = tx.sign(&key);
            write_json(&output, &signed)?;
            out.show(&signed, || {
                format!("signed {summary}\nwritten to {}", output.display())
            });
        }
        TxCommand::Submit { file, no_wait } => {
            let tx: SignedTransaction = read_json("signed transaction", &file)?;
            if tx.verify_signature().is_err() {
                return Err(usage(format!(
                    "{}: the signature does not verify against the transaction's signer",
                    file.display()
                )));
            }
            submit_signed(client, out, &tx, !no_wait)?;
        }
    }
    Ok(())
}
