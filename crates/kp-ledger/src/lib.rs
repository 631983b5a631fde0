//! Deterministic KPCS ledger state machine.
//!
//! The ledger executes decided blocks of signed transactions against a
//! key-value [`StateStore`] and enforces the rules of the Kimberley Process
//! Certification Scheme (see `docs/ledger.md` and the project's DOMAIN.md):
//! certificates and their life, seizures, sanctions including green zones and
//! monitor approval, absolute-consensus resolutions, the validator set derived
//! from membership, the Chair's rotation, the authority registry, the three
//! keys of a member (consensus, government, recovery) with their rotation
//! and recovery after a delay, equivocation evidence and replay protection.
//! It derives trade statistics and anomalies from counters kept in state.
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
//!
//! A block's life, with the fixtures of [`testkit`]:
//!
//! ```
//! use kp_ledger::testkit::{authority_key, certificate, genesis, sign, MINUTE_MS};
//! use kp_ledger::{CertificateStatus, Ledger, MemStore, WriteSet};
//! use kp_types::Payload;
//!
//! let genesis = genesis();
//! let mut ledger = Ledger::open(&genesis, MemStore::new()).unwrap();
//! let time = genesis.genesis_time.plus_ms(MINUTE_MS);
//! let cert = certificate("BW0012345", "BW", "EU", time.date());
//! let tx = sign(&authority_key("BW"), 1, time.plus_ms(MINUTE_MS), Payload::IssueCertificate(cert));
//! assert_eq!(ledger.check_tx(&tx, time), Ok(()));
//!
//! let proposer = ledger.validators()[0];
//! let block = ledger.build_block(proposer, time, &[tx]);
//! ledger.validate_block(&block).unwrap();
//! let receipt = ledger.apply_block(&block, WriteSet::default()).unwrap();
//! assert!(receipt.receipts[0].result.is_ok());
//! assert_eq!(receipt.state_root, ledger.state_root());
//!
//! let number = "BW0012345".parse().unwrap();
//! let record = ledger.certificate(&number).unwrap().unwrap();
//! assert_eq!(record.status, CertificateStatus::Issued);
//! ```
//!
//! Choices where DOMAIN.md leaves room (see `docs/ledger.md`):
//! * Every government Participant in good standing signs a resolution,
//!   including the subject of an expulsion or sanction (the literal rule).
//! * A resolution is adopted only by a signature; if an expulsion leaves no
//!   signer missing, a repeated signature completes it.
//! * Exports count by the quarter of the issue date once the certificate
//!   counts (issued, or approved where a monitor must approve) and leave the
//!   figures when voided; imports count by the quarter of receipt.
//! * A seizure report moves only an open certificate to `seized`; a number
//!   the ledger never saw (a forged certificate) is recorded as unknown.
//! * Sharp changes are flagged only against a previous period with exports.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]
// `StateStore::scan_prefix` returns key-value pairs; naming that type would
// obscure it more than it helps.
#![allow(clippy::type_complexity)]

mod behind;
pub mod bloom;
mod error;
mod exec;
mod filter;
mod ledger;
mod memo;
mod overlay;
pub mod prove;
pub mod records_tree;
pub mod root;
pub mod snapshot;
mod state;
mod stats;
pub mod store;
mod store_error;
pub mod testkit;

pub use error::{BlockError, LedgerError};
// The record types, genesis, parameters and rejections are the contract with
// clients: they live in `kp-api` and keep their paths here.
pub use exec::{quarter_of, scope_name};
pub use genesis::{Genesis, GenesisError};
pub use kp_api::{genesis, keys, params, records, rejection};
pub use ledger::{Ledger, Pending, SignatureVerification, RESOLUTIONS_LIST_MAX, SEIZURES_LIST_MAX};
pub use params::Params;
pub use records::{
    Anomaly, Approval, AuthorityRecord, BlockReceipt, CertificateEventKind,
    CertificateHistoryEntry, CertificateRecord, CertificateStatus, Discrepancy, EvidenceRecord,
    KeyStanding, LedgerEvent, MembershipStatus, ParticipantRecord, PreviousAuthorityKey, Receipt,
    ResolutionOutcome, ResolutionRecord, SanctionRecord, SeizureIndex, SeizureRecord, Totals,
    TradeStatistics, TxReceipt,
};
pub use records_tree::{RecordVersions, RECORD_VERSIONS_KEPT};
pub use rejection::Rejection;
pub use state::GlobalQuarterStats;
pub use store::{MemStore, StateStore, StoreError, WriteSet, HOST_KEY_PREFIX_MIN};
pub use store_error::Inconsistency;
