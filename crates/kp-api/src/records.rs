//! What the ledger keeps and reports: records of members, certificates,
//! resolutions and seizures, receipts and events, statistics and anomalies.
//!
//! Every type here is plain data with a canonical binary form (it is stored in
//! state and so reaches the state root) and a JSON form (the RPC serves it).
//! Maps are `BTreeMap` so that their encoding does not depend on insertion order.

use crate::rejection::Rejection;
use kp_types::{
    Authority, AuthorityId, Carats, Certificate, CertificateNumber, Date, Hash, HsCode, KeyRole,
    OriginRule, Participant, ParticipantCode, Period, PublicKey, ResolutionProposal, SanctionScope,
    SeizureReport, Timestamp, TxHash, UsdCents,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether a member is in good standing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum MembershipStatus {
    /// A member in good standing (it may still be under a sanction).
    Active,
    /// Expelled by resolution at `height`; readmission restores it.
    Expelled {
        /// Height of the expelling block.
        height: u64,
    },
    /// An observer removed by resolution at `height`.
    Removed {
        /// Height of the removing block.
        height: u64,
    },
}

/// A sanction in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SanctionRecord {
    /// What it forbids or requires.
    pub scope: SanctionScope,
    /// The resolution that imposed or last amended it.
    pub resolution: Hash,
    /// Height at which it took its current scope.
    pub since_height: u64,
    /// What happens to other Participants' certificates that declare its
    /// origin while the sanction forbids its exports.
    #[serde(default)]
    pub origin: OriginRule,
}

/// A member as the ledger lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ParticipantRecord {
    /// The member (with its current node, government and recovery keys).
    pub participant: Participant,
    /// Active, expelled or removed.
    pub status: MembershipStatus,
    /// The sanction in force, if any.
    pub sanction: Option<SanctionRecord>,
    /// Its authorities (active and revoked), by id. Filled in by queries; the
    /// stored record keeps this empty and authorities live under their own keys.
    #[serde(default)]
    pub authorities: Vec<AuthorityRecord>,
    /// A recovery or recovery-key rotation waiting for its time, if any (at
    /// most one per member).
    #[serde(default)]
    pub pending_key_change: Option<PendingKeyChange>,
    /// Block time at which the government key last rotated the node key;
    /// `None` if the node key is the one the member was listed with. A node
    /// key counts toward cancelling a recovery only if it stood a full
    /// recovery delay before the recovery began, so that a stolen
    /// government key cannot install a node key of the thief's and sign
    /// both halves of a cancellation.
    #[serde(default)]
    pub node_key_rotated_at: Option<Timestamp>,
}

/// A change of a member's keys that waits for the recovery delay: a
/// recovery (begun by the recovery key) or a rotation of an existing
/// recovery key (begun by the government key). The recovery key cancels
/// either at once; the government key cancels a rotation at once, but a
/// recovery only together with the member's node key (two `CancelRecovery`
/// transactions; see `cancel_signed_by`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PendingKeyChange {
    /// The key that began it: `recovery` (a recovery) or `government` (a
    /// rotation of the recovery key).
    pub begun_by: KeyRole,
    /// The government key it installs, if any.
    pub new_government_key: Option<PublicKey>,
    /// The recovery key it installs, if any.
    pub new_recovery_key: Option<PublicKey>,
    /// Height of the block that began it.
    pub begun_height: u64,
    /// The first block time at which it takes effect (housekeeping of the
    /// first block at or after it applies it).
    pub effective_at: Timestamp,
    /// The halves of a cancellation of a recovery signed so far, in role
    /// order: `government` and/or `consensus` (the node key). The recovery
    /// is cancelled when both have signed; empty otherwise.
    #[serde(default)]
    pub cancel_signed_by: Vec<KeyRole>,
}

impl ParticipantRecord {
    /// Whether it is neither expelled nor removed.
    pub fn is_active(&self) -> bool {
        self.status == MembershipStatus::Active
    }
}

