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

pub(super) async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let status = state.backend.status();
    Json(serde_json::json!({ "ok": true, "height": status.height }))
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
