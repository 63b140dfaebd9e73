//! The browser cookies: one login session cookie per tenant and the pre-login CSRF cookie.
//! With an https public URL they use the `__Host-` prefix (Secure, Path=/, no Domain); on
//! plain-http development URLs the prefix and `Secure` are dropped so browsers accept them.
//!
//! Every tenant shares the host and `Path=/` (the `__Host-` prefix requires both), so each
//! tenant's session cookie carries the tenant in its name: a login at tenant B never replaces
//! tenant A's cookie, and a logout at B never clears it (DESIGN §5).

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use crate::config::Config;
use crate::domain::tenant::Tenant;

/// Base name of the session cookies; the tenant's slug follows (`opentrusty_session_acme`).
const SESSION: &str = "opentrusty_session_";
pub const CSRF: &str = "opentrusty_csrf";

/// The base name of this tenant's session cookie. Slugs are lowercase letters, digits and
/// hyphens, all valid in a cookie name (RFC 6265 §4.1.1 token).
fn session_base(tenant: &Tenant) -> String {
    format!("{SESSION}{}", tenant.slug.as_str())
}

/// The session token this browser holds for `tenant`, if any.
pub fn session(jar: &CookieJar, config: &Config, tenant: &Tenant) -> Option<String> {
    get(jar, config, &session_base(tenant))
}

/// Sets `tenant`'s session cookie.
pub fn session_cookie(
    config: &Config,
    tenant: &Tenant,
    token: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    build(config, &session_base(tenant), token, Some(max_age_secs))
}

/// Clears `tenant`'s session cookie (and no other tenant's).
pub fn session_removal(config: &Config, tenant: &Tenant) -> Cookie<'static> {
    removal(config, &session_base(tenant))
}

fn secure(config: &Config) -> bool {
    config.public_url.scheme() == "https"
}

pub fn name(config: &Config, base: &str) -> String {
    if secure(config) {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

pub fn get(jar: &CookieJar, config: &Config, base: &str) -> Option<String> {
    jar.get(&name(config, base))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

pub fn build(
    config: &Config,
    base: &str,
    value: String,
    max_age_secs: Option<i64>,
) -> Cookie<'static> {
    let mut c = Cookie::new(name(config, base), value);
    c.set_http_only(true);
    c.set_secure(secure(config));
    c.set_same_site(SameSite::Lax);
    c.set_path("/");
    if let Some(secs) = max_age_secs {
        c.set_max_age(time::Duration::seconds(secs));
    }
    c
}

pub fn removal(config: &Config, base: &str) -> Cookie<'static> {
    let mut c = build(config, base, String::new(), Some(0));
    c.make_removal();
    c
}
