//! Transaction submission: `POST /v1/txs` (one, as JSON or canonical
//! bytes) and `POST /v1/txs/batch`, signatures checked before the node's
//! queue.

use super::{params, AppState, Params};
use crate::{
    ApiError, BatchItem, BatchSubmitted, SubmitBody, Submitted, BATCH_TXS_MAX, BODY_BYTES_MAX,
};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::Json;
use kp_types::{SignedTransaction, TxHash};

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

pub(super) async fn submit(
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
pub(super) async fn submit_batch(
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
