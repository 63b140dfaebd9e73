//! The management API's one error shape: `{"error": code, "message": text, "request_id": id}`.
//! Handlers and extractors return a [`Problem`]; the API's middleware ([`with_request_id`])
//! stamps the request id into the body, so every error, including the extractors' rejections,
//! carries it. Internal details are logged with the id and never sent.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service;
use crate::web::middleware::RequestId;

/// An error answer of the management API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code: `invalid_json`, `invalid_field`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `too_many_requests`, `unavailable`, `internal`.
    #[schema(example = "not_found")]
    pub error: &'static str,
    /// What went wrong, for a human; names the field when one is at fault.
    pub message: String,
    /// Quote it when you report a problem: the server's log has the details under it.
    pub request_id: String,
}

/// An error of the management API, before the request id is known.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<std::time::Duration>,
    /// 401 only: ask for a bearer token (RFC 6750 §3).
    pub challenge: bool,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            message: message.into(),
            retry_after: None,
            challenge: false,
        }
    }

    pub fn not_found(what: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Problem {
        Problem {
            challenge: true,
            ..Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        }
    }

    pub fn throttled(after: std::time::Duration) -> Problem {
        Problem {
            retry_after: Some(after),
            ..Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many failed authentications from this address; retry later",
            )
        }
    }
}

impl From<service::Error> for Problem {
    fn from(e: service::Error) -> Problem {
        use service::Error as E;
        match e {
            E::NotFound(what) => Problem::not_found(what),
            E::Conflict(m) => Problem::new(StatusCode::CONFLICT, "conflict", m),
            E::Invalid(m) => Problem::invalid(m),
            E::Forbidden(m) => Problem::new(StatusCode::FORBIDDEN, "forbidden", m),
            E::RateLimited { retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    "too many attempts; try again later",
                )
            },
            E::Busy { retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the server is busy; try again shortly",
                )
            },
            E::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable");
                Problem {
                    retry_after: Some(service::OUTAGE_RETRY_AFTER),
                    ..Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the service is temporarily unavailable; retry later",
                    )
                }
            }
            E::Internal(detail) | E::KeyEncryption(detail) => {
                tracing::error!(error = %detail, "management API request failed internally");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; quote the request id",
                )
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            message: self.message.clone(),
            request_id: String::new(),
        };
        let mut res = (self.status, Json(body)).into_response();
        if let Some(after) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.challenge {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"opentrusty\""),
            );
        }
        res.extensions_mut().insert(self);
        res
    }
}

/// Middleware of the API routes: writes the request id into every [`Problem`] body, and gives
/// axum's own plain-text answers (a wrong method, a body over the limit) the same shape.
pub async fn with_request_id(req: Request, next: Next) -> Response {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    let problem = match res.extensions().get::<Problem>() {
        Some(p) => p.clone(),
        None if res.status() == StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take that method",
        ),
        None => return res,
    };
    let (mut parts, _) = res.into_parts();
    let body = ErrorBody {
        error: problem.code,
        message: problem.message,
        request_id: id,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.status = problem.status;
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
