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

use futures::stream::{BoxStream, StreamExt};
use kp_ledger::keys as ledger_keys;
use kp_ledger::{
    BlockReceipt, CertificateRecord, LedgerEvent, MembershipStatus, ResolutionOutcome,
    ResolutionRecord, SanctionRecord, SeizureRecord, StateStore, TxReceipt,
};
use kp_rpc::{ApiError, ApiEvent, Backend, CertificateFilter, JsonBody, Query, Status, Submitted};
use kp_storage::{BlockStore, SledStore};
use kp_types::block::BLOCK_BYTES_MAX;
use kp_types::{
    Block, CertificateNumber, Hash, ParticipantCode, SanctionScope, SignedTransaction, TxHash,
};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

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

    /// Prometheus text exposition, with the gauges of `status`.
    pub fn render(&self, status: &Status) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        gauge(
            "kpledger_height",
            "Last applied height.",
            "gauge",
            status.height,
        );
        gauge(
            "kpledger_round",
            "Current consensus round.",
            "gauge",
            u64::from(status.round),
        );
        gauge(
            "kpledger_peers",
            "Connected peers.",
            "gauge",
            status.peers as u64,
        );
        gauge(
            "kpledger_validators",
            "Validators of the next height.",
            "gauge",
            status.validators as u64,
        );
        gauge(
            "kpledger_mempool_size",
            "Transactions pending in the pool.",
            "gauge",
            status.mempool as u64,
        );
        gauge(
            "kpledger_txs_accepted_total",
            "Transactions decided and accepted by the ledger.",
            "counter",
            self.txs_accepted.load(Ordering::Relaxed),
        );
        gauge(
            "kpledger_blocks_committed_total",
            "Blocks applied since start.",
            "counter",
            self.blocks_committed.load(Ordering::Relaxed),
        );
        gauge(
            "kpledger_block_commit_ms_last",
            "Milliseconds the last block took to apply and store.",
            "gauge",
            self.commit_ms_last.load(Ordering::Relaxed),
        );
        gauge(
            "kpledger_block_commit_ms_total",
            "Milliseconds spent applying and storing blocks since start.",
            "counter",
            self.commit_ms_total.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP kpledger_txs_rejected_total Transactions decided and refused, by rejection code."
        );
        let _ = writeln!(out, "# TYPE kpledger_txs_rejected_total counter");
        let rejected = self.txs_rejected.lock().unwrap_or_else(|e| e.into_inner());
        for (code, count) in rejected.iter() {
            let _ = writeln!(
                out,
                "kpledger_txs_rejected_total{{reason=\"{code}\"}} {count}"
            );
        }
        out
    }
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
    /// Counters.
    pub metrics: Metrics,
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

/// What certificate alerts need from the ledger, as of one height. Members'
/// status and sanctions, and the seizure list, change only when a block is
/// applied, so one index serves every lookup until the next block.
#[derive(Debug, Default)]
pub struct AlertIndex {
    /// Last applied height when the index was read (its contents are of that
    /// height or a later one).
    height: u64,
    /// Members under a sanction or not active (the others raise no alert);
    /// at most the membership.
    participants: BTreeMap<ParticipantCode, ParticipantAlerts>,
    /// The seizures of the ledger's (bounded) seizure list by the
    /// certificate they name, in the list's order.
    seizures: BTreeMap<CertificateNumber, Vec<SeizureRecord>>,
}

/// What a member contributes to a certificate's alerts.
#[derive(Debug)]
struct ParticipantAlerts {
    status: MembershipStatus,
    sanction: Option<SanctionRecord>,
}

