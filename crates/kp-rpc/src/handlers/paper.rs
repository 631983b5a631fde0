//! The printed certificate's QR code (ADR 0013): `GET
//! /v1/certificates/{number}/qr.svg`, an SVG of the text
//! [`kp_api::paper::PaperCode`] makes: chain id, number and the digest of
//! the certificate as its authority signed it. Public: the code reveals
//! nothing the number does not, as the digest covers the salted sealed
//! fields. The check page verifies the digest against the certificate it
//! proves; the node's word is not taken for it.

use super::{ask, AppState};
use crate::{ApiError, Query};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use kp_api::paper::PaperCode;
use kp_types::{Certificate, CertificateNumber};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The SVG of `text` as a QR code (error correction M: a crumpled or
/// smudged paper still reads), at least 240 pixels wide with its quiet zone.
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| ApiError::internal(format!("cannot make the QR code: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

pub(super) async fn certificate_qr(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let number = CertificateNumber::new(&number)
        .map_err(|e| ApiError::bad_request("malformed-number", e.to_string()))?;
    let answer = ask(&state, Query::Certificate(number)).await?.to_value()?;
    let certificate: Certificate = serde_json::from_value(answer["certificate"].clone())
        .map_err(|e| ApiError::internal(format!("the certificate record does not decode: {e}")))?;
    let genesis = ask(&state, Query::Genesis).await?.to_value()?;
    let chain_id = genesis["chain_id"]
        .as_str()
        .ok_or_else(|| ApiError::internal("the genesis has no chain id"))?;
    let svg = qr_svg(&PaperCode::of(chain_id, &certificate).text())?;
    let mut response = svg.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    // A certificate never changes once issued, but a node may be upgraded:
    // revalidate, as the pages do.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
