//! The OAuth 2.0 / OIDC endpoints of every tenant, mounted under `/t/{tenant}` with the paths
//! of `protocol::endpoints`, and what they share: the RFC 6749 §5.2 error response, the
//! `no-store` headers, and reading client credentials from a request.

pub mod authorize;
pub mod consent;
pub mod discovery;
pub mod end_session;
pub mod introspect;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::app::AppState;
use crate::domain::client::AuthMethod;
use crate::protocol::endpoints as ep;
use crate::protocol::{Code, Error, basic};
use crate::service::client_auth::Presented;

fn path(endpoint: &str) -> String {
    format!("{}{endpoint}", ep::TENANT_PREFIX)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(&path(ep::DISCOVERY), get(discovery::document))
        .route(&path(ep::JWKS), get(discovery::jwks))
        .route(&path(ep::TOKEN), axum::routing::post(token::token))
        .route(
            &path(ep::INTROSPECT),
            axum::routing::post(introspect::introspect),
        )
        .route(&path(ep::REVOKE), axum::routing::post(revoke::revoke))
        .route(&path(ep::USERINFO), get(userinfo::get).post(userinfo::post))
        .route(
            &path(ep::AUTHORIZE),
            get(authorize::get).post(authorize::post),
        )
        .route(&path(ep::CONSENT), axum::routing::post(consent::submit))
        .route(&path(ep::END_SESSION), get(end_session::get))
}

/// Token-endpoint style headers (RFC 6749 §5.1): never cached anywhere.
pub fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The RFC 6749 §5.2 JSON error; `invalid_client` after Basic auth carries a challenge.
pub fn error_response(e: &Error, basic_used: bool) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = axum::Json(json!({
        "error": e.code.as_str(),
        "error_description": e.description,
    }));
    let mut res = (status, body).into_response();
    if e.code == Code::TemporarilyUnavailable {
        res = crate::web::error::retry_after(res, crate::service::OUTAGE_RETRY_AFTER);
    }
    if e.code == Code::InvalidClient {
        let challenge = if basic_used {
            "Basic realm=\"opentrusty\", charset=\"UTF-8\""
        } else {
            "Basic realm=\"opentrusty\""
        };
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    no_store(res)
}

/// Reads the client's credentials: HTTP Basic (RFC 6749 §2.3.1, both parts form-urlencoded),
/// or `client_id` + `client_secret` in the body, or `client_id` alone for public clients.
/// Using two methods at once is an error (RFC 6749 §2.3).
pub fn presented(
    headers: &HeaderMap,
    form: &mut std::collections::HashMap<String, String>,
) -> Result<Presented, Error> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic::token68);
    let form_secret = form.remove("client_secret");
    let form_id = form.remove("client_id");
    if let Some(b64) = basic {
        if form_secret.is_some() {
            return Err(Error::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        let basic::Credentials {
            client_id: id,
            secret,
        } = basic::parse(b64)?;
        if form_id.as_ref().is_some_and(|f| *f != id) {
            return Err(Error::invalid_request(
                "client_id differs from the Basic credentials",
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            method: AuthMethod::ClientSecretBasic,
        });
    }
    match (form_id, form_secret) {
        (Some(id), Some(secret)) => Ok(Presented {
            client_id: id,
            secret: Some(secret),
            method: AuthMethod::ClientSecretPost,
        }),
        (Some(id), None) => Ok(Presented {
            client_id: id,
            secret: None,
            method: AuthMethod::None,
        }),
        _ => Err(Error::invalid_client("client authentication is required")),
    }
}

/// Collects form pairs from a body, refusing repeated parameters.
pub fn form_pairs(body: &[u8]) -> Result<std::collections::HashMap<String, String>, Error> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    crate::protocol::token::single(pairs)
}

/// A request about one token (RFC 7009 §2.1, RFC 7662 §2.1): the authenticated client, the
/// required `token` and the remaining form parameters.
pub struct TokenForm {
    pub client: Presented,
    pub token: String,
    pub form: std::collections::HashMap<String, String>,
}

pub fn token_form(headers: &HeaderMap, body: &[u8]) -> Result<TokenForm, Error> {
    let mut form = form_pairs(body)?;
    let client = presented(headers, &mut form)?;
    let token = form
        .remove("token")
        .ok_or_else(|| Error::invalid_request("token is required"))?;
    Ok(TokenForm {
        client,
        token,
        form,
    })
}

/// Whether a request body is `application/x-www-form-urlencoded` (RFC 6749 §4.1.3).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}