impl AlertIndex {
    /// Reads the index from `ledger` for `height` (the last applied height
    /// read before).
    fn read<S: StateStore>(
        ledger: &kp_ledger::Ledger<S>,
        height: u64,
    ) -> Result<AlertIndex, ApiError> {
        let mut index = AlertIndex {
            height,
            ..AlertIndex::default()
        };
        for record in ledger.participants().map_err(internal)? {
            if record.sanction.is_some() || !record.is_active() {
                index.participants.insert(
                    record.participant.code.clone(),
                    ParticipantAlerts {
                        status: record.status,
                        sanction: record.sanction,
                    },
                );
            }
        }
        for seizure in ledger
            .seizures(kp_ledger::SEIZURES_LIST_MAX)
            .map_err(internal)?
        {
            if let Some(number) = seizure.report.certificate.clone() {
                index.seizures.entry(number).or_default().push(seizure);
            }
        }
        Ok(index)
    }

    /// The alerts of `record`: sanctions and membership of both sides,
    /// seizures naming it, enhanced vigilance.
    fn alerts<'a>(&'a self, record: &'a CertificateRecord) -> Vec<Alert<'a>> {
        let mut alerts = Vec::new();
        for side in [&record.certificate.exporting, &record.certificate.importing] {
            let Some(member) = self.participants.get(side) else {
                continue;
            };
            if let Some(s) = &member.sanction {
                alerts.push(Alert::Sanction {
                    participant: side,
                    scope: &s.scope,
                    since_height: s.since_height,
                    resolution: &s.resolution,
                });
            }
            if member.status != MembershipStatus::Active {
                alerts.push(Alert::Membership {
                    participant: side,
                    status: &member.status,
                });
            }
        }
        if let Some(seizures) = self.seizures.get(&record.certificate.number) {
            alerts.extend(seizures.iter().map(|seizure| Alert::Seizure { seizure }));
        }
        if record.enhanced_vigilance {
            alerts.push(Alert::EnhancedVigilance);
        }
        alerts
    }
}

/// One alert of a certificate answer, as JSON `{"kind": ..., ...}`.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Alert<'a> {
    Sanction {
        participant: &'a ParticipantCode,
        scope: &'a SanctionScope,
        since_height: u64,
        resolution: &'a Hash,
    },
    Membership {
        participant: &'a ParticipantCode,
        status: &'a MembershipStatus,
    },
    Seizure {
        seizure: &'a SeizureRecord,
    },
    EnhancedVigilance,
}

/// `GET /v1/certificates/{number}`: the record's fields and its alerts.
#[derive(Serialize)]
struct CertificateAnswer<'a> {
    #[serde(flatten)]
    record: &'a CertificateRecord,
    alerts: Vec<Alert<'a>>,
}

/// `GET /v1/txs/{hash}`.
#[derive(Serialize)]
struct TransactionAnswer<'a> {
    hash: &'a TxHash,
    height: u64,
    position: u32,
    accepted: Option<bool>,
    rejection: Option<RejectionAnswer>,
    receipt: Option<&'a TxReceipt>,
    tx: Option<&'a SignedTransaction>,
}

#[derive(Serialize)]
struct RejectionAnswer {
    code: &'static str,
    message: String,
}

/// A decided block with its receipts, decoded, and what it took in the store.
#[derive(Debug)]
struct DecidedBlock {
    height: u64,
    block: Option<Block>,
    receipts: Option<Vec<TxReceipt>>,
    stored_bytes: usize,
}

/// The decided blocks transaction lookups looked into last, at most
/// [`BLOCK_CACHE_BLOCKS_MAX`] of them and [`BLOCK_CACHE_BYTES_MAX`] stored
/// bytes; the oldest entry leaves first.
#[derive(Debug, Default)]
pub struct BlockCache {
    entries: VecDeque<Arc<DecidedBlock>>,
    stored_bytes: usize,
}

impl BlockCache {
    fn get(&self, height: u64) -> Option<Arc<DecidedBlock>> {
        self.entries.iter().find(|e| e.height == height).cloned()
    }

