//! The router: every endpoint and its handler, the in-flight limit, and
//! what the handlers share (state, the query hand-off, query parameters).

mod node;
mod reads;
mod submission;

use crate::{
    ApiError, Backend, JsonBody, Query, BODY_BYTES_MAX, REQUESTS_IN_FLIGHT_MAX, SSE_SUBSCRIBERS_MAX,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query as QueryParams, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use node::{events, genesis, health, live, metrics, not_found, openapi_doc, status};
use reads::{
    anomalies, block, block_by_hash, certificate, certificate_proof, certificates, light_block,
    participant, participant_proof, participants, resolution, resolution_proof, resolutions,
    seizures, statistics, transaction,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use submission::{submit, submit_batch};
use tokio::sync::Semaphore;

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
        .route("/v1/health/live", get(live))
        .route("/v1/health/ready", get(health))
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
