//! The reads: blocks, transactions, certificates, Participants,
//! resolutions, seizures, statistics and anomalies, with their proofs; path
//! and query parameters parsed into a [`Query`] for the node.

use super::{ask, params, ApiResult, AppState, Params};
use crate::access::{self, Caller, Scope};
use crate::{ApiError, CertificateFilter, JsonBody, Query, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use axum::extract::{Path, State};
use axum::Extension;
use kp_types::{AuthorityId, CertificateNumber, Hash, ParticipantCode, Period};
use serde_json::Value;
use std::collections::BTreeMap;

fn parse_hash(text: &str, what: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(text)
        .ok_or_else(|| ApiError::bad_request("malformed-hash", format!("{what} is 64 hex digits")))
}

fn parse_number(text: &str) -> Result<CertificateNumber, ApiError> {
    CertificateNumber::new(text)
        .map_err(|e| ApiError::bad_request("malformed-number", e.to_string()))
}

fn parse_code(text: &str) -> Result<ParticipantCode, ApiError> {
    ParticipantCode::new(text).map_err(|e| ApiError::bad_request("malformed-code", e.to_string()))
}

fn parse_authority(text: &str) -> Result<AuthorityId, ApiError> {
    AuthorityId::new(text).map_err(|e| ApiError::bad_request("malformed-authority", e.to_string()))
}

fn parse_period(text: &str) -> Result<Period, ApiError> {
    text.parse::<Period>()
        .ok()
        .filter(|p| p.is_valid())
        .ok_or_else(|| {
            ApiError::bad_request(
                "malformed-period",
                format!(
                    "period {text:?}: write a quarter 2026Q1, a half-year 2026H1 or a year 2026"
                ),
            )
        })
}

fn page_limit(map: &BTreeMap<String, String>) -> Result<usize, ApiError> {
    let Some(text) = map.get("limit") else {
        return Ok(PAGE_LIMIT_DEFAULT);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=PAGE_LIMIT_MAX).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(
            "page-limit",
            format!("limit must be a whole number from 1 to {PAGE_LIMIT_MAX}"),
        )),
    }
}

/// A decided transaction: where it is and its outcome; its body (a whole
/// certificate, say) only to the operator, since a Participant reads other
/// Participants' certificates in full only through their own tokens.
pub(super) async fn transaction(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(hash): Path<String>,
) -> ApiResult {
    let hash = parse_hash(&hash, "a transaction hash")?;
    let answer = ask(&state, Query::Transaction(hash)).await?;
    if caller.scope == Some(Scope::Operator) {
        return Ok(answer);
    }
    let mut value = answer.to_value()?;
    if let Some(fields) = value.as_object_mut() {
        fields.remove("tx");
    }
    JsonBody::new(&value)
}

pub(super) async fn block(State(state): State<AppState>, Path(height): Path<String>) -> ApiResult {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad_request("malformed-height", "a height is a whole number"))?;
    ask(&state, Query::Block(height)).await
}

pub(super) async fn block_by_hash(
    State(state): State<AppState>,
    Path(hash): Path<String>,
) -> ApiResult {
    let hash = parse_hash(&hash, "a block hash")?;
    ask(&state, Query::BlockByHash(hash)).await
}

/// A certificate by its exact number: in full for its exporting or
/// importing Participant (and the operator); for anyone else the public
/// view, which verifies it without its shipment's details.
pub(super) async fn certificate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(number): Path<String>,
) -> ApiResult {
    let answer = ask(&state, Query::Certificate(parse_number(&number)?)).await?;
    let scope = caller.scope_or_public();
    if scope == Scope::Operator {
        return Ok(answer);
    }
    let full: kp_api::CertificateAnswer = answer.decode()?;
    let certificate = &full.record.certificate;
    if scope.sees_all_of(&certificate.exporting) || scope.sees_all_of(&certificate.importing) {
        return Ok(answer);
    }
    JsonBody::new(&public_certificate(full))
}

