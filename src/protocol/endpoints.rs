//! Endpoint paths, relative to a tenant's issuer (`{public_url}/t/{slug}`). The router and the
//! discovery document both read these, so they cannot drift apart.

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/jwks.json";
pub const AUTHORIZE: &str = "/authorize";
pub const TOKEN: &str = "/token";
pub const USERINFO: &str = "/userinfo";
pub const REVOKE: &str = "/revoke";
pub const INTROSPECT: &str = "/introspect";
pub const END_SESSION: &str = "/logout";
pub const CONSENT: &str = "/consent";
pub const LOGIN: &str = "/login";

/// The router prefix under which every tenant's endpoints live.
pub const TENANT_PREFIX: &str = "/t/{tenant}";

/// Absolute URL of an endpoint for an issuer.
pub fn url(issuer: &str, path: &str) -> String {
    format!("{issuer}{path}")
}
