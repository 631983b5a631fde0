//! The contract between kpledger nodes and the programs that ask them: the
//! ledger's records as stored and served, the genesis document, the chain
//! parameters, the rejection codes, the light-client proof types, and the
//! answers of the HTTP API ([`answers`]).
//!
//! The deterministic state machine (`kp-ledger`) writes these records; a
//! client (`kp-client`) reads and verifies them. Keeping them here lets the
//! client verify proofs without depending on the state machine that
//! produced them (ARCHITECTURE.md, "The next shape").

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod answers;
pub mod genesis;
pub mod keys;
pub mod paper;
pub mod params;
pub mod proof;
pub mod records;
pub mod rejection;
pub mod snapshots;
pub mod views;

pub use answers::{
    AnomaliesAnswer, CertificateAlert, CertificateAnswer, CertificatePage, ErrorAnswer,
    ErrorDetail, NodeStatus, ParticipantList, ResolutionPage, SeizureList, StatisticsAnswer,
};
pub use genesis::{Genesis, GenesisError};
pub use params::Params;
pub use records::{
    Anomaly, Approval, AuthorityRecord, BlockReceipt, CertificateEventKind,
    CertificateHistoryEntry, CertificateRecord, CertificateStatus, Discrepancy, EvidenceRecord,
    KeyStanding, LedgerEvent, MembershipStatus, ParticipantRecord, PendingKeyChange,
    PreviousAuthorityKey, Receipt, ResolutionOutcome, ResolutionRecord, SanctionRecord,
    SeizureIndex, SeizureRecord, Totals, TradeStatistics, TxReceipt,
};
pub use rejection::Rejection;
pub use views::{
    BlockAnswer, Liveness, PublicCertificate, PublicCertificateAnswer, PublishedStatistics,
    PublishedStatisticsAnswer, Readiness, RejectionAnswer, TransactionAnswer, View,
};
