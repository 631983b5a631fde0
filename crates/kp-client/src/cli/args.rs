//! The command-line arguments of the client commands (clap).

use super::*;
use clap::builder::PossibleValuesParser;

/// Options shared by every client command.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The node to talk to.
    #[arg(long, global = true, default_value = "http://127.0.0.1:26601")]
    pub node: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Bearer token for the node's RPC (`kpledger rpc token create` on the
    /// node); without one the node serves what it gives anonymous callers.
    #[arg(long, global = true, env = "KPLEDGER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM certificate authority to trust for an https:// node, besides the
    /// web's (e.g. devnet/tls/ca.pem of `kpledger devnet --tls`).
    #[arg(long, global = true, env = "KPLEDGER_CA")]
    pub ca: Option<std::path::PathBuf>,
    /// PEM file holding a TLS client certificate and its private key (mTLS),
    /// for a node that registered the certificate with a scope.
    #[arg(long, global = true, env = "KPLEDGER_CLIENT_CERT")]
    pub client_cert: Option<std::path::PathBuf>,
}

impl Global {
    /// How to reach the node: its token and certificate authority.
    pub fn connection(&self) -> crate::Connection {
        crate::Connection {
            token: self.token.clone(),
            ca: self.ca.clone(),
            client_cert: self.client_cert.clone(),
        }
    }
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
    /// A Participant's KP Authorities: register, revoke (signed by its government key).
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
    /// Offline signing: sign a transaction written by `--generate-only`,
    /// submit a signed one.
    Tx {
        /// The command.
        #[command(subcommand)]
        command: TxCommand,
    },
    /// Trade statistics of a period (one Participant, or every trading one).
    Stats {
        /// The Participant (default: every trading Participant).
        #[arg(long, value_parser = participant_code)]
        participant: Option<String>,
        /// 2026, 2026H1 or 2026Q1 (default: the quarter of the last block
        /// for the Participant's own token and the operator, the half-year
        /// for everyone else, who gets the published totals).
        #[arg(long, value_parser = period, value_name = PERIOD_FORMS)]
        period: Option<String>,
    },
    /// Anomalies of a period.
    Anomalies {
        /// 2026, 2026H1 or 2026Q1 (default: the quarter of the last block).
        #[arg(long, value_parser = period, value_name = PERIOD_FORMS)]
        period: Option<String>,
    },
}

/// Signing options of a transaction.
#[derive(Args, Debug, Clone)]
pub struct Signer {
    /// The key file that signs (an authority key, or the government key for
    /// acts of the Participant itself; a genesis that names no government
    /// key made the node key the government key).
    #[arg(long, required_unless_present = "remote_signer")]
    pub key: Option<PathBuf>,
    /// Have the signer process listening at this Unix socket sign (`kpledger
    /// signer`), so the key never reaches this shell. With `--key` too
    /// (a key file or 64 hex digits), the signer's key must be that one.
    #[arg(long, value_name = "SOCKET", conflicts_with = "generate_only")]
    pub remote_signer: Option<PathBuf>,
    /// Do not wait until the transaction is decided.
    #[arg(long)]
    pub no_wait: bool,
    /// Write the unsigned transaction to this file (`-`: standard output)
    /// instead of signing and submitting it: sign it on another machine
    /// with `kpledger tx sign`, send it with `kpledger tx submit`. `--key`
    /// may then be the signer's public key (64 hex digits). The round trip
    /// must end before the transaction expires (50 minutes).
    #[arg(long, value_name = "FILE")]
    pub generate_only: Option<PathBuf>,
}

/// Transactions signed away from the node (offline signing).
#[derive(Subcommand, Debug)]
pub enum TxCommand {
    /// Sign an unsigned transaction written by `--generate-only` (needs no
    /// node: run it where the key is kept). Prints what it signs.
    Sign {
        /// The key file that signs; its public key must be the
        /// transaction's signer.
        #[arg(long)]
        key: PathBuf,
        /// The unsigned transaction (JSON).
        input: PathBuf,
        /// Where to write the signed transaction (JSON).
        output: PathBuf,
    },
    /// Submit a transaction signed by `tx sign`.
    Submit {
        /// The signed transaction (JSON).
        file: PathBuf,
        /// Do not wait until the transaction is decided.
        #[arg(long)]
        no_wait: bool,
    },
}