    fn insert(&mut self, entry: Arc<DecidedBlock>) {
        if entry.stored_bytes > BLOCK_CACHE_BYTES_MAX || self.get(entry.height).is_some() {
            return;
        }
        while self.entries.len() >= BLOCK_CACHE_BLOCKS_MAX
            || self.stored_bytes + entry.stored_bytes > BLOCK_CACHE_BYTES_MAX
        {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            self.stored_bytes -= oldest.stored_bytes;
        }
        self.stored_bytes += entry.stored_bytes;
        self.entries.push_back(entry);
        assert!(self.entries.len() <= BLOCK_CACHE_BLOCKS_MAX);
        assert!(self.stored_bytes <= BLOCK_CACHE_BYTES_MAX);
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
            other => JsonBody::new(&self.query_value(other)?),
        }
    }

    fn subscribe(&self) -> BoxStream<'static, ApiEvent> {
        let receiver = self.shared.events.subscribe();
        futures::stream::unfold(receiver, |mut receiver| async move {
            let events = match receiver.recv().await {
                Ok(event) => block_events(&event.receipt),
                Err(broadcast::error::RecvError::Lagged(lost)) => vec![ApiEvent {
                    kind: "lagged".into(),
                    data: json!({ "lost_blocks": lost }),
                }],
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((futures::stream::iter(events), receiver))
        })
        .flatten()
        .boxed()
    }

    fn metrics(&self) -> String {
        self.shared.metrics.render(&self.status())
    }
}

/// The events API subscribers see for one applied block.
fn block_events(receipt: &BlockReceipt) -> Vec<ApiEvent> {
    let rejected = receipt
        .receipts
        .iter()
        .filter(|r| r.result.is_err())
        .count();
    let mut out = vec![ApiEvent {
        kind: "block".into(),
        data: json!({
            "height": receipt.height,
            "hash": receipt.block_hash,
            "state_root": receipt.state_root,
            "txs": receipt.receipts.len(),
            "rejected": rejected,
        }),
    }];
    for event in &receipt.events {
        let kind = match event {
            LedgerEvent::CertificateStatusChanged { .. }
            | LedgerEvent::CertificateApproved { .. }
            | LedgerEvent::DiscrepancyRecorded { .. } => "certificate",
            LedgerEvent::ResolutionProposed { .. }
            | LedgerEvent::ResolutionAdopted { .. }
            | LedgerEvent::ResolutionFailed { .. }
            | LedgerEvent::ResolutionRejected { .. }
            | LedgerEvent::ResolutionLapsed { .. } => "resolution",
            LedgerEvent::SeizureReported { .. } => "seizure",
            _ => "ledger",
        };
        let mut data = serde_json::to_value(event).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut data {
            map.insert("height".into(), json!(receipt.height));
        }
        out.push(ApiEvent {
            kind: kind.into(),
            data,
        });
    }
    out
}