/// A KP Authority as the ledger lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct AuthorityRecord {
    /// The authority.
    pub authority: Authority,
    /// Height at which it was registered (0 at genesis).
    pub registered_height: u64,
    /// Height at which it was revoked, if it was.
    pub revoked_height: Option<u64>,
    /// The time since which its key is known to be compromised, if its
    /// revocation said so: certificates it issued in blocks of that time or
    /// later are flagged ([`AuthorityRecord::compromised_at`]).
    #[serde(default)]
    pub compromised_since: Option<Timestamp>,
    /// The signing keys it held before its current one, oldest first, each
    /// with the height of the block that rotated it away (ADR 0008,
    /// "Rotating an authority key"). Acts a key signed up to that block
    /// stay valid; later acts by it are refused.
    #[serde(default)]
    pub previous_keys: Vec<PreviousAuthorityKey>,
}

/// A signing key an authority held before a rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PreviousAuthorityKey {
    /// The key.
    pub key: PublicKey,
    /// The height of the block whose `RotateAuthorityKey` replaced it: the
    /// key signed acts of this height (before the rotation in the block)
    /// and earlier, never later.
    pub until_height: u64,
}

/// Whose key signed an authority's act at some height
/// ([`AuthorityRecord::key_standing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStanding {
    /// The key held then.
    Held,
    /// One of its keys, but rotated away before that height (the block
    /// that rotated it).
    Retired {
        /// The block whose rotation retired it.
        until_height: u64,
    },
    /// Not one of its keys then (another's, or a key of it only later).
    Foreign,
}

impl AuthorityRecord {
    /// Most rotations of one authority's signing key the record keeps.
    pub const PREVIOUS_KEYS_MAX: usize = 32;

    /// Whether `key` was this authority's signing key for an act in the
    /// block of `height`. A key held from one rotation to the next is
    /// valid in both rotations' blocks: within a block the ledger orders
    /// acts, and a light client learns its verdict from the results root.
    pub fn key_standing(&self, key: &PublicKey, height: u64) -> KeyStanding {
        let mut from = self.registered_height;
        for previous in &self.previous_keys {
            if previous.key == *key {
                return if (from..=previous.until_height).contains(&height) {
                    KeyStanding::Held
                } else if height > previous.until_height {
                    KeyStanding::Retired {
                        until_height: previous.until_height,
                    }
                } else {
                    KeyStanding::Foreign
                };
            }
            from = previous.until_height;
        }
        if self.authority.key == *key && height >= from {
            KeyStanding::Held
        } else {
            KeyStanding::Foreign
        }
    }

    /// Whether a certificate this authority issued in a block of time
    /// `issued_at` falls within its compromise: the ledger's block time
    /// decides, not the issue date the signer claimed.
    pub fn compromised_at(&self, issued_at: Timestamp) -> bool {
        self.compromised_since
            .is_some_and(|since| issued_at >= since)
    }
}

/// Where a certificate stands in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CertificateStatus {
    /// Issued under a partial-export sanction with a monitor: waits for the
    /// monitor's approval; cannot be confirmed and does not count until then.
    AwaitingApproval,
    /// Issued and in transit.
    Issued,
    /// Receipt confirmed by the importing authority.
    Confirmed,
    /// Cancelled by the exporting side before confirmation.
    Voided,
    /// Expiry passed without confirmation (by block time).
    Expired,
    /// Named by a seizure report.
    Seized,
}

impl CertificateStatus {
    /// The kebab-case name, as in JSON and in the RPC's `status` filter.
    pub fn name(self) -> &'static str {
        use CertificateStatus as S;
        match self {
            S::AwaitingApproval => "awaiting-approval",
            S::Issued => "issued",
            S::Confirmed => "confirmed",
            S::Voided => "voided",
            S::Expired => "expired",
            S::Seized => "seized",
        }
    }
}

/// One step of a certificate's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CertificateEventKind {
    /// Issued (possibly awaiting approval).
    Issued,
    /// Approved by the monitoring body.
    Approved,
    /// Receipt confirmed.
    Confirmed,
    /// Voided.
    Voided,
    /// Expired at the start of a block.
    Expired,
    /// Named by a seizure report.
    Seized,
}

