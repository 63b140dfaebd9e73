//! HTTP transport (axum): router assembly per plane, and the layers every request passes
//! through — request id and access log, metrics, timeout, body limit, JSON 404.

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
use axum::extract::connect_info::Connected;
use axum::http::StatusCode;
use axum::routing::get;
use axum::serve::IncomingStream;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use crate::systemd::Plane;

/// Largest request body accepted anywhere (forms and JSON are small in this protocol).
pub const BODY_LIMIT: usize = 64 * 1024;
/// A request that takes longer than this gets 408 instead of holding a worker.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The peer's address as the socket saw it (`None` on unix sockets). Whether to believe
/// `X-Forwarded-For` instead is decided elsewhere, from the trusted-proxy list.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub Option<IpAddr>);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(Some(stream.remote_addr().ip()))
    }
}

impl Connected<IncomingStream<'_, tokio::net::UnixListener>> for PeerAddr {
    fn connect_info(_: IncomingStream<'_, tokio::net::UnixListener>) -> Self {
        PeerAddr(None)
    }
}

/// Serves one listener on `set` until `stop` resolves; in-flight requests then finish (the
/// caller bounds how long it waits for `set`).
pub fn serve(
    set: &mut tokio::task::JoinSet<std::io::Result<()>>,
    app: AppState,
    listener: crate::systemd::Listener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let svc = router(app, listener.plane).into_make_service_with_connect_info::<PeerAddr>();
    match listener.socket {
        crate::systemd::Socket::Tcp(std) => {
            let l = tokio::net::TcpListener::from_std(std)?;
            set.spawn(async move { axum::serve(l, svc).with_graceful_shutdown(stop).await });
        }
        crate::systemd::Socket::Unix(std) => {
            let l = tokio::net::UnixListener::from_std(std)?;
            set.spawn(async move { axum::serve(l, svc).with_graceful_shutdown(stop).await });
        }
    }
    Ok(())
}

/// The router for one listener: health on every plane, the rest by plane.
pub fn router(app: AppState, plane: Plane) -> Router {
    let mut routes = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready));
    if matches!(plane, Plane::All | Plane::Auth) {
        routes = routes.merge(ui::routes()).merge(oauth::routes());
    }
    if matches!(plane, Plane::All | Plane::Admin) {
        routes = routes.route("/metrics", get(metrics::render));
    }
    routes
        .route_layer(axum::middleware::from_fn(middleware::tag_route))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(middleware::observe))
        .with_state(app)
}