impl NodeBackend {
    /// The reads answered through a `serde_json::Value` (listings and rarely
    /// asked ones; the frequent point reads serialize their own types).
    fn query_value(&self, query: Query) -> Result<Value, ApiError> {
        let shared = &self.shared;
        match query {
            Query::Genesis => to_json(&shared.genesis),
            Query::Block(height) => self.block(height),
            Query::BlockByHash(hash) => {
                let height = BlockStore::height_of(&shared.store, &hash)
                    .map_err(internal)?
                    .ok_or_else(|| {
                        ApiError::not_found(format!("no decided block has hash {hash}"))
                    })?;
                self.block(height)
            }
            Query::Certificates(filter) => self.certificates(&filter),
            Query::Participants => {
                let items = shared.ledger.participants().map_err(internal)?;
                Ok(json!({ "items": items }))
            }
            Query::Resolution(id) => {
                let record = shared
                    .ledger
                    .resolution(&id)
                    .map_err(internal)?
                    .ok_or_else(|| ApiError::not_found(format!("no resolution has id {id}")))?;
                to_json(&record)
            }
            Query::Resolutions {
                pending_only,
                after,
                limit,
            } => self.resolutions(pending_only, after, limit),
            Query::Seizures { limit } => {
                let items = shared.ledger.seizures(limit).map_err(internal)?;
                Ok(json!({ "items": items }))
            }
            Query::Statistics {
                participant,
                period,
            } => {
                if shared
                    .ledger
                    .participant(&participant)
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(ApiError::not_found(format!(
                        "no member has code {participant}"
                    )));
                }
                let statistics = shared
                    .ledger
                    .statistics(&participant, period)
                    .map_err(internal)?;
                Ok(json!({
                    "participant": participant,
                    "period": period,
                    "statistics": statistics,
                }))
            }
            Query::Anomalies { period } => {
                let items = shared.ledger.anomalies(period).map_err(internal)?;
                Ok(json!({ "period": period, "items": items }))
            }
            Query::Transaction(_)
            | Query::Certificate(_)
            | Query::CertificateProof(_)
            | Query::LightBlock(_)
            | Query::ParticipantProof(_)
            | Query::ResolutionProof(_)
            | Query::Participant(_) => Err(ApiError::internal("query routed to the wrong reader")),
        }
    }

    fn block(&self, height: u64) -> Result<Value, ApiError> {
        let store = &self.shared.store;
        let block = BlockStore::block(store, height)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
        let certificate = BlockStore::commit_certificate(store, height).map_err(internal)?;
        Ok(json!({
            "hash": block.hash(),
            "block": block,
            "commit_certificate": certificate,
        }))
    }

    /// Where the decided transaction `hash` is: height and position.
    fn tx_location(&self, hash: &TxHash) -> Result<(u64, u32), ApiError> {
        BlockStore::tx_location(&self.shared.store, hash)
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "transaction {hash} is not in a decided block (yet)"
                ))
            })
    }

    /// A decided transaction if its block is decoded in the cache; `None`
    /// if answering needs the block read and decoded.
    fn transaction_now(&self, hash: &TxHash) -> Result<Option<JsonBody>, ApiError> {
        let (height, position) = self.tx_location(hash)?;
        let cached = self
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(height);
        cached
            .map(|decided| transaction_answer(hash, position, &decided))
            .transpose()
    }

    /// A decided transaction: where it is, its receipt and the transaction.
    fn transaction(&self, hash: &TxHash) -> Result<JsonBody, ApiError> {
        let (height, position) = self.tx_location(hash)?;
        let cached = self
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(height);
        let decided = match cached {
            Some(decided) => decided,
            None => {
                let decided = Arc::new(read_decided_block(&self.shared.store, height)?);
                // Only a complete entry is kept: the receipts of a block are
                // stored with it, so a missing part is a store being
                // repaired, and must be read again next time.
                if decided.block.is_some() && decided.receipts.is_some() {
                    self.blocks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(decided.clone());
                }
                decided
            }
        };
        transaction_answer(hash, position, &decided)
    }

    fn certificate_record(
        &self,
        number: &CertificateNumber,
    ) -> Result<CertificateRecord, ApiError> {
        self.shared
            .ledger
            .certificate(number)
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::not_found(format!("no certificate numbered {number} is on the ledger"))
            })
    }

    /// The alert index of the last applied height if it is built, `None` if
    /// it must be read first.
    fn current_alerts(&self) -> Result<Option<Arc<AlertIndex>>, ApiError> {
        let height = BlockStore::last_block_height(&self.shared.store).map_err(internal)?;
        let slot = self.alerts.read().unwrap_or_else(|e| e.into_inner());
        Ok(slot
            .as_ref()
            .filter(|index| index.height == height)
            .cloned())
    }

    /// The alert index of the last applied height, read from the ledger if
    /// the one kept is of another height.
    fn fresh_alerts(&self) -> Result<Arc<AlertIndex>, ApiError> {
        // The height is read before the index: the index is then of this
        // height or a later one, never older than what the store says.
        let height = BlockStore::last_block_height(&self.shared.store).map_err(internal)?;
        if let Some(index) = self
            .alerts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|index| index.height == height)
        {
            return Ok(index.clone());
        }
        let index = Arc::new(AlertIndex::read(&self.shared.ledger, height)?);
        let mut slot = self.alerts.write().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|kept| kept.height <= height) {
            *slot = Some(index.clone());
        }
        Ok(index)
    }

    /// A certificate with its alerts, serialized once.
    fn certificate(
        &self,
        number: &CertificateNumber,
        alerts: &AlertIndex,
    ) -> Result<JsonBody, ApiError> {
        let record = self.certificate_record(number)?;
        JsonBody::new(&CertificateAnswer {
            record: &record,
            alerts: alerts.alerts(&record),
        })
    }

    /// A member with its authorities.
    fn participant(&self, code: &ParticipantCode) -> Result<JsonBody, ApiError> {
        let record = self
            .shared
            .ledger
            .participant(code)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("no member has code {code}")))?;
        JsonBody::new(&record)
    }

    fn certificates(&self, filter: &CertificateFilter) -> Result<Value, ApiError> {
        let prefix = ledger_keys::prefix(ledger_keys::table::CERTIFICATE);
        let start_after = filter.after.as_ref().map(ledger_keys::certificate);
        let (items, next, scanned) = scan_page(
            &self.shared.store,
            &prefix,
            start_after,
            filter.limit,
            |record: &CertificateRecord| record.certificate.number.clone(),
            |record| Ok(matches_filter(&record, filter).then_some(record)),
        )?;
        Ok(json!({ "items": items, "next": next, "scanned": scanned }))
    }

    fn resolutions(
        &self,
        pending_only: bool,
        after: Option<Hash>,
        limit: usize,
    ) -> Result<Value, ApiError> {
        let prefix = ledger_keys::prefix(ledger_keys::table::RESOLUTION);
        let start_after = after.as_ref().map(ledger_keys::resolution);
        let (items, next, _) = scan_page(
            &self.shared.store,
            &prefix,
            start_after,
            limit,
            |record: &ResolutionRecord| record.id,
            |record| {
                let pending = record.outcome == ResolutionOutcome::Pending;
                if pending_only && !pending {
                    return Ok(None);
                }
                if !pending {
                    return Ok(Some(record));
                }
                // A pending resolution's `missing` is recomputed against the
                // current membership by the ledger's own query.
                Ok(Some(
                    self.shared
                        .ledger
                        .resolution(&record.id)
                        .map_err(internal)?
                        .unwrap_or(record),
                ))
            },
        )?;
        Ok(json!({ "items": items, "next": next }))
    }

    fn with_prover<T>(
        &self,
        prove: impl FnOnce(
            &kp_ledger::prove::Prover<'_, StoreChain<'_>, SledStore>,
        ) -> Result<T, kp_ledger::prove::ProofFailure>,
    ) -> Result<T, ApiError> {
        let chain = StoreChain(&self.shared.store);
        let prover = kp_ledger::prove::Prover {
            chain: &chain,
            store: &self.shared.store,
            versions: &self.shared.records,
        };
        prove(&prover).map_err(|e| match e {
            kp_ledger::prove::ProofFailure::NotFound(m) => ApiError::not_found(m),
            kp_ledger::prove::ProofFailure::Unavailable(m) => ApiError::unavailable(m),
            kp_ledger::prove::ProofFailure::Internal(m) => ApiError::internal(m),
        })
    }
}