/// An entry of a certificate's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CertificateHistoryEntry {
    /// What happened.
    pub event: CertificateEventKind,
    /// The transaction that did it (`None` for expiry, which no transaction does).
    pub tx: Option<TxHash>,
    /// Height of the block.
    pub height: u64,
}

/// What the importing authority received, where it differs from the certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Discrepancy {
    /// Carats on the certificate.
    pub certified_carats: Carats,
    /// Carats received.
    pub received_carats: Carats,
    /// Parcels on the certificate.
    pub certified_parcels: u32,
    /// Parcels received.
    pub received_parcels: u32,
}

/// The receipt recorded by the importing authority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Receipt {
    /// Confirming authority.
    pub authority: AuthorityId,
    /// Carats received.
    pub carats: Carats,
    /// Parcels received.
    pub parcels: u32,
    /// Date of receipt.
    pub received_on: Date,
    /// Entered after the certificate's expiry date for goods received on or
    /// before it.
    #[serde(default)]
    pub late: bool,
}

/// A monitoring body's approval requirement and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Approval {
    /// The monitoring body that must approve.
    pub monitor: ParticipantCode,
    /// Height of the approval, once given.
    pub approved_height: Option<u64>,
}

/// A certificate as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CertificateRecord {
    /// The certificate as issued.
    pub certificate: Certificate,
    /// Where it stands.
    pub status: CertificateStatus,
    /// History, oldest first.
    pub history: Vec<CertificateHistoryEntry>,
    /// The receipt, once confirmed.
    pub receipt: Option<Receipt>,
    /// The difference between certificate and receipt, if any.
    pub discrepancy: Option<Discrepancy>,
    /// Flagged for extra checks by importers (a side under enhanced vigilance).
    pub enhanced_vigilance: bool,
    /// The monitor's approval, where a partial-export sanction requires one.
    pub approval: Option<Approval>,
    /// Why it was voided, if it was.
    pub void_reason: Option<String>,
    /// Whether it was counted in the export statistics (approved or not
    /// needing approval); keeps counters consistent when it is later voided.
    pub counted: bool,
    /// Time of the block that issued it: what a compromised authority's
    /// "compromised since" is compared with.
    #[serde(default)]
    pub issued_at: Timestamp,
    /// Sanctioned Participants among its declared origins whose sanctions
    /// flag such certificates instead of refusing them (it is then also
    /// flagged for enhanced vigilance).
    #[serde(default)]
    pub sanctioned_origin: Vec<ParticipantCode>,
}

/// How a resolution ended, or that it has not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ResolutionOutcome {
    /// Collecting signatures.
    Pending,
    /// Every required signature arrived at `height` and the act took effect.
    Adopted {
        /// Height of the adopting block.
        height: u64,
    },
    /// Every required signature arrived but the act no longer applied to the
    /// state (e.g. the member was expelled meanwhile by another resolution).
    Failed {
        /// Height of the block.
        height: u64,
        /// Why the act did not apply.
        reason: Box<Rejection>,
    },
    /// A government Participant objected.
    Rejected {
        /// Height of the objection.
        height: u64,
        /// The objector.
        by: ParticipantCode,
        /// Its reason.
        reason: String,
    },
    /// The deadline passed first.
    Lapsed {
        /// Height of the block that noticed.
        height: u64,
    },
}

/// A resolution as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ResolutionRecord {
    /// Its id (hash of the proposing transaction).
    pub id: Hash,
    /// The proposal.
    pub proposal: ResolutionProposal,
    /// The proposer.
    pub proposer: ParticipantCode,
    /// Height of the proposal.
    pub proposed_height: u64,
    /// The effective deadline.
    pub deadline: Timestamp,
    /// Government Participants that signed (the proposer included).
    pub signed_by: Vec<ParticipantCode>,
    /// Required signers that have not signed, as of the last change (queries
    /// recompute it against the current membership).
    pub missing: Vec<ParticipantCode>,
    /// Outcome.
    pub outcome: ResolutionOutcome,
}

