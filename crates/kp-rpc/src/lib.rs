//! HTTP JSON API of a kpledger node, versioned under `/v1`.
//!
//! The server knows nothing of consensus, storage or the network: the node
//! implements [`Backend`] and the server turns HTTP requests into calls on it.
//!
//! Design:
//! * Reads are [`Query`] values. A cheap one (memory and a few store point
//!   reads) is answered at once by [`Backend::query_now`] on the runtime
//!   thread; anything else by [`Backend::query`] on tokio's blocking pool.
//!   The node answers them from its store, never from state the consensus
//!   task holds, so a slow query cannot delay a block.
//! * Answers are [`JsonBody`]: JSON serialized once, straight from the
//!   node's types into the response bytes.
//! * Writes (transaction submission) go through the node's bounded request
//!   queue; a full queue is a `503 unavailable`, not a wait.
//! * Server-sent events (`/v1/events`) come from a bounded broadcast channel:
//!   a reader that falls behind loses events and is told so with a `lagged`
//!   event; it never slows the node. At most [`SSE_SUBSCRIBERS_MAX`] streams
//!   are open at once.
//! * Everything is bounded: request bodies ([`BODY_BYTES_MAX`]), page sizes
//!   ([`PAGE_LIMIT_MAX`]), requests in flight ([`REQUESTS_IN_FLIGHT_MAX`]).
//! * Errors are JSON `{"error": {"code": "...", "message": "..."}}` with an
//!   HTTP status; `code` is stable and machine-readable (the list is in
//!   `docs/rpc.md` and in the OpenAPI document), `message` is for people.
//! * `/v1/openapi.json` ([`openapi::document`]) describes every endpoint; a
//!   test checks that the server answers what it says.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod openapi;

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query as QueryParams, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use kp_types::{CertificateNumber, Hash, ParticipantCode, Period, SignedTransaction, TxHash};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Largest request body accepted, in bytes.
pub const BODY_BYTES_MAX: usize = 256 * 1024;
/// Largest page a listing returns; a larger `limit` is refused.
pub const PAGE_LIMIT_MAX: usize = 100;
/// Page size when the client gives no `limit`.
pub const PAGE_LIMIT_DEFAULT: usize = 20;
/// Requests served at once; more get `503 unavailable` at once.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 256;
/// Server-sent event streams open at once.
pub const SSE_SUBSCRIBERS_MAX: usize = 64;

/// What `GET /v1/status` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The chain.
    pub chain_id: String,
    /// This node's Participant code.
    pub node: String,
    /// `validator` or `observer` (or `member`: a listed non-voting node).
    pub role: String,
    /// Last applied height.
    pub height: u64,
    /// Hash of the last applied block.
    pub block_hash: Hash,
    /// State root after the last applied block.
    pub state_root: Hash,
    /// Time of the last applied block (RFC 3339).
    pub block_time: String,
    /// Connected peers.
    pub peers: usize,
    /// Validators of the next height.
    pub validators: usize,
    /// Transactions pending in this node's pool.
    pub mempool: usize,
    /// Current consensus round.
    pub round: u32,
}

/// An API error: HTTP status, stable code, and a message a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// HTTP status.
    #[serde(skip)]
    pub status: u16,
    /// Stable machine-readable code (kebab-case).
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with status, code and message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 404 with code `not-found`.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(404, "not-found", what)
    }

    /// 400 with the given code.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(400, code, message)
    }

    /// 503: the node cannot serve now (shutting down, queue full).
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "unavailable", message)
    }

    /// 500: the node failed (storage); the message says what.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "internal", message)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a ApiError,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ErrorBody { error: &self })).into_response()
    }
}

/// What the node answers after accepting a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    /// The transaction's hash.
    pub hash: TxHash,
    /// Where it was decided (`height`, `position`, `receipt`), when the
    /// client asked to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<serde_json::Value>,
}

