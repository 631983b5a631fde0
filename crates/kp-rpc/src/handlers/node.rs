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

/// `GET /v1/health/live`: 200 whenever the server answers at all. An
/// orchestrator restarts a node that fails it; a node catching up is alive
/// (restarting it would only start the catch-up again).
pub(super) async fn live(State(state): State<AppState>) -> Json<kp_api::Liveness> {
    let status = state.backend.status();
    Json(kp_api::Liveness {
        ok: true,
        height: status.height,
    })
}

/// `GET /v1/health` and `GET /v1/health/ready`: 200 when the node follows
/// the network, 503 with the problems when it does not (catching up, fewer
/// peers than it needs, no block for longer than the node's bound), so that
/// a load balancer or an orchestrator's readiness probe can act on it.
pub(super) async fn health(State(state): State<AppState>) -> Response {
    let status = state.backend.status();
    let now = kp_types::time::wall_clock().0;
    let (ok, body) = health_of(&status, now, state.backend.ready_block_age_max_ms());
    let code = if ok {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Peers a node needs to follow the network: a validator, enough to make a
/// quorum (2f+1 of `validators`, itself included); an observer or another
/// non-voting node, one; a network of one validator, none.
pub(crate) fn peers_needed(status: &Status) -> usize {
    let n = status.validators;
    if n <= 1 {
        return 0;
    }
    let quorum = 2 * ((n - 1) / 3) + 1;
    if status.role == "validator" {
        quorum - 1
    } else {
        1
    }
}

/// Whether a node with `status` is ready at `now` (ms since 1970) when its
/// last block may be at most `block_age_max_ms` old, and the body
/// `/v1/health/ready` answers.
pub(crate) fn health_of(
    status: &Status,
    now: u64,
    block_age_max_ms: u64,
) -> (bool, kp_api::Readiness) {
    let block_age_ms = now.saturating_sub(status.block_time_ms);
    let mut problems = Vec::new();
    if status.catching_up {
        problems.push(format!(
            "catching up: at height {}, whose block is {} s old",
            status.height,
            block_age_ms / 1000
        ));
    } else if block_age_ms > block_age_max_ms {
        problems.push(format!(
            "no block for {} s (height {})",
            block_age_ms / 1000,
            status.height
        ));
    }
    let peers_needed = peers_needed(status);
    if status.peers == 0 && peers_needed > 0 {
        problems.push("no peers".to_string());
    } else if status.peers < peers_needed {
        problems.push(format!(
            "{} peers, fewer than the {peers_needed} a {} of {} validators needs",
            status.peers,
            if status.role == "validator" {
                "validator"
            } else {
                "node"
            },
            status.validators
        ));
    }
    let ok = problems.is_empty();
    let body = kp_api::Readiness {
        ok,
        height: status.height,
        catching_up: status.catching_up,
        peers: status.peers,
        peers_needed,
        block_age_ms,
        block_age_max_ms,
        problems,
    };
    (ok, body)
}

pub(super) async fn genesis(State(state): State<AppState>) -> ApiResult {
    ask(&state, Query::Genesis).await
}

pub(super) async fn openapi_doc() -> Json<serde_json::Value> {
    Json(openapi::document().clone())
}

pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /v1/openapi.json")
}

/// `GET /v1/events`: the node's events from now on, or, with a
/// `Last-Event-ID` header (what a browser's `EventSource` sends when it
/// reconnects) or `?last_event_id=`, from the event after that one.
pub(super) async fn events(
    State(state): State<AppState>,
    axum::extract::Extension(caller): axum::extract::Extension<crate::access::Caller>,
    headers: axum::http::HeaderMap,
    raw: Params,
) -> Result<Response, ApiError> {
    // A Participant sees the events of its own certificates only, as its
    // searches see its own certificates (resolutions, seizures and blocks
    // are everyone's); the operator sees all.
    let own = match &caller.scope {
        Some(crate::access::Scope::Participant(code)) => Some(code.to_string()),
        _ => None,
    };
    let map = params(raw, &["kinds", "last_event_id"])?;
    let last_event_id = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::bad_request("malformed-query", "Last-Event-ID is not text"))?
                .to_string(),
        ),
        None => map.get("last_event_id").cloned(),
    };
    let kinds: Option<Vec<String>> = map
        .get("kinds")
        .map(|k| k.split(',').map(|s| s.trim().to_string()).collect());
    let permit = state.sse.clone().try_acquire_owned().map_err(|_| {
        ApiError::unavailable(format!(
            "{SSE_SUBSCRIBERS_MAX} event streams are open; retry later"
        ))
    })?;
    let source = match last_event_id.as_deref().map(str::trim) {
        Some(last) if !last.is_empty() => state.backend.resume(last),
        _ => state.backend.subscribe(),
    };
    let stream = source.filter_map(move |event| {
        // The permit lives as long as the stream: dropping the connection
        // frees the slot.
        let _held = &permit;
        let mine = |side: &str| event.data[side].as_str() == own.as_deref();
        let visible =
            event.kind != "certificate" || own.is_none() || mine("exporting") || mine("importing");
        let keep = event.kind == "lagged"
            || (visible && kinds.as_ref().is_none_or(|k| k.contains(&event.kind)));
        let out = keep.then(|| {
            // `event:`, `id:`, then `data:`: the fields go out in the order
            // they are set.
            let mut sse = Event::default().event(event.kind.clone());
            // An id with a line break would end the field early (axum
            // refuses it): such an event goes without one.
            if let Some(id) = event
                .id
                .as_deref()
                .filter(|id| !id.contains(['\n', '\r', '\0']))
            {
                sse = sse.id(id);
            }
            Ok::<_, std::convert::Infallible>(sse.data(event.data.to_string()))
        });
        futures::future::ready(out)
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// `GET /metrics`: the node's metrics, then the RPC's, in the OpenMetrics
/// text format.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.backend.metrics();
    state.rpc_metrics.encode(&mut text);
    text.push_str("# EOF\n");
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod health_tests {
    use super::*;

    /// [`health_of`] with its body as JSON, as the probe sees it.
    fn health_json(status: &Status, now: u64, age_max_ms: u64) -> (bool, serde_json::Value) {
        let (ok, body) = health_of(status, now, age_max_ms);
        (ok, serde_json::to_value(body).unwrap())
    }

    const AGE: u64 = crate::HEALTH_BLOCK_AGE_MAX_MS;

    fn following(now: u64) -> Status {
        Status {
            role: "validator".into(),
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
        let (ok, body) = health_json(&following(now), now, AGE);
        assert!(ok, "{body}");
        assert_eq!(body["block_age_ms"], 3_000);
        assert_eq!(body["problems"], serde_json::json!([]));
        // A network of one validator needs no peers.
        let alone = Status {
            peers: 0,
            validators: 1,
            ..following(now)
        };
        assert!(health_json(&alone, now, AGE).0);
    }

    #[test]
    fn catching_up_no_peers_and_no_block_are_each_reported() {
        let now = 1_800_000_000_000;
        let catching_up = Status {
            catching_up: true,
            block_time_ms: now - 86_400_000,
            ..following(now)
        };
        let (ok, body) = health_json(&catching_up, now, AGE);
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
        let (ok, body) = health_json(&stalled, now, AGE);
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
        let (ok, body) = health_json(&cut_off, now, AGE);
        assert!(!ok);
        assert_eq!(body["problems"], serde_json::json!(["no peers"]));
    }

    #[test]
    fn a_validator_needs_peers_for_a_quorum_and_an_observer_one() {
        let now = 1_800_000_000_000;
        // 7 validators: f = 2, quorum 5, so 4 peers besides itself.
        let seven = |peers, role: &str| Status {
            peers,
            validators: 7,
            role: role.into(),
            ..following(now)
        };
        assert!(health_json(&seven(4, "validator"), now, AGE).0);
        let (ok, body) = health_json(&seven(3, "validator"), now, AGE);
        assert!(!ok);
        assert_eq!(
            body["problems"],
            serde_json::json!(["3 peers, fewer than the 4 a validator of 7 validators needs"])
        );
        assert_eq!(body["peers_needed"], 4);
        assert!(health_json(&seven(1, "observer"), now, AGE).0);
        assert!(!health_json(&seven(0, "observer"), now, AGE).0);
    }

    #[test]
    fn the_block_age_bound_is_the_nodes() {
        let now = 1_800_000_000_000;
        let ten_s_old = Status {
            block_time_ms: now - 10_000,
            ..following(now)
        };
        assert!(health_json(&ten_s_old, now, AGE).0);
        let (ok, body) = health_json(&ten_s_old, now, 5_000);
        assert!(!ok);
        assert_eq!(body["block_age_max_ms"], 5_000);
        assert!(
            body["problems"][0]
                .as_str()
                .unwrap()
                .starts_with("no block for 10 s"),
            "{body}"
        );
    }
}