/// The public view of a certificate answer: who, when, status, alerts;
/// not the parties, parcels, carats or values.
fn public_certificate(full: kp_api::CertificateAnswer) -> kp_api::PublicCertificateAnswer {
    let record = full.record;
    let certificate = record.certificate;
    kp_api::PublicCertificateAnswer {
        view: kp_api::View::Public,
        certificate: kp_api::PublicCertificate {
            number: certificate.number,
            exporting: certificate.exporting,
            importing: certificate.importing,
            issuing_authority: certificate.issuing_authority,
            issued_on: certificate.issued_on,
            expires_on: certificate.expires_on,
        },
        status: record.status,
        issued_at: record.issued_at,
        alerts: full.alerts,
    }
}

pub(super) async fn light_block(
    State(state): State<AppState>,
    Path(height): Path<String>,
) -> ApiResult {
    let height = match height.as_str() {
        "latest" => None,
        text => Some(text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "malformed-height",
                "a height is a whole number, or \"latest\"",
            )
        })?),
    };
    ask(&state, Query::LightBlock(height)).await
}

pub(super) async fn certificate_proof(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> ApiResult {
    ask(&state, Query::CertificateProof(parse_number(&number)?)).await
}

const CERTIFICATE_STATUSES: [&str; 6] = [
    "awaiting-approval",
    "issued",
    "confirmed",
    "voided",
    "expired",
    "seized",
];

pub(super) async fn certificates(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    raw: Params,
) -> ApiResult {
    let map = params(
        raw,
        &[
            "exporting",
            "importing",
            "monitor",
            "authority",
            "status",
            "period",
            "after",
            "limit",
        ],
    )?;
    let status = match map.get("status") {
        Some(s) if CERTIFICATE_STATUSES.contains(&s.as_str()) => Some(s.clone()),
        Some(s) => {
            return Err(ApiError::bad_request(
                "malformed-status",
                format!("status {s:?} is not one of {CERTIFICATE_STATUSES:?}"),
            ))
        }
        None => None,
    };
    let filter = CertificateFilter {
        exporting: map.get("exporting").map(|c| parse_code(c)).transpose()?,
        importing: map.get("importing").map(|c| parse_code(c)).transpose()?,
        monitor: map.get("monitor").map(|c| parse_code(c)).transpose()?,
        authority: map
            .get("authority")
            .map(|a| parse_authority(a))
            .transpose()?,
        status,
        period: map.get("period").map(|p| parse_period(p)).transpose()?,
        after: map.get("after").map(|n| parse_number(n)).transpose()?,
        limit: page_limit(&map)?,
        scan_max: state.access.search_scan_max,
    };
    // A Participant searches its own certificates: those it exports,
    // imports, or must approve as the monitoring body.
    if let Some(Scope::Participant(own)) = &caller.scope {
        let own_side = [&filter.exporting, &filter.importing, &filter.monitor]
            .into_iter()
            .any(|side| side.as_ref() == Some(own));
        if !own_side {
            return Err(access::forbidden(format!(
                "a participant:{own} token searches {own}'s own certificates: add exporting={own}, \
                 importing={own} or monitor={own} (scope operator searches them all)"
            )));
        }
    }
    ask(&state, Query::Certificates(filter)).await
}

pub(super) async fn participants(State(state): State<AppState>) -> ApiResult {
    ask(&state, Query::Participants).await
}

pub(super) async fn participant(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult {
    ask(&state, Query::Participant(parse_code(&code)?)).await
}

pub(super) async fn participant_proof(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult {
    ask(&state, Query::ParticipantProof(parse_code(&code)?)).await
}

pub(super) async fn resolution_proof(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_hash(&id, "a resolution id")?;
    ask(&state, Query::ResolutionProof(id)).await
}

pub(super) async fn resolutions(State(state): State<AppState>, raw: Params) -> ApiResult {
    let map = params(raw, &["pending", "after", "limit"])?;
    let pending_only = match map.get("pending").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "malformed-query",
                format!("pending must be true or false, not {other:?}"),
            ))
        }
    };
    let after = map
        .get("after")
        .map(|h| parse_hash(h, "a resolution id"))
        .transpose()?;
    let limit = page_limit(&map)?;
    ask(
        &state,
        Query::Resolutions {
            pending_only,
            after,
            limit,
        },
    )
    .await
}

