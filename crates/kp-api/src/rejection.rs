//! Why the ledger refuses a transaction: one variant per rule, each with the
//! figures a user needs to act on it and a stable kebab-case [`Rejection::code`].
//!
//! The same value is returned by `check_tx` at admission and kept in the
//! receipt of a transaction that fails inside a decided block.

use crate::records::{CertificateStatus, ResolutionOutcome};
use kp_types::{
    AuthorityId, CertificateNumber, Date, Hash, KeyRole, ParticipantCode, ParticipantKind, Period,
    PublicKey, Territory, Timestamp,
};
use serde::{Deserialize, Serialize};

/// A reason for refusing a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Rejection {
    // ---- envelope ----
    /// Signed for another chain.
    #[error("transaction is for chain {found:?}, this is {expected:?}")]
    WrongChain {
        /// This chain.
        expected: String,
        /// The transaction's chain.
        found: String,
    },
    /// Its expiry is before the block time.
    #[error("transaction expired at {expires_at}, block time is {block_time}")]
    TxExpired {
        /// The transaction's expiry.
        expires_at: Timestamp,
        /// Block time.
        block_time: Timestamp,
    },
    /// Its expiry is further beyond the block time than allowed.
    #[error("transaction expiry {expires_at} is beyond the latest allowed {latest}")]
    TxLifetimeTooLong {
        /// The transaction's expiry.
        expires_at: Timestamp,
        /// Block time plus the longest lifetime.
        latest: Timestamp,
    },
    /// The same transaction was already executed (replay).
    #[error("transaction {tx_hash} was already executed")]
    AlreadyExecuted {
        /// Its hash.
        tx_hash: Hash,
    },
    /// The signature does not verify (admission only: in a block it makes the
    /// block invalid).
    #[error("signature does not verify")]
    BadSignature,
    /// The node could not read its state to check the transaction
    /// (admission only; a fatal storage failure on the node).
    #[error("state unavailable: {detail}")]
    StateUnavailable {
        /// The storage error.
        detail: String,
    },
    /// A text field is empty or too long.
    #[error("field {field} has {len} bytes; allowed 1 to {max}")]
    BadText {
        /// Which field.
        field: String,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A list has too many items.
    #[error("field {field} has {count} items; at most {max}")]
    TooManyItems {
        /// Which field.
        field: String,
        /// How many.
        count: usize,
        /// The bound.
        max: usize,
    },

    // ---- signers ----
    /// The named authority is not registered.
    #[error("unknown authority {authority}")]
    UnknownAuthority {
        /// The authority.
        authority: AuthorityId,
    },
    /// The transaction is not signed by the named authority's key.
    #[error("transaction is not signed by authority {authority}'s key")]
    SignerNotAuthority {
        /// The authority.
        authority: AuthorityId,
    },
    /// The authority was revoked.
    #[error("authority {authority} is revoked")]
    AuthorityRevoked {
        /// The authority.
        authority: AuthorityId,
    },
    /// The authority belongs to another Participant than the act requires.
    #[error("authority {authority} belongs to {owner}, the act needs one of {required}")]
    AuthorityNotOfParticipant {
        /// The authority.
        authority: AuthorityId,
        /// Its owner.
        owner: ParticipantCode,
        /// Who must act.
        required: ParticipantCode,
    },
    /// The transaction is not signed by the named member's government key
    /// (an act for a government signed with its node key, where the two
    /// differ, is refused with this too).
    #[error("transaction is not signed by {participant}'s government key")]
    SignerNotGovernmentKey {
        /// The member.
        participant: ParticipantCode,
    },
    /// The signer's key is not the government key (nor the node key) of any member.
    #[error("signer {signer} is not a member's government key")]
    UnknownSigner {
        /// The key.
        signer: PublicKey,
    },
    /// Only government Participants may do this.
    #[error("{participant} is a {kind:?}, not a government Participant")]
    NotAGovernment {
        /// Who.
        participant: ParticipantCode,
        /// What it is.
        kind: ParticipantKind,
    },

    // ---- members ----
    /// No member has this code.
    #[error("unknown participant {participant}")]
    UnknownParticipant {
        /// The code.
        participant: ParticipantCode,
    },
    /// The member does not trade (an observer).
    #[error("{participant} is a {kind:?} and does not trade")]
    NotTrading {
        /// Who.
        participant: ParticipantCode,
        /// What it is.
        kind: ParticipantKind,
    },
    /// The member is expelled (or a removed observer).
    #[error("{participant} is expelled")]
    ParticipantExpelled {
        /// Who.
        participant: ParticipantCode,
    },

    // ---- certificate issue ----
    /// Exporting and importing Participant are the same.
    #[error("{participant} cannot export to itself")]
    SameParticipant {
        /// Who.
        participant: ParticipantCode,
    },
    /// A sanction forbids this Participant to export.
    #[error("sanction on {participant} ({scope}) forbids exports")]
    ExportForbidden {
        /// Who.
        participant: ParticipantCode,
        /// The sanction's kind.
        scope: String,
    },
    /// A sanction forbids this Participant to import.
    #[error("sanction on {participant} ({scope}) forbids imports")]
    ImportForbidden {
        /// Who.
        participant: ParticipantCode,
        /// The sanction's kind.
        scope: String,
    },
    /// Under a partial-export sanction, the certificate lists no origin zone.
    #[error("exports of {participant} must list origin zones, all of them green")]
    OriginZonesMissing {
        /// The sanctioned exporter.
        participant: ParticipantCode,
    },
    /// An origin zone is not on the sanction's green list.
    #[error("origin zone {zone:?} is not a green zone of {participant}")]
    OriginZoneNotGreen {
        /// The sanctioned exporter.
        participant: ParticipantCode,
        /// The zone.
        zone: String,
    },
    /// The certificate number was already used.
    #[error("certificate number {number} is already used")]
    NumberTaken {
        /// The number.
        number: CertificateNumber,
    },
    /// The number's prefix is not a territory of the exporting Participant.
    #[error("number prefix {prefix} is not a territory of {participant}")]
    NumberPrefixNotExporter {
        /// The prefix.
        prefix: Territory,
        /// The exporter.
        participant: ParticipantCode,
    },
    /// The destination is not a territory of the importing Participant.
    #[error("destination {destination} is not a territory of {participant}")]
    DestinationNotImporter {
        /// The destination.
        destination: Territory,
        /// The importer.
        participant: ParticipantCode,
    },
    /// A date lies after the block's date.
    #[error("{field} {date} is after the block date {block_date}")]
    DateInFuture {
        /// Which date.
        field: String,
        /// The date.
        date: Date,
        /// The block's date.
        block_date: Date,
    },
    /// The expiry date is not after the issue date.
    #[error("expiry {expires_on} is not after issue {issued_on}")]
    ExpiryNotAfterIssue {
        /// Issue date.
        issued_on: Date,
        /// Expiry date.
        expires_on: Date,
    },
    /// The validity is longer than the genesis allows.
    #[error("validity of {days} days exceeds the maximum {max}")]
    ValidityTooLong {
        /// Days from issue to expiry.
        days: i64,
        /// The maximum.
        max: u32,
    },
    /// The certificate has no line.
    #[error("certificate has no line")]
    NoLines,
    /// A line's HS code is not a rough-diamond code.
    #[error("line {line}: HS code {hs_code:?} is not rough diamonds")]
    HsCodeNotRough {
        /// Index of the line.
        line: usize,
        /// The code.
        hs_code: String,
    },
    /// A line has a zero carats, value or parcels figure.
    #[error("line {line}: {field} must be positive")]
    ZeroAmount {
        /// Index of the line.
        line: usize,
        /// Which figure.
        field: String,
    },
    /// The origin lists no country (use `mixed` for mixed parcels).
    #[error("origin lists no country")]
    NoOrigin,
    /// An admitted trading member lists no territory.
    #[error("{participant} lists no territory")]
    NoTerritories {
        /// Who.
        participant: ParticipantCode,
    },
    /// An origin is neither a known territory nor `mixed`.
    #[error("origin {territory} is not a known territory")]
    UnknownOrigin {
        /// The origin.
        territory: Territory,
    },

    // ---- certificate life ----
    /// No certificate has this number.
    #[error("unknown certificate {number}")]
    UnknownCertificate {
        /// The number.
        number: CertificateNumber,
    },
    /// The certificate's status does not allow this act.
    #[error("certificate {number} is {status:?}")]
    WrongCertificateStatus {
        /// The number.
        number: CertificateNumber,
        /// Its status.
        status: CertificateStatus,
    },
    /// The certificate awaits its monitor's approval and cannot be confirmed.
    #[error("certificate {number} awaits approval by {monitor}")]
    AwaitingApproval {
        /// The number.
        number: CertificateNumber,
        /// The monitoring body.
        monitor: ParticipantCode,
    },
    /// The certificate's expiry date has passed.
    #[error("certificate {number} expired on {expires_on}; block date {block_date}")]
    CertificateExpired {
        /// The number.
        number: CertificateNumber,
        /// Its expiry date.
        expires_on: Date,
        /// The block's date.
        block_date: Date,
    },
    /// The receipt date is before the issue date.
    #[error("received on {received_on}, before issue on {issued_on}")]
    ReceivedBeforeIssue {
        /// Receipt date.
        received_on: Date,
        /// Issue date.
        issued_on: Date,
    },
    /// The approver is not the monitoring body the certificate awaits.
    #[error("certificate {number} awaits {expected:?}, not {found}")]
    NotTheMonitor {
        /// The number.
        number: CertificateNumber,
        /// The monitoring body awaited, if any.
        expected: Option<ParticipantCode>,
        /// Who tried to approve.
        found: ParticipantCode,
    },

    // ---- seizures and production ----
    /// The territory is not the reporting Participant's.
    #[error("territory {territory} is not one of {participant}'s")]
    TerritoryNotOfParticipant {
        /// The territory.
        territory: Territory,
        /// The reporter.
        participant: ParticipantCode,
    },
    /// Production is reported per half-year.
    #[error("production period {period} is not a half-year")]
    NotAHalfYear {
        /// The period given.
        period: Period,
    },
    /// The half-year has not started yet.
    #[error("period {period} has not started at block date {block_date}")]
    PeriodInFuture {
        /// The period.
        period: Period,
        /// The block's date.
        block_date: Date,
    },
    /// This half-year's production was already reported.
    #[error("{participant} already reported production for {period}")]
    ProductionAlreadyReported {
        /// Who.
        participant: ParticipantCode,
        /// The period.
        period: Period,
    },

    // ---- registry ----
    /// The authority id is taken.
    #[error("authority id {authority} is taken")]
    AuthorityExists {
        /// The id.
        authority: AuthorityId,
    },
    /// The key is already some member's or authority's key.
    #[error("key {key} is already in use")]
    KeyInUse {
        /// The key.
        key: PublicKey,
    },

    // ---- resolutions ----
    /// No resolution has this id.
    #[error("unknown resolution {resolution}")]
    UnknownResolution {
        /// The id.
        resolution: Hash,
    },
    /// The resolution is no longer pending.
    #[error("resolution {resolution} is closed: {outcome:?}")]
    ResolutionClosed {
        /// The id.
        resolution: Hash,
        /// How it ended.
        outcome: ResolutionOutcome,
    },
    /// The resolution's deadline has passed.
    #[error("resolution {resolution} lapsed at {deadline}")]
    ResolutionLapsed {
        /// The id.
        resolution: Hash,
        /// Its deadline.
        deadline: Timestamp,
    },
    /// This Participant already signed.
    #[error("{participant} already signed resolution {resolution}")]
    AlreadySigned {
        /// The id.
        resolution: Hash,
        /// Who.
        participant: ParticipantCode,
    },
    /// The proposed deadline is not in the allowed window after the block time.
    #[error("deadline {deadline} outside ({block_time}, {latest}]")]
    BadDeadline {
        /// Proposed deadline.
        deadline: Timestamp,
        /// Block time.
        block_time: Timestamp,
        /// Latest allowed.
        latest: Timestamp,
    },
    /// The proposer already has the most pending resolutions allowed.
    #[error("{proposer} already has {max} resolutions pending (the genesis limit); wait for one to be decided or to lapse")]
    TooManyPendingResolutions {
        /// The proposing government.
        proposer: ParticipantCode,
        /// The limit (`pending_resolutions_per_proposer_max`).
        max: u32,
    },
    /// The member code of an admission is taken.
    #[error("participant code {participant} is taken")]
    ParticipantExists {
        /// The code.
        participant: ParticipantCode,
    },
    /// The act needs a member of another kind.
    #[error("{participant} is a {found:?}; the act needs a {expected}")]
    WrongKind {
        /// Who.
        participant: ParticipantCode,
        /// What it is.
        found: ParticipantKind,
        /// What the act needs.
        expected: String,
    },
    /// Readmission of a member that is not expelled.
    #[error("{participant} is not expelled")]
    NotExpelled {
        /// Who.
        participant: ParticipantCode,
    },
    /// Amending or lifting a sanction that is not in force.
    #[error("{participant} is under no sanction")]
    NoSanction {
        /// Who.
        participant: ParticipantCode,
    },
    /// Imposing a sanction on a member already under one (amend it instead).
    #[error("{participant} is already under a sanction")]
    SanctionInForce {
        /// Who.
        participant: ParticipantCode,
    },
    /// A territory of an admitted member is already someone's.
    #[error("territory {territory} already belongs to {owner}")]
    TerritoryTaken {
        /// The territory.
        territory: Territory,
        /// Its owner.
        owner: ParticipantCode,
    },
    /// A partial-export sanction without green zones.
    #[error("a partial-export sanction must list at least one green zone")]
    NoGreenZones,

    // ---- evidence ----
    /// Only validators may submit evidence.
    #[error("signer {signer} is not a validator")]
    NotAValidator {
        /// The key.
        signer: PublicKey,
    },
    /// The evidence does not prove equivocation.
    #[error("evidence does not prove equivocation: {reason}")]
    InvalidEvidence {
        /// What `Evidence::verify` said.
        reason: String,
    },
    /// This evidence is already on the ledger.
    #[error("evidence {id} is already recorded")]
    DuplicateEvidence {
        /// Its id.
        id: Hash,
    },

    // ---- keys (last, so that earlier variants keep their encoding) ----
    /// A key of small order, or no curve point: under ZIP-215 anyone could
    /// sign as a small-order key ([`kp_types::PublicKey::is_weak`]).
    #[error("key {key} is of small order or not a curve point; generate a new key")]
    WeakKey {
        /// The key.
        key: PublicKey,
    },
    /// The transaction is not signed by the named member's recovery key.
    #[error("transaction is not signed by {participant}'s recovery key")]
    SignerNotRecoveryKey {
        /// The member.
        participant: ParticipantCode,
    },
    /// The member has no recovery key registered.
    #[error("{participant} has no recovery key")]
    NoRecoveryKey {
        /// The member.
        participant: ParticipantCode,
    },
    /// The member already has a recovery (or recovery-key rotation) pending:
    /// one at a time.
    #[error("{participant} already has a key change pending until {effective_at}")]
    RecoveryPending {
        /// The member.
        participant: ParticipantCode,
        /// When the pending change takes effect.
        effective_at: Timestamp,
    },
    /// The member has no recovery or recovery-key rotation pending.
    #[error("{participant} has no key change pending")]
    NoPendingRecovery {
        /// The member.
        participant: ParticipantCode,
    },

    // ---- compromise and laundering (after the keys, for the same reason) ----
    /// The declared origin includes a Participant whose sanction forbids its
    /// exports and refuses certificates declaring its origin.
    #[error("origin {origin} is {participant}'s, whose sanction ({scope}) refuses certificates declaring it{}", zone.as_ref().map(|z| format!(" (origin zone {z:?} is not on its list)")).unwrap_or_default())]
    SanctionedOrigin {
        /// The declared origin territory.
        origin: Territory,
        /// The sanctioned Participant it belongs to.
        participant: ParticipantCode,
        /// The kind of its sanction.
        scope: String,
        /// Under partial exports: the origin zone not on its list (`None`
        /// when the certificate lists no zone).
        zone: Option<String>,
    },
    /// A revocation's "compromised since" time lies after the block time.
    #[error("compromised since {since} is after the block time {block_time}")]
    CompromiseInFuture {
        /// The time given.
        since: Timestamp,
        /// Block time.
        block_time: Timestamp,
    },

    // ---- the two-key cancellation of a recovery (last, for the same reason) ----
    /// This key already signed its half of the cancellation of the member's
    /// pending recovery; the other half (government key or node key) is
    /// still missing.
    #[error("{participant}'s {} key already signed the cancellation of its recovery; the {} key must sign the other half", role.name(), awaiting.name())]
    CancelAlreadySigned {
        /// The member.
        participant: ParticipantCode,
        /// The role whose half is already signed.
        role: KeyRole,
        /// The role whose half is missing.
        awaiting: KeyRole,
    },
    /// The node key signing a cancellation was installed by a rotation of
    /// the government key less than one recovery delay before the recovery
    /// began, so it does not count: a stolen government key could otherwise
    /// install a node key of the thief's and sign both halves.
    #[error("{participant}'s node key was rotated at {rotated_at}, less than one recovery delay before the recovery began; it cannot cancel this recovery")]
    NodeKeyTooRecent {
        /// The member.
        participant: ParticipantCode,
        /// When the government key installed the node key.
        rotated_at: Timestamp,
    },

    // ---- sealed commercial fields (ADR 0011; last, for the same reason) ----
    /// A sealed envelope's shape is wrong (copies, sizes).
    #[error("sealed envelope malformed: {detail}")]
    SealedEnvelopeMalformed {
        /// What is wrong.
        detail: String,
    },
    /// A copy of a sealed envelope is not for the authority or key it must be.
    #[error("sealed copy {position} (sealed to {authority}) is wrong: {detail}")]
    SealedRecipientWrong {
        /// 0: the issuing authority's copy; 1: the importing authority's.
        position: u8,
        /// The authority the copy names.
        authority: AuthorityId,
        /// What is wrong.
        detail: String,
    },
    /// The authority has no registered encryption key to seal to.
    #[error("authority {authority} has no encryption key registered; nothing can be sealed to it")]
    NoEncryptionKey {
        /// The authority.
        authority: AuthorityId,
    },
    /// A certificate in the clear where both sides can read a sealed one.
    #[error("certificate must be sealed: the issuing authority and {importing_authority} of the importing Participant have encryption keys")]
    SealingRequired {
        /// An authority of the importing Participant with a key.
        importing_authority: AuthorityId,
    },
    /// An encryption key of small order, or not an X25519 key.
    #[error("encryption key of {authority} is not a usable X25519 key")]
    WeakEncryptionKey {
        /// The authority.
        authority: AuthorityId,
    },

    // ---- authority key rotation (ADR 0008; last, for the same reason) ----
    /// Signed with a key the authority held before a rotation: acts it
    /// signed up to the rotation stay valid, later ones are refused.
    #[error("transaction is signed by a key authority {authority} held until its rotation at height {until_height}; it signs with its new key now")]
    AuthorityKeyRetired {
        /// The authority.
        authority: AuthorityId,
        /// The block whose rotation retired the key.
        until_height: u64,
    },
}

