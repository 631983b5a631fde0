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

use futures::stream::{BoxStream, StreamExt};
use kp_client::proof::{CertificateProof, TxProof};
use kp_ledger::keys as ledger_keys;
use kp_ledger::{
    BlockReceipt, CertificateRecord, LedgerEvent, ResolutionOutcome, ResolutionRecord, StateStore,
    TxReceipt,
};
use kp_rpc::{ApiError, ApiEvent, Backend, CertificateFilter, Query, Status, Submitted};
use kp_storage::{BlockStore, SledStore};
use kp_types::{CertificateNumber, Hash, SignedTransaction, TxHash};
use serde_json::{json, Value};
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

    fn submit_batch(
        &self,
        txs: Vec<SignedTransaction>,
    ) -> futures::future::BoxFuture<'static, Vec<Result<TxHash, ApiError>>> {
        let requests = self.0.requests.clone();
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

    fn query(&self, query: Query) -> Result<Value, ApiError> {
        let shared = &self.0;
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
            Query::Transaction(hash) => self.transaction(hash),
            Query::Certificate(number) => self.certificate(&number),
            Query::Certificates(filter) => self.certificates(&filter),
            Query::CertificateProof(number) => to_json(&self.proof(&number)?),
            Query::Participant(code) => {
                let record = shared
                    .ledger
                    .participant(&code)
                    .map_err(internal)?
                    .ok_or_else(|| ApiError::not_found(format!("no member has code {code}")))?;
                to_json(&record)
            }
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
        }
    }

    fn subscribe(&self) -> BoxStream<'static, ApiEvent> {
        let receiver = self.0.events.subscribe();
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
        self.0.metrics.render(&self.status())
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
    fn block(&self, height: u64) -> Result<Value, ApiError> {
        let store = &self.0.store;
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

    fn transaction(&self, hash: TxHash) -> Result<Value, ApiError> {
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
        let (accepted, rejection) = match receipt.as_ref().map(|r| &r.result) {
            Some(Ok(())) => (Some(true), Value::Null),
            Some(Err(rejection)) => (
                Some(false),
                json!({ "code": rejection.code(), "message": rejection.to_string() }),
            ),
            None => (None, Value::Null),
        };
        Ok(json!({
            "hash": hash,
            "height": height,
            "position": position,
            "accepted": accepted,
            "rejection": rejection,
            "receipt": receipt,
            "tx": tx,
        }))
    }

    fn certificate_record(
        &self,
        number: &CertificateNumber,
    ) -> Result<CertificateRecord, ApiError> {
        self.0
            .ledger
            .certificate(number)
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::not_found(format!("no certificate numbered {number} is on the ledger"))
            })
    }

    fn certificate(&self, number: &CertificateNumber) -> Result<Value, ApiError> {
        let record = self.certificate_record(number)?;
        let ledger = &self.0.ledger;
        let mut alerts = Vec::new();
        for side in [&record.certificate.exporting, &record.certificate.importing] {
            if let Some(p) = ledger.participant(side).map_err(internal)? {
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
            .map_err(internal)?
            .into_iter()
            .filter(|s| s.report.certificate.as_ref() == Some(number))
        {
            alerts.push(json!({ "kind": "seizure", "seizure": seizure }));
        }
        if record.enhanced_vigilance {
            alerts.push(json!({ "kind": "enhanced-vigilance" }));
        }
        let mut value = to_json(&record)?;
        if let Value::Object(map) = &mut value {
            map.insert("alerts".into(), Value::Array(alerts));
        }
        Ok(value)
    }

    fn certificates(&self, filter: &CertificateFilter) -> Result<Value, ApiError> {
        let prefix = ledger_keys::prefix(ledger_keys::table::CERTIFICATE);
        let start_after = filter.after.as_ref().map(ledger_keys::certificate);
        let (items, next, scanned) = scan_page(
            &self.0.store,
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
            &self.0.store,
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
                    self.0
                        .ledger
                        .resolution(&record.id)
                        .map_err(internal)?
                        .unwrap_or(record),
                ))
            },
        )?;
        Ok(json!({ "items": items, "next": next }))
    }

    fn proof(&self, number: &CertificateNumber) -> Result<CertificateProof, ApiError> {
        let store = &self.0.store;
        let record = self.certificate_record(number)?;
        let mut txs = Vec::new();
        for entry in record.history.iter().take(kp_client::proof::PROOF_TXS_MAX) {
            let Some(hash) = entry.tx else {
                continue;
            };
            let position = BlockStore::tx_locations(store, &hash, kp_storage::TX_LOCATIONS_MAX)
                .map_err(internal)?
                .into_iter()
                .find(|(h, _)| *h == entry.height)
                .map(|(_, p)| p as usize)
                .ok_or_else(|| {
                    ApiError::internal(format!("transaction {hash} of {number} is not indexed"))
                })?;
            let block = BlockStore::block(store, entry.height)
                .map_err(internal)?
                .ok_or_else(|| ApiError::internal(format!("block {} is missing", entry.height)))?;
            let commit = BlockStore::commit_certificate(store, entry.height)
                .map_err(internal)?
                .ok_or_else(|| {
                    ApiError::internal(format!("commit certificate {} is missing", entry.height))
                })?;
            let leaves: Vec<Hash> = block.txs.iter().map(SignedTransaction::hash).collect();
            let merkle = kp_types::merkle::prove(&leaves, position).ok_or_else(|| {
                ApiError::internal(format!(
                    "position {position} is outside block {}",
                    entry.height
                ))
            })?;
            let tx = block
                .txs
                .get(position)
                .cloned()
                .ok_or_else(|| ApiError::internal("transaction position out of range"))?;
            let event = serde_json::to_value(entry.event)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            txs.push(TxProof {
                event,
                tx,
                height: entry.height,
                merkle,
                header: block.header,
                commit,
            });
        }
        Ok(CertificateProof {
            number: number.clone(),
            record,
            txs,
        })
    }
}

fn matches_filter(record: &CertificateRecord, filter: &CertificateFilter) -> bool {
    let c = &record.certificate;
    filter.exporting.as_ref().is_none_or(|e| *e == c.exporting)
        && filter.importing.as_ref().is_none_or(|i| *i == c.importing)
        && filter
            .status
            .as_deref()
            .is_none_or(|s| s == kp_client::proof::status_name(record.status))
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
