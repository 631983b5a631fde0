//! The running node: a tokio shell around the pure replica
//! (`kp-replica`), which holds the consensus core, the ledger and the pool
//! and makes every decision. Two tasks:
//!
//! * the **consensus task** (this module's loop) turns network events, RPC
//!   requests and timers into replica events (`intake`), and carries out
//!   the effects the replica hands back, in the order each batch states
//!   (`effects`): the safety state durable, then a decided block committed,
//!   then the rest;
//! * the **network task** (`outbound`) sends what the consensus task hands
//!   it, in order, after what had to be durable first is durable.
//!
//! Block sync is served from a store handle off both tasks (`intake`), as
//! the RPC reads; a node behind applies blocks through the replica's staged
//! catch-up (`catch_up`). Wiring is in `start`, the key switch in
//! `next_key`.
//!
//! Block flow: the proposer builds a block from the mempool; validators check
//! it (`Ledger::validate_block`) when the core asks; a decided block is applied
//! and stored with its commit certificate in one atomic write; the proposer
//! then gossips the decided block with its certificate on the blocks topic so
//! that observers follow. A node that is behind (restart, late observer,
//! healed partition) asks a peer for the blocks it misses and checks each
//! certificate against the validator set of its height before applying it.

use crate::backend::{Request, Shared};
use crate::config::NodeConfig;
use kp_chain::BlockStore;
use kp_consensus::ConsensusMessage;
use kp_ledger::{BlockReceipt, Ledger};
use kp_network::{NetClient, NetEvent, Topic};
use kp_replica::{Event, MempoolError, Replica};
use kp_rpc::{ApiError, Status, Submitted};
use kp_storage::{SafetyStore, SledStore};
use kp_types::{
    Block, CommitCertificate, PublicKey, SignedTransaction, SigningKey, Timestamp, TxHash,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

mod catch_up;
mod effects;
mod error;
mod intake;
mod next_key;
mod outbound;
mod start;
mod status;
#[cfg(test)]
mod tests;

pub use error::NodeError;
pub use start::{run_node, run_node_with};

/// How recently synced blocks must have arrived for the node to count as
/// catching up (`/v1/health`).
const CATCHING_UP_WINDOW: Duration = Duration::from_secs(10);
/// How far behind the wall clock the last block must be for a syncing node
/// to count as catching up rather than following the tip.
const CATCHING_UP_LAG_MS: u64 = 30_000;

/// Block sync answers read from the store at once (each up to
/// [`SYNC_BYTES_MAX`]).
const SYNC_SERVE_CONCURRENT: usize = 2;
/// Most blocks asked for in one sync request. Answers are also cut to the
/// peers' message size limit, which is what bounds them for full blocks.
const SYNC_BATCH_MAX: u32 = 128;
/// Pending RPC requests the node task holds before refusing more.
const REQUEST_QUEUE: usize = 1024;
/// Transactions a client may wait on at once.
const WAITERS_MAX: usize = 10_000;
/// How far ahead of the local clock a proposed block's time may be.
const CLOCK_DRIFT_MAX_MS: u64 = 10_000;
/// Lifetime the node gives the evidence transactions it signs.
const EVIDENCE_TX_LIFETIME_MS: u64 = 60 * 60 * 1000;
/// Inputs the consensus core handles for one event at most.
const INPUTS_PER_EVENT_MAX: usize = 256;
/// Transactions gossiped together in one message at most: one libp2p
/// message (its signature, framing and queue slot) per batch, not per
/// transaction.
const TX_GOSSIP_BATCH_MAX: usize = 256;
/// How long a transaction waits for others before its batch is gossiped.
const TX_GOSSIP_DELAY_MS: u64 = 10;
/// Pending transactions re-checked against the state after each block.
const MEMPOOL_RECHECK_PER_BLOCK: usize = 256;
/// Bytes of transactions gossiped together in one message at most.
const TX_GOSSIP_BYTES_MAX: usize = 1024 * 1024;
/// Consensus messages in one direct message at most.
const DIRECT_MESSAGES_MAX: usize = 512;
/// Least time between two direct broadcasts of the same consensus message
/// (see `broadcast_due`); gossip used to suppress identical re-sends for 6 s.
const RESEND_MS: u64 = 6_000;
/// How long a restart of the network (a rotated consensus key) waits for
/// the old network to stop.
const NETWORK_STOP_WAIT: Duration = Duration::from_secs(10);
/// Largest encoded decided-block gossip message or sync answer.
const SYNC_BYTES_MAX: usize = 32 * 1024 * 1024;

// The store takes every safety state the consensus core may produce (a
// smaller limit stopped validators once blocks held about a thousand
// certificates).
const _: () = assert!(kp_storage::SAFETY_STATE_BYTES_MAX >= kp_consensus::safety::SAFETY_BYTES_MAX);

/// Timers the node task keeps: the replica's.
type Timer = kp_replica::Timer;

struct Node {
    chain_id: String,
    code: String,
    key: SigningKey,
    config: NodeConfig,
    /// Consensus core, ledger and pool: every decision is the replica's;
    /// this task feeds it and carries out what it returns.
    replica: Replica<SledStore>,
    safety: SafetyStore,
    /// The network: events in, block requests and shutdown; what the node
    /// sends goes through `outbound`.
    net: NetClient,
    /// The network task's queue.
    outbound: mpsc::Sender<outbound::Outbound>,
    net_events: mpsc::Receiver<NetEvent>,
    requests: mpsc::Receiver<Request>,
    shared: Arc<Shared>,
    timers: BTreeMap<(Instant, u64), Timer>,
    timer_seq: u64,
    waiters: BTreeMap<TxHash, Vec<oneshot::Sender<Result<Submitted, ApiError>>>>,
    allowed: Vec<PublicKey>,
    /// When blocks fetched from peers were last applied.
    last_synced: Option<Instant>,
    /// The last catch-up progress line: when, and the height and block
    /// time then (`catch_up::CatchUpMark`).
    catch_up_progress: Option<catch_up::CatchUpMark>,
    /// The last height whose applied commit certificate each validator
    /// signed (`/v1/status` `validators_seen`); only current validators.
    validators_seen: BTreeMap<PublicKey, u64>,
    sync_replies: mpsc::Sender<(PublicKey, Result<Vec<u8>, kp_network::NetworkError>)>,
    sync_results: mpsc::Receiver<(PublicKey, Result<Vec<u8>, kp_network::NetworkError>)>,
    /// Permits for block sync answers being read (`serve_blocks`).
    sync_serving: Arc<tokio::sync::Semaphore>,
    rpc_shutdown: Option<oneshot::Sender<()>>,
    /// Hashes of the blocks last saved with the safety record (`None`:
    /// none saved by this process yet, so the next save writes them).
    safety_blocks: Option<Vec<kp_types::Hash>>,
}

fn now_ms() -> Timestamp {
    kp_types::time::wall_clock()
}

impl Node {
    fn ledger(&self) -> &Ledger<SledStore> {
        self.replica.ledger()
    }

    fn is_validator(&self) -> bool {
        self.replica.is_validator()
    }

    fn schedule(&mut self, after: Duration, timer: Timer) {
        if let Timer::StartHeight(height) = &timer {
            tracing::debug!(
                height,
                after_ms = after.as_millis() as u64,
                "next height scheduled"
            );
        }
        self.timer_seq += 1;
        self.timers
            .insert((Instant::now() + after, self.timer_seq), timer);
    }

    async fn run(mut self) -> Result<(), NodeError> {
        self.refresh_status();
        self.replica.handle(Event::Start, now_ms());
        self.drain().await?;
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|source| NodeError::Io {
                action: "install the SIGTERM handler",
                source,
            })?;
        loop {
            let deadline = self
                .timers
                .first_key_value()
                .map(|((at, _), _)| *at)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = sigterm.recv() => break,
                event = self.net_events.recv() => match event {
                    Some(event) => self.on_net(event).await?,
                    None => {
                        tracing::error!("network task stopped");
                        break;
                    }
                },
                Some(request) = self.requests.recv() => self.on_request(request).await?,
                Some((peer, answer)) = self.sync_results.recv() => {
                    self.on_sync_answer(peer, answer).await?;
                }
                _ = tokio::time::sleep_until(deadline) => self.fire_timers().await?,
            }
        }
        tracing::info!(height = self.ledger().height(), "stopping");
        if let Some(stop) = self.rpc_shutdown.take() {
            let _ = stop.send(());
        }
        let _ = self.net.shutdown().await;
        Ok(())
    }

    async fn fire_timers(&mut self) -> Result<(), NodeError> {
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            if let Timer::StartHeight(height) = &timer {
                tracing::debug!(height, "height start due");
            }
            self.replica.handle(Event::Timer(timer), now_ms());
            self.drain().await?;
        }
        Ok(())
    }
}
