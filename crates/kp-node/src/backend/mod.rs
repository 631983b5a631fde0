//! The node's side of the HTTP API: what the RPC server may read without
//! disturbing consensus, and the requests it sends to the node task.
//!
//! Reads go to the store (blocks, transactions, receipts) or to a read-only
//! ledger view over the same store (participants, certificates, resolutions,
//! statistics); they never take a lock the node task holds. Writes
//! (transaction submission) go through a bounded queue to the node task.
//! After every applied block the node task publishes a [`NodeEvent`] on a
//! bounded broadcast channel; a slow subscriber loses events (it is told so),
//! it never slows the node.
//!
//! Searches the ledger has no index for are bounded scans:
//! * certificates by exporter, importer, status or period scan the
//!   certificate table in number order, at most [`CERTIFICATE_SCAN_MAX`]
//!   records per request, and hand back a cursor (`next`) to continue;
//! * resolutions are paged in id order, [`kp_rpc::PAGE_LIMIT_MAX`] at most.
//!
//! Point reads are answered on the runtime thread ([`Backend::query_now`])
//! when they need no more than a few store point reads; what they would need
//! beyond that is prepared on the blocking pool and kept:
//! * certificate alerts (sanctions, membership, seizures) change only when a
//!   block is applied, so they are indexed once per height ([`AlertIndex`])
//!   instead of read per lookup;
//! * transaction lookups keep the last decided blocks they touched decoded
//!   ([`BlockCache`]): a decided block never changes, and decoding a whole
//!   block to answer for one transaction was most of a lookup's cost.

use futures::stream::BoxStream;
use kp_api::answers::{
    AnomaliesAnswer, CertificateAlert, CertificateAnswer, CertificatePage, ParticipantList,
    ResolutionPage, SeizureList, StatisticsAnswer,
};
use kp_chain::BlockStore;
use kp_ledger::keys as ledger_keys;
use kp_ledger::{
    CertificateRecord, MembershipStatus, ResolutionOutcome, ResolutionRecord, SanctionRecord,
    SeizureRecord, StateStore, TxReceipt,
};
use kp_rpc::{ApiError, ApiEvent, Backend, CertificateFilter, JsonBody, Query, Status, Submitted};
use kp_storage::SledStore;
use kp_types::block::BLOCK_BYTES_MAX;
use kp_types::{
    AuthorityId, Block, CertificateNumber, Hash, ParticipantCode, SignedTransaction, Timestamp,
    TxHash,
};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

mod alerts;
mod cache;
pub mod events;
mod metrics;
mod proofs;
mod queries;
#[cfg(test)]
mod tests;

pub use alerts::AlertIndex;
pub use cache::BlockCache;
use cache::*;
pub use metrics::Metrics;
pub use proofs::StoreChain;
use queries::*;

/// Events kept for slow subscribers before they start losing them.
pub const EVENT_QUEUE: usize = 1024;

/// Most certificate records one search request reads.
pub const CERTIFICATE_SCAN_MAX: usize = 10_000;

/// Largest stored ledger value decoded here.
const STORED_VALUE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Records read from the store per scan call.
const SCAN_CHUNK: usize = 256;

/// Most decided blocks kept decoded for transaction lookups.
pub const BLOCK_CACHE_BLOCKS_MAX: usize = 16;

/// Most stored bytes (blocks and their receipts, encoded) of the blocks kept
/// decoded; a larger block is decoded for each lookup instead.
pub const BLOCK_CACHE_BYTES_MAX: usize = 32 * 1024 * 1024;

const _: () = assert!(BLOCK_CACHE_BLOCKS_MAX > 0 && BLOCK_CACHE_BYTES_MAX >= BLOCK_BYTES_MAX);

/// What the node task publishes after applying a block.
#[derive(Clone, Debug)]
pub struct NodeEvent {
    /// What subscribers see of the block (its height included), with the events' ids
    /// ([`events::block_events`]).
    pub events: events::BlockEvents,
}

/// What the RPC asks of the node task.
pub enum Request {
    /// Check and pool a transaction; with `wait`, answer once decided.
    Submit {
        /// The transaction. Its signature has been verified: the RPC server
        /// verifies every submission before it calls `Backend::submit`, so
        /// the node task checks only the ledger's rules.
        tx: Box<SignedTransaction>,
        /// Whether to answer only once decided.
        wait: bool,
        /// Where to answer.
        reply: oneshot::Sender<Result<Submitted, ApiError>>,
    },
    /// Check and pool transactions (signatures verified by the RPC server,
    /// as for `Submit`); one outcome each, in order.
    SubmitBatch {
        /// The transactions.
        txs: Vec<SignedTransaction>,
        /// Where to answer.
        reply: oneshot::Sender<Vec<Result<TxHash, ApiError>>>,
    },
}

