//! Prometheus metrics: the process-wide recorder and the `/metrics` handler (admin plane).

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;

/// Handle to the global recorder (installed once per process, shared by every `App`).
#[derive(Clone)]
pub struct Metrics(PrometheusHandle);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

impl Metrics {
    pub fn install() -> Metrics {
        let handle = HANDLE.get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .expect("static, non-empty bucket list")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, which this crate never does.
            let _ = metrics::set_global_recorder(recorder);
            metrics::gauge!("opentrusty_build_info", "version" => env!("CARGO_PKG_VERSION"))
                .set(1.0);
            handle
        });
        Metrics(handle.clone())
    }
}

pub async fn render(State(app): State<AppState>) -> impl IntoResponse {
    let pool = app.store.pool_stats();
    metrics::gauge!("opentrusty_db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("opentrusty_db_pool_idle").set(f64::from(pool.idle));
    metrics::gauge!("opentrusty_db_pool_max").set(f64::from(pool.max));
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.0.render(),
    )
}
