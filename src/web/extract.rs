//! Extractors: the tenant of a request (the only source of a `Tenant` on the web side), the
//! client's IP (trusting `X-Forwarded-For` only from configured proxies), and cookies.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::config::IpNet;
use crate::domain::tenant::Tenant;
use crate::service::Context;

use super::PeerAddr;
use super::middleware::RequestId;

/// The active tenant named by the `{tenant}` path segment. Unknown and disabled tenants are
/// the same 404: there is no default tenant and no fallback (DESIGN §3).
pub struct TenantCtx(pub Tenant);

#[derive(Deserialize)]
struct TenantParam {
    tenant: String,
}

/// Rejection: 404 as an HTML page for browsers, JSON otherwise.
pub struct UnknownTenant {
    html: bool,
    request_id: String,
}

impl IntoResponse for UnknownTenant {
    fn into_response(self) -> Response {
        if self.html {
            super::ui::page_error(
                axum::http::StatusCode::NOT_FOUND,
                "Not found",
                "There is no such tenant.",
                &self.request_id,
            )
        } else {
            super::error::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such tenant",
            )
            .into_response()
        }
    }
}

pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

pub fn request_id(parts: &Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

impl FromRequestParts<AppState> for TenantCtx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let reject = |parts: &Parts| {
            UnknownTenant {
                html: wants_html(&parts.headers),
                request_id: request_id(parts),
            }
            .into_response()
        };
        let Ok(Path(TenantParam { tenant })) =
            Path::<TenantParam>::from_request_parts(parts, app).await
        else {
            return Err(reject(parts));
        };
        // The slug is checked against the `Slug` rule inside the cache, before any lookup:
        // a malformed one is the same 404 as an unknown one, with no query and no entry.
        let found = app.tenants.get(&app.store, &tenant).await;
        match found {
            Ok(Some(t)) if t.is_active() => Ok(TenantCtx(t)),
            Ok(_) => Err(reject(parts)),
            Err(e) => Err(super::error::service_failure(
                &e,
                wants_html(&parts.headers),
                &request_id(parts),
            )),
        }
    }
}

/// The client's address. For a TCP peer: the peer, or — when the peer is a trusted proxy —
/// the right-most address in `X-Forwarded-For` that is not itself a trusted proxy. A unix
/// socket peer (`None`) has no address: with `unix_trusted` (the operator listed `unix` in
/// `OPENTRUSTY_TRUSTED_PROXIES`) the same rule reads `X-Forwarded-For`, otherwise the answer
/// is `None` (and the login throttle puts all such clients in one bucket).
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
    unix_trusted: bool,
) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    match peer {
        Some(ip) if !is_trusted(ip) => return Some(ip),
        None if !unix_trusted => return None,
        _ => {}
    }
    // Header values are bounded by the server's header limits; walk them from the right
    // without collecting (RFC 7239 §5.2 order: each proxy appends).
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    values
        .iter()
        .rev()
        .flat_map(|v| v.rsplit(','))
        .map_while(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(*ip))
        .or(peer)
}

/// The audit context of a request: client IP, user agent, request id.
pub struct RequestContext(pub Context, pub Option<IpAddr>);

impl FromRequestParts<AppState> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<PeerAddr>>()
            .and_then(|c| c.0.0);
        let identity = &app.config.identity;
        let ip = client_ip(
            peer,
            &parts.headers,
            &identity.trusted_proxies,
            identity.trust_unix_proxy,
        );
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        let ctx = Context {
            actor: None,
            ip: ip.map(|i| i.to_string()),
            user_agent,
            request_id: Some(request_id(parts)),
            via: None,
        };
        Ok(RequestContext(ctx, ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = vec![IpNet::parse("10.0.0.0/8").unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.9, 10.1.1.1".parse().unwrap(),
        );
        let direct: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            client_ip(Some(direct), &h, &trusted, false),
            Some(direct),
            "untrusted peer: header ignored"
        );
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(Some(proxy), &h, &trusted, false),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new(), &trusted, false),
            Some(proxy)
        );
        // A proxy that appends garbage: the walk stops there instead of reaching client input.
        let mut g = HeaderMap::new();
        g.insert("x-forwarded-for", "6.6.6.6, junk".parse().unwrap());
        assert_eq!(client_ip(Some(proxy), &g, &trusted, false), Some(proxy));
    }

    #[test]
    fn unix_peers_use_forwarded_for_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().unwrap());
        assert_eq!(
            client_ip(None, &h, &[], false),
            None,
            "not trusted: no address"
        );
        assert_eq!(
            client_ip(None, &h, &[], true),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(client_ip(None, &HeaderMap::new(), &[], true), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any `X-Forwarded-For` value: never a panic; an untrusted peer is always itself,
        /// and a trusted one yields an address from the header or the peer.
        #[test]
        fn any_forwarded_for_is_handled(
            value in prop_oneof![
                "[ -~]{0,200}",
                proptest::collection::vec(
                    prop_oneof![
                        any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
                        any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
                        "[a-z0-9.:]{0,12}",
                    ],
                    0..8,
                ).prop_map(|v| v.join(", ")),
            ],
            unix_trusted: bool,
        ) {
            let Ok(v) = axum::http::HeaderValue::from_str(&value) else {
                return Ok(());
            };
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", v);
            let trusted = vec![IpNet::parse("10.0.0.0/8").unwrap()];
            let direct: IpAddr = "198.51.100.7".parse().unwrap();
            prop_assert_eq!(client_ip(Some(direct), &h, &trusted, unix_trusted), Some(direct));
            let proxy: IpAddr = "10.0.0.2".parse().unwrap();
            let got = client_ip(Some(proxy), &h, &trusted, unix_trusted).unwrap();
            prop_assert!(got == proxy || value.contains(&got.to_string()) || got.is_ipv6());
            let unix = client_ip(None, &h, &trusted, unix_trusted);
            prop_assert!(unix_trusted || unix.is_none());
        }
    }
}
