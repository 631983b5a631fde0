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
//! `cert verify` does not trust the node: see [`kp_client::proof`].

use crate::keys;
use clap::{Args, Subcommand};
use kp_client::{Client, ClientError};
use kp_ledger::{Genesis, TxReceipt};
use kp_types::{
    Authority, AuthorityId, Carats, Certificate, CertificateApproval, CertificateNumber, Date,
    Hash, ImportConfirmation, ParticipantCode, Payload, Period, ProductionReport, ResolutionAction,
    ResolutionProposal, SanctionScope, SeizureReason, SeizureReport, SigningKey, Territory,
    Timestamp, Transaction, UsdCents, VoidCertificate,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How long a transaction stays valid after the client signs it.
const TX_LIFETIME_MS: u64 = 10 * 60 * 1000;

/// Options shared by every client command.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The node to talk to.
    #[arg(long, global = true, default_value = "http://127.0.0.1:26601")]
    pub node: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The client commands.
// Parsed once per run: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// The node's status.
    Status,
    /// Certificates: issue, show, verify, confirm, void, list.
    Cert {
        /// The command.
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Seizures: report, list.
    Seizure {
        /// The command.
        #[command(subcommand)]
        command: SeizureCommand,
    },
    /// A Participant's KP Authorities: register, revoke (signed by its node key).
    Authority {
        /// The command.
        #[command(subcommand)]
        command: AuthorityCommand,
    },
    /// Production reports.
    Production {
        /// The command.
        #[command(subcommand)]
        command: ProductionCommand,
    },
    /// Resolutions: propose, sign, object, show, list.
    Resolution {
        /// The command.
        #[command(subcommand)]
        command: ResolutionCommand,
    },
    /// Participants: show, list.
    Participant {
        /// The command.
        #[command(subcommand)]
        command: ParticipantCommand,
    },
    /// Trade statistics of a period (one Participant, or every trading one).
    Stats {
        /// The Participant (default: every trading Participant).
        #[arg(long)]
        participant: Option<String>,
        /// 2026, 2026H1 or 2026Q1 (default: the quarter of the last block).
        #[arg(long)]
        period: Option<String>,
    },
    /// Anomalies of a period.
    Anomalies {
        /// 2026, 2026H1 or 2026Q1 (default: the quarter of the last block).
        #[arg(long)]
        period: Option<String>,
    },
}

/// Signing options of a transaction.
#[derive(Args, Debug, Clone)]
pub struct Signer {
    /// The key file that signs (an authority key, or a node key for acts of
    /// the Participant itself).
    #[arg(long)]
    pub key: PathBuf,
    /// Do not wait until the transaction is decided.
    #[arg(long)]
    pub no_wait: bool,
}

/// Certificate commands.
// Parsed once per run: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum CertCommand {
    /// Issue a certificate described in a TOML or JSON file.
    Issue {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// The certificate (.toml or .json).
        #[arg(long)]
        file: PathBuf,
    },
    /// Show a certificate: every field, status, history, alerts.
    Show {
        /// Its number.
        number: String,
    },
    /// Check a certificate without trusting the node: a light client
    /// verifies a recent decided header from the genesis you trust, then the
    /// certificate's record, Participants, authorities, seizures and acts are
    /// proven against it. Exit status: 0 authentic, 1 not authentic, 2 not
    /// found, 3 cannot decide.
    Verify {
        /// Its number.
        number: String,
        /// The genesis file you trust.
        #[arg(long)]
        genesis: PathBuf,
        /// Other nodes to ask as well (repeatable): their headers are compared
        /// at a common height (two decided headers at one height are a fork),
        /// and each one's proof must verify.
        #[arg(long)]
        also: Vec<String>,
        /// How the light client keeps and trusts headers.
        #[command(flatten)]
        light: LightArgs,
    },
    /// Confirm receipt as the importing authority (default: what was certified).
    Confirm {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// Its number.
        number: String,
        /// The confirming authority (default: the signer's authority).
        #[arg(long)]
        authority: Option<String>,
        /// Carats received, e.g. 100.00.
        #[arg(long)]
        carats: Option<String>,
        /// Parcels received.
        #[arg(long)]
        parcels: Option<u32>,
        /// Date of receipt (default: today).
        #[arg(long)]
        received_on: Option<String>,
    },
    /// Void before confirmation, as the exporting authority.
    Void {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// Its number.
        number: String,
        /// The voiding authority (default: the signer's authority).
        #[arg(long)]
        authority: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Approve a certificate awaiting approval, as the monitoring body the
    /// exporter's partial-exports sanction names (signed with the monitor's
    /// node key). The certificate then counts as issued and can be
    /// confirmed.
    Approve {
        /// Who signs: the monitoring body's node key.
        #[command(flatten)]
        signer: Signer,
        /// Its number.
        number: String,
        /// The monitoring body (default: the one the certificate waits for).
        #[arg(long)]
        monitor: Option<String>,
    },
    /// Search certificates.
    List {
        /// Exporting Participant.
        #[arg(long)]
        exporting: Option<String>,
        /// Importing Participant.
        #[arg(long)]
        importing: Option<String>,
        /// Only certificates awaiting a monitor's approval (with --monitor:
        /// that monitor's queue).
        #[arg(long, conflicts_with = "status")]
        awaiting_approval: bool,
        /// Only certificates whose approval this monitoring body must give
        /// or gave.
        #[arg(long)]
        monitor: Option<String>,
        /// Status: awaiting-approval, issued, confirmed, voided, expired or
        /// seized.
        #[arg(long)]
        status: Option<String>,
        /// Issue period.
        #[arg(long)]
        period: Option<String>,
        /// Continue after this number.
        #[arg(long)]
        after: Option<String>,
        /// Page size (1-100).
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

/// Seizure commands.
// Parsed once per run: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum SeizureCommand {
    /// Report a seizure as a Participant's authority.
    Report {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// The reporting authority (default: the signer's authority).
        #[arg(long)]
        authority: Option<String>,
        /// Territory of the seizure.
        #[arg(long)]
        territory: String,
        /// Place (port, airport, border post).
        #[arg(long)]
        location: String,
        /// Carats seized.
        #[arg(long)]
        carats: String,
        /// Value in USD, if known.
        #[arg(long)]
        value: Option<String>,
        /// no-certificate, forged-certificate, contents-mismatch or sanctioned-origin.
        #[arg(long)]
        reason: String,
        /// The certificate presented, if any.
        #[arg(long)]
        certificate: Option<String>,
        /// Date of the seizure (default: today).
        #[arg(long)]
        date: Option<String>,
    },
    /// The latest seizure alerts.
    List {
        /// How many (1-100).
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

/// Authority commands (signed with the Participant's node key).
// Parsed once per run: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum AuthorityCommand {
    /// Register a KP Authority.
    Register {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// The Participant.
        #[arg(long)]
        participant: String,
        /// The authority's id, e.g. BW-MMGE.
        #[arg(long)]
        id: String,
        /// The office's name.
        #[arg(long)]
        name: String,
        /// The authority's key file (only its public key is used).
        #[arg(long)]
        authority_key: PathBuf,
    },
    /// Revoke a KP Authority.
    Revoke {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// The Participant.
        #[arg(long)]
        participant: String,
        /// The authority's id.
        #[arg(long)]
        id: String,
    },
}

/// Production commands.
#[derive(Subcommand, Debug)]
pub enum ProductionCommand {
    /// Report half-yearly production as the Participant's authority.
    Report {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// The reporting authority (default: the signer's authority).
        #[arg(long)]
        authority: Option<String>,
        /// The half-year, e.g. 2026H1.
        #[arg(long)]
        period: String,
        /// Carats produced.
        #[arg(long)]
        carats: String,
        /// Value produced in USD.
        #[arg(long)]
        value: String,
    },
}

/// Resolution commands (signed with a government Participant's node key).
// Parsed once per run: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ResolutionCommand {
    /// Propose a resolution; give exactly one action.
    Propose {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// Short title.
        #[arg(long)]
        title: String,
        /// Impose a sanction on this Participant (with --scope).
        #[arg(long)]
        impose_sanction: Option<String>,
        /// Amend the sanction on this Participant (with --scope).
        #[arg(long)]
        amend_sanction: Option<String>,
        /// full-suspension, export-ban, import-ban, enhanced-vigilance or
        /// partial-exports (with --green-zones and, if each certificate
        /// needs approval, --monitor).
        #[arg(long)]
        scope: Option<String>,
        /// With --scope partial-exports: the origin zones certificates may
        /// declare (comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        green_zones: Vec<String>,
        /// With --scope partial-exports: the monitoring body that approves
        /// each certificate.
        #[arg(long)]
        monitor: Option<String>,
        /// Lift the sanction on this Participant.
        #[arg(long)]
        lift_sanction: Option<String>,
        /// Expel this Participant.
        #[arg(long)]
        expel: Option<String>,
        /// Readmit this Participant.
        #[arg(long)]
        readmit: Option<String>,
        /// Elect this Participant Vice Chair.
        #[arg(long)]
        elect_vice_chair: Option<String>,
        /// Any action as JSON (e.g. partial exports with green zones).
        #[arg(long)]
        action_json: Option<String>,
    },
    /// Sign a pending resolution.
    Sign {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// Its id.
        id: String,
    },
    /// Object to a pending resolution (this rejects it).
    Object {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// Its id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Show a resolution: who signed, who is missing, outcome. With
    /// `--verify`, its record is proven from the genesis you trust instead
    /// of taken from the node (exit status: 0 proven, 1 not authentic,
    /// 2 not found, 3 cannot decide).
    Show {
        /// Its id.
        id: String,
        /// `--verify --genesis FILE` and the light client's options.
        #[command(flatten)]
        prove: ProveArgs,
    },
    /// List resolutions.
    List {
        /// Only those still collecting signatures.
        #[arg(long)]
        pending: bool,
    },
}

/// How a light client keeps and trusts headers (`cert verify`, `participant
/// show --verify`, `resolution show --verify`).
#[derive(Args, Debug, Clone)]
pub struct LightArgs {
    /// Where verified headers are kept between runs (default: the
    /// user's data directory, kpledger/light).
    #[arg(long)]
    pub light_dir: Option<PathBuf>,
    /// Refuse answers older than this many seconds.
    #[arg(long, default_value_t = 300)]
    pub max_age: u64,
    /// Trust a verified header for this many days (the time within which
    /// at most a third of the validators it names may turn byzantine).
    #[arg(long, default_value_t = 14)]
    pub trust_period_days: u64,
    /// Start from this header instead of the genesis's validators, as
    /// HEIGHT:HASH obtained from a source you trust (needed once the
    /// genesis validators are older than the trust period). The node's
    /// header at HEIGHT must have this hash.
    #[arg(long, value_name = "HEIGHT:HASH")]
    pub trust_header: Option<String>,
}

/// `--verify --genesis FILE`: prove a `show` answer with a light client
/// instead of trusting the node.
#[derive(Args, Debug, Clone)]
pub struct ProveArgs {
    /// Prove the answer with a light client instead of trusting the node.
    #[arg(long, requires = "genesis")]
    pub verify: bool,
    /// The genesis file you trust (with `--verify`).
    #[arg(long, requires = "verify")]
    pub genesis: Option<PathBuf>,
    /// How the light client keeps and trusts headers.
    #[command(flatten)]
    pub light: LightArgs,
}

impl ProveArgs {
    /// The genesis to prove from, when `--verify` was given.
    fn genesis(&self) -> Option<&Path> {
        self.genesis.as_deref().filter(|_| self.verify)
    }
}

/// Participant commands.
#[derive(Subcommand, Debug)]
pub enum ParticipantCommand {
    /// Show a member: status, sanction, territories, authorities, node key.
    /// With `--verify`, the record and the authorities are proven from the
    /// genesis you trust instead of taken from the node (exit status:
    /// 0 proven, 1 not authentic, 2 not found, 3 cannot decide).
    Show {
        /// Its code.
        code: String,
        /// `--verify --genesis FILE` and the light client's options.
        #[command(flatten)]
        prove: ProveArgs,
    },
    /// List every member.
    List,
}

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The node or the network failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A key file could not be read.
    #[error(transparent)]
    Key(#[from] keys::KeyFileError),
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
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Timestamp(ms)
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
    let client = Client::new(&global.node)?;
    let out = Output { json: global.json };
    match command {
        ClientCommand::Status => {
            let status = client.status()?;
            out.show(&status, || {
                format!(
                    "chain {}  node {} ({})  height {}  round {}  peers {}  validators {}  mempool {}\nlast block {} at {}",
                    s(&status["chain_id"]), s(&status["node"]), s(&status["role"]),
                    status["height"], status["round"], status["peers"], status["validators"],
                    status["mempool"], s(&status["block_hash"]), s(&status["block_time"])
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
        ClientCommand::Stats {
            participant,
            period,
        } => stats(&client, &out, participant, period),
        ClientCommand::Anomalies { period } => {
            let path = match &period {
                Some(p) => format!("/v1/anomalies?period={p}"),
                None => "/v1/anomalies".into(),
            };
            let answer = client.get(&path)?;
            out.show(&answer, || {
                let items = answer["items"].as_array().cloned().unwrap_or_default();
                let mut text = format!("anomalies of {}: {}", s(&answer["period"]), items.len());
                for a in items {
                    text.push_str(&format!("\n  {a}"));
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
    fn show(&self, value: &Value, text: impl FnOnce() -> String) {
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

/// The authority whose key is `key`, from the node's participant listing.
fn authority_of(client: &Client, key: &SigningKey) -> Result<AuthorityId, CliError> {
    let public = key.public().to_hex();
    let members = client.get("/v1/participants")?;
    for member in members["items"].as_array().into_iter().flatten() {
        for a in member["authorities"].as_array().into_iter().flatten() {
            if a["authority"]["key"].as_str() == Some(public.as_str())
                && a["revoked_height"].is_null()
            {
                return parse("authority id", &s(&a["authority"]["id"]));
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
    key: &SigningKey,
) -> Result<AuthorityId, CliError> {
    match given {
        Some(id) => parse("authority id", id),
        None => authority_of(client, key),
    }
}

/// Signs `payload` with the key file and submits it; prints where it landed.
fn send(
    client: &Client,
    out: &Output,
    signer: &Signer,
    key: &SigningKey,
    payload: Payload,
) -> Result<Value, CliError> {
    let chain_id = client.chain_id()?;
    let now = now();
    let tx = Transaction {
        chain_id,
        signer: key.public(),
        nonce: now.0,
        expires_at: now.plus_ms(TX_LIFETIME_MS),
        payload,
    }
    .sign(key);
    let kind = tx.tx.payload.kind();
    let answer = client.submit(&tx, !signer.no_wait)?;
    let hash = s(&answer["hash"]);
    let decided = &answer["decided"];
    let refusal = decided
        .get("receipt")
        .and_then(|r| serde_json::from_value::<TxReceipt>(r.clone()).ok())
        .and_then(|r| r.result.err());
    out.show(&answer, || {
        if decided.is_null() {
            format!("{kind} {hash}: accepted into the pool (not waiting for the decision)")
        } else if let Some(rejection) = &refusal {
            format!(
                "{kind} {hash}: decided at height {} but REFUSED: {} ({rejection})",
                decided["height"],
                rejection.code()
            )
        } else {
            format!(
                "{kind} {hash}: decided at height {}, accepted",
                decided["height"]
            )
        }
    });
    if let Some(rejection) = refusal {
        return Err(CliError::Refused {
            hash,
            code: rejection.code().to_string(),
            message: rejection.to_string(),
        });
    }
    Ok(answer)
}

fn read_key(path: &Path) -> Result<SigningKey, CliError> {
    Ok(keys::read(path)?)
}

fn read_certificate(path: &Path) -> Result<Certificate, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let is_json = path.extension().is_some_and(|e| e == "json");
    if is_json {
        serde_json::from_str(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
    } else {
        toml::from_str(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
    }
}

fn cert(client: &Client, out: &Output, command: CertCommand) -> Result<(), CliError> {
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

fn describe_certificate(record: &Value) -> String {
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

/// What a light client starts from: the genesis the user trusts, the
/// headers verified before, and how fresh an answer must be.
struct Trusted {
    genesis_hash: kp_types::Hash,
    light: kp_client::light::LightClient,
    freshness: kp_client::Freshness,
}

/// A check that cannot start (unreadable genesis, light store, a pinned
/// header that cannot be fetched or differs) ends as CANNOT DECIDE (exit
/// 3), never with the status of NOT AUTHENTIC.
fn cannot_decide(e: CliError) -> CliError {
    match e {
        CliError::Exit(code) => CliError::Exit(code),
        other => {
            eprintln!("CANNOT DECIDE: {other}");
            CliError::Exit(3)
        }
    }
}

fn open_light(client: &Client, genesis: &Path, options: &LightArgs) -> Result<Trusted, CliError> {
    use kp_client::light::{LightClient, LightStore, TrustOptions, TrustedState};
    let text = std::fs::read_to_string(genesis)
        .map_err(|e| usage(format!("cannot read {}: {e}", genesis.display())))?;
    let parsed =
        Genesis::from_toml(&text).map_err(|e| usage(format!("{}: {e}", genesis.display())))?;
    let dir = options
        .light_dir
        .clone()
        .unwrap_or_else(LightStore::default_dir);
    let store = LightStore::open(&dir).map_err(|e| usage(format!("light store: {e}")))?;
    let trust = TrustOptions {
        trust_period_ms: options.trust_period_days.saturating_mul(86_400_000),
        ..TrustOptions::default()
    };
    let root = match &options.trust_header {
        None => TrustedState::from_genesis(&parsed),
        Some(pin) => {
            let (height, hash) = pin
                .split_once(':')
                .and_then(|(h, x)| Some((h.parse::<u64>().ok()?, kp_types::Hash::from_hex(x)?)))
                .ok_or_else(|| {
                    usage(format!(
                        "--trust-header {pin:?}: expected HEIGHT:HASH, a height and 64 hex digits"
                    ))
                })?;
            let block = client.light_block(height)?;
            TrustedState::from_pinned(&parsed.chain_id, parsed.hash(), height, hash, &block)
                .map_err(|e| usage(format!("--trust-header {pin}: {e}")))?
        }
    };
    let light = LightClient::new(root, trust, Some(store))
        .map_err(|e| usage(format!("light client: {e}")))?;
    Ok(Trusted {
        genesis_hash: parsed.hash(),
        light,
        freshness: kp_client::Freshness {
            now: now(),
            max_age_ms: options.max_age.saturating_mul(1000),
        },
    })
}

fn verify(
    client: &Client,
    out: &Output,
    number: &str,
    genesis: &Path,
    also: &[String],
    options: &LightArgs,
) -> Result<(), CliError> {
    use kp_client::Verdict;
    let number: CertificateNumber = parse("certificate number", number)?;
    let Trusted {
        genesis_hash,
        mut light,
        freshness,
    } = open_light(client, genesis, options).map_err(cannot_decide)?;
    let (mut verdict, anchor) =
        client.check_certificate(&number, &mut light, &genesis_hash, freshness);
    let mut notes = Vec::new();
    if !matches!(verdict, Verdict::CannotDecide { .. }) {
        let mut anchors = vec![(client.base().to_string(), anchor)];
        for url in also.iter().take(16) {
            let other = match Client::new(url) {
                Ok(c) => c,
                Err(e) => {
                    verdict = Verdict::CannotDecide {
                        reason: format!("cannot ask {url}: {e}"),
                        fork: None,
                    };
                    break;
                }
            };
            let (second, second_anchor) =
                other.check_certificate(&number, &mut light, &genesis_hash, freshness);
            anchors.push((url.clone(), second_anchor));
            verdict = kp_client::combine(verdict, second, url);
            if matches!(verdict, Verdict::CannotDecide { .. }) {
                break;
            }
        }
        if !matches!(verdict, Verdict::CannotDecide { .. }) && anchors.len() > 1 {
            match kp_client::compare_at_common_height(&anchors, &mut light, freshness.now) {
                Ok(line) => notes.push(line),
                Err(fork) => verdict = fork,
            }
        }
    }
    let value = serde_json::to_value(&verdict).unwrap_or(Value::Null);
    let value = serde_json::json!({ "number": number, "verdict": value, "notes": notes });
    out.show(&value, || verdict_text(&number, &verdict, &notes));
    match verdict.exit_code() {
        0 => Ok(()),
        code => Err(CliError::Exit(code as u8)),
    }
}

/// `cert verify`'s verdict in words.
fn verdict_text(
    number: &CertificateNumber,
    verdict: &kp_client::Verdict,
    notes: &[String],
) -> String {
    use kp_client::Verdict;
    let mut text = match verdict {
        Verdict::Authentic(v) => {
            let c = &v.certificate;
            let mut text = format!(
                "Certificate {} is AUTHENTIC, as of height {} (time {}).\n  status: {}\n  {} -> {}, {} ct, USD {}, issued {} by {}, expires {}",
                c.number, v.as_of_height, v.as_of_time, v.status.to_uppercase(),
                c.exporting, c.importing, c.total_carats(), c.total_value(), c.issued_on,
                c.issuing_authority, c.expires_on
            );
            for (event, height) in &v.history {
                text.push_str(&format!("\n  proven: {event} at height {height}"));
            }
            if v.alerts.is_empty() {
                text.push_str("\n  alerts: none");
            }
            for a in &v.alerts {
                text.push_str(&format!("\n  ALERT {}: {}", a.kind, a.detail));
            }
            text.push_str("\n  proven from your genesis by headers, commit certificates and Merkle proofs; no node was trusted");
            text
        }
        Verdict::NotAuthentic { reason } => {
            format!("Certificate {number}: NOT AUTHENTIC: {reason}")
        }
        Verdict::NotFound {
            as_of_height,
            as_of_time,
            seizures,
        } => {
            let mut text = format!(
                "Certificate {number}: NOT FOUND: the ledger proves that no certificate of this number exists, as of height {as_of_height} (time {as_of_time})."
            );
            for s in seizures {
                text.push_str(&format!(
                    "\n  ALERT seizure: a shipment presented under this number was seized in {} at {} on {}",
                    s.report.territory, s.report.location, s.report.seized_on
                ));
            }
            text
        }
        Verdict::CannotDecide { reason, fork } => {
            let mut text = format!("Certificate {number}: CANNOT DECIDE: {reason}");
            if let Some(pair) = fork {
                for (i, b) in [&pair.0, &pair.1].into_iter().enumerate() {
                    text.push_str(&format!(
                        "\n  header {}: height {} hash {} signed by {} validators",
                        i + 1,
                        b.header.height,
                        b.header.hash(),
                        b.commit.signatures.len()
                    ));
                }
            }
            text
        }
    };
    for note in notes {
        text.push_str(&format!("\n  note: {note}"));
    }
    text
}

fn seizure(client: &Client, out: &Output, command: SeizureCommand) -> Result<(), CliError> {
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
            let key = read_key(&signer.key)?;
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
            let page = client.get(&format!("/v1/seizures?limit={limit}"))?;
            out.show(&page, || {
                let mut text = String::from(
                    "SEQ  REPORTER  TERRITORY  CARATS      REASON               CERTIFICATE",
                );
                for r in page["items"].as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "\n{:<4} {:<9} {:<10} {:<11} {:<20} {}",
                        r["sequence"],
                        s(&r["reporter"]),
                        s(&r["report"]["territory"]),
                        s(&r["report"]["carats"]),
                        s(&r["report"]["reason"]),
                        s(&r["report"]["certificate"])
                    ));
                }
                text
            });
        }
    }
    Ok(())
}

fn authority(client: &Client, out: &Output, command: AuthorityCommand) -> Result<(), CliError> {
    match command {
        AuthorityCommand::Register {
            signer,
            participant,
            id,
            name,
            authority_key,
        } => {
            let key = read_key(&signer.key)?;
            let authority = Authority {
                id: parse("authority id", &id)?,
                participant: parse("participant code", &participant)?,
                name,
                key: keys::public_of(&authority_key)?,
            };
            send(
                client,
                out,
                &signer,
                &key,
                Payload::RegisterAuthority(authority),
            )?;
        }
        AuthorityCommand::Revoke {
            signer,
            participant,
            id,
        } => {
            let key = read_key(&signer.key)?;
            let payload = Payload::RevokeAuthority {
                participant: parse("participant code", &participant)?,
                authority: parse("authority id", &id)?,
            };
            send(client, out, &signer, &key, payload)?;
        }
    }
    Ok(())
}

fn production(client: &Client, out: &Output, command: ProductionCommand) -> Result<(), CliError> {
    let ProductionCommand::Report {
        signer,
        authority,
        period,
        carats,
        value,
    } = command;
    let key = read_key(&signer.key)?;
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

/// The sanction scope the options name; partial exports take their green
/// zones and monitor from their own options.
struct ScopeArgs {
    scope: Option<String>,
    green_zones: Vec<String>,
    monitor: Option<String>,
}

fn scope_of(args: &ScopeArgs) -> Result<SanctionScope, CliError> {
    let text = args.scope.as_ref().ok_or_else(|| usage("give --scope"))?;
    if text == "partial-exports" {
        if args.green_zones.is_empty() {
            return Err(usage(
                "--scope partial-exports needs --green-zones (the origin zones certificates may declare)",
            ));
        }
        return Ok(SanctionScope::PartialExports {
            green_zones: args.green_zones.clone(),
            monitor: args
                .monitor
                .as_ref()
                .map(|m| parse::<ParticipantCode>("participant code", m))
                .transpose()?,
        });
    }
    if !args.green_zones.is_empty() || args.monitor.is_some() {
        return Err(usage(
            "--green-zones and --monitor go with --scope partial-exports only",
        ));
    }
    serde_json::from_value(Value::String(text.clone())).map_err(|_| {
        usage(format!(
            "scope {text:?}: full-suspension, export-ban, import-ban, enhanced-vigilance or partial-exports"
        ))
    })
}

#[allow(clippy::too_many_arguments)]
fn resolution_action(
    impose_sanction: Option<String>,
    amend_sanction: Option<String>,
    scope: ScopeArgs,
    lift_sanction: Option<String>,
    expel: Option<String>,
    readmit: Option<String>,
    elect_vice_chair: Option<String>,
    action_json: Option<String>,
) -> Result<ResolutionAction, CliError> {
    let code = |t: &str| parse::<ParticipantCode>("participant code", t);
    let mut actions = Vec::new();
    if let Some(p) = impose_sanction {
        actions.push(ResolutionAction::ImposeSanction {
            participant: code(&p)?,
            scope: scope_of(&scope)?,
        });
    }
    if let Some(p) = amend_sanction {
        actions.push(ResolutionAction::AmendSanction {
            participant: code(&p)?,
            scope: scope_of(&scope)?,
        });
    }
    if let Some(p) = lift_sanction {
        actions.push(ResolutionAction::LiftSanction {
            participant: code(&p)?,
        });
    }
    if let Some(p) = expel {
        actions.push(ResolutionAction::Expel {
            participant: code(&p)?,
        });
    }
    if let Some(p) = readmit {
        actions.push(ResolutionAction::Readmit {
            participant: code(&p)?,
        });
    }
    if let Some(p) = elect_vice_chair {
        actions.push(ResolutionAction::ElectViceChair {
            participant: code(&p)?,
        });
    }
    if let Some(json) = action_json {
        actions
            .push(serde_json::from_str(&json).map_err(|e| usage(format!("--action-json: {e}")))?);
    }
    match actions.len() {
        1 => Ok(actions.remove(0)),
        _ => Err(usage(
            "give exactly one action: --impose-sanction, --amend-sanction, --lift-sanction, --expel, --readmit, --elect-vice-chair or --action-json",
        )),
    }
}

fn resolution(client: &Client, out: &Output, command: ResolutionCommand) -> Result<(), CliError> {
    match command {
        ResolutionCommand::Propose {
            signer,
            title,
            impose_sanction,
            amend_sanction,
            scope,
            green_zones,
            monitor,
            lift_sanction,
            expel,
            readmit,
            elect_vice_chair,
            action_json,
        } => {
            let key = read_key(&signer.key)?;
            let action = resolution_action(
                impose_sanction,
                amend_sanction,
                ScopeArgs {
                    scope,
                    green_zones,
                    monitor,
                },
                lift_sanction,
                expel,
                readmit,
                elect_vice_chair,
                action_json,
            )?;
            let proposal = ResolutionProposal {
                title,
                action,
                deadline: None,
            };
            let answer = send(
                client,
                out,
                &signer,
                &key,
                Payload::ProposeResolution(proposal),
            )?;
            if !out.json {
                println!("resolution id {}", s(&answer["hash"]));
            }
        }
        ResolutionCommand::Sign { signer, id } => {
            let key = read_key(&signer.key)?;
            let resolution: Hash =
                Hash::from_hex(&id).ok_or_else(|| usage("a resolution id is 64 hex digits"))?;
            send(
                client,
                out,
                &signer,
                &key,
                Payload::SignResolution { resolution },
            )?;
            show_resolution(client, out, &resolution)?;
        }
        ResolutionCommand::Object { signer, id, reason } => {
            let key = read_key(&signer.key)?;
            let resolution: Hash =
                Hash::from_hex(&id).ok_or_else(|| usage("a resolution id is 64 hex digits"))?;
            send(
                client,
                out,
                &signer,
                &key,
                Payload::ObjectResolution { resolution, reason },
            )?;
        }
        ResolutionCommand::Show { id, prove } => {
            let id =
                Hash::from_hex(&id).ok_or_else(|| usage("a resolution id is 64 hex digits"))?;
            match prove.genesis() {
                Some(genesis) => {
                    let mut t = open_light(client, genesis, &prove.light).map_err(cannot_decide)?;
                    let verdict =
                        client.check_resolution(&id, &mut t.light, &t.genesis_hash, t.freshness);
                    show_record_verdict(out, &format!("resolution {id}"), &verdict, |r| {
                        describe_resolution(&serde_json::to_value(r).unwrap_or(Value::Null))
                    })?;
                }
                None => show_resolution(client, out, &id)?,
            }
        }
        ResolutionCommand::List { pending } => {
            let resolutions =
                client.get(&format!("/v1/resolutions?limit=100&pending={pending}"))?;
            out.show(&resolutions, || {
                let mut text = String::from("ID                                                                OUTCOME    TITLE");
                for r in resolutions["items"].as_array().into_iter().flatten() {
                    text.push_str(&format!("\n{} {:<10} {}", s(&r["id"]), outcome_name(&r["outcome"]), s(&r["proposal"]["title"])));
                }
                text
            });
        }
    }
    Ok(())
}

fn outcome_name(outcome: &Value) -> String {
    match outcome {
        Value::String(text) => text.clone(),
        Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
        other => other.to_string(),
    }
}

/// `pending`, `adopted at height 31`, `rejected at height 9 by IN: reason`.
fn describe_outcome(outcome: &Value) -> String {
    let Value::Object(map) = outcome else {
        return s(outcome);
    };
    let Some((kind, detail)) = map.iter().next() else {
        return "-".into();
    };
    let mut text = format!("{kind} at height {}", detail["height"]);
    if !detail["by"].is_null() {
        text.push_str(&format!(" by {}", s(&detail["by"])));
    }
    if !detail["reason"].is_null() {
        text.push_str(&format!(": {}", s(&detail["reason"])));
    }
    text
}

fn show_resolution(client: &Client, out: &Output, id: &Hash) -> Result<(), CliError> {
    let r = client.get(&format!("/v1/resolutions/{id}"))?;
    out.show(&r, || describe_resolution(&r));
    Ok(())
}

fn describe_resolution(r: &Value) -> String {
    format!(
        "resolution {}\n  title: {}\n  action: {}\n  proposed by {} at height {}, deadline {}\n  signed by: {}\n  missing: {}\n  outcome: {}",
        s(&r["id"]), s(&r["proposal"]["title"]), r["proposal"]["action"], s(&r["proposer"]),
        r["proposed_height"], s(&r["deadline"]), list(&r["signed_by"]), list(&r["missing"]),
        describe_outcome(&r["outcome"])
    )
}

/// Prints what `participant show --verify` or `resolution show --verify`
/// concluded, and turns it into the exit status.
fn show_record_verdict<T: serde::Serialize>(
    out: &Output,
    what: &str,
    verdict: &kp_client::RecordVerdict<T>,
    describe: impl FnOnce(&T) -> String,
) -> Result<(), CliError> {
    use kp_client::RecordVerdict;
    let value = serde_json::to_value(verdict).unwrap_or(Value::Null);
    out.show(&value, || match verdict {
        RecordVerdict::Proven(p) => {
            let body = p.value.as_ref().map(describe).unwrap_or_default();
            format!(
                "{what}: PROVEN, as of height {} (time {}); proven from your genesis by headers, commit certificates and Merkle proofs; no node was trusted\n{body}",
                p.as_of_height, p.as_of_time
            )
        }
        RecordVerdict::NotAuthentic { reason } => format!("{what}: NOT AUTHENTIC: {reason}"),
        RecordVerdict::NotFound {
            as_of_height,
            as_of_time,
        } => format!(
            "{what}: NOT FOUND: the ledger proves there is none, as of height {as_of_height} (time {as_of_time})"
        ),
        RecordVerdict::CannotDecide { reason } => format!("{what}: CANNOT DECIDE: {reason}"),
    });
    match verdict.exit_code() {
        0 => Ok(()),
        code => Err(CliError::Exit(code as u8)),
    }
}

fn list(value: &Value) -> String {
    let items: Vec<String> = value.as_array().into_iter().flatten().map(s).collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn describe_participant(r: &Value) -> String {
    let p = &r["participant"];
    let mut text = format!(
        "{} {} ({})\n  status: {}\n  sanction: {}\n  territories: {}\n  node key: {}",
        s(&p["code"]),
        s(&p["name"]),
        s(&p["kind"]),
        outcome_name(&r["status"]),
        if r["sanction"].is_null() {
            "none".to_string()
        } else {
            r["sanction"]["scope"].to_string()
        },
        list(&p["territories"]),
        s(&p["node_key"])
    );
    for a in r["authorities"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  authority {} \"{}\" key {}{}",
            s(&a["authority"]["id"]),
            s(&a["authority"]["name"]),
            s(&a["authority"]["key"]),
            if a["revoked_height"].is_null() {
                String::new()
            } else {
                format!(" (revoked at {})", a["revoked_height"])
            }
        ));
    }
    text
}

fn participant(client: &Client, out: &Output, command: ParticipantCommand) -> Result<(), CliError> {
    match command {
        ParticipantCommand::Show { code, prove } => {
            let code: ParticipantCode = parse("participant code", &code)?;
            match prove.genesis() {
                Some(genesis) => {
                    let mut t = open_light(client, genesis, &prove.light).map_err(cannot_decide)?;
                    let verdict =
                        client.check_participant(&code, &mut t.light, &t.genesis_hash, t.freshness);
                    show_record_verdict(out, &format!("participant {code}"), &verdict, |p| {
                        let mut text =
                            describe_participant(&serde_json::to_value(p).unwrap_or(Value::Null));
                        text.push_str("\n  (each authority shown is proven; the ledger cannot prove that the node listed them all)");
                        text
                    })?;
                }
                None => {
                    let r = client.get(&format!("/v1/participants/{code}"))?;
                    out.show(&r, || describe_participant(&r));
                }
            }
        }
        ParticipantCommand::List => {
            let r = client.get("/v1/participants")?;
            out.show(&r, || {
                let mut text = format!(
                    "{:<6} {:<15} {:<10} {:<16} {}",
                    "CODE", "KIND", "STATUS", "SANCTION", "NAME"
                );
                for m in r["items"].as_array().into_iter().flatten() {
                    let p = &m["participant"];
                    let sanction = if m["sanction"].is_null() {
                        "-".to_string()
                    } else {
                        outcome_name(&m["sanction"]["scope"])
                    };
                    text.push_str(&format!(
                        "\n{:<6} {:<15} {:<10} {:<16} {}",
                        s(&p["code"]),
                        s(&p["kind"]),
                        outcome_name(&m["status"]),
                        sanction,
                        s(&p["name"])
                    ));
                }
                text
            });
        }
    }
    Ok(())
}

fn stats(
    client: &Client,
    out: &Output,
    participant: Option<String>,
    period: Option<String>,
) -> Result<(), CliError> {
    let codes: Vec<String> = match participant {
        Some(code) => vec![code],
        None => client.get("/v1/participants")?["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| s(&m["participant"]["kind"]) != "observer")
            .map(|m| s(&m["participant"]["code"]))
            .collect(),
    };
    let mut all = Vec::new();
    for code in codes {
        let path = match &period {
            Some(p) => format!("/v1/statistics/{code}?period={p}"),
            None => format!("/v1/statistics/{code}"),
        };
        all.push(client.get(&path)?);
    }
    let value = Value::Array(all.clone());
    out.show(&value, || {
        let mut text = format!(
            "{:<6} {:<8} {:>6} {:>12} {:>14} {:>6} {:>12} {:>14}",
            "CODE", "PERIOD", "EXP", "EXP CARATS", "EXP USD", "IMP", "IMP CARATS", "IMP USD"
        );
        for a in &all {
            let st = &a["statistics"];
            text.push_str(&format!(
                "\n{:<6} {:<8} {:>6} {:>12} {:>14} {:>6} {:>12} {:>14}",
                s(&a["participant"]),
                s(&a["period"]),
                st["exports"]["count"],
                s(&st["exports"]["carats"]),
                s(&st["exports"]["value_usd"]),
                st["imports"]["count"],
                s(&st["imports"]["carats"]),
                s(&st["imports"]["value_usd"])
            ));
        }
        text
    });
    Ok(())
}
