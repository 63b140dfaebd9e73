//! End to end with a third-party relying party: the `openidconnect` crate drives discovery,
//! the code flow with PKCE, id_token validation against the JWKS (signature, nonce, at_hash),
//! userinfo, refresh with rotation and reuse detection, revocation, introspection, client
//! credentials and RP-initiated logout against the real daemon. The browser part (login and
//! consent pages) is a cookie-keeping HTTP client.

use std::collections::HashMap;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope,
    TokenIntrospectionResponse, TokenResponse,
};

use crate::login_pages::{Site, cli, site};

const CB: &str = "https://rp.example/cb";

pub(crate) fn create_client(site: &Site, slug: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "client",
        "create",
        "--tenant",
        slug,
        "--name",
        "Test RP",
        "--redirect-uri",
        CB,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = cli(&site.db, &args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn base(site: &Site) -> String {
    match &site.target {
        crate::common::http::Target::Tcp(a) => format!("http://{a}"),
        _ => unreachable!("the site listens on TCP"),
    }
}

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn field(html: &str, name: &str) -> String {
    let raw = html
        .split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default();
    unescape(raw)
}

/// Decodes the HTML entities a template engine may emit in attribute values.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else { break };
        let ent = &tail[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The browser: follows our pages from an authorization URL to the redirect with a code.
async fn browse(base: &str, start: &str, email: &str, password: &str) -> HashMap<String, String> {
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = start.to_owned();
    for _ in 0..10 {
        let res = b.get(&url).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.text().await.unwrap();
        if let Some(loc) = location {
            if loc.starts_with(CB) {
                return url::Url::parse(&loc)
                    .unwrap()
                    .query_pairs()
                    .into_owned()
                    .collect();
            }
            url = if loc.starts_with('/') {
                format!("{base}{loc}")
            } else {
                loc
            };
            continue;
        }
        assert_eq!(status, 200, "{url}: {body}");
        if body.contains("name=\"password\"") {
            let form = [
                ("email", email.to_owned()),
                ("password", password.to_owned()),
                ("csrf", field(&body, "csrf")),
                ("return_to", field(&body, "return_to")),
            ];
            let login = url.split('?').next().unwrap().to_owned();
            let res = b.post(&login).form(&form).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 303, "login failed");
            url = format!("{base}{}", res.headers()["location"].to_str().unwrap());
        } else if body.contains("name=\"decision\"") {
            let mut form: Vec<(String, String)> = body
                .split("<input type=\"hidden\" name=\"")
                .skip(1)
                .map(|s| {
                    let k = s.split('"').next().unwrap().to_owned();
                    let v = field(&format!("name=\"{s}"), &k);
                    (k, v)
                })
                .collect();
            form.push(("decision".into(), "approve".into()));
            let consent = url.split("/authorize").next().unwrap().to_owned() + "/consent";
            let res = b.post(&consent).form(&form).send().await.unwrap();
            let loc = res.headers()["location"].to_str().unwrap().to_owned();
            return url::Url::parse(&loc)
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect();
        } else {
            panic!("unexpected page at {url}: {body}");
        }
    }
    panic!("too many redirects");
}

#[tokio::test]
async fn openidconnect_crate_full_flow() {
    let site = tokio::task::spawn_blocking(|| site(&[])).await.unwrap();
    let base = base(&site);
    let c = create_client(
        &site,
        "acme",
        &[
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--post-logout-redirect-uri",
            "https://rp.example/bye",
        ],
    );
    let svc = create_client(
        &site,
        "acme",
        &["--grant", "client_credentials", "--scope", "api"],
    );
    let http = http();
    let issuer = format!("{base}/t/acme");
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(c["client_id"].as_str().unwrap().into()),
        Some(ClientSecret::new(
            c["client_secret"].as_str().unwrap().into(),
        )),
    )
    .set_redirect_uri(RedirectUrl::new(CB.into()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(format!("{issuer}/introspect")).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let q = browse(
        &base,
        auth_url.as_str(),
        "alice@example.com",
        "password-acme",
    )
    .await;
    assert_eq!(q["state"], *state.secret());
    assert_eq!(
        q["iss"], issuer,
        "RFC 9207 iss in the authorization response"
    );

    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an id_token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.issuer().as_str(), issuer);
    assert!(claims.auth_time().is_some());
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    let sub = claims.subject().clone();

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(sub.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));

    // Refresh rotates; the old refresh token presented after the grace window kills the family.
    let r0 = tokens.refresh_token().unwrap().clone();
    let t1 = client
        .exchange_refresh_token(&r0)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let r1 = t1.refresh_token().unwrap().clone();
    assert_ne!(r0.secret(), r1.secret());
    assert_ne!(tokens.access_token().secret(), t1.access_token().secret());
    let t1_id = t1
        .id_token()
        .unwrap()
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(t1_id.subject(), &sub);

    // Introspection by the confidential client.
    let intro = client
        .introspect(t1.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(intro.active());
    // Revocation of the refresh token ends its family: the access token from it too.
    // (oauth2's revoke_token insists on an https endpoint, RFC 7009 §2; the daemon under test
    // speaks plain http, so this one request is made by hand, with the same client auth.)
    let res = http
        .post(format!("{issuer}/revoke"))
        .basic_auth(
            c["client_id"].as_str().unwrap(),
            c["client_secret"].as_str(),
        )
        .form(&[
            ("token", r1.secret().as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let intro = client
        .introspect(t1.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!intro.active());
    assert!(
        client
            .exchange_refresh_token(&r1)
            .unwrap()
            .request_async(&http)
            .await
            .is_err()
    );

    // Client credentials with a second, confidential client.
    let svc_client = CoreClient::from_provider_metadata(
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http)
            .await
            .unwrap(),
        ClientId::new(svc["client_id"].as_str().unwrap().into()),
        Some(ClientSecret::new(
            svc["client_secret"].as_str().unwrap().into(),
        )),
    );
    let cc = svc_client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("api".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert!(cc.refresh_token().is_none());
    assert_eq!(cc.scopes().unwrap()[0].as_str(), "api");

    // RP-initiated logout with the id_token as hint returns to the registered URI with state.
    let logout = format!(
        "{issuer}/logout?id_token_hint={}&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&state=xyz",
        id_token
    );
    let res = http.get(&logout).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(
        res.headers()["location"],
        "https://rp.example/bye?state=xyz"
    );
    // The same request by POST (RP-Initiated Logout 1.0 §2: the OP supports GET and POST).
    let res = http
        .post(format!("{issuer}/logout"))
        .form(&[
            ("id_token_hint", id_token.to_string().as_str()),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
            ("state", "p0st"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(
        res.headers()["location"],
        "https://rp.example/bye?state=p0st"
    );
    // An unregistered post-logout URI is refused on a page, never redirected to.
    let res = http.get(format!("{issuer}/logout?id_token_hint={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F", id_token)).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
}