/// The node's decided blocks, as the ledger's prover reads them.
pub struct StoreChain<'a>(&'a SledStore);

impl kp_ledger::prove::Chain for StoreChain<'_> {
    fn last_height(&self) -> Result<u64, String> {
        BlockStore::last_block_height(self.0).map_err(|e| e.to_string())
    }

    fn block(&self, height: u64) -> Result<Option<Block>, String> {
        BlockStore::block(self.0, height).map_err(|e| e.to_string())
    }

    fn commit(&self, height: u64) -> Result<Option<kp_types::CommitCertificate>, String> {
        BlockStore::commit_certificate(self.0, height).map_err(|e| e.to_string())
    }

    fn receipts(&self, height: u64) -> Result<Option<Vec<TxReceipt>>, String> {
        match BlockStore::receipts(self.0, height).map_err(|e| e.to_string())? {
            Some(bytes) if !bytes.is_empty() => {
                kp_types::decode(&bytes, kp_storage::RECEIPTS_BYTES_MAX)
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
            _ => Ok(None),
        }
    }
}

fn matches_filter(record: &CertificateRecord, filter: &CertificateFilter) -> bool {
    let c = &record.certificate;
    filter.exporting.as_ref().is_none_or(|e| *e == c.exporting)
        && filter.importing.as_ref().is_none_or(|i| *i == c.importing)
        && filter
            .monitor
            .as_ref()
            .is_none_or(|m| record.approval.as_ref().is_some_and(|a| a.monitor == *m))
        && filter
            .status
            .as_deref()
            .is_none_or(|s| s == record.status.name())
        && filter.period.is_none_or(|p| p.contains(c.issued_on))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal(format!("cannot render JSON: {e}")))
}