/// Most transactions in one `POST /v1/txs/batch`.
pub const BATCH_TXS_MAX: usize = 256;

/// One transaction's outcome in a batch submission, in the batch's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// The transaction's hash.
    pub hash: TxHash,
    /// HTTP status it would have had alone: 202 accepted, 4xx refused,
    /// 503 retry later.
    pub status: u16,
    /// Why it was refused, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// Answer to `POST /v1/txs/batch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSubmitted {
    /// How many were accepted (pooled, or already pending).
    pub accepted: usize,
    /// Each transaction's outcome, in the order sent.
    pub results: Vec<BatchItem>,
}

/// Filters of a certificate search; every given filter must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateFilter {
    /// Exporting Participant.
    pub exporting: Option<ParticipantCode>,
    /// Importing Participant.
    pub importing: Option<ParticipantCode>,
    /// Only certificates whose approval this monitoring body must give (or
    /// gave): with `status=awaiting-approval`, the monitor's queue.
    pub monitor: Option<ParticipantCode>,
    /// Status (`issued`, `confirmed`, `voided`, `expired`, `seized`,
    /// `awaiting-approval`).
    pub status: Option<String>,
    /// Issue date within this period.
    pub period: Option<Period>,
    /// Continue after this number (the previous page's `next`).
    pub after: Option<CertificateNumber>,
    /// Page size, 1 to [`PAGE_LIMIT_MAX`].
    pub limit: usize,
}

/// A read the API asks of the node. Every answer is JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// The genesis document the node runs.
    Genesis,
    /// A block by height, with its commit certificate.
    Block(u64),
    /// A block by hash, with its commit certificate.
    BlockByHash(Hash),
    /// A decided transaction: block, position, receipt.
    Transaction(TxHash),
    /// A certificate: all fields, status, history.
    Certificate(CertificateNumber),
    /// A page of certificates.
    Certificates(CertificateFilter),
    /// Everything that proves a certificate's record, Participants,
    /// authorities, seizures and acts against a recent decided header
    /// (`kp_api::proof::CertificateProof`).
    CertificateProof(CertificateNumber),
    /// A decided header with its commit certificate and validator set
    /// (`kp_api::proof::LightBlock`); `None`: the latest.
    LightBlock(Option<u64>),
    /// A Participant's record and its listed authorities, proven against a
    /// recent decided header (`kp_api::proof::RecordsProof`).
    ParticipantProof(ParticipantCode),
    /// A resolution's record, proven against a recent decided header
    /// (`kp_api::proof::RecordsProof`).
    ResolutionProof(Hash),
    /// A member with its authorities.
    Participant(ParticipantCode),
    /// Every member.
    Participants,
    /// A resolution.
    Resolution(Hash),
    /// A page of resolutions, optionally only pending ones.
    Resolutions {
        /// Only resolutions still collecting signatures.
        pending_only: bool,
        /// Continue after this id.
        after: Option<Hash>,
        /// Page size.
        limit: usize,
    },
    /// The latest seizures, newest first.
    Seizures {
        /// How many.
        limit: usize,
    },
    /// A member's trade statistics for a period.
    Statistics {
        /// Whose.
        participant: ParticipantCode,
        /// Which period.
        period: Period,
    },
    /// Anomalies of a period.
    Anomalies {
        /// Which period.
        period: Period,
    },
}

/// A JSON answer, already serialized: the bytes of the response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonBody(axum::body::Bytes);

impl JsonBody {
    /// Serializes `value` once, straight into the body's bytes.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<JsonBody, ApiError> {
        let mut bytes = Vec::with_capacity(1024);
        serde_json::to_writer(&mut bytes, value)
            .map_err(|e| ApiError::internal(format!("cannot render JSON: {e}")))?;
        Ok(JsonBody(bytes.into()))
    }

    /// The JSON text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The JSON value (for tests and tools; the server sends the bytes).
    pub fn to_value(&self) -> Result<serde_json::Value, ApiError> {
        serde_json::from_slice(&self.0).map_err(|e| ApiError::internal(format!("not JSON: {e}")))
    }
}