impl Rejection {
    /// A stable kebab-case code that clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::WrongChain { .. } => "wrong-chain",
            Rejection::TxExpired { .. } => "tx-expired",
            Rejection::TxLifetimeTooLong { .. } => "tx-lifetime-too-long",
            Rejection::AlreadyExecuted { .. } => "already-executed",
            Rejection::BadSignature => "bad-signature",
            Rejection::StateUnavailable { .. } => "state-unavailable",
            Rejection::BadText { .. } => "bad-text",
            Rejection::TooManyItems { .. } => "too-many-items",
            Rejection::UnknownAuthority { .. } => "unknown-authority",
            Rejection::SignerNotAuthority { .. } => "signer-not-authority",
            Rejection::AuthorityRevoked { .. } => "authority-revoked",
            Rejection::AuthorityNotOfParticipant { .. } => "authority-not-of-participant",
            Rejection::SignerNotGovernmentKey { .. } => "signer-not-government-key",
            Rejection::UnknownSigner { .. } => "unknown-signer",
            Rejection::NotAGovernment { .. } => "not-a-government",
            Rejection::UnknownParticipant { .. } => "unknown-participant",
            Rejection::NotTrading { .. } => "not-trading",
            Rejection::ParticipantExpelled { .. } => "participant-expelled",
            Rejection::SameParticipant { .. } => "same-participant",
            Rejection::ExportForbidden { .. } => "export-forbidden",
            Rejection::ImportForbidden { .. } => "import-forbidden",
            Rejection::OriginZonesMissing { .. } => "origin-zones-missing",
            Rejection::OriginZoneNotGreen { .. } => "origin-zone-not-green",
            Rejection::NumberTaken { .. } => "number-taken",
            Rejection::NumberPrefixNotExporter { .. } => "number-prefix-not-exporter",
            Rejection::DestinationNotImporter { .. } => "destination-not-importer",
            Rejection::DateInFuture { .. } => "date-in-future",
            Rejection::ExpiryNotAfterIssue { .. } => "expiry-not-after-issue",
            Rejection::ValidityTooLong { .. } => "validity-too-long",
            Rejection::NoLines => "no-lines",
            Rejection::HsCodeNotRough { .. } => "hs-code-not-rough",
            Rejection::ZeroAmount { .. } => "zero-amount",
            Rejection::UnknownOrigin { .. } => "unknown-origin",
            Rejection::NoOrigin => "no-origin",
            Rejection::NoTerritories { .. } => "no-territories",
            Rejection::UnknownCertificate { .. } => "unknown-certificate",
            Rejection::WrongCertificateStatus { .. } => "wrong-certificate-status",
            Rejection::AwaitingApproval { .. } => "awaiting-approval",
            Rejection::CertificateExpired { .. } => "certificate-expired",
            Rejection::ReceivedBeforeIssue { .. } => "received-before-issue",
            Rejection::NotTheMonitor { .. } => "not-the-monitor",
            Rejection::TerritoryNotOfParticipant { .. } => "territory-not-of-participant",
            Rejection::NotAHalfYear { .. } => "not-a-half-year",
            Rejection::PeriodInFuture { .. } => "period-in-future",
            Rejection::ProductionAlreadyReported { .. } => "production-already-reported",
            Rejection::AuthorityExists { .. } => "authority-exists",
            Rejection::KeyInUse { .. } => "key-in-use",
            Rejection::UnknownResolution { .. } => "unknown-resolution",
            Rejection::ResolutionClosed { .. } => "resolution-closed",
            Rejection::ResolutionLapsed { .. } => "resolution-lapsed",
            Rejection::AlreadySigned { .. } => "already-signed",
            Rejection::BadDeadline { .. } => "bad-deadline",
            Rejection::TooManyPendingResolutions { .. } => "too-many-pending-resolutions",
            Rejection::ParticipantExists { .. } => "participant-exists",
            Rejection::WrongKind { .. } => "wrong-kind",
            Rejection::NotExpelled { .. } => "not-expelled",
            Rejection::NoSanction { .. } => "no-sanction",
            Rejection::SanctionInForce { .. } => "sanction-in-force",
            Rejection::TerritoryTaken { .. } => "territory-taken",
            Rejection::NoGreenZones => "no-green-zones",
            Rejection::NotAValidator { .. } => "not-a-validator",
            Rejection::InvalidEvidence { .. } => "invalid-evidence",
            Rejection::DuplicateEvidence { .. } => "duplicate-evidence",
            Rejection::WeakKey { .. } => "weak-key",
            Rejection::SignerNotRecoveryKey { .. } => "signer-not-recovery-key",
            Rejection::NoRecoveryKey { .. } => "no-recovery-key",
            Rejection::RecoveryPending { .. } => "recovery-pending",
            Rejection::NoPendingRecovery { .. } => "no-pending-recovery",
            Rejection::SanctionedOrigin { .. } => "sanctioned-origin",
            Rejection::CompromiseInFuture { .. } => "compromise-in-future",
            Rejection::CancelAlreadySigned { .. } => "cancel-already-signed",
            Rejection::NodeKeyTooRecent { .. } => "node-key-too-recent",
            Rejection::SealedEnvelopeMalformed { .. } => "sealed-envelope-malformed",
            Rejection::SealedRecipientWrong { .. } => "sealed-recipient-wrong",
            Rejection::NoEncryptionKey { .. } => "no-encryption-key",
            Rejection::SealingRequired { .. } => "sealing-required",
            Rejection::WeakEncryptionKey { .. } => "weak-encryption-key",
            Rejection::AuthorityKeyRetired { .. } => "authority-key-retired",
        }
    }
}
