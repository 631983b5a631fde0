//! Deterministic KPCS ledger state machine.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod store;

pub use store::{MemStore, StateStore, StoreError, WriteSet, HOST_KEY_PREFIX_MIN};
