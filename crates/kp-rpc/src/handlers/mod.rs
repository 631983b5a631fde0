//! The router: every endpoint and its handler, the in-flight limit, and
//! what the handlers share (state, the query hand-off, query parameters).

mod node;
mod paper;
mod reads;
mod snapshots;
mod submission;
mod timing;
mod web;

use crate::access::{self, AccessPolicy, Anonymous, Caller, Need};
use crate::{
    ApiError, Backend, JsonBody, Query, BODY_BYTES_MAX, REQUESTS_IN_FLIGHT_MAX, SSE_SUBSCRIBERS_MAX,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query as QueryParams, Request, State};
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
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use submission::{submit, submit_batch};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

#[derive(Clone)]
struct AppState {
    backend: Arc<dyn Backend>,
    sse: Arc<Semaphore>,
    access: Arc<AccessPolicy>,
    limiter: Option<Arc<Limiter>>,
    rpc_metrics: Arc<timing::RpcMetrics>,
}

/// Keyed GCRA limiter: one cell bucket per token id or client address.
type Limiter = governor::DefaultKeyedRateLimiter<String>;

/// Requests between two sweeps of the limiter's idle clients.
const LIMITER_SWEEP_EVERY: u64 = 4096;
/// Clients the limiter tracks at most; past it, an unknown client shares
/// one bucket with every other unknown one until the sweep frees room.
const LIMITER_CLIENTS_MAX: usize = 100_000;

/// The router of every endpoint, with the node's access policy: which
/// scope each route needs is decided here, beside the route.
pub fn router(backend: Arc<dyn Backend>, access: Arc<AccessPolicy>) -> Router {
    let limiter = access.rate.map(|rate| {
        let per_second = NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        Arc::new(governor::RateLimiter::keyed(
            governor::Quota::per_second(per_second).allow_burst(burst),
        ))
    });
    let state = AppState {
        backend,
        sse: Arc::new(Semaphore::new(SSE_SUBSCRIBERS_MAX)),
        access,
        limiter,
        rpc_metrics: Arc::new(timing::RpcMetrics::new()),
    };
    let in_flight = Arc::new(Semaphore::new(REQUESTS_IN_FLIGHT_MAX));
    // Public: what anyone the node serves may call. Signed writes are safe
    // to take from anyone; the handlers of a certificate and of statistics
    // show a public caller the public view.
    let public = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/health", get(health))
        .route("/v1/health/live", get(live))
        .route("/v1/health/ready", get(health))
        .route("/v1/genesis", get(genesis))
        .route("/v1/openapi.json", get(openapi_doc))
        .route("/v1/txs", post(submit))
        .route("/v1/txs/batch", post(submit_batch))
        .route("/v1/certificates/{number}", get(certificate))
        .route("/v1/certificates/{number}/proof", get(certificate_proof))
        .route(
            "/v1/certificates/{number}/qr.svg",
            get(paper::certificate_qr),
        )
        .route("/v1/light/blocks/{height}", get(light_block))
        .route("/v1/participants", get(participants))
        .route("/v1/participants/{code}", get(participant))
        .route("/v1/participants/{code}/proof", get(participant_proof))
        .route("/v1/resolutions/{id}/proof", get(resolution_proof))
        .route("/v1/statistics/{code}", get(statistics))
        .route_layer(middleware::from_fn(need_public));
    // Participant: a transaction's outcome (its body to the operator
    // only), searches over its own certificates, events, resolutions in
    // progress, seizures, anomalies that name it.
    let participant = Router::new()
        .route("/v1/txs/{hash}", get(transaction))
        .route("/v1/certificates", get(certificates))
        .route("/v1/resolutions", get(resolutions))
        .route("/v1/resolutions/{id}", get(resolution))
        .route("/v1/seizures", get(seizures))
        .route("/v1/anomalies", get(anomalies))
        .route("/v1/events", get(events))
        .route_layer(middleware::from_fn(need_participant));
    // Operator: whole blocks hold every Participant's certificates in full.
    let operator = Router::new()
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/blocks/by-hash/{hash}", get(block_by_hash))
        .route("/v1/snapshots", get(snapshots::list))
        .route("/v1/snapshots/{height}/manifest", get(snapshots::manifest))
        .route(
            "/v1/snapshots/{height}/chunks/{index}",
            get(snapshots::chunk),
        )
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn(need_operator));
    // The web pages: static files with no ledger data, so no scope.
    let pages = Router::new()
        .route("/", get(web::index))
        .route("/web/{*path}", get(web::file));
    Router::new()
        .merge(pages)
        .merge(public)
        .merge(participant)
        .merge(operator)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(in_flight, limit_in_flight))
        // Outermost: every answer is timed, refusals of access control
        // (401, 403, 429) and of the in-flight limit (503) included.
        .layer(middleware::from_fn_with_state(
            state.rpc_metrics.clone(),
            timing::time_request,
        ))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves: plain HTTP, or
/// HTTPS with `tls`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    backend: Arc<dyn Backend>,
    access: Arc<AccessPolicy>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(backend, access);
    match tls {
        None => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        Some(config) => serve_tls(listener, app, config, shutdown).await,
    }
}