/// Certificate commands.
// Parsed once per run: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum CertCommand {
    /// Issue a certificate described in a TOML or JSON file. The exporter,
    /// importer and `details` are sealed to the issuing authority and an
    /// authority of the importer when both have encryption keys (ADR 0011);
    /// otherwise they stay in the clear, with a warning.
    Issue {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// The certificate (.toml or .json).
        #[arg(long)]
        file: PathBuf,
        /// The importing Participant's authority to seal to (default: its
        /// first unrevoked authority with an encryption key).
        #[arg(long, value_name = "ID")]
        importing_authority: Option<String>,
    },
    /// Show a certificate: every field, status, history, alerts. Sealed
    /// fields (exporter, importer, details) show as their commitment unless
    /// `--key` opens them.
    Show {
        /// Its number.
        number: String,
        /// An authority's encryption key file: decrypt the sealed fields
        /// (only the two authorities of the shipment can). They are opened
        /// from this node's answer, unproven: `cert verify --key` opens the
        /// proven record instead.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// With `--key`: write the document a customs officer checks with
        /// `cert verify --document` (the sealed fields and the salt, TOML).
        #[arg(long, value_name = "FILE", requires = "key")]
        document_out: Option<PathBuf>,
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
        /// A document of the certificate (written by `cert show --key ...
        /// --document-out`, or typed from the paper): check that its
        /// exporter, importer, details and salt match the ledger's
        /// commitment. A mismatch is NOT AUTHENTIC (exit status 1).
        #[arg(long, value_name = "FILE")]
        document: Option<PathBuf>,
        /// An authority's encryption key file: once the certificate is
        /// proven AUTHENTIC, open its sealed fields from the proven record
        /// (which its issuing authority signed), never from a node's word.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// With `--key`: write the document of the proven, opened fields.
        #[arg(long, value_name = "FILE", requires = "key")]
        document_out: Option<PathBuf>,
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
        /// Why, in words (free text, kept on the ledger).
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
        #[arg(long, value_parser = participant_code)]
        monitor: Option<String>,
    },
    /// Search certificates.
    List {
        /// Exporting Participant.
        #[arg(long, value_parser = participant_code)]
        exporting: Option<String>,
        /// Importing Participant.
        #[arg(long, value_parser = participant_code)]
        importing: Option<String>,
        /// Only certificates awaiting a monitor's approval (with --monitor:
        /// that monitor's queue).
        #[arg(long, conflicts_with = "status")]
        awaiting_approval: bool,
        /// Only certificates whose approval this monitoring body must give
        /// or gave.
        #[arg(long, value_parser = participant_code)]
        monitor: Option<String>,
        /// Only certificates this KP Authority issued (e.g. one revoked as
        /// compromised).
        #[arg(long, value_name = "ID")]
        authority: Option<String>,
        /// Status.
        #[arg(long, value_parser = PossibleValuesParser::new(CERTIFICATE_STATUSES))]
        status: Option<String>,
        /// Issue period: 2026, 2026H1 or 2026Q1.
        #[arg(long, value_parser = period, value_name = PERIOD_FORMS)]
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
        /// Why the goods were seized.
        #[arg(long, value_parser = PossibleValuesParser::new(SEIZURE_REASONS))]
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

/// Authority commands (signed with the Participant's government key).
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
        #[arg(long, value_parser = participant_code)]
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
        /// The authority's encryption key file (another key file: its X25519
        /// public key is registered), or 64 hex digits of the public key.
        /// Without one, certificates it issues or receives are not sealed.
        #[arg(long, value_name = "FILE_OR_HEX")]
        encryption_key: Option<String>,
    },
    /// Set or replace an authority's encryption key for sealed fields
    /// (certificates sealed before stay sealed to the old key).
    SetEncryptionKey {
        /// Who signs (the Participant's government key).
        #[command(flatten)]
        signer: Signer,
        /// The Participant.
        #[arg(long, value_parser = participant_code)]
        participant: String,
        /// The authority's id.
        #[arg(long)]
        id: String,
        /// The encryption key file, or 64 hex digits of its public key.
        #[arg(long, value_name = "FILE_OR_HEX")]
        encryption_key: String,
    },
    /// Revoke a KP Authority.
    Revoke {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// The Participant.
        #[arg(long, value_parser = participant_code)]
        participant: String,
        /// The authority's id.
        #[arg(long)]
        id: String,
        /// Revoke it as compromised since this time (`YYYY-MM-DDTHH:MM:SSZ`
        /// or `YYYY-MM-DD`, UTC): the certificates it issued in blocks of
        /// that time or later are flagged wherever they are shown. An
        /// authority already revoked may be revoked again to add this or
        /// move it earlier.
        #[arg(long, value_name = "TIME")]
        compromised_since: Option<String>,
    },
}

