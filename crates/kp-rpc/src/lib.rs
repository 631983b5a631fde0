//! HTTP JSON API of a kpledger node, versioned under `/v1`.
//!
//! The server knows nothing of consensus, storage or the network: the node
//! implements [`Backend`] and the server turns HTTP requests into calls on it.
//! Handlers never hold locks that consensus needs: reads go to snapshots or the
//! store, writes go through the node's bounded request queue, so a slow client
//! can never hold up block production.
//!
//! Errors are JSON `{"error": {"code": "...", "message": "..."}}` with an HTTP
//! status; `code` is stable and machine-readable, `message` is for people.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::future::BoxFuture;
use kp_types::{Hash, SignedTransaction, TxHash};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Largest request body accepted, in bytes.
pub const BODY_BYTES_MAX: usize = 256 * 1024;

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
    /// Where it was decided, when the client asked to wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<serde_json::Value>,
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
    /// A decided transaction: block, position, receipt.
    fn transaction(&self, hash: TxHash) -> Result<serde_json::Value, ApiError>;
    /// A decided block with its commit certificate.
    fn block(&self, height: u64) -> Result<serde_json::Value, ApiError>;
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

type Shared = Arc<dyn Backend>;

/// The router of every `/v1` endpoint.
pub fn router(backend: Shared) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/health", get(health))
        .route("/v1/txs", post(submit))
        .route("/v1/txs/{hash}", get(transaction))
        .route("/v1/blocks/{height}", get(block))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(backend)
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    backend: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(backend))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn status(State(backend): State<Shared>) -> Json<Status> {
    Json(backend.status())
}

async fn health(State(backend): State<Shared>) -> Json<serde_json::Value> {
    let status = backend.status();
    Json(serde_json::json!({ "ok": true, "height": status.height }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /v1/openapi.json")
}

fn decode_tx(body: SubmitBody) -> Result<(SignedTransaction, bool), ApiError> {
    match (body.tx_hex, body.tx) {
        (Some(hex_text), None) => {
            let bytes = hex_decode(&hex_text).ok_or_else(|| {
                ApiError::bad_request("malformed-hex", "tx_hex must be hex digits")
            })?;
            let tx = SignedTransaction::decode(&bytes).map_err(|e| {
                ApiError::bad_request("malformed-transaction", format!("tx_hex: {e}"))
            })?;
            Ok((tx, body.wait))
        }
        (None, Some(tx)) => Ok((tx, body.wait)),
        _ => Err(ApiError::bad_request(
            "malformed-request",
            "give exactly one of tx_hex (canonical bytes) or tx (JSON)",
        )),
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

async fn submit(
    State(backend): State<Shared>,
    body: Result<Json<SubmitBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let Json(body) = body.map_err(|e| {
        let status = e.status().as_u16();
        let code = if status == 413 {
            "body-too-large"
        } else {
            "malformed-json"
        };
        ApiError::new(status.max(400), code, e.body_text())
    })?;
    let (tx, wait) = decode_tx(body)?;
    let submitted = backend.submit(tx, wait).await?;
    let code = if submitted.decided.is_some() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((code, Json(submitted)))
}

async fn transaction(
    State(backend): State<Shared>,
    Path(hash): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let hash = Hash::from_hex(&hash).ok_or_else(|| {
        ApiError::bad_request("malformed-hash", "a transaction hash is 64 hex digits")
    })?;
    backend.transaction(hash).map(Json)
}

async fn block(
    State(backend): State<Shared>,
    Path(height): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad_request("malformed-height", "a height is a whole number"))?;
    backend.block(height).map(Json)
}
