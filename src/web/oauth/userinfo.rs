//! `GET/POST /userinfo` (OIDC Core §5.3): the bearer token in the `Authorization` header, or
//! (POST only) as `access_token` in a form body (RFC 6750 §2.2). Errors carry a
//! `WWW-Authenticate: Bearer` challenge (RFC 6750 §3).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{form_pairs, is_form, no_store};
use crate::app::AppState;
use crate::service::userinfo::{self, Refused};
use crate::web::extract::TenantCtx;

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn challenge(status: StatusCode, value: &'static str) -> Response {
    let mut res = status.into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    no_store(res)
}

async fn answer(
    app: &AppState,
    tenant: &crate::domain::tenant::Tenant,
    token: Option<String>,
) -> Response {
    let Some(token) = token else {
        // RFC 6750 §3.1: no credentials at all gets a bare challenge.
        return challenge(StatusCode::UNAUTHORIZED, "Bearer realm=\"opentrusty\"");
    };
    match userinfo::userinfo(app, tenant, &token).await {
        Ok(claims) => no_store(Json(claims).into_response()),
        Err(Refused::InvalidToken) => challenge(
            StatusCode::UNAUTHORIZED,
            "Bearer realm=\"opentrusty\", error=\"invalid_token\", error_description=\"the access token is invalid, expired or revoked\"",
        ),
        Err(Refused::InsufficientScope) => challenge(
            StatusCode::FORBIDDEN,
            "Bearer realm=\"opentrusty\", error=\"insufficient_scope\", scope=\"openid\"",
        ),
        Err(Refused::Internal) => no_store(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Err(Refused::Unavailable) => no_store(crate::web::error::unavailable(false, "")),
    }
}

pub async fn get(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    headers: HeaderMap,
) -> Response {
    answer(&app, &tenant, bearer(&headers)).await
}

pub async fn post(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let from_body = if is_form(&headers) {
        form_pairs(&body)
            .ok()
            .and_then(|mut f| f.remove("access_token"))
    } else {
        None
    };
    let token = match (bearer(&headers), from_body) {
        // RFC 6750 §2: one method per request.
        (Some(_), Some(_)) => {
            return challenge(
                StatusCode::BAD_REQUEST,
                "Bearer realm=\"opentrusty\", error=\"invalid_request\"",
            );
        }
        (a, b) => a.or(b),
    };
    answer(&app, &tenant, token).await
}