/// Most seizure sequence numbers a [`SeizureIndex`] lists.
pub const SEIZURE_INDEX_MAX: usize = 256;

/// The seizure reports that name one certificate number (whether or not the
/// ledger knows the certificate), as the ledger stores them under the number:
/// a record of the authenticated map, so that a light client can prove that
/// no seizure names a certificate (the record is absent) or which ones do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SeizureIndex {
    /// Reports naming the number, all of them.
    pub count: u64,
    /// Their sequence numbers, oldest first: the first
    /// [`SEIZURE_INDEX_MAX`] of them.
    pub sequences: Vec<u64>,
}

/// A seizure on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SeizureRecord {
    /// Sequence number, from 1.
    pub sequence: u64,
    /// The report.
    pub report: SeizureReport,
    /// The reporting Participant.
    pub reporter: ParticipantCode,
    /// The reporting transaction.
    pub tx: TxHash,
    /// Height of the block.
    pub height: u64,
    /// Whether the named certificate exists on the ledger (a forged one may not).
    pub certificate_known: bool,
}

/// Equivocation evidence on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct EvidenceRecord {
    /// `Evidence::id()`.
    pub id: Hash,
    /// The equivocating validator.
    pub offender: PublicKey,
    /// Its member code, if the key is a current node key.
    pub offender_code: Option<ParticipantCode>,
    /// Height of the equivocation.
    pub evidence_height: u64,
    /// Height at which it was recorded.
    pub recorded_height: u64,
}

/// Count, carats and value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Totals {
    /// Certificates.
    pub count: u64,
    /// Carats (hundredths).
    pub carats: Carats,
    /// Value (cents).
    pub value_usd: UsdCents,
}

impl Totals {
    /// Adds a certificate (or line) to the totals.
    pub fn add(&mut self, count: u64, carats: Carats, value: UsdCents) {
        self.count = self.count.saturating_add(count);
        self.carats = self.carats.saturating_add(carats);
        self.value_usd = self.value_usd.saturating_add(value);
    }

    /// Removes a certificate (or line) from the totals.
    pub fn subtract(&mut self, count: u64, carats: Carats, value: UsdCents) {
        self.count = self.count.saturating_sub(count);
        self.carats = Carats(self.carats.0.saturating_sub(carats.0));
        self.value_usd = UsdCents(self.value_usd.0.saturating_sub(value.0));
    }

    /// Adds other totals.
    pub fn merge(&mut self, other: &Totals) {
        self.add(other.count, other.carats, other.value_usd);
    }
}

/// One Participant's trade statistics for a period (Annex III), derived from
/// certificates and confirmations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TradeStatistics {
    /// Exports certified (approved where approval is needed; voided ones
    /// removed), by the quarter of the issue date.
    pub exports: Totals,
    /// Imports confirmed, by the quarter of the receipt date (received carats;
    /// value as certified).
    pub imports: Totals,
    /// Exports by HS code.
    pub exports_by_hs: BTreeMap<HsCode, Totals>,
    /// Imports by HS code.
    pub imports_by_hs: BTreeMap<HsCode, Totals>,
    /// Exports by importing Participant.
    pub exports_by_partner: BTreeMap<ParticipantCode, Totals>,
    /// Imports by exporting Participant.
    pub imports_by_partner: BTreeMap<ParticipantCode, Totals>,
    /// Confirmations that differed from their certificate.
    pub discrepancies: u64,
    /// Its certificates that expired without confirmation (by issue quarter).
    pub expired_unconfirmed: Totals,
    /// Some of those certificates' numbers (at most 16 per quarter).
    pub expired_numbers: Vec<CertificateNumber>,
    /// Production reported for the half-years in (or containing) the period.
    pub production: Totals,
}