/// TLS connections served at once; more are closed at once.
const TLS_CONNECTIONS_MAX: usize = 1024;
/// Time a client has to send its first byte and finish the handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time open connections get to finish after shutdown (event streams never do).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    config: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(TLS_CONNECTIONS_MAX));
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "RPC accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let mut first = [0u8; 1];
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
                // 0x16: a TLS handshake record.
                Ok(Ok(1)) if first[0] == 0x16 => {}
                Ok(Ok(1)) => {
                    let mut stream = stream;
                    let _ = stream.write_all(&crate::tls::plain_http_answer()).await;
                    let _ = stream.shutdown().await;
                    return;
                }
                _ => return,
            }
            let tls =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            // The client's certificate, if it showed one the client CA signed.
            let client_certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|der| ClientCertificate(Arc::from(der.as_ref())));
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    if let Some(certificate) = &client_certificate {
                        request.extensions_mut().insert(certificate.clone());
                    }
                    tower::ServiceExt::oneshot(app.clone(), request)
                },
            );
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let connection =
                builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service);
            let _ = watcher.watch(connection.into_owned()).await;
        });
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

/// Finds out who calls: the bearer token's scope, or what anonymous
/// callers get; refuses a token the node does not know, and a client over
/// its rate.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let caller = match caller_of(&state.access, &request) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let Some(limiter) = &state.limiter {
        let key = match &caller.token {
            Some(id) => format!("token:{id}"),
            None => request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| client_key(addr.ip()))
                .unwrap_or_else(|| "ip:unknown".to_string()),
        };
        if let Err(wait) = rate_check(limiter, key, request.uri().path()) {
            return rate_limited(wait);
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The DER encoding of the certificate a TLS client authenticated with.
#[derive(Clone, Debug)]
struct ClientCertificate(Arc<[u8]>);

fn caller_of(access: &AccessPolicy, request: &Request) -> Result<Caller, ApiError> {
    let header = request.headers().get(axum::http::header::AUTHORIZATION);
    if let (None, Some(ClientCertificate(der))) =
        (header, request.extensions().get::<ClientCertificate>())
    {
        let (id, scope) = access.tokens.verify_certificate(der).ok_or_else(|| {
            access::unauthenticated(
                "this TLS client certificate is not registered on this node; ask the node's \
                 operator to register it (kpledger rpc token create --client-cert)",
            )
        })?;
        return Ok(Caller {
            scope: Some(scope),
            token: Some(id),
        });
    }
    let Some(value) = header else {
        return Ok(Caller {
            scope: match &access.anonymous {
                Anonymous::None => None,
                Anonymous::Scope(scope) => Some(scope.clone()),
            },
            token: None,
        });
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        // The scheme's name is case-insensitive (RFC 9110, 11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            access::unauthenticated(
                "the Authorization header must be `Bearer <token>` with a token this node's operator issued",
            )
        })?;
    let (id, scope) = access.tokens.verify(token).ok_or_else(|| {
        access::unauthenticated(
            "this bearer token is not one this node issued, or it was revoked; ask the node's \
             operator for a token (kpledger rpc token create)",
        )
    })?;
    Ok(Caller {
        scope: Some(scope),
        token: Some(id),
    })
}

/// The rate key of a client without a token: its IPv4 address, or the /64
/// of its IPv6 address (one host commonly holds a whole /64).
fn client_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => format!("ip:{v4}"),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

static LIMITER_CALLS: AtomicU64 = AtomicU64::new(0);

/// Takes the request's cost from the client's allowance, or says how long
/// until it can be taken.
fn rate_check(limiter: &Limiter, key: String, path: &str) -> Result<(), Duration> {
    let calls = LIMITER_CALLS.fetch_add(1, Ordering::Relaxed);
    if calls.is_multiple_of(LIMITER_SWEEP_EVERY) || limiter.len() >= LIMITER_CLIENTS_MAX {
        limiter.retain_recent();
    }
    // Past the bound (clients within one refill window), every client
    // shares one allowance until the sweep frees room: memory stays bounded.
    let key = if limiter.len() >= LIMITER_CLIENTS_MAX {
        "overflow".to_string()
    } else {
        key
    };
    // A certificate search reads up to the scan cap: it costs more.
    let cost = if path == "/v1/certificates" {
        access::SEARCH_COST
    } else {
        1
    };
    let cost = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
    let wait = match limiter.check_key_n(&key, cost) {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(not_until)) => {
            use governor::clock::Clock;
            not_until.wait_time_from(governor::clock::DefaultClock::default().now())
        }
        // More than the burst: never allowed (the config keeps the burst at
        // least the cost of a search).
        Err(_) => Duration::from_secs(1),
    };
    Err(wait)
}

/// `429 rate-limited` with `Retry-After`.
fn rate_limited(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(
        429,
        "rate-limited",
        format!(
            "this client sent more requests than the node's per-client rate ([rpc] \
             rate_per_second, rate_burst) allows; retry in {seconds} s"
        ),
    )
    .into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(seconds.max(1)),
    );
    response
}

async fn need(need: Need, request: Request, next: Next) -> Response {
    let allowed = request
        .extensions()
        .get::<Caller>()
        .map(|caller| caller.require(need).map(|_| ()))
        .unwrap_or_else(|| {
            Err(ApiError::internal(
                "no caller: authentication layer missing",
            ))
        });
    match allowed {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn need_public(request: Request, next: Next) -> Response {
    need(Need::Public, request, next).await
}

async fn need_participant(request: Request, next: Next) -> Response {
    need(Need::Participant, request, next).await
}

async fn need_operator(request: Request, next: Next) -> Response {
    need(Need::Operator, request, next).await
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
