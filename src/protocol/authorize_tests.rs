//! Unit tests of the authorization request rules with a fixed clock.

use super::*;
use crate::domain::client::{AuthMethod, ClientKind, RedirectUri, SigningAlg};
use crate::domain::ids::TenantId;

fn client(kind: ClientKind) -> Client {
    Client {
        tenant_id: TenantId::new(),
        client_id: "c1".into(),
        name: "RP".into(),
        kind,
        auth_method: AuthMethod::ClientSecretBasic,
        redirect_uris: vec![RedirectUri::parse("https://rp.example/cb").unwrap()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: Scope::parse("openid profile email offline_access").unwrap(),
        id_token_alg: SigningAlg::RS256,
        access_token_ttl: 3600,
        refresh_token_ttl: 86400,
        id_token_ttl: 3600,
        require_pkce: false,
        allow_plain_pkce: false,
        first_party: false,
        claims_in_id_token: false,
        introspection: false,
        status: crate::domain::tenant::Status::Active,
        created_at: 0,
    }
}

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[test]
fn parses_a_basic_request_and_ignores_unknown_parameters() {
    let r = parse(
        &params(&[
            ("response_type", "code"),
            ("scope", "profile openid"),
            ("state", "s"),
            ("nonce", "n"),
            ("extra", "foobar"),
            ("display", "popup"),
            ("ui_locales", "de"),
        ]),
        &client(ClientKind::Confidential),
    )
    .unwrap();
    assert_eq!(r.scope.to_string(), "openid profile");
    assert_eq!(r.state.as_deref(), Some("s"));
    assert!(r.challenge.is_none());
}

#[test]
fn request_errors() {
    let c = client(ClientKind::Confidential);
    let code = |pairs: &[(&str, &str)]| parse(&params(pairs), &c).unwrap_err().code;
    assert_eq!(code(&[("scope", "openid")]), Code::InvalidRequest);
    assert_eq!(
        code(&[("response_type", "token"), ("scope", "openid")]),
        Code::UnsupportedResponseType
    );
    assert_eq!(
        code(&[("response_type", "code"), ("scope", "openid admin")]),
        Code::InvalidScope
    );
    assert_eq!(
        code(&[
            ("response_type", "code"),
            ("scope", "openid"),
            ("request", "x")
        ]),
        Code::RequestNotSupported
    );
    assert_eq!(
        code(&[
            ("response_type", "code"),
            ("scope", "openid"),
            ("max_age", "-1")
        ]),
        Code::InvalidRequest
    );
    assert_eq!(
        code(&[
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "none login")
        ]),
        Code::InvalidRequest
    );
}

#[test]
fn public_clients_must_use_pkce() {
    let c = client(ClientKind::Public);
    let base = [("response_type", "code"), ("scope", "openid")];
    assert_eq!(
        parse(&params(&base), &c).unwrap_err().code,
        Code::InvalidRequest
    );
    let mut with = base.to_vec();
    with.extend([
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    assert!(parse(&params(&with), &c).unwrap().challenge.is_some());
}

fn req(prompt: &str, max_age: Option<i64>) -> Request {
    let mut p = params(&[
        ("response_type", "code"),
        ("scope", "openid"),
        ("prompt", prompt),
    ]);
    if let Some(m) = max_age {
        p.insert("max_age".into(), m.to_string());
    }
    parse(&p, &client(ClientKind::Confidential)).unwrap()
}

fn sess(auth_time: i64) -> Option<SessionFacts> {
    Some(SessionFacts {
        auth_time,
        hint_matches: None,
    })
}

#[test]
fn prompt_and_max_age_decisions() {
    let now = 10_000;
    // No session: login, or login_required with prompt=none.
    assert_eq!(
        decide(&req("", None), None, true, false, now),
        Ok(Step::Login)
    );
    assert_eq!(
        decide(&req("none", None), None, true, false, now)
            .unwrap_err()
            .code,
        Code::LoginRequired
    );
    // Session + remembered consent: issue without UI, also with prompt=none.
    assert_eq!(
        decide(&req("none", None), sess(1), true, false, now),
        Ok(Step::Issue)
    );
    // prompt=login forces re-authentication.
    assert_eq!(
        decide(&req("login", None), sess(now), true, false, now),
        Ok(Step::Login)
    );
    // max_age: older than allowed -> login; within -> issue.
    assert_eq!(
        decide(&req("", Some(1)), sess(now - 2), true, false, now),
        Ok(Step::Login)
    );
    assert_eq!(
        decide(&req("", Some(10_000)), sess(now - 2), true, false, now),
        Ok(Step::Issue)
    );
    assert_eq!(
        decide(&req("none", Some(1)), sess(now - 2), true, false, now)
            .unwrap_err()
            .code,
        Code::LoginRequired
    );
    // Consent: asked unless remembered or first-party; prompt=consent asks again.
    assert_eq!(
        decide(&req("", None), sess(now), false, false, now),
        Ok(Step::Consent)
    );
    assert_eq!(
        decide(&req("", None), sess(now), false, true, now),
        Ok(Step::Issue)
    );
    assert_eq!(
        decide(&req("consent", None), sess(now), true, true, now),
        Ok(Step::Consent)
    );
    assert_eq!(
        decide(&req("none", None), sess(now), false, false, now)
            .unwrap_err()
            .code,
        Code::ConsentRequired
    );
    // An id_token_hint for another user means the session cannot be used.
    let other = Some(SessionFacts {
        auth_time: now,
        hint_matches: Some(false),
    });
    assert_eq!(
        decide(&req("none", None), other, true, false, now)
            .unwrap_err()
            .code,
        Code::LoginRequired
    );
}