/// One page of a ledger table, scanned in key order after `start_after` in
/// bounded chunks (at most [`CERTIFICATE_SCAN_MAX`] records looked at): the
/// records `keep` returns (at most `limit`), the cursor of the last record
/// looked at when the table may hold more, and how many were looked at.
fn scan_page<T, C>(
    store: &SledStore,
    prefix: &[u8],
    mut start_after: Option<Vec<u8>>,
    limit: usize,
    cursor: impl Fn(&T) -> C,
    mut keep: impl FnMut(T) -> Result<Option<T>, ApiError>,
) -> Result<(Vec<T>, Option<C>, usize), ApiError>
where
    T: serde::de::DeserializeOwned,
{
    let mut items = Vec::new();
    let mut scanned = 0usize;
    let mut last = None;
    while items.len() < limit && scanned < CERTIFICATE_SCAN_MAX {
        let chunk = SCAN_CHUNK.min(CERTIFICATE_SCAN_MAX - scanned);
        let rows = store
            .scan_prefix(prefix, start_after.as_deref(), chunk)
            .map_err(internal)?;
        let count = rows.len();
        let mut consumed = 0;
        for (key, value) in rows {
            consumed += 1;
            scanned += 1;
            start_after = Some(key);
            let record: T = kp_types::decode(&value, STORED_VALUE_BYTES_MAX).map_err(internal)?;
            last = Some(cursor(&record));
            if let Some(record) = keep(record)? {
                items.push(record);
                if items.len() == limit {
                    break;
                }
            }
        }
        if count < chunk && consumed == count {
            // The table ended: no cursor.
            return Ok((items, None, scanned));
        }
    }
    Ok((items, last, scanned))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("storage failure: {e}"))
}

/// The block at `height` and its receipts, decoded, with their stored size.
fn read_decided_block(store: &SledStore, height: u64) -> Result<DecidedBlock, ApiError> {
    use kp_storage::keys::{decode_value, height_key, TABLE_BLOCK};
    // Read raw (not through `BlockStore::block`) to know the stored size the
    // cache budgets; the checks are those of `BlockStore::block`.
    let key = height_key(TABLE_BLOCK, height);
    let mut stored_bytes = 0;
    let block = match StateStore::get(store, &key).map_err(internal)? {
        None => None,
        Some(value) => {
            stored_bytes += value.len();
            let block: Block = decode_value(&key, &value, BLOCK_BYTES_MAX).map_err(internal)?;
            if block.header.height != height {
                return Err(internal(format!(
                    "block of height {} stored at height {height}",
                    block.header.height
                )));
            }
            Some(block)
        }
    };
    let receipts = match BlockStore::receipts(store, height).map_err(internal)? {
        Some(bytes) if !bytes.is_empty() => {
            stored_bytes += bytes.len();
            Some(kp_types::decode(&bytes, kp_storage::RECEIPTS_BYTES_MAX).map_err(internal)?)
        }
        _ => None,
    };
    Ok(DecidedBlock {
        height,
        block,
        receipts,
        stored_bytes,
    })
}