impl IntoResponse for JsonBody {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

/// One server-sent event: its kind (`block`, `certificate`, `resolution`,
/// `seizure`, `lagged`) and its JSON data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiEvent {
    /// The event's kind (SSE `event:` field).
    pub kind: String,
    /// The payload (SSE `data:` field).
    pub data: serde_json::Value,
}

/// The node as the API sees it.
pub trait Backend: Send + Sync + 'static {
    /// Current status.
    fn status(&self) -> Status;
    /// Checks and queues a transaction; with `wait`, resolves once it is decided.
    fn submit(
        &self,
        tx: SignedTransaction,
        wait: bool,
    ) -> BoxFuture<'static, Result<Submitted, ApiError>>;
    /// Checks and queues transactions whose signatures the server has
    /// verified, in order; one outcome per transaction (its hash when
    /// accepted). The default submits them one by one.
    fn submit_batch(
        &self,
        txs: Vec<SignedTransaction>,
    ) -> BoxFuture<'static, Vec<Result<TxHash, ApiError>>> {
        let pending: Vec<_> = txs.into_iter().map(|tx| self.submit(tx, false)).collect();
        Box::pin(async move {
            let mut out = Vec::with_capacity(pending.len());
            for submitted in pending {
                out.push(submitted.await.map(|s| s.hash));
            }
            out
        })
    }
    /// Answers a read. May block on storage: the server calls it on the
    /// blocking pool.
    fn query(&self, query: Query) -> Result<JsonBody, ApiError>;
    /// Answers a read at once if that is cheap: from memory and a few store
    /// point reads, microseconds, without waiting on anything another task
    /// holds. The server calls it on the runtime thread and hands the query
    /// to [`Backend::query`] on the blocking pool when it returns `None`.
    fn query_now(&self, query: &Query) -> Option<Result<JsonBody, ApiError>> {
        let _ = query;
        None
    }
    /// Events from now on. The stream must never block the node: a slow
    /// reader loses events (and gets a `lagged` event instead).
    fn subscribe(&self) -> BoxStream<'static, ApiEvent>;
    /// Prometheus text exposition of the node's metrics.
    fn metrics(&self) -> String;
}

/// Body of `POST /v1/txs`: the signed transaction as hex of its canonical
/// bytes, or as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// Hex of the canonical encoding.
    #[serde(default)]
    pub tx_hex: Option<String>,
    /// The JSON form.
    #[serde(default)]
    pub tx: Option<SignedTransaction>,
    /// Answer only once the transaction is decided.
    #[serde(default)]
    pub wait: bool,
}

#[derive(Clone)]
struct AppState {
    backend: Arc<dyn Backend>,
    sse: Arc<Semaphore>,
}

/// The router of every endpoint.
pub fn router(backend: Arc<dyn Backend>) -> Router {
    let state = AppState {
        backend,
        sse: Arc::new(Semaphore::new(SSE_SUBSCRIBERS_MAX)),
    };
    let in_flight = Arc::new(Semaphore::new(REQUESTS_IN_FLIGHT_MAX));
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/health", get(health))
        .route("/v1/genesis", get(genesis))
        .route("/v1/openapi.json", get(openapi_doc))
        .route("/v1/txs", post(submit))
        .route("/v1/txs/batch", post(submit_batch))
        .route("/v1/txs/{hash}", get(transaction))
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/blocks/by-hash/{hash}", get(block_by_hash))
        .route("/v1/certificates", get(certificates))
        .route("/v1/certificates/{number}", get(certificate))
        .route("/v1/certificates/{number}/proof", get(certificate_proof))
        .route("/v1/light/blocks/{height}", get(light_block))
        .route("/v1/participants", get(participants))
        .route("/v1/participants/{code}", get(participant))
        .route("/v1/participants/{code}/proof", get(participant_proof))
        .route("/v1/resolutions", get(resolutions))
        .route("/v1/resolutions/{id}", get(resolution))
        .route("/v1/resolutions/{id}/proof", get(resolution_proof))
        .route("/v1/seizures", get(seizures))
        .route("/v1/statistics/{code}", get(statistics))
        .route("/v1/anomalies", get(anomalies))
        .route("/v1/events", get(events))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(middleware::from_fn_with_state(in_flight, limit_in_flight))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    backend: Arc<dyn Backend>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(backend))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn limit_in_flight(
    State(in_flight): State<Arc<Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    // Refuse at once rather than queue: a queue of waiting requests is memory
    // an attacker controls.
    match in_flight.try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            ApiError::unavailable("too many requests in flight; retry shortly").into_response()
        }
    }
}

