//! Deterministic KPCS ledger state machine.
//!
//! The ledger executes decided blocks of signed transactions against a
//! key-value [`StateStore`] and enforces the rules of the Kimberley Process
//! Certification Scheme (see `docs/ledger.md` and the project's DOMAIN.md):
//! certificates and their life, seizures, sanctions including green zones and
//! monitor approval, absolute-consensus resolutions, the validator set derived
//! from membership, the Chair's rotation, the authority registry, node-key
//! rotation, equivocation evidence and replay protection. It derives trade
//! statistics and anomalies from counters kept in state.
//!
//! Design:
//! * Pure and deterministic: no IO other than the store trait, no clock (time
//!   is the block's), no randomness, no threads, `BTreeMap` everywhere that
//!   order matters.
//! * A transaction that breaks a rule inside a decided block stays in the
//!   block, gets its typed [`Rejection`] in the receipt and changes nothing
//!   (a per-transaction write layer is discarded, see `overlay`).
//! * A block's state changes, the state-root machinery's entries and the
//!   host's own entries (blocks, indexes) are written in one atomic commit.
//! * The state root (`root`) commits to every ledger entry and costs work
//!   proportional to what the block changed.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]
// `StateStore::scan_prefix` returns key-value pairs; naming that type would
// obscure it more than it helps.
#![allow(clippy::type_complexity)]

mod error;
mod exec;
pub mod genesis;
pub mod keys;
mod ledger;
mod overlay;
pub mod params;
pub mod records;
pub mod rejection;
pub mod root;
mod state;
mod stats;
pub mod store;
pub mod testkit;

pub use error::{BlockError, LedgerError};
pub use exec::{quarter_of, scope_name};
pub use genesis::{Genesis, GenesisError};
pub use ledger::{Ledger, SignatureVerification, RESOLUTIONS_LIST_MAX, SEIZURES_LIST_MAX};
pub use params::Params;
pub use records::{
    Anomaly, Approval, AuthorityRecord, BlockReceipt, CertificateEventKind,
    CertificateHistoryEntry, CertificateRecord, CertificateStatus, Discrepancy, EvidenceRecord,
    LedgerEvent, MembershipStatus, ParticipantRecord, Receipt, ResolutionOutcome, ResolutionRecord,
    SanctionRecord, SeizureRecord, Totals, TradeStatistics, TxReceipt,
};
pub use rejection::Rejection;
pub use state::GlobalQuarterStats;
pub use store::{MemStore, StateStore, StoreError, WriteSet, HOST_KEY_PREFIX_MIN};
