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
//! * Access ([`access`]): every caller has a scope (`public`,
//!   `participant:CODE`, `operator`) from its bearer token or the node's
//!   policy for anonymous callers; each route needs a least scope, and a
//!   few handlers narrow their answer to the caller (public views of a
//!   certificate and of statistics). A per-client rate limit (GCRA, keyed
//!   by token or address) runs before any handler. TLS ([`tls`]) is rustls.
//! * Errors are JSON `{"error": {"code": "...", "message": "..."}}` with an
//!   HTTP status; `code` is stable and machine-readable (the list is in
//!   `docs/rpc.md` and in the OpenAPI document), `message` is for people.
//! * `/v1/openapi.json` ([`openapi::document`]) describes every endpoint,
//!   with schemas generated from the answer types (ADR 0015); tests
//!   validate the server's answers against them.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod access;
mod handlers;
pub mod openapi;
pub mod tls;

pub use handlers::{router, serve};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use kp_types::{
    AuthorityId, CertificateNumber, Hash, ParticipantCode, Period, SignedTransaction, TxHash,
};
use serde::{Deserialize, Serialize};

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

/// What `GET /v1/status` answers (the type is the contract's, in kp-api).
pub use kp_api::answers::NodeStatus as Status;

/// A node whose last block is older than this, and that is not catching up,
/// is not ready (`/v1/health/ready`) unless its backend sets another bound
/// ([`Backend::ready_block_age_max_ms`]): the network, or this node's part
/// in it, has stopped (an idle network still writes an empty block every
/// few seconds).
pub const HEALTH_BLOCK_AGE_MAX_MS: u64 = 120_000;

/// An API error: HTTP status, stable code, and a message a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = kp_api::answers::ErrorAnswer {
            error: kp_api::answers::ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        (status, Json(body)).into_response()
    }
}

/// What the node answers after accepting a transaction (typed in kp-api).
pub use kp_api::answers::{Decided, Submitted};

/// Most transactions in one `POST /v1/txs/batch`.
pub const BATCH_TXS_MAX: usize = 256;

/// One transaction's outcome in a batch submission, in the batch's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Only certificates this KP Authority issued (signed).
    pub authority: Option<AuthorityId>,
    /// Status (`issued`, `confirmed`, `voided`, `expired`, `seized`,
    /// `awaiting-approval`).
    pub status: Option<String>,
    /// Issue date within this period.
    pub period: Option<Period>,
    /// Continue after this number (the previous page's `next`).
    pub after: Option<CertificateNumber>,
    /// Page size, 1 to [`PAGE_LIMIT_MAX`].
    pub limit: usize,
    /// Most records the search reads before it ends the page early with a
    /// `next` cursor (the access policy's cost cap); 0: the node's own cap.
    pub scan_max: usize,
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

    /// The answer as its type (to trim it into a view).
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.0).map_err(|e| {
            ApiError::internal(format!(
                "the node's answer is not a {}: {e}",
                std::any::type_name::<T>()
            ))
        })
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
/// `seizure`, `lagged`), its JSON data and its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiEvent {
    /// The event's kind (SSE `event:` field).
    pub kind: String,
    /// The payload (SSE `data:` field).
    pub data: serde_json::Value,
    /// Where the event stands in the stream (SSE `id:` field): a client
    /// that reconnects with it as `Last-Event-ID` resumes after it
    /// ([`Backend::resume`]). `None` for a notice about the stream itself
    /// (`lagged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
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
    /// Events after the one whose id is `last_event_id`: those the node
    /// still keeps, then [`Backend::subscribe`]'s. When events after it are
    /// no longer kept (or the id is not one of its ids), the stream starts
    /// with a `lagged` event that says so. The default keeps none.
    fn resume(&self, last_event_id: &str) -> BoxStream<'static, ApiEvent> {
        let notice = ApiEvent {
            kind: "lagged".into(),
            data: serde_json::json!({
                "last_event_id": last_event_id,
                "message": "this server keeps no past events: the stream goes on from now",
            }),
            id: None,
        };
        futures::stream::StreamExt::boxed(futures::stream::StreamExt::chain(
            futures::stream::iter([notice]),
            self.subscribe(),
        ))
    }
    /// How old the last block may be for the node to be ready
    /// (`/v1/health/ready`), in milliseconds.
    fn ready_block_age_max_ms(&self) -> u64 {
        HEALTH_BLOCK_AGE_MAX_MS
    }
    /// The node's metrics in the OpenMetrics text format, without the
    /// final `# EOF` line: the server appends its own RPC metrics, then it.
    fn metrics(&self) -> String;
    /// The state snapshots kept for late joiners, newest first (ADR 0016).
    /// May read files: the server calls it on the blocking pool. The
    /// default keeps none.
    fn snapshots(&self) -> kp_api::snapshots::SnapshotList {
        kp_api::snapshots::SnapshotList::default()
    }
    /// The stored bytes of the snapshot of `height`: its manifest
    /// (`chunk: None`) or one chunk. `None`: not kept here. On the blocking
    /// pool, as [`Backend::snapshots`].
    fn snapshot_bytes(&self, height: u64, chunk: Option<u32>) -> Option<Vec<u8>> {
        let _ = (height, chunk);
        None
    }
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

#[cfg(test)]
mod access_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod openapi_tests;
#[cfg(test)]
mod tests;
