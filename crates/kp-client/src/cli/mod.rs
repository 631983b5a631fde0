//! The client commands of the `kpledger` binary: build and sign transactions
//! with a key file, submit them to a node, and read the ledger.
//!
//! Every command talks to one node (`--node URL`, default the first devnet
//! node). `--json` prints the node's JSON for machines; otherwise output is
//! short readable text. Transactions take their chain id from the node's
//! `/v1/status`, a time-based nonce (milliseconds since 1970) and an expiry
//! ten minutes ahead; by default the command waits until the transaction is
//! decided and says whether the ledger accepted it (exit status 1 if not).
//!
//! `cert verify` does not trust the node: see [`crate::proof`].

use crate::remote_signer::RemoteSigner;
use crate::{Client, ClientError};
use clap::{Args, Subcommand};
use kp_api::answers::{CertificateAlert, CertificateAnswer};
use kp_api::{Genesis, ParticipantRecord, ResolutionOutcome, ResolutionRecord};
use kp_types::keyfile as keys;
use kp_types::{
    Authority, AuthorityId, Carats, Certificate, CertificateApproval, CertificateNumber, Date,
    Hash, ImportConfirmation, OriginRule, ParticipantCode, ParticipantKind, Payload, Period,
    ProductionReport, PublicKey, ResolutionAction, ResolutionProposal, SanctionScope,
    SeizureReason, SeizureReport, SignedTransaction, SigningKey, Territory, Timestamp, Transaction,
    UsdCents, VoidCertificate,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

mod args;
mod cert;
mod keys_cmd;
mod offline;
mod participant;
mod registry;
mod resolution;
mod seal;
mod verify;

pub use args::*;
use cert::*;
pub use keys_cmd::run_keys;
use offline::tx_command;
use participant::*;
use registry::*;
use resolution::*;
pub use seal::{CertificateDraft, Document};
use verify::*;

/// How long a transaction stays valid after the client signs it.
const TX_LIFETIME_MS: u64 = 10 * 60 * 1000;
/// How long a transaction written by `--generate-only` stays valid: long
/// enough to carry it to the signing machine and back, within the default
/// `tx_lifetime_max_ms` of an hour.
const TX_LIFETIME_OFFLINE_MS: u64 = 50 * 60 * 1000;

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The node or the network failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A key file could not be read.
    #[error(transparent)]
    Key(#[from] keys::KeyFileError),
    /// The remote signer could not be reached, refused, or answered wrong.
    #[error(transparent)]
    Signer(#[from] crate::remote_signer::SignerError),
    /// An argument or file is wrong.
    #[error("{0}")]
    Usage(String),
    /// The ledger refused the transaction in its block.
    #[error("the ledger refused transaction {hash}: {code}: {message}")]
    Refused {
        /// The transaction.
        hash: String,
        /// Rejection code.
        code: String,
        /// Explanation.
        message: String,
    },
    /// The command printed its verdict; the process exits with this status
    /// (`cert verify`: 1 not authentic, 2 not found, 3 cannot decide).
    #[error("exit status {0}")]
    Exit(u8),
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

fn now() -> Timestamp {
    kp_types::time::wall_clock()
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, CliError>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|e| usage(format!("{what} {text:?}: {e}")))
}

fn date_or_today(text: Option<&String>) -> Result<Date, CliError> {
    match text {
        Some(t) => parse("date", t),
        None => Ok(now().date()),
    }
}

/// Runs a client command.
pub fn run(global: &Global, command: ClientCommand) -> Result<(), CliError> {
    let client = Client::connect(&global.node, &global.connection())?;
    let out = Output { json: global.json };
    match command {
        ClientCommand::Status => {
            let status = client.status()?;
            out.show(&status, || {
                format!(
                    "chain {}  node {} ({})  height {}  round {}  peers {}  validators {}  mempool {}\nlast block {} at {}",
                    status.chain_id, status.node, status.role, status.height, status.round,
                    status.peers, status.validators, status.mempool, status.block_hash,
                    status.block_time
                )
            });
            Ok(())
        }
        ClientCommand::Cert { command } => cert(&client, &out, command),
        ClientCommand::Seizure { command } => seizure(&client, &out, command),
        ClientCommand::Authority { command } => authority(&client, &out, command),
        ClientCommand::Production { command } => production(&client, &out, command),
        ClientCommand::Resolution { command } => resolution(&client, &out, command),
        ClientCommand::Participant { command } => participant(&client, &out, command),
        ClientCommand::Tx { command } => tx_command(&client, &out, command),
        ClientCommand::Stats {
            participant,
            period,
        } => stats(&client, &out, participant, period),
        ClientCommand::Anomalies { period } => {
            let answer = client.anomalies(period.as_deref())?;
            out.show(&answer, || {
                let mut text = format!("anomalies of {}: {}", answer.period, answer.items.len());
                for item in &answer.items {
                    text.push_str("\n  ");
                    text.push_str(&describe_anomaly(item));
                }
                text
            });
            Ok(())
        }
    }
}

struct Output {
    json: bool,
}

impl Output {
    /// Prints `value` as JSON with `--json`, else `text()`.
    fn show<T: serde::Serialize + ?Sized>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            println!("{}", text());
        }
    }
}

