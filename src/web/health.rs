//! `/health/live` (the process answers) and `/health/ready` (the database answers in time).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// How long readiness waits for the database before saying no.
pub const READY_DEADLINE: Duration = Duration::from_millis(1500);

fn no_cache(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub async fn live() -> Response {
    no_cache(Json(json!({ "status": "ok" })).into_response())
}

pub async fn ready(State(app): State<AppState>) -> Response {
    let res = match app.store.ping(READY_DEADLINE).await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "database did not answer" })),
            )
                .into_response()
        }
    };
    no_cache(res)
}
