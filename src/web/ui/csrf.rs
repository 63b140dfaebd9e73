//! CSRF protection for cookie-authenticated forms: a random pre-login cookie, and a form token
//! derived from it and the tenant. A cross-site page can make the browser send the cookie but
//! cannot read it, so it cannot produce the matching form field.

use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::domain::tenant::Tenant;
use crate::protocol::limits;
use crate::service::sessions::{hash_token, random_token};

use super::cookies;

/// The form token for a cookie value in this tenant.
fn token_for(cookie: &str, tenant: &Tenant) -> String {
    hash_token(&format!("csrf:{}:{cookie}", tenant.id))
}

/// Returns the form token to embed, adding the cookie to the jar when it is missing.
pub fn issue(jar: CookieJar, config: &Config, tenant: &Tenant) -> (CookieJar, String) {
    // An over-long value (ours are 43 characters) is replaced like a missing one.
    match cookies::get(&jar, config, cookies::CSRF).filter(|v| v.len() <= limits::TOKEN) {
        Some(v) => {
            let t = token_for(&v, tenant);
            (jar, t)
        }
        None => {
            let v = random_token();
            let t = token_for(&v, tenant);
            (jar.add(cookies::build(config, cookies::CSRF, v, None)), t)
        }
    }
}

/// True when the submitted token matches the cookie (constant-time comparison).
pub fn verify(jar: &CookieJar, config: &Config, tenant: &Tenant, submitted: Option<&str>) -> bool {
    let (Some(cookie), Some(submitted)) = (cookies::get(jar, config, cookies::CSRF), submitted)
    else {
        return false;
    };
    if cookie.len() > limits::TOKEN || submitted.len() > limits::TOKEN {
        return false;
    }
    token_for(&cookie, tenant)
        .as_bytes()
        .ct_eq(submitted.as_bytes())
        .into()
}

/// The page for a form whose token did not match: nothing was changed, reload and retry.
pub fn rejected(request_id: &str) -> Response {
    super::page_error(
        StatusCode::FORBIDDEN,
        "Please try again",
        "This form has expired or did not come from this site. Reload the page and try again.",
        request_id,
    )
}