type ApiResult = Result<JsonBody, ApiError>;
type Params = Result<QueryParams<BTreeMap<String, String>>, QueryRejection>;

/// Answers a cheap query at once; runs any other on the blocking pool: a
/// slow store read must not stall the runtime that also carries the node's
/// network and consensus tasks, and a point read is cheaper than the thread
/// hand-off of the pool (its futex wake-ups cost more than the read).
async fn ask(state: &AppState, query: Query) -> ApiResult {
    if let Some(answer) = state.backend.query_now(&query) {
        return answer;
    }
    let backend = state.backend.clone();
    tokio::task::spawn_blocking(move || backend.query(query))
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?
}

async fn status(State(state): State<AppState>) -> Json<Status> {
    Json(state.backend.status())
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let status = state.backend.status();
    Json(serde_json::json!({ "ok": true, "height": status.height }))
}

async fn genesis(State(state): State<AppState>) -> ApiResult {
    ask(&state, Query::Genesis).await
}

async fn openapi_doc() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /v1/openapi.json")
}

/// Checked here as well as by the ledger so that a bad signature never costs
/// a slot in the node's queue.
fn verify_signature(tx: &SignedTransaction) -> Result<(), ApiError> {
    tx.verify_signature().map_err(|_| verify_signature_error())
}

fn verify_signature_error() -> ApiError {
    ApiError::bad_request(
        "bad-signature",
        "the signature does not verify for tx.signer over the transaction hash; sign the exact transaction you send",
    )
}

fn decode_tx(body: SubmitBody) -> Result<(SignedTransaction, bool), ApiError> {
    let tx = match (body.tx_hex, body.tx) {
        (Some(hex_text), None) => {
            let bytes = hex::decode(hex_text.trim()).map_err(|_| {
                ApiError::bad_request(
                    "malformed-hex",
                    "tx_hex must be an even number of hex digits",
                )
            })?;
            SignedTransaction::decode(&bytes).map_err(|e| {
                ApiError::bad_request("malformed-transaction", format!("tx_hex: {e}"))
            })?
        }
        (None, Some(tx)) => tx,
        _ => {
            return Err(ApiError::bad_request(
                "malformed-request",
                "give exactly one of tx_hex (canonical bytes) or tx (JSON)",
            ))
        }
    };
    verify_signature(&tx)?;
    Ok((tx, body.wait))
}

/// A POST body, or the error that says why it could not be read.
fn request_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                413,
                "body-too-large",
                format!("request bodies are limited to {BODY_BYTES_MAX} bytes"),
            )
        } else {
            ApiError::bad_request("malformed-request", e.body_text())
        }
    })
}