/// A JSON string without quotes (or the JSON text of anything else).
fn s(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A value's JSON text, strings without quotes ([`s`]): the text form of
/// the typed answers' leaves (codes, amounts, dates, enum names), as the
/// node writes them.
fn text_of<T: serde::Serialize + ?Sized>(value: &T) -> String {
    s(&serde_json::to_value(value).unwrap_or(Value::Null))
}

/// A value's JSON text, strings quoted.
fn json_of<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_value(value)
        .unwrap_or(Value::Null)
        .to_string()
}

/// The authority whose key is `key`, from the node's participant listing.
fn authority_of(client: &Client, key: &SignerKey) -> Result<AuthorityId, CliError> {
    let public = key.public();
    for member in client.participants()?.items {
        for a in member.authorities {
            if a.authority.key == public && a.revoked_height.is_none() {
                return Ok(a.authority.id);
            }
        }
    }
    Err(usage(
        "the key is no active authority's key on the ledger; give --authority or another --key",
    ))
}

fn authority_or_signer(
    client: &Client,
    given: Option<&String>,
    key: &SignerKey,
) -> Result<AuthorityId, CliError> {
    match given {
        Some(id) => parse("authority id", id),
        None => authority_of(client, key),
    }
}

/// The key named by `--key`: a key file, or with `--generate-only` a
/// public key alone (64 hex digits), since the transaction is signed
/// elsewhere.
pub(super) struct SignerKey {
    public: PublicKey,
    secret: Option<SigningKey>,
    remote: Option<RemoteSigner>,
}

impl SignerKey {
    fn public(&self) -> PublicKey {
        self.public
    }
}

impl Signer {
    /// Reads the signing key (or, with `--generate-only`, the public key),
    /// or asks the remote signer for the key it signs with (which must be
    /// `--key`'s, if that is given too).
    fn load(&self) -> Result<SignerKey, CliError> {
        let named = |text: &str| {
            (text.trim().len() == 64)
                .then(|| PublicKey::from_hex(text))
                .flatten()
        };
        if let Some(socket) = &self.remote_signer {
            let remote = RemoteSigner::new(socket);
            let public = remote.public_key()?;
            if let Some(key) = &self.key {
                let expected = match named(&key.to_string_lossy()) {
                    Some(public) => public,
                    None => read_key(key)?.public(),
                };
                if expected != public {
                    return Err(usage(format!(
                        "the signer at {} holds key {}, not --key's {}",
                        socket.display(),
                        public.to_hex(),
                        expected.to_hex()
                    )));
                }
            }
            return Ok(SignerKey {
                public,
                secret: None,
                remote: Some(remote),
            });
        }
        let Some(key) = &self.key else {
            return Err(usage("give --key FILE or --remote-signer SOCKET"));
        };
        if self.generate_only.is_some() {
            if let Some(public) = named(&key.to_string_lossy()) {
                return Ok(SignerKey {
                    public,
                    secret: None,
                    remote: None,
                });
            }
        }
        let secret = read_key(key)?;
        Ok(SignerKey {
            public: secret.public(),
            secret: Some(secret),
            remote: None,
        })
    }
}