/// What the RPC reads without asking the node task.
pub struct Shared {
    /// The latest status, refreshed by the node task.
    pub status: RwLock<Status>,
    /// The genesis document the node runs (served at `/v1/genesis`).
    pub genesis: kp_ledger::Genesis,
    /// The node's store (blocks, receipts, ledger state).
    pub store: SledStore,
    /// A read-only ledger over the same store, for queries.
    pub ledger: kp_ledger::Ledger<SledStore>,
    /// The recent records trees of the ledger that applies blocks, for
    /// proofs.
    pub records: kp_ledger::RecordVersions,
    /// Requests to the node task.
    pub requests: mpsc::Sender<Request>,
    /// Applied blocks, for subscribers.
    pub events: broadcast::Sender<NodeEvent>,
    /// The events of the last applied blocks, for readers that reconnect.
    pub recent_events: Mutex<events::EventRing>,
    /// How old the last block may be for the node to be ready
    /// (`[rpc] ready_block_age_max_s`), in milliseconds.
    pub ready_block_age_max_ms: u64,
    /// Counters.
    pub metrics: Metrics,
    /// The state snapshots kept for late joiners (ADR 0016).
    pub snapshots: crate::state_snapshots::SnapshotDir,
}

/// The node's implementation of the RPC backend: the shared node state and
/// what queries derived from it.
pub struct NodeBackend {
    shared: Arc<Shared>,
    /// Certificate alerts as of one height; rebuilt when the height moves.
    alerts: RwLock<Option<Arc<AlertIndex>>>,
    /// Decided blocks recently looked into, decoded.
    blocks: Mutex<BlockCache>,
}

impl NodeBackend {
    /// The backend over `shared`, with empty caches.
    pub fn new(shared: Arc<Shared>) -> NodeBackend {
        NodeBackend {
            shared,
            alerts: RwLock::new(None),
            blocks: Mutex::new(BlockCache::default()),
        }
    }
}

impl Backend for NodeBackend {
    fn status(&self) -> Status {
        self.shared
            .status
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    fn submit(
        &self,
        tx: SignedTransaction,
        wait: bool,
    ) -> futures::future::BoxFuture<'static, Result<Submitted, ApiError>> {
        let requests = self.shared.requests.clone();
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            requests
                .try_send(Request::Submit {
                    tx: Box::new(tx),
                    wait,
                    reply,
                })
                .map_err(|_| ApiError::unavailable("the node is busy; retry shortly"))?;
            let waited = if wait {
                tokio::time::timeout(Duration::from_secs(60), answer).await
            } else {
                Ok(answer.await)
            };
            match waited {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(ApiError::unavailable("the node is shutting down")),
                Err(_) => Err(ApiError::new(
                    504,
                    "not-decided-yet",
                    "the transaction was accepted but not decided within 60 s; look it up later",
                )),
            }
        })
    }

    fn submit_batch(
        &self,
        txs: Vec<SignedTransaction>,
    ) -> futures::future::BoxFuture<'static, Vec<Result<TxHash, ApiError>>> {
        let requests = self.shared.requests.clone();
        Box::pin(async move {
            let count = txs.len();
            let (reply, answer) = oneshot::channel();
            if requests
                .try_send(Request::SubmitBatch { txs, reply })
                .is_err()
            {
                let busy = ApiError::unavailable("the node is busy; retry shortly");
                return vec![Err(busy); count];
            }
            answer.await.unwrap_or_else(|_| {
                vec![Err(ApiError::unavailable("the node is shutting down")); count]
            })
        })
    }

    fn query_now(&self, query: &Query) -> Option<Result<JsonBody, ApiError>> {
        match query {
            Query::Certificate(number) => {
                let alerts = match self.current_alerts() {
                    Ok(alerts) => alerts?,
                    Err(e) => return Some(Err(e)),
                };
                Some(self.certificate(number, &alerts))
            }
            Query::Transaction(hash) => self.transaction_now(hash).transpose(),
            Query::Participant(code) => Some(self.participant(code)),
            _ => None,
        }
    }

    fn query(&self, query: Query) -> Result<JsonBody, ApiError> {
        match query {
            Query::Transaction(hash) => self.transaction(&hash),
            Query::Certificate(number) => {
                let alerts = self.fresh_alerts()?;
                self.certificate(&number, &alerts)
            }
            Query::Participant(code) => self.participant(&code),
            Query::CertificateProof(number) => {
                JsonBody::new(&self.with_prover(|p| p.certificate(&number))?)
            }
            Query::LightBlock(height) => {
                JsonBody::new(&self.with_prover(|p| p.light_block(height))?)
            }
            Query::ParticipantProof(code) => {
                JsonBody::new(&self.with_prover(|p| p.participant(&code))?)
            }
            Query::ResolutionProof(id) => JsonBody::new(&self.with_prover(|p| p.resolution(&id))?),
            other => self.query_other(other),
        }
    }

    fn subscribe(&self) -> BoxStream<'static, ApiEvent> {
        events::live(self.shared.events.subscribe(), None)
    }

    fn resume(&self, last_event_id: &str) -> BoxStream<'static, ApiEvent> {
        events::resume(&self.shared, last_event_id)
    }

    fn ready_block_age_max_ms(&self) -> u64 {
        self.shared.ready_block_age_max_ms
    }

    fn metrics(&self) -> String {
        self.shared.metrics.render(&self.status())
    }

    fn snapshots(&self) -> kp_api::snapshots::SnapshotList {
        kp_api::snapshots::SnapshotList {
            snapshots: self.shared.snapshots.list(),
        }
    }

    fn snapshot_bytes(&self, height: u64, chunk: Option<u32>) -> Option<Vec<u8>> {
        match chunk {
            None => self.shared.snapshots.manifest_bytes(height),
            Some(index) => self.shared.snapshots.chunk(height, index),
        }
    }
}