/// The request's Content-Type, or "" when absent or not text.
fn content_type(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn submit(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    raw: Params,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let body = request_body(body)?;
    let content_type = content_type(&headers);
    let (tx, wait) = if content_type.starts_with("application/octet-stream") {
        // The canonical bytes themselves; `?wait=true` to wait.
        let map = params(raw, &["wait"])?;
        let wait = map.get("wait").is_some_and(|w| w == "true");
        let tx = SignedTransaction::decode(&body)
            .map_err(|e| ApiError::bad_request("malformed-transaction", format!("body: {e}")))?;
        verify_signature(&tx)?;
        (tx, wait)
    } else if content_type.starts_with("application/json") {
        let body: SubmitBody = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("malformed-json", e.to_string()))?;
        decode_tx(body)?
    } else {
        return Err(ApiError::new(
            415,
            "unsupported-media-type",
            "send Content-Type: application/json (tx_hex or tx) or application/octet-stream (canonical bytes)",
        ));
    };
    let submitted = state.backend.submit(tx, wait).await?;
    let code = if submitted.decided.is_some() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((code, Json(submitted)))
}

/// `POST /v1/txs/batch`: up to [`BATCH_TXS_MAX`] signed transactions as
/// the canonical encoding of a list (`application/octet-stream`). Each is
/// checked as if sent alone; the answer (200) gives each one's outcome.
async fn submit_batch(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<BatchSubmitted>, ApiError> {
    let body = request_body(body)?;
    let content_type = content_type(&headers);
    if !content_type.starts_with("application/octet-stream") {
        return Err(ApiError::new(
            415,
            "unsupported-media-type",
            "send Content-Type: application/octet-stream with the canonical encoding of a list of signed transactions",
        ));
    }
    let txs: Vec<SignedTransaction> = kp_types::decode(&body, BODY_BYTES_MAX)
        .map_err(|e| ApiError::bad_request("malformed-batch", format!("body: {e}")))?;
    if txs.is_empty() || txs.len() > BATCH_TXS_MAX {
        return Err(ApiError::bad_request(
            "batch-size",
            format!(
                "a batch holds 1 to {BATCH_TXS_MAX} transactions, not {}",
                txs.len()
            ),
        ));
    }
    // Up to BATCH_TXS_MAX signature checks: off the async workers, and in
    // one batch verification unless one of them is bad.
    let verified = tokio::task::spawn_blocking(move || {
        let hashes: Vec<TxHash> = txs.iter().map(SignedTransaction::hash).collect();
        let items: Vec<_> = txs
            .iter()
            .zip(&hashes)
            .map(|(tx, h)| (tx.tx.signer, *h, tx.signature))
            .collect();
        let all_good = kp_types::verify_batch(&items).is_ok();
        let good: Vec<bool> = if all_good {
            vec![true; txs.len()]
        } else {
            txs.iter()
                .zip(&hashes)
                .map(|(tx, h)| tx.tx.signer.verify(h, &tx.signature).is_ok())
                .collect()
        };
        (txs, hashes, good)
    })
    .await;
    let (txs, hashes, good) =
        verified.map_err(|_| ApiError::unavailable("the server is shutting down"))?;
    let to_submit: Vec<SignedTransaction> = txs
        .into_iter()
        .zip(&good)
        .filter(|(_, ok)| **ok)
        .map(|(tx, _)| tx)
        .collect();
    let mut outcomes = state.backend.submit_batch(to_submit).await.into_iter();
    let mut results = Vec::with_capacity(hashes.len());
    for (hash, ok) in hashes.into_iter().zip(good) {
        let outcome = if ok {
            outcomes
                .next()
                .unwrap_or_else(|| Err(ApiError::unavailable("the node gave no answer")))
        } else {
            Err(verify_signature_error())
        };
        results.push(match outcome {
            Ok(_) => BatchItem {
                hash,
                status: 202,
                error: None,
            },
            Err(e) => BatchItem {
                hash,
                status: e.status,
                error: Some(e),
            },
        });
    }
    let accepted = results.iter().filter(|r| r.error.is_none()).count();
    Ok(Json(BatchSubmitted { accepted, results }))
}

fn parse_hash(text: &str, what: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(text)
        .ok_or_else(|| ApiError::bad_request("malformed-hash", format!("{what} is 64 hex digits")))
}

fn parse_number(text: &str) -> Result<CertificateNumber, ApiError> {
    CertificateNumber::new(text)
        .map_err(|e| ApiError::bad_request("malformed-number", e.to_string()))
}

fn parse_code(text: &str) -> Result<ParticipantCode, ApiError> {
    ParticipantCode::new(text).map_err(|e| ApiError::bad_request("malformed-code", e.to_string()))
}

fn parse_period(text: &str) -> Result<Period, ApiError> {
    text.parse::<Period>()
        .ok()
        .filter(|p| p.is_valid())
        .ok_or_else(|| {
            ApiError::bad_request(
                "malformed-period",
                format!(
                    "period {text:?}: write a quarter 2026Q1, a half-year 2026H1 or a year 2026"
                ),
            )
        })
}

/// The query parameters, refusing any this endpoint does not know (a typo
/// in a filter must not silently widen a search).
fn params(raw: Params, known: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let QueryParams(map) =
        raw.map_err(|e| ApiError::bad_request("malformed-query", e.body_text()))?;
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "unknown-parameter",
            format!("unknown query parameter {unknown:?}; this endpoint takes {known:?}"),
        ));
    }
    Ok(map)
}

