//! The JSON side of the passkey ceremonies (issue 12): the page's script posts
//! `application/json` bodies (bounded, CSRF token inside) and gets JSON back, errors as
//! `{"error": code, "message": text}` where the text names the field at fault. Every answer
//! carries the page security headers (no-store).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::config::Config;
use crate::domain::tenant::Tenant;
use crate::service::Error;
use crate::service::factors::webauthn::CEREMONY_GONE;

use super::{csrf, secure};

/// The largest body read. A browser's answer (`toJSON()` of a credential with `none`
/// attestation) is one to two kilobytes; anything near this bound is not one.
pub const BODY_MAX: usize = 16 * 1024;

/// `{"error": code, "message": text}` with a status and the page headers.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    secure((status, Json(json!({ "error": code, "message": message }))).into_response())
}

/// A JSON success body with the page headers.
pub fn ok(body: impl serde::Serialize) -> Response {
    secure((StatusCode::OK, Json(body)).into_response())
}

/// A service failure as JSON: client mistakes as 4xx naming the field, throttling and
/// outages with `Retry-After`, anything else a 500 with the request id to quote.
pub fn service_error(e: Error, request_id: &str) -> Response {
    let (status, code, message, retry) = match &e {
        Error::Invalid(m) => (StatusCode::BAD_REQUEST, "invalid_request", m.clone(), None),
        Error::NotFound("ceremony") => (
            StatusCode::BAD_REQUEST,
            "ceremony_expired",
            CEREMONY_GONE.to_owned(),
            None,
        ),
        Error::NotFound("session") => (
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "session: sign in first".to_owned(),
            None,
        ),
        Error::NotFound(what) => (
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what}: not found"),
            None,
        ),
        Error::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone(), None),
        Error::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            "locked",
            "This account is locked after too many failed attempts. Try again later.".to_owned(),
            None,
        ),
        Error::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "There were too many sign-in attempts. Wait a moment and try again.".to_owned(),
            Some(*retry_after),
        ),
        Error::Busy { retry_after } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "The server is busy right now. Try again in a moment.".to_owned(),
            Some(*retry_after),
        ),
        Error::Unavailable(detail) => {
            tracing::warn!(error = %detail, request_id, "database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The service cannot complete requests right now. Try again in a moment.".to_owned(),
                Some(crate::service::OUTAGE_RETRY_AFTER),
            )
        }
        other => {
            tracing::error!(error = %other, request_id, "passkey request failed internally");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("The server could not complete the request (reference {request_id})."),
                None,
            )
        }
    };
    let mut res = error(status, code, &message);
    if let Some(after) = retry
        && let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Reads a JSON body: 415 unless `application/json`, 413 over [`BODY_MAX`], 400 naming the
/// field that does not fit (`ceremony: invalid type ...`, `missing field `csrf``).
pub fn read<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Box<Response>> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "content-type: send application/json",
        )));
    }
    let too_large = || {
        Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("body: larger than {BODY_MAX} bytes"),
        ))
    };
    let bytes = match body {
        Ok(b) if b.len() > BODY_MAX => return Err(too_large()),
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
        Err(_) => {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "body: could not be read",
            )));
        }
    };
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        // `.`: the document itself; `?`: not JSON at all (no path reached).
        let message = if path == "." || path == "?" {
            format!("body: {}", e.inner())
        } else {
            format!("{path}: {}", e.inner())
        };
        Box::new(error(StatusCode::BAD_REQUEST, "invalid_request", &message))
    })
}

/// The CSRF check of a JSON request (the token travels in the body's `csrf`).
pub fn check_csrf(
    jar: &CookieJar,
    config: &Config,
    tenant: &Tenant,
    token: Option<&str>,
) -> Result<(), Box<Response>> {
    if csrf::verify(jar, config, tenant, token) {
        return Ok(());
    }
    Err(Box::new(error(
        StatusCode::FORBIDDEN,
        "csrf",
        "csrf: this page has expired or did not come from this site; reload it and try again",
    )))
}

/// The request that starts a ceremony.
#[derive(Deserialize)]
pub struct StartBody {
    pub csrf: Option<String>,
    /// The name of a passkey being added.
    pub name: Option<String>,
}

/// The request that finishes a ceremony.
#[derive(Deserialize)]
pub struct FinishBody {
    pub csrf: Option<String>,
    pub ceremony: String,
    /// `PublicKeyCredential.toJSON()`.
    pub credential: serde_json::Value,
    /// Where a sign-in goes on (validated like the login form's).
    pub return_to: Option<String>,
}

/// A request body that carries the page's CSRF token.
pub trait WithCsrf: DeserializeOwned {
    fn csrf(&self) -> Option<&str>;
}

impl WithCsrf for StartBody {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl WithCsrf for FinishBody {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// [`read`], then [`check_csrf`] with the token the body carries: every ceremony endpoint's
/// first step.
pub fn read_checked<T: WithCsrf>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    jar: &CookieJar,
    config: &Config,
    tenant: &Tenant,
) -> Result<T, Box<Response>> {
    let body: T = read(headers, body)?;
    check_csrf(jar, config, tenant, body.csrf())?;
    Ok(body)
}
