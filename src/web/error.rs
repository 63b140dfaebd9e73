//! Error responses of the JSON surfaces, and the one mapping from a service failure to a
//! response on any surface: a database outage is 503 with `Retry-After` (an HTML page for
//! browsers, `temporarily_unavailable` JSON otherwise), anything else 500. Internal details
//! never reach the client: they are logged with the request id, and the client gets the id.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service;

/// A JSON error body `{"error": code, "error_description": text}` with a status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            description: description.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.code, "error_description": self.description })),
        )
            .into_response()
    }
}

/// Fallback for paths no route matches.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// 500 for the JSON surfaces: the client sees only the request id to quote.
pub fn internal(request_id: &str) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        format!("internal error; quote request id {request_id}"),
    )
    .into_response()
}

/// Adds `Retry-After` (RFC 9110 §10.2.3) in seconds, at least 1.
pub fn retry_after(mut res: Response, after: std::time::Duration) -> Response {
    if let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// 503 during a database outage: an HTML page for browsers, else the RFC 6749 §5.2 shaped
/// `temporarily_unavailable` JSON (which is also what the OAuth endpoints answer).
pub fn unavailable(html: bool, request_id: &str) -> Response {
    let res = if html {
        super::ui::unavailable_page(request_id)
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the service is temporarily unavailable; retry later",
        )
        .into_response()
    };
    retry_after(res, service::OUTAGE_RETRY_AFTER)
}

/// A service failure outside the OAuth use cases (tenant lookup, pages): 503 for an outage,
/// else logged and 500, as a page or as JSON.
pub fn service_failure(e: &service::Error, html: bool, request_id: &str) -> Response {
    if e.is_unavailable() {
        tracing::warn!(error = %e, request_id, "database unavailable");
        return unavailable(html, request_id);
    }
    tracing::error!(error = %e, request_id, "request failed internally");
    if html {
        super::ui::page_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete the request.",
            request_id,
        )
    } else {
        internal(request_id)
    }
}