fn page_limit(map: &BTreeMap<String, String>) -> Result<usize, ApiError> {
    let Some(text) = map.get("limit") else {
        return Ok(PAGE_LIMIT_DEFAULT);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=PAGE_LIMIT_MAX).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(
            "page-limit",
            format!("limit must be a whole number from 1 to {PAGE_LIMIT_MAX}"),
        )),
    }
}

async fn transaction(State(state): State<AppState>, Path(hash): Path<String>) -> ApiResult {
    let hash = parse_hash(&hash, "a transaction hash")?;
    ask(&state, Query::Transaction(hash)).await
}

async fn block(State(state): State<AppState>, Path(height): Path<String>) -> ApiResult {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad_request("malformed-height", "a height is a whole number"))?;
    ask(&state, Query::Block(height)).await
}

async fn block_by_hash(State(state): State<AppState>, Path(hash): Path<String>) -> ApiResult {
    let hash = parse_hash(&hash, "a block hash")?;
    ask(&state, Query::BlockByHash(hash)).await
}

async fn certificate(State(state): State<AppState>, Path(number): Path<String>) -> ApiResult {
    ask(&state, Query::Certificate(parse_number(&number)?)).await
}

async fn light_block(State(state): State<AppState>, Path(height): Path<String>) -> ApiResult {
    let height = match height.as_str() {
        "latest" => None,
        text => Some(text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "malformed-height",
                "a height is a whole number, or \"latest\"",
            )
        })?),
    };
    ask(&state, Query::LightBlock(height)).await
}

async fn certificate_proof(State(state): State<AppState>, Path(number): Path<String>) -> ApiResult {
    ask(&state, Query::CertificateProof(parse_number(&number)?)).await
}

const CERTIFICATE_STATUSES: [&str; 6] = [
    "awaiting-approval",
    "issued",
    "confirmed",
    "voided",
    "expired",
    "seized",
];

async fn certificates(State(state): State<AppState>, raw: Params) -> ApiResult {
    let map = params(
        raw,
        &[
            "exporting",
            "importing",
            "monitor",
            "status",
            "period",
            "after",
            "limit",
        ],
    )?;
    let status = match map.get("status") {
        Some(s) if CERTIFICATE_STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(s) => {
            return Err(ApiError::bad_request(
                "malformed-status",
                format!("status {s:?} is not one of {CERTIFICATE_STATUSES:?}"),
            ))
        }
        None => None,
    };
    let filter = CertificateFilter {
        exporting: map.get("exporting").map(|c| parse_code(c)).transpose()?,
        importing: map.get("importing").map(|c| parse_code(c)).transpose()?,
        monitor: map.get("monitor").map(|c| parse_code(c)).transpose()?,
        status,
        period: map.get("period").map(|p| parse_period(p)).transpose()?,
        after: map.get("after").map(|n| parse_number(n)).transpose()?,
        limit: page_limit(&map)?,
    };
    ask(&state, Query::Certificates(filter)).await
}