pub(super) async fn resolution(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    ask(
        &state,
        Query::Resolution(parse_hash(&id, "a resolution id")?),
    )
    .await
}

pub(super) async fn seizures(State(state): State<AppState>, raw: Params) -> ApiResult {
    let map = params(raw, &["limit"])?;
    let limit = page_limit(&map)?;
    ask(&state, Query::Seizures { limit }).await
}

/// A member's statistics: in full (by partner, by HS code, any period)
/// for that member and the operator; for anyone else what the KP
/// publishes: totals per period of the published granularity
/// (`[rpc] public_statistics`, half-years by default) or coarser.
pub(super) async fn statistics(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    raw: Params,
) -> ApiResult {
    let map = params(raw, &["period"])?;
    let participant = parse_code(&code)?;
    let full = caller.scope_or_public().sees_all_of(&participant);
    let granularity = state.access.public_statistics;
    let period = match map.get("period") {
        Some(p) => parse_period(p)?,
        None if full => current_quarter(&state),
        None => granularity.containing(current_date(&state)),
    };
    if !full && !granularity.allows(&period) {
        return Err(access::forbidden(format!(
            "statistics of {participant} are published per {granularity} or year: ask for \
             {} or a year; {period} and per-partner figures need scope participant:{participant}",
            granularity.containing(first_day(period)),
        )));
    }
    let answer = ask(
        &state,
        Query::Statistics {
            participant,
            period,
        },
    )
    .await?;
    if full {
        return Ok(answer);
    }
    let full: kp_api::StatisticsAnswer = answer.decode()?;
    JsonBody::new(&kp_api::PublishedStatisticsAnswer {
        view: kp_api::View::Published,
        participant: full.participant,
        period: full.period,
        statistics: kp_api::PublishedStatistics {
            exports: full.statistics.exports,
            imports: full.statistics.imports,
            production: full.statistics.production,
        },
    })
}

/// The first day of `period`.
fn first_day(period: Period) -> kp_types::Date {
    let (year, month) = match period {
        Period::Year(year) => (year, 1),
        Period::Half(year, half) => (year, u32::from(half.saturating_sub(1)) * 6 + 1),
        Period::Quarter(year, quarter) => (year, u32::from(quarter.saturating_sub(1)) * 3 + 1),
    };
    kp_types::Date::from_ymd(year, month, 1).unwrap_or(kp_types::Date(0))
}

/// Anomalies name pairs of Participants: a Participant sees those that
/// name it, the operator all of them.
pub(super) async fn anomalies(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    raw: Params,
) -> ApiResult {
    let map = params(raw, &["period"])?;
    let period = match map.get("period") {
        Some(p) => parse_period(p)?,
        None => current_quarter(&state),
    };
    let answer = ask(&state, Query::Anomalies { period }).await?;
    let Some(Scope::Participant(own)) = &caller.scope else {
        return Ok(answer);
    };
    let mut value = answer.to_value()?;
    if let Some(items) = value["items"].as_array_mut() {
        items.retain(|item| names(item, own.as_str(), 4));
    }
    JsonBody::new(&value)
}

/// Whether `value` holds the string `code` within `depth` levels.
fn names(value: &Value, code: &str, depth: u8) -> bool {
    match value {
        Value::String(s) => s == code,
        _ if depth == 0 => false,
        Value::Array(items) => items.iter().any(|v| names(v, code, depth - 1)),
        Value::Object(fields) => fields.values().any(|v| names(v, code, depth - 1)),
        _ => false,
    }
}

/// The date of the last block (the ledger's clock, not this machine's).
fn current_date(state: &AppState) -> kp_types::Date {
    state
        .backend
        .status()
        .block_time
        .parse::<kp_types::Timestamp>()
        .map(|t| t.date())
        .unwrap_or(kp_types::Date(0))
}

/// The quarter of the last block's time (the ledger's clock, not this
/// machine's).
fn current_quarter(state: &AppState) -> Period {
    let status = state.backend.status();
    status
        .block_time
        .parse::<kp_types::Timestamp>()
        .map(|t| Period::quarter_of(t.date()))
        .unwrap_or_else(|_| Period::quarter_of(kp_types::Date(0)))
}
