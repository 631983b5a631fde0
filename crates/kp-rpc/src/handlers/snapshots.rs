//! State snapshots for late joiners (ADR 0016): `GET /v1/snapshots` lists
//! them, and their manifests and chunks are served as the bytes the node
//! stored. Operator scope, as whole blocks: a snapshot holds every record
//! in full. A joiner trusts none of it: it checks every chunk against the
//! manifest and the whole against a header it verified.

use super::AppState;
use crate::ApiError;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub(super) async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let backend = state.backend.clone();
    let list = tokio::task::spawn_blocking(move || backend.snapshots())
        .await
        .map_err(|e| ApiError::internal(format!("snapshot listing failed: {e}")))?;
    Ok(Json(list).into_response())
}

fn height_of(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request("malformed-height", "a height is a whole number"))
}

async fn bytes(state: &AppState, height: u64, chunk: Option<u32>) -> Result<Response, ApiError> {
    let backend = state.backend.clone();
    let found = tokio::task::spawn_blocking(move || backend.snapshot_bytes(height, chunk))
        .await
        .map_err(|e| ApiError::internal(format!("snapshot read failed: {e}")))?;
    let Some(body) = found else {
        return Err(ApiError::not_found(match chunk {
            None => format!("no snapshot of height {height} here; see /v1/snapshots"),
            Some(i) => format!("no chunk {i} of a snapshot of height {height} here"),
        }));
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

pub(super) async fn manifest(
    State(state): State<AppState>,
    Path(height): Path<String>,
) -> Result<Response, ApiError> {
    bytes(&state, height_of(&height)?, None).await
}

pub(super) async fn chunk(
    State(state): State<AppState>,
    Path((height, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let index: u32 = index
        .parse()
        .map_err(|_| ApiError::bad_request("malformed-chunk", "a chunk index is a whole number"))?;
    bytes(&state, height_of(&height)?, Some(index)).await
}
