//! A relying party of tenant `acme` for the API suites: a signed-in user, `/authorize` and the
//! token endpoint driven in process, and a client registered through the API.

use std::collections::HashMap;

use axum::http::StatusCode;
use opentrusty::domain::client::AuthMethod;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::Profile;
use opentrusty::protocol::token::{Issued, TokenRequest};
use opentrusty::service::authorize::{self, Outcome};
use opentrusty::service::client_auth::Presented;
use opentrusty::service::{Context, admin, sessions, token};
use serde_json::{Value, json};

use super::harness::Api;

pub(super) const CB: &str = "https://rp.example/cb";

/// A user of `t` with a browser session; returns the session token.
pub(super) async fn signed_in(api: &Api, t: &Tenant, email: &str) -> String {
    let user = admin::user_create(
        &api.app,
        t,
        admin::UserInput {
            email,
            password: None,
            profile: Profile::default(),
            email_verified: true,
        },
        &Context::default(),
    )
    .await
    .unwrap();
    let mut tx = api.app.store.begin().await.unwrap();
    let (session, _) = sessions::create(
        &mut tx.scope(t),
        &user,
        &["pwd"],
        &Context::default(),
        api.app.clock.now(),
        3600,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    session
}

/// `/authorize` for `client_id` in tenant a: the code, or the outcome that is not one.
pub(super) async fn code(
    api: &Api,
    session: &str,
    client_id: &str,
    redirect: &str,
    scope: &str,
) -> Result<String, String> {
    let p: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("scope", scope),
        ("state", "s"),
        ("nonce", "n"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = authorize::authorize(
        &api.app,
        &api.a,
        p,
        Some(session),
        None,
        &Context::default(),
    )
    .await
    .unwrap();
    match out {
        Outcome::Redirect(to) => {
            let u = url::Url::parse(&to).unwrap();
            let q: HashMap<_, _> = u.query_pairs().into_owned().collect();
            q.get("code").cloned().ok_or(to)
        }
        Outcome::ErrorPage(e) => Err(e),
        _ => Err("neither a redirect nor an error page".into()),
    }
}

/// The code exchanged at the token endpoint of tenant a with `secret`.
pub(super) async fn exchange(
    api: &Api,
    client_id: &str,
    secret: &str,
    code: &str,
    redirect: &str,
) -> Result<Issued, String> {
    let who = Presented {
        client_id: client_id.into(),
        secret: Some(secret.into()),
        method: AuthMethod::ClientSecretBasic,
    };
    let req = TokenRequest::AuthorizationCode {
        code: code.into(),
        redirect_uri: Some(redirect.into()),
        code_verifier: None,
    };
    token::exchange(&api.app, &api.a, &who, req, &Context::default())
        .await
        .map_err(|e| format!("{e:?}"))
}

/// Registers a first-party confidential client of tenant a through the API.
pub(super) async fn register(api: &Api, bearer: &str, extra: Value) -> Value {
    let mut body = json!({
        "client_name": "Portal",
        "redirect_uris": [CB],
        "first_party": true,
        "scope": "openid profile offline_access",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let made = api
        .call(
            "POST",
            "/api/v1/tenants/acme/clients",
            Some(bearer),
            Some(body),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    made.json
}