/// Signs `payload` with the key file and submits it; prints where it landed.
/// With `--generate-only FILE` it writes the unsigned transaction instead
/// (JSON; `-` for standard output) and ends the command.
fn send(
    client: &Client,
    out: &Output,
    signer: &Signer,
    key: &SignerKey,
    payload: Payload,
) -> Result<kp_api::answers::Submitted, CliError> {
    let chain_id = client.chain_id()?;
    let now = now();
    let unsigned = Transaction {
        chain_id,
        signer: key.public(),
        nonce: now.0,
        expires_at: now.plus_ms(if signer.generate_only.is_some() {
            TX_LIFETIME_OFFLINE_MS
        } else {
            TX_LIFETIME_MS
        }),
        payload,
    };
    if let Some(file) = &signer.generate_only {
        offline::write_unsigned(file, &unsigned)?;
        return Err(CliError::Exit(0));
    }
    let tx = match (&key.secret, &key.remote) {
        (Some(secret), _) => unsigned.sign(secret),
        (None, Some(remote)) => remote.sign(unsigned)?,
        (None, None) => return Err(usage("a public key signs nothing: give the key file")),
    };
    submit_signed(client, out, &tx, !signer.no_wait)
}

/// Submits a signed transaction; prints where it landed.
fn submit_signed(
    client: &Client,
    out: &Output,
    tx: &SignedTransaction,
    wait: bool,
) -> Result<kp_api::answers::Submitted, CliError> {
    let kind = tx.tx.payload.kind();
    let answer = client.submit(tx, wait)?;
    let hash = answer.hash;
    let refusal = answer
        .decided
        .as_ref()
        .and_then(|d| d.receipt.result.clone().err());
    out.show(&answer, || match (&answer.decided, &refusal) {
        (None, _) => {
            format!("{kind} {hash}: accepted into the pool (not waiting for the decision)")
        }
        (Some(decided), Some(rejection)) => format!(
            "{kind} {hash}: decided at height {} but REFUSED: {} ({rejection})",
            decided.height,
            rejection.code()
        ),
        (Some(decided), None) => format!(
            "{kind} {hash}: decided at height {}, accepted",
            decided.height
        ),
    });
    if let Some(rejection) = refusal {
        return Err(CliError::Refused {
            hash: hash.to_string(),
            code: rejection.code().to_string(),
            message: rejection.to_string(),
        });
    }
    Ok(answer)
}

fn read_key(path: &Path) -> Result<SigningKey, CliError> {
    Ok(keys::read(path)?)
}

fn read_certificate(path: &Path) -> Result<CertificateDraft, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    parse_certificate(&text, is_json).map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// A certificate from its TOML (or JSON) text. A field no certificate field
/// takes is an error naming it: a misspelled optional field (`origin_zone`
/// for `origin_zones`) would otherwise be dropped and the certificate issued
/// without it. Native TOML dates (`issued_on = 2026-12-05`) are taken like
/// quoted ones.
fn parse_certificate(text: &str, is_json: bool) -> Result<CertificateDraft, String> {
    let mut unknown = Vec::new();
    let certificate = if is_json {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        serde_ignored::deserialize(value, |field| unknown.push(field.to_string()))
            .map_err(|e| e.to_string())?
    } else {
        let mut value: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
        dates_as_text(&mut value);
        serde_ignored::deserialize(value, |field| unknown.push(field.to_string()))
            .map_err(|e| e.to_string())?
    };
    if !unknown.is_empty() {
        return Err(format!(
            "unknown field(s) {} (see the certificate fields in README.md)",
            unknown.join(", ")
        ));
    }
    Ok(certificate)
}