async fn participants(State(state): State<AppState>) -> ApiResult {
    ask(&state, Query::Participants).await
}

async fn participant(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult {
    ask(&state, Query::Participant(parse_code(&code)?)).await
}

async fn participant_proof(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult {
    ask(&state, Query::ParticipantProof(parse_code(&code)?)).await
}

async fn resolution_proof(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let id = parse_hash(&id, "a resolution id")?;
    ask(&state, Query::ResolutionProof(id)).await
}

async fn resolutions(State(state): State<AppState>, raw: Params) -> ApiResult {
    let map = params(raw, &["pending", "after", "limit"])?;
    let pending_only = match map.get("pending").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "malformed-query",
                format!("pending must be true or false, not {other:?}"),
            ))
        }
    };
    let after = map
        .get("after")
        .map(|h| parse_hash(h, "a resolution id"))
        .transpose()?;
    let limit = page_limit(&map)?;
    ask(
        &state,
        Query::Resolutions {
            pending_only,
            after,
            limit,
        },
    )
    .await
}

async fn resolution(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    ask(
        &state,
        Query::Resolution(parse_hash(&id, "a resolution id")?),
    )
    .await
}

async fn seizures(State(state): State<AppState>, raw: Params) -> ApiResult {
    let map = params(raw, &["limit"])?;
    let limit = page_limit(&map)?;
    ask(&state, Query::Seizures { limit }).await
}

async fn statistics(
    State(state): State<AppState>,
    Path(code): Path<String>,
    raw: Params,
) -> ApiResult {
    let map = params(raw, &["period"])?;
    let participant = parse_code(&code)?;
    let period = match map.get("period") {
        Some(p) => parse_period(p)?,
        None => current_quarter(&state),
    };
    ask(
        &state,
        Query::Statistics {
            participant,
            period,
        },
    )
    .await
}

async fn anomalies(State(state): State<AppState>, raw: Params) -> ApiResult {
    let map = params(raw, &["period"])?;
    let period = match map.get("period") {
        Some(p) => parse_period(p)?,
        None => current_quarter(&state),
    };
    ask(&state, Query::Anomalies { period }).await
}

/// The quarter of the last block's time (the ledger's clock, not this
/// machine's).
fn current_quarter(state: &AppState) -> Period {
    let status = state.backend.status();
    status
        .block_time
        .parse::<kp_types::Timestamp>()
        .map(|t| Period::quarter_of(t.date()))
        .unwrap_or_else(|_| Period::quarter_of(kp_types::Date(0)))
}

async fn events(State(state): State<AppState>, raw: Params) -> Result<Response, ApiError> {
    let map = params(raw, &["kinds"])?;
    let kinds: Option<Vec<String>> = map
        .get("kinds")
        .map(|k| k.split(',').map(|s| s.trim().to_string()).collect());
    let permit = state.sse.clone().try_acquire_owned().map_err(|_| {
        ApiError::unavailable(format!(
            "{SSE_SUBSCRIBERS_MAX} event streams are open; retry later"
        ))
    })?;
    let stream = state.backend.subscribe().filter_map(move |event| {
        // The permit lives as long as the stream: dropping the connection
        // frees the slot.
        let _held = &permit;
        let keep = event.kind == "lagged" || kinds.as_ref().is_none_or(|k| k.contains(&event.kind));
        let out = keep.then(|| {
            Ok::<_, std::convert::Infallible>(
                Event::default()
                    .event(event.kind.clone())
                    .data(event.data.to_string()),
            )
        });
        futures::future::ready(out)
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.backend.metrics(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
