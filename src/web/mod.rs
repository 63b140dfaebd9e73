//! HTTP transport (axum on hyper's HTTP/1 server, see `conn`): router assembly per plane, and
//! the layers every request passes through — request id and access log, metrics, timeout, body
//! limit, JSON 404.

pub mod api;
pub mod conn;
pub mod console;
pub mod error;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod ui;

use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use crate::systemd::Plane;

/// Largest request body accepted anywhere (forms and JSON are small in this protocol).
pub const BODY_LIMIT: usize = 64 * 1024;
/// A request that takes longer than this gets 408 instead of holding a worker.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The peer's address as the socket saw it (`None` on unix sockets). Whether to believe
/// `X-Forwarded-For` instead is decided elsewhere, from the trusted-proxy list. Handlers read it
/// as `ConnectInfo<PeerAddr>`, which `conn` inserts into every request.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub Option<IpAddr>);

/// Serves one listener on `set` until `stop` turns true: the listener then stops accepting
/// and its connections drain (the caller bounds how long it waits for `set`).
pub fn serve(
    set: &mut tokio::task::JoinSet<std::io::Result<()>>,
    app: AppState,
    listener: crate::systemd::Listener,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = conn::Limits::from_config(&app.config.http);
    let plane = listener.plane;
    let router = router(app, plane);
    match listener.socket {
        crate::systemd::Socket::Tcp(std) => {
            let l = tokio::net::TcpListener::from_std(std)?;
            set.spawn(conn::serve(l, router, limits, plane, stop));
        }
        crate::systemd::Socket::Unix(std) => {
            let l = tokio::net::UnixListener::from_std(std)?;
            set.spawn(conn::serve(l, router, limits, plane, stop));
        }
    }
    Ok(())
}

/// The router for one listener: health on every plane, the rest by plane.
pub fn router(app: AppState, plane: Plane) -> Router {
    let observe = middleware::Observe {
        admin: plane == Plane::Admin,
        level: app.config.http.access_log,
        slow: app.config.http.slow_request,
        metrics: app.metrics.requests.clone(),
    };
    let mut routes = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready));
    if matches!(plane, Plane::All | Plane::Auth) {
        routes = routes.merge(ui::routes()).merge(oauth::routes());
    }
    if matches!(plane, Plane::All | Plane::Admin) {
        routes = routes
            .route("/metrics", get(metrics::render))
            .merge(api::routes());
        // The console only where browsers can be sent back to it (config::console).
        let every_plane = plane == Plane::All;
        if app
            .config
            .console
            .served_at(&app.config.public_url, every_plane)
            .is_some()
        {
            routes = routes.merge(console::routes());
        }
    }
    routes
        .route_layer(axum::middleware::from_fn(middleware::tag_route))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            observe,
            middleware::observe,
        ))
        .with_state(app)
}