/// `GET /v1/txs/{hash}` for the transaction at `position` of `decided`.
fn transaction_answer(
    hash: &TxHash,
    position: u32,
    decided: &DecidedBlock,
) -> Result<JsonBody, ApiError> {
    let index = position as usize;
    let receipt = decided.receipts.as_ref().and_then(|r| r.get(index));
    let tx = decided.block.as_ref().and_then(|b| b.txs.get(index));
    let (accepted, rejection) = match receipt.map(|r| &r.result) {
        Some(Ok(())) => (Some(true), None),
        Some(Err(rejection)) => (
            Some(false),
            Some(RejectionAnswer {
                code: rejection.code(),
                message: rejection.to_string(),
            }),
        ),
        None => (None, None),
    };
    JsonBody::new(&TransactionAnswer {
        hash,
        height: decided.height,
        position,
        accepted,
        rejection,
        receipt,
        tx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_ledger::testkit::{authority_id, certificate, code, number, territory, Harness};
    use kp_types::{Carats, Payload, ResolutionAction, SeizureReason, SeizureReport};

    /// The certificate answer as it was built before the alert index: full
    /// participant records and a scan of the seizure list per lookup, then
    /// `serde_json::Value`. The oracle the indexed answer must equal.
    fn certificate_value_per_lookup<S: StateStore>(
        ledger: &kp_ledger::Ledger<S>,
        number: &CertificateNumber,
    ) -> Value {
        let record = ledger.certificate(number).unwrap().unwrap();
        let mut alerts = Vec::new();
        for side in [&record.certificate.exporting, &record.certificate.importing] {
            if let Some(p) = ledger.participant(side).unwrap() {
                if let Some(s) = &p.sanction {
                    alerts.push(json!({
                        "kind": "sanction",
                        "participant": side,
                        "scope": s.scope,
                        "since_height": s.since_height,
                        "resolution": s.resolution,
                    }));
                }
                if !p.is_active() {
                    alerts.push(
                        json!({ "kind": "membership", "participant": side, "status": p.status }),
                    );
                }
            }
        }
        for seizure in ledger
            .seizures(kp_ledger::SEIZURES_LIST_MAX)
            .unwrap()
            .into_iter()
            .filter(|s| s.report.certificate.as_ref() == Some(number))
        {
            alerts.push(json!({ "kind": "seizure", "seizure": seizure }));
        }
        if record.enhanced_vigilance {
            alerts.push(json!({ "kind": "enhanced-vigilance" }));
        }
        let mut value = serde_json::to_value(&record).unwrap();
        value
            .as_object_mut()
            .unwrap()
            .insert("alerts".into(), Value::Array(alerts));
        value
    }

    fn indexed_answer<S: StateStore>(
        ledger: &kp_ledger::Ledger<S>,
        index: &AlertIndex,
        number: &CertificateNumber,
    ) -> Value {
        let record = ledger.certificate(number).unwrap().unwrap();
        JsonBody::new(&CertificateAnswer {
            record: &record,
            alerts: index.alerts(&record),
        })
        .unwrap()
        .to_value()
        .unwrap()
    }

    fn report_seizure(h: &mut Harness, certificate: Option<&str>, carats: u64) {
        let tx = h.by_authority(
            "EU",
            Payload::ReportSeizure(SeizureReport {
                authority: authority_id("EU"),
                territory: territory("DE"),
                location: "Frankfurt".into(),
                carats: Carats(carats),
                value_usd: None,
                reason: if certificate.is_some() {
                    SeizureReason::ContentsMismatch
                } else {
                    SeizureReason::NoCertificate
                },
                certificate: certificate.map(number),
                seized_on: h.today(),
            }),
        );
        assert_eq!(h.run(tx), Ok(()));
    }

    /// Every kind of alert (sanction, membership, seizures, enhanced
    /// vigilance) comes out of the per-height index exactly as the
    /// per-lookup reads rendered it, and an index of an earlier height is
    /// told apart from the current one.
    #[test]
    fn indexed_alerts_equal_per_lookup_alerts() {
        let mut h = Harness::new();
        let today = h.today();
        assert_eq!(h.issue(certificate("BW2026001", "BW", "CG", today)), Ok(()));
        assert_eq!(h.issue(certificate("BW2026002", "BW", "EU", today)), Ok(()));
        let plain = AlertIndex::read(&h.ledger, h.ledger.height()).unwrap();
        assert!(plain.participants.is_empty() && plain.seizures.is_empty());

        h.adopt(ResolutionAction::ImposeSanction {
            participant: code("BW"),
            scope: SanctionScope::ExportBan,
        });
        h.adopt(ResolutionAction::Expel {
            participant: code("CG"),
        });
        h.adopt(ResolutionAction::ImposeSanction {
            participant: code("AE"),
            scope: SanctionScope::EnhancedVigilance,
        });
        let today = h.today();
        assert_eq!(h.issue(certificate("AE2026001", "AE", "EU", today)), Ok(()));
        report_seizure(&mut h, Some("BW2026001"), 100);
        report_seizure(&mut h, None, 150);
        report_seizure(&mut h, Some("BW2026001"), 200);
        report_seizure(&mut h, Some("AE2026001"), 300);

        let index = AlertIndex::read(&h.ledger, h.ledger.height()).unwrap();
        assert_eq!(index.height, h.ledger.height());
        assert_eq!(index.participants.len(), 3, "BW, CG and AE raise alerts");
        for n in ["BW2026001", "BW2026002", "AE2026001"] {
            let number = number(n);
            let old = certificate_value_per_lookup(&h.ledger, &number);
            assert_eq!(indexed_answer(&h.ledger, &index, &number), old, "{n}");
        }
        let kinds = |n: &str| -> Vec<String> {
            certificate_value_per_lookup(&h.ledger, &number(n))["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["kind"].as_str().unwrap().to_string())
                .collect()
        };
        // The oracle covers every kind, so the equality above checks them all.
        assert_eq!(
            kinds("BW2026001"),
            ["sanction", "membership", "seizure", "seizure"]
        );
        assert_eq!(
            kinds("AE2026001"),
            ["sanction", "seizure", "enhanced-vigilance"]
        );
        // Newest seizure first, as in the seizure list.
        let alerts = indexed_answer(&h.ledger, &index, &number("BW2026001"))["alerts"].clone();
        assert_eq!(alerts[2]["seizure"]["report"]["carats"], json!("2.00"));
        // The index of the earlier height no longer matches the ledger.
        assert_ne!(
            indexed_answer(&h.ledger, &plain, &number("BW2026001")),
            certificate_value_per_lookup(&h.ledger, &number("BW2026001"))
        );
    }

    fn decided(height: u64, stored_bytes: usize) -> Arc<DecidedBlock> {
        Arc::new(DecidedBlock {
            height,
            block: None,
            receipts: None,
            stored_bytes,
        })
    }

    /// The block cache keeps at most its count and byte budget, drops the
    /// oldest first, and never keeps a block larger than the budget.
    #[test]
    fn block_cache_is_bounded_oldest_first() {
        let mut cache = BlockCache::default();
        for height in 1..=(BLOCK_CACHE_BLOCKS_MAX as u64 + 3) {
            cache.insert(decided(height, 10));
        }
        assert_eq!(cache.entries.len(), BLOCK_CACHE_BLOCKS_MAX);
        assert!(cache.get(3).is_none());
        assert!(cache.get(4).is_some());
        assert_eq!(cache.stored_bytes, 10 * BLOCK_CACHE_BLOCKS_MAX);

        cache.insert(decided(100, BLOCK_CACHE_BYTES_MAX - 5));
        assert!(cache.get(100).is_some());
        assert_eq!(cache.entries.len(), 1, "older entries made room");
        assert_eq!(cache.stored_bytes, BLOCK_CACHE_BYTES_MAX - 5);

        cache.insert(decided(101, BLOCK_CACHE_BYTES_MAX + 1));
        assert!(cache.get(101).is_none(), "larger than the whole budget");
        assert!(cache.get(100).is_some());
    }
}
