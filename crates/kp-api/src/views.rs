//! More answers of the HTTP API: blocks and transactions as the node
//! serves them, the public views of a certificate and of statistics (what
//! a caller without the Participant's scope sees), and the health probes.
//! Typed so that the OpenAPI document (`/v1/openapi.json`) describes them
//! from these types (ADR 0015) and a client decodes them by name.

use crate::answers::CertificateAlert;
use crate::records::{CertificateStatus, Totals, TxReceipt};
use kp_types::{
    AuthorityId, Block, CertificateNumber, CommitCertificate, Date, Hash, ParticipantCode, Period,
    SignedTransaction, Timestamp, TxHash,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// `GET /v1/blocks/{height}` and `GET /v1/blocks/by-hash/{hash}`: a block
/// with the commit certificate that decided it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct BlockAnswer {
    /// The block's hash.
    pub hash: Hash,
    /// The block.
    pub block: Block,
    /// The commit certificate of its height (`null` while the store lacks
    /// it).
    pub commit_certificate: Option<CommitCertificate>,
}

/// `GET /v1/txs/{hash}`: where a decided transaction is and its outcome.
/// `tx` (the body) is served to the operator only.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TransactionAnswer<'a> {
    /// The transaction's hash.
    pub hash: TxHash,
    /// Height of its block.
    pub height: u64,
    /// Its position in the block's transactions, from 0.
    pub position: u32,
    /// Whether the ledger executed it (`null` while its receipt is not
    /// stored).
    pub accepted: Option<bool>,
    /// Why the ledger refused it, when it did.
    pub rejection: Option<RejectionAnswer>,
    /// Its receipt.
    pub receipt: Option<Cow<'a, TxReceipt>>,
    /// The signed transaction: to the operator only, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<Cow<'a, SignedTransaction>>,
}

/// The ledger's reason for refusing a transaction.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RejectionAnswer {
    /// The rejection's stable code (kebab-case), e.g. `not-authorized`.
    pub code: String,
    /// What it means.
    pub message: String,
}

/// The `view` of an answer trimmed for a caller without the Participant's
/// scope.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum View {
    /// A certificate as anyone may see it.
    Public,
    /// Statistics as the KP publishes them.
    Published,
}

/// `GET /v1/certificates/{number}` for a caller who is neither side of the
/// certificate: enough to verify it, without the shipment's parties,
/// parcels, carats or values.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PublicCertificateAnswer {
    /// Always `public`.
    pub view: View,
    /// Who and when.
    pub certificate: PublicCertificate,
    /// Its status.
    pub status: CertificateStatus,
    /// Time of the block that issued it.
    pub issued_at: Timestamp,
    /// The alerts that touch it.
    pub alerts: Vec<CertificateAlert>,
}

/// The public fields of a certificate.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PublicCertificate {
    /// Its number.
    pub number: CertificateNumber,
    /// The exporting Participant.
    pub exporting: ParticipantCode,
    /// The importing Participant.
    pub importing: ParticipantCode,
    /// The KP Authority that issued it.
    pub issuing_authority: AuthorityId,
    /// Date of issue.
    pub issued_on: Date,
    /// Date of expiry.
    pub expires_on: Date,
}

/// `GET /v1/statistics/{code}` for a caller other than the member: the
/// totals the KP publishes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PublishedStatisticsAnswer {
    /// Always `published`.
    pub view: View,
    /// The member.
    pub participant: ParticipantCode,
    /// The period (a half-year or a year, or what the node publishes).
    pub period: Period,
    /// The totals.
    pub statistics: PublishedStatistics,
}

/// The published figures of a member for a period.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct PublishedStatistics {
    /// Exports.
    pub exports: Totals,
    /// Imports.
    pub imports: Totals,
    /// Production.
    pub production: Totals,
}

/// `GET /v1/health`, `GET /v1/health/ready`: whether the node follows the
/// network (200) or not (503, with the problems).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Readiness {
    /// Ready: no problems.
    pub ok: bool,
    /// Last applied height.
    pub height: u64,
    /// Whether the node replays blocks fetched from peers, far behind.
    pub catching_up: bool,
    /// Connected peers.
    pub peers: usize,
    /// Peers the node needs (a validator: enough for a quorum; another
    /// node: one).
    pub peers_needed: usize,
    /// Age of the last block, milliseconds.
    pub block_age_ms: u64,
    /// The oldest the last block may be, milliseconds.
    pub block_age_max_ms: u64,
    /// What keeps the node from being ready; empty when ready.
    pub problems: Vec<String>,
}

/// `GET /v1/health/live`: the server answers.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Liveness {
    /// Always true.
    pub ok: bool,
    /// Last applied height.
    pub height: u64,
}
