//! The two browser cookies: the login session and the pre-login CSRF cookie. With an https
//! public URL they use the `__Host-` prefix (Secure, Path=/, no Domain); on plain-http
//! development URLs the prefix and `Secure` are dropped so browsers accept them.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use crate::config::Config;

pub const SESSION: &str = "opentrusty_session";
pub const CSRF: &str = "opentrusty_csrf";

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
