//! Per-request plumbing: a request id (span field + `X-Request-Id`), the request metrics, and
//! an access-log line for the requests an operator needs to see (`OPENTRUSTY_ACCESS_LOG`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};
use tracing::Instrument;

use crate::config::AccessLog;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, available to handlers as an extension.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The route template that matched (`/t/{tenant}/token`), carried on the response so the
/// outer layer can label logs and metrics without high-cardinality paths. `MatchedPath` is a
/// shared string: carrying it allocates nothing.
#[derive(Clone, Debug)]
struct RouteLabel(MatchedPath);

/// What `observe` needs to know about its listener and the log settings.
#[derive(Clone)]
pub struct Observe {
    /// The admin plane: its client errors are logged too (someone probing management calls).
    pub admin: bool,
    pub level: AccessLog,
    pub slow: Duration,
    pub metrics: Arc<RequestMetrics>,
}

impl Observe {
    /// With `errors` (the default) only what an operator acts on gets a line: server errors,
    /// client errors on the admin plane, and slow requests. Audit events and internal errors
    /// are logged where they happen, whatever this says.
    fn wants_line(&self, status: StatusCode, latency: Duration) -> bool {
        match self.level {
            AccessLog::All => true,
            AccessLog::Off => false,
            AccessLog::Errors => {
                status.is_server_error()
                    || (self.admin && status.is_client_error())
                    || latency >= self.slow
            }
        }
    }
}

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

pub async fn observe(State(o): State<Observe>, mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let method = req.method().clone();
    let header = HeaderValue::from_str(&id).ok();
    let span = tracing::info_span!("request", request_id = %id);
    req.extensions_mut().insert(RequestId(id));
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let latency = started.elapsed();
    let route = res
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |r| r.0.as_str());
    let status = res.status();
    o.metrics.record(route, status.as_u16(), latency);
    if o.wants_line(status, latency) {
        span.in_scope(|| {
            let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            if status.is_server_error() {
                tracing::warn!(http_method = %method, http_route = %route, http_status = status.as_u16(), latency_us, "request");
            } else {
                tracing::info!(http_method = %method, http_route = %route, http_status = status.as_u16(), latency_us, "request");
            }
        });
    }
    if let Some(v) = header {
        res.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    res
}

/// Route layer: runs only for matched routes and records the template.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let label = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if let Some(label) = label {
        res.extensions_mut().insert(RouteLabel(label));
    }
    res
}

/// The request counter and latency histogram per (route, status), registered once each: the
/// label strings are built on a pair's first request only, not on every request. Bounded:
/// routes are templates and statuses a few dozen.
#[derive(Default)]
pub struct RequestMetrics {
    by_route: RwLock<HashMap<Box<str>, Vec<StatusMetrics>>>,
}

/// The handles of one (route, status) pair.
type StatusMetrics = (u16, Counter, Histogram);

impl RequestMetrics {
    pub fn record(&self, route: &str, status: u16, latency: Duration) {
        let secs = latency.as_secs_f64();
        if let Ok(map) = self.by_route.read()
            && let Some((_, count, hist)) = map
                .get(route)
                .and_then(|v| v.iter().find(|(s, _, _)| *s == status))
        {
            count.increment(1);
            hist.record(secs);
            return;
        }
        let labels = [("route", route.to_owned()), ("status", status.to_string())];
        let count = metrics::counter!("opentrusty_http_requests_total", &labels);
        let hist = metrics::histogram!("opentrusty_http_request_duration_seconds", &labels);
        count.increment(1);
        hist.record(secs);
        if let Ok(mut map) = self.by_route.write() {
            let entries = map.entry(route.into()).or_default();
            if !entries.iter().any(|(s, _, _)| *s == status) {
                entries.push((status, count, hist));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe(level: AccessLog, admin: bool) -> Observe {
        Observe {
            admin,
            level,
            slow: Duration::from_secs(1),
            metrics: Default::default(),
        }
    }

    #[test]
    fn errors_level_logs_only_what_an_operator_needs() {
        let fast = Duration::from_millis(2);
        let slow = Duration::from_secs(2);
        let auth = observe(AccessLog::Errors, false);
        assert!(!auth.wants_line(StatusCode::OK, fast));
        assert!(!auth.wants_line(StatusCode::BAD_REQUEST, fast));
        assert!(auth.wants_line(StatusCode::INTERNAL_SERVER_ERROR, fast));
        assert!(auth.wants_line(StatusCode::SERVICE_UNAVAILABLE, fast));
        assert!(auth.wants_line(StatusCode::OK, slow));
        let admin = observe(AccessLog::Errors, true);
        assert!(admin.wants_line(StatusCode::NOT_FOUND, fast));
        assert!(!admin.wants_line(StatusCode::OK, fast));
        assert!(observe(AccessLog::All, false).wants_line(StatusCode::OK, fast));
        assert!(!observe(AccessLog::Off, true).wants_line(StatusCode::INTERNAL_SERVER_ERROR, slow));
    }
}