/// Turns every TOML date without a time into its `YYYY-MM-DD` text, the
/// form the certificate's dates are read from.
fn dates_as_text(value: &mut toml::Value) {
    match value {
        toml::Value::Datetime(dt) if dt.date.is_some() && dt.time.is_none() => {
            *value = toml::Value::String(dt.to_string());
        }
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, v)| dates_as_text(v)),
        toml::Value::Array(items) => items.iter_mut().for_each(dates_as_text),
        _ => {}
    }
}

/// One line for an anomaly, with the figures behind it.
fn describe_anomaly(anomaly: &kp_api::Anomaly) -> String {
    use kp_api::Anomaly as A;
    match anomaly.clone() {
        A::MirrorMismatch {
            exporter,
            importer,
            exported_carats,
            imported_carats,
            difference_pct,
            ..
        } => format!(
            "mirror mismatch {exporter} -> {importer}: {exported_carats} ct certified, \
             {imported_carats} ct confirmed ({difference_pct} % of the larger)"
        ),
        A::ValuePerCaratOutlier {
            participant,
            hs_code,
            value_per_carat_cents,
            norm_cents,
            deviation_pct,
            ..
        } => format!(
            "value per carat {participant} HS {}: USD {} per ct against a norm of USD {} \
             ({deviation_pct} % off)",
            hs_code.0,
            UsdCents(value_per_carat_cents),
            UsdCents(norm_cents)
        ),
        A::ExpiredUnconfirmed {
            participant,
            totals,
            numbers,
            ..
        } => format!(
            "expired unconfirmed {participant}: {} certificates, {} ct, USD {} (e.g. {})",
            totals.count,
            totals.carats,
            totals.value_usd,
            numbers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        A::ExportsExceedSupply {
            participant,
            exported_carats,
            produced_carats,
            imported_carats,
            ..
        } => format!(
            "exports exceed supply {participant}: {exported_carats} ct exported, \
             {produced_carats} ct produced, {imported_carats} ct imported"
        ),
        A::SharpChange {
            participant,
            previous_carats,
            current_carats,
            change_pct,
            ..
        } => format!(
            "sharp change {participant}: {previous_carats} ct -> {current_carats} ct ({change_pct:+} %)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERTIFICATE: &str = r#"
number = "BW2026000001"
exporting = "BW"
issuing_authority = "BW-KPA"
importing = "EU"
destination = "BE"
origin = { countries = ["BW"] }
issued_on = "2026-12-05"
expires_on = "2027-01-04"

[exporter]
name = "Debswana Diamond Company"
address = "Plot 64288, Airport Road, Gaborone"

[importer]
name = "Antwerp Rough Traders BV"
address = "Hoveniersstraat 2, 2018 Antwerp"

[[lines]]
hs_code = "7102.31"
carats = "1250.50"
value_usd = "2500000.00"
parcels = 3
"#;

    #[test]
    fn the_readme_certificate_parses_with_quoted_or_native_dates() {
        let quoted = parse_certificate(CERTIFICATE, false).unwrap();
        let native = parse_certificate(
            &CERTIFICATE
                .replace(r#""2026-12-05""#, "2026-12-05")
                .replace(r#""2027-01-04""#, "2027-01-04"),
            false,
        )
        .unwrap();
        assert_eq!(quoted, native);
        assert_eq!(native.issued_on.to_string(), "2026-12-05");
        let json = serde_json::to_string(&quoted).unwrap();
        assert_eq!(parse_certificate(&json, true).unwrap(), quoted);
    }

    #[test]
    fn a_misspelled_field_is_named_not_dropped() {
        let text = CERTIFICATE.replace(
            "origin = { countries = [\"BW\"] }",
            "origin = { countries = [\"BW\"] }\norigin_zone = [\"Zone-A\"]",
        );
        let error = parse_certificate(&text, false).unwrap_err();
        assert!(error.contains("origin_zone"), "{error}");
        let nested = CERTIFICATE.replace("parcels = 3", "parcels = 3\ncarat = \"1.00\"");
        let error = parse_certificate(&nested, false).unwrap_err();
        assert!(error.contains("lines.0.carat"), "{error}");
    }
}