/// A pattern in the statistics worth a human look, with the figures behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Anomaly {
    /// What `exporter` certified to `importer` differs from what `importer`
    /// confirmed from `exporter`.
    MirrorMismatch {
        /// Period.
        period: Period,
        /// Exporting side.
        exporter: ParticipantCode,
        /// Importing side.
        importer: ParticipantCode,
        /// Carats certified as exported.
        exported_carats: Carats,
        /// Carats confirmed as imported.
        imported_carats: Carats,
        /// Difference in percent of the larger.
        difference_pct: u64,
    },
    /// A value per carat far from the period's norm for the HS code.
    ValuePerCaratOutlier {
        /// Period.
        period: Period,
        /// Exporter.
        participant: ParticipantCode,
        /// HS code.
        hs_code: HsCode,
        /// Its value per carat, cents per carat.
        value_per_carat_cents: u64,
        /// The period's norm over all exporters, cents per carat.
        norm_cents: u64,
        /// Deviation in percent of the norm.
        deviation_pct: u64,
    },
    /// Certificates that expired without confirmation.
    ExpiredUnconfirmed {
        /// Period.
        period: Period,
        /// Exporter.
        participant: ParticipantCode,
        /// How many, and their carats and value.
        totals: Totals,
        /// Some of their numbers.
        numbers: Vec<CertificateNumber>,
    },
    /// Exports that production plus imports cannot explain.
    ExportsExceedSupply {
        /// Period.
        period: Period,
        /// Exporter.
        participant: ParticipantCode,
        /// Exported carats.
        exported_carats: Carats,
        /// Produced carats (reports of the half-years covering the period).
        produced_carats: Carats,
        /// Imported carats.
        imported_carats: Carats,
    },
    /// A sharp rise or fall of exported carats against the previous period.
    SharpChange {
        /// Period.
        period: Period,
        /// Exporter.
        participant: ParticipantCode,
        /// Carats exported in the previous period.
        previous_carats: Carats,
        /// Carats exported in this period.
        current_carats: Carats,
        /// Change in percent of the previous figure (signed).
        change_pct: i64,
    },
}

/// The result of one transaction of a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TxReceipt {
    /// The transaction.
    pub tx_hash: TxHash,
    /// Executed, or refused with the reason (then it changed nothing).
    pub result: Result<(), Rejection>,
}