/// Commands that change a member's keys on the ledger (`kpledger keys ...`).
#[derive(Subcommand, Debug)]
pub enum KeyChangeCommand {
    /// Replace one of a member's keys, signed by its government key:
    /// `consensus` (the node key: votes from the height after next; put the
    /// new key file beside the node's key file as `<key_file>.next` first,
    /// and the node switches to it by itself), `government` (at once)
    /// or `recovery` (at once if none is registered, otherwise after the
    /// chain's recovery delay, during which the current recovery key can
    /// cancel); or `authority`: the signing key of one of its KP
    /// Authorities (`--authority ID`), at once, keeping the authority's id.
    /// What the old authority key signed before stays valid; from then on
    /// it is refused.
    Rotate {
        /// Which key.
        #[arg(value_parser = PossibleValuesParser::new(["consensus", "government", "recovery", "authority"]))]
        role: String,
        /// Who signs (the member's government key file).
        #[command(flatten)]
        signer: Signer,
        /// The member (for `authority`: by default the authority's owner,
        /// as the node lists it).
        #[arg(long, value_parser = participant_code, required_if_eq_any = [("role", "consensus"), ("role", "government"), ("role", "recovery")])]
        participant: Option<String>,
        /// The authority whose signing key is replaced (`authority` only).
        #[arg(long, required_if_eq("role", "authority"))]
        authority: Option<String>,
        /// The new key: a key file (only its public key is used) or 64 hex
        /// digits of a public key.
        #[arg(long)]
        new_key: String,
        /// A new encryption key for sealed fields as well (`authority`
        /// only): an encryption key file or 64 hex digits.
        #[arg(long, value_name = "FILE_OR_HEX", requires = "authority")]
        new_encryption_key: Option<String>,
    },
    /// Begin replacing a member's government key, signed by its recovery
    /// key. It takes effect after the chain's recovery delay unless it is
    /// cancelled first (see `cancel-recovery`).
    Recover {
        /// Who signs (the member's recovery key file).
        #[command(flatten)]
        signer: Signer,
        /// The member.
        #[arg(long, value_parser = participant_code)]
        participant: String,
        /// The government key once recovered: a key file or 64 hex digits.
        #[arg(long)]
        new_government_key: String,
        /// A new recovery key as well (a key file or 64 hex digits).
        #[arg(long)]
        new_recovery_key: Option<String>,
    },
    /// Cancel a member's pending recovery or recovery-key rotation. The
    /// recovery key cancels either at once, and the government key a
    /// recovery-key rotation. A recovery needs the government key and the
    /// node key: run this once with each `--key`; the first records its
    /// half (`participant show`), the second cancels.
    CancelRecovery {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// The member.
        #[arg(long, value_parser = participant_code)]
        participant: String,
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
    /// Propose a resolution: its options, then what it decides (one action, a subcommand).
    Propose {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// Short title.
        #[arg(long)]
        title: String,
        /// What the resolution decides.
        #[command(subcommand)]
        action: ActionCommand,
    },
    /// Sign a pending resolution.
    Sign {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// Its id: 64 hex digits, or a unique prefix of at least 8.
        id: String,
    },
    /// Object to a pending resolution (this rejects it).
    Object {
        /// Who signs.
        #[command(flatten)]
        signer: Signer,
        /// Its id: 64 hex digits, or a unique prefix of at least 8.
        id: String,
        /// Why, in words (free text, kept on the ledger).
        #[arg(long)]
        reason: String,
    },
    /// Show a resolution: who signed, who is missing, outcome. With
    /// `--verify`, its record is proven from the genesis you trust instead
    /// of taken from the node (exit status: 0 proven, 1 not authentic,
    /// 2 not found, 3 cannot decide).
    Show {
        /// Its id: 64 hex digits, or a unique prefix of at least 8.
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
    pub(super) fn genesis(&self) -> Option<&Path> {
        self.genesis.as_deref().filter(|_| self.verify)
    }
}

/// Participant commands.
#[derive(Subcommand, Debug)]
pub enum ParticipantCommand {
    /// Show a member: status, sanction, territories, authorities, its node,
    /// government and recovery keys and any pending key change.
    /// With `--verify`, the record and the authorities are proven from the
    /// genesis you trust instead of taken from the node (exit status:
    /// 0 proven, 1 not authentic, 2 not found, 3 cannot decide).
    Show {
        /// Its code.
        #[arg(value_parser = participant_code)]
        code: String,
        /// `--verify --genesis FILE` and the light client's options.
        #[command(flatten)]
        prove: ProveArgs,
    },
    /// List every member.
    List,
}

/// What a proposed resolution decides: one action, named as a subcommand of
/// `resolution propose` (`... propose --key K --title T expel CF`).
#[derive(Subcommand, Debug)]
pub enum ActionCommand {
    /// Impose a sanction on a Participant.
    ImposeSanction {
        /// The Participant.
        #[arg(value_parser = participant_code)]
        participant: String,
        /// The sanction.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Replace the sanction in force on a Participant.
    AmendSanction {
        /// The Participant.
        #[arg(value_parser = participant_code)]
        participant: String,
        /// The new sanction.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Lift the sanction on a Participant.
    LiftSanction {
        /// The Participant.
        #[arg(value_parser = participant_code)]
        participant: String,
    },
    /// Expel a Participant.
    Expel {
        /// The Participant.
        #[arg(value_parser = participant_code)]
        participant: String,
    },
    /// Readmit an expelled Participant.
    Readmit {
        /// The Participant.
        #[arg(value_parser = participant_code)]
        participant: String,
    },
    /// Elect a Participant Vice Chair.
    ElectViceChair {
        /// The Participant.
        #[arg(value_parser = participant_code)]
        participant: String,
    },
    /// Any action, as the JSON of the ledger's resolution action.
    Json {
        /// The action, e.g. '{"expel":{"participant":"CF"}}'.
        action: String,
    },
}

/// A sanction's scope.
#[derive(Args, Debug, Clone)]
pub struct ScopeArgs {
    /// The sanction: partial-exports goes with --green-zones and, if each
    /// certificate needs approval, --monitor.
    #[arg(long, value_parser = PossibleValuesParser::new(SANCTION_SCOPES))]
    pub scope: String,
    /// With --scope partial-exports: the origin zones certificates may
    /// declare (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub green_zones: Vec<String>,
    /// With --scope partial-exports: the monitoring body that approves each
    /// certificate.
    #[arg(long, value_parser = participant_code)]
    pub monitor: Option<String>,
    /// What happens to certificates of other Participants that declare
    /// the sanctioned Participant's origin while its exports are forbidden:
    /// `flag` (accepted, flagged for enhanced vigilance) or `refuse`.
    #[arg(long, default_value = "flag", value_parser = PossibleValuesParser::new(["flag", "refuse"]))]
    pub origin: String,
}

/// The statuses `cert list --status` takes (those the node's search takes).
pub const CERTIFICATE_STATUSES: [&str; 6] = [
    "awaiting-approval",
    "issued",
    "confirmed",
    "voided",
    "expired",
    "seized",
];

/// The reasons `seizure report --reason` takes (`kp_types::SeizureReason`).
pub const SEIZURE_REASONS: [&str; 4] = [
    "no-certificate",
    "forged-certificate",
    "contents-mismatch",
    "sanctioned-origin",
];

/// The scopes `--scope` takes (`kp_types::SanctionScope`).
pub const SANCTION_SCOPES: [&str; 5] = [
    "full-suspension",
    "export-ban",
    "import-ban",
    "enhanced-vigilance",
    "partial-exports",
];

/// How `--help` names the forms of a period.
const PERIOD_FORMS: &str = "YYYY|YYYYH1-2|YYYYQ1-4";

/// A period as typed (`2026`, `2026h1`, `2026Q3`), checked when parsed so
/// that a wrong one is refused with its forms before anything is sent.
fn period(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    trimmed
        .parse::<kp_types::Period>()
        .map(|_| trimmed.to_ascii_uppercase())
        .map_err(|e| e.to_string())
}

/// A Participant code as typed: any case, surrounding spaces ignored (`ae`
/// is AE). Whether it is a well-formed code is checked where it is used.
fn participant_code(text: &str) -> Result<String, String> {
    Ok(text.trim().to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values `--help` lists are the ones the ledger's types take, and
    /// the certificate statuses those the node's search takes.
    #[test]
    fn the_listed_values_are_the_ledgers() {
        for reason in SEIZURE_REASONS {
            let parsed: Result<SeizureReason, _> = serde_json::from_value(Value::from(reason));
            assert!(parsed.is_ok(), "{reason}");
        }
        for scope in SANCTION_SCOPES.iter().filter(|s| **s != "partial-exports") {
            let parsed: Result<SanctionScope, _> = serde_json::from_value(Value::from(*scope));
            assert!(parsed.is_ok(), "{scope}");
        }
        let partial =
            serde_json::json!({"partial-exports": {"green_zones": ["Z"], "monitor": null}});
        assert!(serde_json::from_value::<SanctionScope>(partial).is_ok());
        assert_eq!(period(" 2026q3 "), Ok("2026Q3".to_string()));
        assert!(period("2026Q5").unwrap_err().contains("YYYYQ1..YYYYQ4"));
    }
}
