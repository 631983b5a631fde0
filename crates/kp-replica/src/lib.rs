//! One replica of the kpledger log as a pure state machine.
//!
//! A [`Replica`] owns what a node decides with: the consensus core, the
//! ledger and the transaction pool. It does no IO, reads no clock and draws
//! no randomness. Its host (the node's tokio shell, or the simulator) turns
//! what happens into [`Event`]s, hands them over with the time, and carries
//! out what comes back in [`Ready`] batches, in the order the type states:
//!
//! 1. [`Ready::safety`]: made durable before anything else of the batch;
//! 2. [`Ready::decided`]: a decided block, which the host stores through
//!    [`Replica::store_decided`]: the state, the block, its certificate,
//!    receipts and index entries (the block store's layout, `kp_chain`) in
//!    one store commit;
//! 3. [`Ready::messages`]: sent only now, since they may carry the votes the
//!    safety state records;
//! 4. the rest ([`Ready::timers`], [`Ready::gossip`], [`Ready::sync_request`]).
//!
//! Blocks fetched from peers are taken one at a time with
//! [`Replica::synced`], or, for a node far behind, applied ahead of the
//! store and written in stages (see [`Stage`] and
//! [`Replica::catch_up_execute`]).
//!
//! The replica stops a batch before work that takes a while (building a
//! proposal, validating or applying a block) when messages are waiting,
//! so that the precommit which completed a decision leaves before the
//! decided block is applied; and it stops right after a decision, which the
//! host must apply before asking for the next batch. This is the shape of
//! raft-rs's `Ready`/`advance`: the node and the simulator drive the same
//! code, so what the simulator's seeds exercise is what ships.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod mempool;
mod replica;
mod sync;
#[cfg(test)]
mod tests;

pub use mempool::{Mempool, MempoolError};
pub use replica::{
    Applied, CatchUpError, Event, Note, Outgoing, Ready, Replica, ReplicaConfig, Stage,
    SubmitError, SyncRefusal, Synced, Timer, VerifiedSignatures,
};
pub use sync::{SyncConfig, SyncRequest};