/// Something that happened in a block, for subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum LedgerEvent {
    /// A certificate was issued or changed status.
    CertificateStatusChanged {
        /// The number.
        number: CertificateNumber,
        /// Previous status (`None` when issued).
        from: Option<CertificateStatus>,
        /// New status.
        to: CertificateStatus,
        /// The transaction, if one did it.
        tx: Option<TxHash>,
    },
    /// A monitor approved a certificate.
    CertificateApproved {
        /// The number.
        number: CertificateNumber,
        /// The monitor.
        monitor: ParticipantCode,
    },
    /// A confirmation recorded a discrepancy.
    DiscrepancyRecorded {
        /// The number.
        number: CertificateNumber,
        /// The figures.
        discrepancy: Discrepancy,
    },
    /// A seizure was reported: every node shows it as an alert.
    SeizureReported {
        /// Sequence number.
        sequence: u64,
        /// Reporter.
        reporter: ParticipantCode,
        /// Territory.
        territory: kp_types::Territory,
        /// The certificate presented, if any.
        certificate: Option<CertificateNumber>,
        /// Why.
        reason: kp_types::SeizureReason,
        /// Carats seized.
        carats: Carats,
    },
    /// A resolution was proposed.
    ResolutionProposed {
        /// Its id.
        id: Hash,
        /// Kind of act.
        kind: String,
        /// Proposer.
        proposer: ParticipantCode,
    },
    /// A resolution took effect.
    ResolutionAdopted {
        /// Its id.
        id: Hash,
        /// Kind of act.
        kind: String,
    },
    /// A resolution got every signature but its act no longer applied.
    ResolutionFailed {
        /// Its id.
        id: Hash,
        /// Why.
        reason: Rejection,
    },
    /// A resolution was rejected by an objection.
    ResolutionRejected {
        /// Its id.
        id: Hash,
        /// The objector.
        by: ParticipantCode,
    },
    /// A resolution lapsed at its deadline.
    ResolutionLapsed {
        /// Its id.
        id: Hash,
    },
    /// The validator set for the next height differs from this height's.
    ValidatorSetChanged {
        /// The new set, in order.
        validators: Vec<(ParticipantCode, PublicKey)>,
    },
    /// A member's status or sanction changed.
    ParticipantChanged {
        /// Who.
        participant: ParticipantCode,
        /// The kind of act.
        change: String,
    },
    /// The Chair changed on 1 January.
    ChairRotated {
        /// The new Chair.
        chair: ParticipantCode,
        /// The year it serves.
        year: u32,
    },
    /// A Vice Chair was elected.
    ViceChairElected {
        /// Who.
        vice_chair: ParticipantCode,
    },
    /// An authority was registered.
    AuthorityRegistered {
        /// The id.
        authority: AuthorityId,
    },
    /// An authority was revoked (again, when a later revocation records or
    /// moves back its compromise).
    AuthorityRevoked {
        /// The id.
        authority: AuthorityId,
        /// Compromised since: the certificates it issued in blocks of this
        /// time or later are flagged.
        compromised_since: Option<Timestamp>,
    },
    /// One of a member's keys was replaced (by a rotation, or by a
    /// recovery or recovery-key rotation taking effect).
    KeyRotated {
        /// Who.
        participant: ParticipantCode,
        /// Which key.
        role: KeyRole,
        /// The new key.
        key: PublicKey,
    },
    /// Production was reported.
    ProductionReported {
        /// Who.
        participant: ParticipantCode,
        /// The half-year.
        period: Period,
    },
    /// Equivocation evidence was recorded.
    EvidenceRecorded {
        /// Its id.
        id: Hash,
        /// The offender.
        offender: PublicKey,
    },
    /// A recovery, or a rotation of the recovery key, was begun and waits
    /// for its time: the member's other key can cancel it until then.
    KeyChangePending {
        /// Whose keys.
        participant: ParticipantCode,
        /// The key that began it (`recovery`: a recovery; `government`: a
        /// recovery-key rotation).
        begun_by: KeyRole,
        /// When it takes effect.
        effective_at: Timestamp,
    },
    /// A pending recovery or recovery-key rotation was cancelled.
    KeyChangeCancelled {
        /// Whose keys.
        participant: ParticipantCode,
        /// The key that cancelled it.
        by: KeyRole,
    },
    /// A pending recovery or recovery-key rotation took effect (a
    /// `KeyRotated` event follows for each key it replaced).
    KeyChangeCompleted {
        /// Whose keys.
        participant: ParticipantCode,
        /// The key that began it.
        begun_by: KeyRole,
    },
    /// A pending key change could not take effect because one of its keys
    /// was registered to another member meanwhile; nothing changed.
    KeyChangeFailed {
        /// Whose keys.
        participant: ParticipantCode,
        /// The key already in use.
        key: PublicKey,
    },
    /// One half of the cancellation of a pending recovery was signed (by
    /// the government key or the node key); the recovery stands until the
    /// other half is signed too.
    KeyChangeCancelSigned {
        /// Whose keys.
        participant: ParticipantCode,
        /// The key that signed this half: `government` or `consensus`.
        by: KeyRole,
        /// The key whose half is still missing.
        awaiting: KeyRole,
    },
    /// An authority's encryption key for sealed fields was set or replaced
    /// (ADR 0011): certificates sealed from now on use it.
    EncryptionKeySet {
        /// The authority.
        authority: AuthorityId,
        /// Its new X25519 key.
        key: kp_types::EncryptionKey,
    },
    /// An authority's signing key was replaced (ADR 0008): the old key's
    /// acts up to this block stay valid, later ones are refused.
    AuthorityKeyRotated {
        /// The authority.
        authority: AuthorityId,
        /// Its new signing key.
        key: PublicKey,
        /// The key it replaced.
        previous: PublicKey,
    },
}

/// What applying a block did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BlockReceipt {
    /// Height of the block.
    pub height: u64,
    /// Its hash.
    pub block_hash: Hash,
    /// State root after the block.
    pub state_root: Hash,
    /// One per transaction, in block order.
    pub receipts: Vec<TxReceipt>,
    /// Events, in the order they happened.
    pub events: Vec<LedgerEvent>,
}
