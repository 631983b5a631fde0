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

use kp_ledger::{BlockReceipt, TxReceipt};
use kp_rpc::{ApiError, Backend, Status, Submitted};
use kp_storage::{BlockStore, SledStore};
use kp_types::{SignedTransaction, TxHash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Events kept for slow subscribers before they start losing them.
pub const EVENT_QUEUE: usize = 1024;

/// What the node task publishes after applying a block.
#[derive(Clone, Debug)]
pub struct NodeEvent {
    /// The block's receipt: height, hash, state root, per-transaction
    /// receipts and ledger events.
    pub receipt: Arc<BlockReceipt>,
}

/// Counters for `/metrics`, updated by the node task.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Transactions decided and accepted.
    pub txs_accepted: AtomicU64,
    /// Transactions decided and refused, by rejection code.
    pub txs_rejected: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Milliseconds the last block took to apply and store.
    pub commit_ms_last: AtomicU64,
    /// Sum of commit milliseconds over all blocks (with `blocks_committed`, an average).
    pub commit_ms_total: AtomicU64,
    /// Blocks applied since start.
    pub blocks_committed: AtomicU64,
}

impl Metrics {
    /// Records one applied block.
    pub fn record_block(&self, receipts: &[TxReceipt], commit: Duration) {
        let ms = commit.as_millis() as u64;
        self.commit_ms_last.store(ms, Ordering::Relaxed);
        self.commit_ms_total.fetch_add(ms, Ordering::Relaxed);
        self.blocks_committed.fetch_add(1, Ordering::Relaxed);
        let mut rejected = self.txs_rejected.lock().unwrap_or_else(|e| e.into_inner());
        for r in receipts {
            match &r.result {
                Ok(()) => {
                    self.txs_accepted.fetch_add(1, Ordering::Relaxed);
                }
                Err(rejection) => *rejected.entry(rejection.code().to_string()).or_default() += 1,
            }
        }
    }
}

/// What the RPC asks of the node task.
pub enum Request {
    /// Check and pool a transaction; with `wait`, answer once decided.
    Submit {
        /// The transaction.
        tx: Box<SignedTransaction>,
        /// Whether to answer only once decided.
        wait: bool,
        /// Where to answer.
        reply: oneshot::Sender<Result<Submitted, ApiError>>,
    },
}

/// What the RPC reads without asking the node task.
pub struct Shared {
    /// The latest status, refreshed by the node task.
    pub status: RwLock<Status>,
    /// The node's store (blocks, receipts, ledger state).
    pub store: SledStore,
    /// A read-only ledger over the same store, for queries.
    pub ledger: kp_ledger::Ledger<SledStore>,
    /// Requests to the node task.
    pub requests: mpsc::Sender<Request>,
    /// Applied blocks, for subscribers.
    pub events: broadcast::Sender<NodeEvent>,
    /// Counters.
    pub metrics: Metrics,
}

/// The node's implementation of the RPC backend.
pub struct NodeBackend(pub Arc<Shared>);

impl Backend for NodeBackend {
    fn status(&self) -> Status {
        self.0.status.read().map(|s| s.clone()).unwrap_or_default()
    }

    fn submit(
        &self,
        tx: SignedTransaction,
        wait: bool,
    ) -> futures::future::BoxFuture<'static, Result<Submitted, ApiError>> {
        let requests = self.0.requests.clone();
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

    fn transaction(&self, hash: TxHash) -> Result<serde_json::Value, ApiError> {
        let store = &self.0.store;
        let Some((height, position)) = BlockStore::tx_location(store, &hash).map_err(internal)?
        else {
            return Err(ApiError::not_found(format!(
                "transaction {hash} is not in a decided block (yet)"
            )));
        };
        let receipt =
            stored_receipts(store, height)?.and_then(|r| r.into_iter().nth(position as usize));
        let tx = BlockStore::block(store, height)
            .map_err(internal)?
            .and_then(|b| b.txs.into_iter().nth(position as usize));
        Ok(serde_json::json!({
            "hash": hash,
            "height": height,
            "position": position,
            "receipt": receipt,
            "tx": tx,
        }))
    }

    fn block(&self, height: u64) -> Result<serde_json::Value, ApiError> {
        let store = &self.0.store;
        let block = BlockStore::block(store, height)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
        let certificate = BlockStore::commit_certificate(store, height).map_err(internal)?;
        Ok(serde_json::json!({
            "hash": block.hash(),
            "block": block,
            "commit_certificate": certificate,
        }))
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(500, "internal", format!("storage failure: {e}"))
}

fn stored_receipts(store: &SledStore, height: u64) -> Result<Option<Vec<TxReceipt>>, ApiError> {
    let Some(bytes) = BlockStore::receipts(store, height).map_err(internal)? else {
        return Ok(None);
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    kp_types::decode(&bytes, kp_storage::RECEIPTS_BYTES_MAX)
        .map(Some)
        .map_err(internal)
}
