//! The RPC's own metrics: how long each route takes to answer, by method,
//! route template and status (`kpledger_rpc_request_duration_seconds`).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Instant;

/// One route's answers: its labels are bounded (the router's templates,
/// HTTP methods and statuses), never a raw path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
    status: String,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The RPC's registry.
pub(crate) struct RpcMetrics {
    registry: Registry,
    latencies: Latencies,
}

impl RpcMetrics {
    pub(crate) fn new() -> RpcMetrics {
        let mut registry = Registry::with_prefix("kpledger_rpc");
        let latencies: Latencies = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time to answer a request (to the response's head for event streams)",
            Unit::Seconds,
            latencies.clone(),
        );
        RpcMetrics {
            registry,
            latencies,
        }
    }

    /// Appends the RPC's metrics to `out`.
    pub(crate) fn encode(&self, out: &mut String) {
        if prometheus_client::encoding::text::encode_registry(out, &self.registry).is_err() {
            out.push_str("# the RPC's metrics could not be encoded\n");
        }
    }
}

/// Times every request that reached a route (or the fallback).
pub(super) async fn time_request(
    State(metrics): State<Arc<RpcMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .latencies
        .get_or_create(&RouteLabels {
            method,
            route,
            status: response.status().as_u16().to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}
