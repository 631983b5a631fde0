//! The web pages (crate `kp-web`): `/` and the files under `/web/`. They
//! hold no ledger data, so they need no scope; what a page shows comes from
//! the `/v1` routes, each with its own scope.

use crate::ApiError;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `GET /`: the certificate check page.
pub(super) async fn index(headers: HeaderMap) -> Response {
    match kp_web::asset(kp_web::INDEX) {
        Some(asset) => serve(asset, &headers),
        None => ApiError::not_found("this node was built without its web pages").into_response(),
    }
}

/// `GET /web/{file}`: one of the pages' files.
pub(super) async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match kp_web::asset(&path) {
        Some(asset) => serve(asset, &headers),
        None => ApiError::not_found(format!("no page file {path:?}")).into_response(),
    }
}

fn serve(asset: &'static kp_web::Asset, request: &HeaderMap) -> Response {
    let etag = asset.etag();
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.bytes.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    // Revalidate every time: a node upgrade must never leave an old
    // verifier in a border post's cache. The ETag keeps that cheap.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(kp_web::CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}
