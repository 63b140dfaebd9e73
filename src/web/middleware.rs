//! Per-request plumbing: a request id (span field + `X-Request-Id`), one access-log event with
//! method, route, status and latency, and the request metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, available to handlers as an extension.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The route template that matched (`/t/{tenant}/token`), carried on the response so the
/// outer layer can label logs and metrics without high-cardinality paths.
#[derive(Clone, Debug)]
struct RouteLabel(String);

/// Accepts a caller's id (from a proxy) only if it is short and plain, else makes a new one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string())
}

pub async fn observe(mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let method = req.method().clone();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let latency = started.elapsed();
    let route = res
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_owned();
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            http_method = %method,
            http_route = %route,
            http_status = status,
            latency_us = latency.as_micros() as u64,
            "request"
        );
    });
    let labels = [("route", route), ("status", status.to_string())];
    metrics::counter!("opentrusty_http_requests_total", &labels).increment(1);
    metrics::histogram!("opentrusty_http_request_duration_seconds", &labels)
        .record(latency.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    res
}

/// Route layer: runs only for matched routes and records the template.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let label = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut res = next.run(req).await;
    if let Some(label) = label {
        res.extensions_mut().insert(RouteLabel(label));
    }
    res
}
