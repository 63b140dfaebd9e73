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
        require_mfa: false,
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
        second_factor_missing: false,
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
        second_factor_missing: false,
    });
    assert_eq!(
        decide(&req("none", None), other, true, false, now)
            .unwrap_err()
            .code,
        Code::LoginRequired
    );
}

#[test]
fn a_missing_second_factor_comes_after_the_login_and_before_consent() {
    let now = 10_000;
    let pwd_only = Some(SessionFacts {
        auth_time: now,
        hint_matches: None,
        second_factor_missing: true,
    });
    for (consent, first_party) in [(true, false), (false, false), (false, true)] {
        assert_eq!(
            decide(&req("", None), pwd_only, consent, first_party, now),
            Ok(Step::SecondFactor)
        );
    }
    // OIDC Core §3.1.2.6: the user is needed at a page, so prompt=none cannot be answered.
    assert_eq!(
        decide(&req("none", None), pwd_only, true, true, now)
            .unwrap_err()
            .code,
        Code::InteractionRequired
    );
    // A login that is due anyway (prompt=login, max_age) comes first; the factor after it.
    assert_eq!(
        decide(&req("login", None), pwd_only, true, false, now),
        Ok(Step::Login)
    );
    assert_eq!(
        decide(
            &req("", Some(1)),
            pwd_only.map(|s| SessionFacts {
                auth_time: now - 5,
                ..s
            }),
            true,
            false,
            now
        ),
        Ok(Step::Login)
    );
}

#[test]
fn acr_values_are_read_and_the_mfa_value_recognized() {
    let c = client(ClientKind::Confidential);
    let with = |v: &str| {
        parse(
            &params(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("acr_values", v),
            ]),
            &c,
        )
        .unwrap()
    };
    let r = with("urn:other:gold  urn:opentrusty:mfa");
    assert_eq!(r.acr_values, ["urn:other:gold", "urn:opentrusty:mfa"]);
    assert!(r.asks_mfa());
    assert!(!with("urn:opentrusty:pwd").asks_mfa());
    assert!(!with("urn:opentrusty:mfa2").asks_mfa());
    let too_long = "a".repeat(crate::protocol::limits::OTHER + 1);
    let e = parse(
        &params(&[
            ("response_type", "code"),
            ("scope", "openid"),
            ("acr_values", &too_long),
        ]),
        &c,
    )
    .unwrap_err();
    assert!(e.description.contains("acr_values"), "{}", e.description);
}

mod properties {
    use super::*;
    use crate::protocol::limits;
    use crate::protocol::token::single;
    use proptest::prelude::*;

    const NAMES: &[&str] = &[
        "response_type",
        "response_mode",
        "scope",
        "state",
        "nonce",
        "prompt",
        "max_age",
        "login_hint",
        "id_token_hint",
        "code_challenge",
        "code_challenge_method",
        "request",
        "request_uri",
        "ui_locales",
    ];

    /// A client error of the authorization endpoint (sent back to the client's URI).
    fn clean(e: &Error) -> bool {
        !matches!(e.code, Code::ServerError | Code::TemporarilyUnavailable)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any query string: parsed or refused with a client error, never a panic; accepted
        /// values are within their bounds.
        #[test]
        fn any_query_is_refused_cleanly(query in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let pairs = url::form_urlencoded::parse(&query).into_owned().collect();
            let c = client(ClientKind::Public);
            match single(pairs).and_then(|p| parse(&p, &c)) {
                Ok(r) => prop_assert!(r.state.is_none_or(|s| s.len() <= limits::STATE)),
                Err(e) => prop_assert!(clean(&e), "{e}"),
            }
        }

        /// Known parameters with arbitrary values, also beyond their bounds.
        #[test]
        fn known_parameters_with_any_values(
            values in proptest::collection::btree_map(
                proptest::sample::select(NAMES),
                prop_oneof![
                    ".{0,40}",
                    Just("code".to_string()),
                    Just("openid profile".to_string()),
                    Just("S256".to_string()),
                    "[a-z]{300,9000}",
                ],
                0..10,
            ),
            public: bool,
        ) {
            let p: HashMap<String, String> =
                values.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let c = client(if public { ClientKind::Public } else { ClientKind::Confidential });
            match parse(&p, &c) {
                Ok(r) => {
                    prop_assert!(r.nonce.is_none_or(|n| n.len() <= limits::NONCE));
                    prop_assert!(r.login_hint.is_none_or(|n| n.len() <= limits::LOGIN_HINT));
                    prop_assert!(r.id_token_hint.is_none_or(|n| n.len() <= limits::ID_TOKEN_HINT));
                }
                Err(e) => prop_assert!(clean(&e), "{e}"),
            }
            let _ = Prompt::parse(p.get("prompt").map(String::as_str));
        }

        /// Well-formed requests are accepted with what was sent.
        #[test]
        fn valid_requests_are_accepted(
            scope in proptest::sample::subsequence(vec!["profile", "email", "offline_access"], 0..=3),
            state in "[ -~]{1,100}",
            nonce in "[A-Za-z0-9]{1,64}",
            max_age in proptest::option::of(0i64..1_000_000),
            verifier in "[A-Za-z0-9._~-]{43,128}",
        ) {
            use aws_lc_rs::digest;
            use base64::Engine;
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
            let scope = std::iter::once("openid").chain(scope).collect::<Vec<_>>().join(" ");
            let max_age = max_age.map(|m| m.to_string());
            let mut pairs = vec![
                ("response_type", "code"),
                ("scope", &scope),
                ("state", &state),
                ("nonce", &nonce),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ];
            if let Some(m) = &max_age {
                pairs.push(("max_age", m));
            }
            let r = parse(&params(&pairs), &client(ClientKind::Public)).unwrap();
            prop_assert_eq!(r.scope, Scope::parse(&scope).unwrap());
            prop_assert_eq!(r.state.as_deref(), Some(state.as_str()));
            prop_assert_eq!(r.nonce.as_deref(), Some(nonce.as_str()));
            prop_assert_eq!(r.max_age.map(|m| m.to_string()), max_age);
            prop_assert_eq!(r.challenge.map(|c| c.value), Some(challenge));
        }
    }
}
