//! Prometheus metrics: the process-wide recorder and the `/metrics` handler (admin plane).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;
use crate::web::middleware::RequestMetrics;

/// Handle to the global recorder (installed once per process, shared by every `App`), and the
/// request metrics' registered handles.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    pub requests: Arc<RequestMetrics>,
}

/// How often histogram samples are folded into their buckets (see `upkeep`).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

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
        Metrics {
            handle: handle.clone(),
            requests: Default::default(),
        }
    }

    /// The recorder keeps every histogram sample until it is folded into the buckets, which
    /// happens on a scrape or here. Without this, a daemon that is never scraped (the admin
    /// plane is often not served at all) would grow by every request's latency sample.
    pub async fn upkeep(self) {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.handle.run_upkeep();
        }
    }
}

pub async fn render(State(app): State<AppState>) -> impl IntoResponse {
    let pool = app.store.pool_stats();
    metrics::gauge!("opentrusty_db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("opentrusty_db_pool_idle").set(f64::from(pool.idle));
    metrics::gauge!("opentrusty_db_pool_max").set(f64::from(pool.max));
    if app.config.mail.is_some() {
        crate::service::mail::sender::gauge_queue_depth(&app).await;
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.handle.render(),
    )
}
