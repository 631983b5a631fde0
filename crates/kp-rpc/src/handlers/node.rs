//! Endpoints about the node itself: status, health, genesis, the OpenAPI
//! document, server-sent events, metrics, and the answer to unknown paths.

use super::{ask, params, ApiResult, AppState, Params};
use crate::{openapi, ApiError, Query, Status, SSE_SUBSCRIBERS_MAX};
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::StreamExt;

pub(super) async fn status(State(state): State<AppState>) -> Json<Status> {
    Json(state.backend.status())
}

/// `GET /v1/health`: 200 when the node follows the network, 503 with the
/// problems when it does not (catching up, no peers, no block for a while),
/// so that a load balancer or an orchestrator's probe can act on it.
pub(super) async fn health(State(state): State<AppState>) -> Response {
    let status = state.backend.status();
    let now = kp_types::time::wall_clock().0;
    let (ok, body) = health_of(&status, now);
    let code = if ok {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Whether a node with `status` is healthy at `now` (ms since 1970), and
/// the body `/v1/health` answers.
pub(crate) fn health_of(status: &Status, now: u64) -> (bool, serde_json::Value) {
    let block_age_ms = now.saturating_sub(status.block_time_ms);
    let mut problems = Vec::new();
    if status.catching_up {
        problems.push(format!(
            "catching up: at height {}, whose block is {} s old",
            status.height,
            block_age_ms / 1000
        ));
    } else if block_age_ms > crate::HEALTH_BLOCK_AGE_MAX_MS {
        problems.push(format!(
            "no block for {} s (height {})",
            block_age_ms / 1000,
            status.height
        ));
    }
    if status.peers == 0 && status.validators > 1 {
        problems.push("no peers".to_string());
    }
    let ok = problems.is_empty();
    let body = serde_json::json!({
        "ok": ok,
        "height": status.height,
        "catching_up": status.catching_up,
        "peers": status.peers,
        "block_age_ms": block_age_ms,
        "problems": problems,
    });
    (ok, body)
}

pub(super) async fn genesis(State(state): State<AppState>) -> ApiResult {
    ask(&state, Query::Genesis).await
}

pub(super) async fn openapi_doc() -> Json<serde_json::Value> {
    Json(openapi::document())
}

pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /v1/openapi.json")
}

pub(super) async fn events(
    State(state): State<AppState>,
    raw: Params,
) -> Result<Response, ApiError> {
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

pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.backend.metrics(),
    )
        .into_response()
}

#[cfg(test)]
mod health_tests {
    use super::*;

    fn following(now: u64) -> Status {
        Status {
            height: 9,
            block_time_ms: now - 3_000,
            peers: 4,
            validators: 4,
            ..Status::default()
        }
    }

    #[test]
    fn a_node_that_follows_the_network_is_healthy() {
        let now = 1_800_000_000_000;
        let (ok, body) = health_of(&following(now), now);
        assert!(ok, "{body}");
        assert_eq!(body["block_age_ms"], 3_000);
        assert_eq!(body["problems"], serde_json::json!([]));
        // A network of one validator needs no peers.
        let alone = Status {
            peers: 0,
            validators: 1,
            ..following(now)
        };
        assert!(health_of(&alone, now).0);
    }

    #[test]
    fn catching_up_no_peers_and_no_block_are_each_reported() {
        let now = 1_800_000_000_000;
        let catching_up = Status {
            catching_up: true,
            block_time_ms: now - 86_400_000,
            ..following(now)
        };
        let (ok, body) = health_of(&catching_up, now);
        assert!(!ok);
        assert!(
            body["problems"][0]
                .as_str()
                .unwrap()
                .starts_with("catching up"),
            "{body}"
        );
        let stalled = Status {
            block_time_ms: now - crate::HEALTH_BLOCK_AGE_MAX_MS - 1,
            ..following(now)
        };
        let (ok, body) = health_of(&stalled, now);
        assert!(!ok);
        assert!(
            body["problems"][0]
                .as_str()
                .unwrap()
                .starts_with("no block for 120 s"),
            "{body}"
        );
        let cut_off = Status {
            peers: 0,
            ..following(now)
        };
        let (ok, body) = health_of(&cut_off, now);
        assert!(!ok);
        assert_eq!(body["problems"], serde_json::json!(["no peers"]));
    }
}
