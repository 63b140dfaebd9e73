//! The world the OAuth suites run in (both backends, fixed clock): two tenants, a user with a
//! session, a first-party relying party, a service client and a client of the other tenant,
//! plus helpers to get a code and exchange it.

use std::collections::HashMap;

use opentrusty::app::AppState;
use opentrusty::domain::client::{AuthMethod, Client};
use opentrusty::domain::tenant::{Slug, Tenant};
use opentrusty::domain::user::Profile;
use opentrusty::protocol::Error;
use opentrusty::protocol::token::{Issued, TokenRequest};
use opentrusty::service::authorize::{self, Outcome};
use opentrusty::service::client_auth::Presented;
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::{Context, admin, sessions, token};
use opentrusty::store::Store;

use crate::common::stores;

pub(crate) const KEK: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub(crate) const CB: &str = "https://rp.example/cb";

pub(crate) struct World {
    pub(crate) app: AppState,
    pub(crate) a: Tenant,
    pub(crate) b: Tenant,
    pub(crate) rp: (Client, String),
    pub(crate) svc: (Client, String),
    pub(crate) b_rp: (Client, String),
    pub(crate) session: String,
}

pub(crate) fn app(store: Store) -> AppState {
    stores::app(store, &[("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)])
}

pub(crate) async fn tenant(app: &AppState, slug: &str) -> Tenant {
    let mut tx = app.store.begin().await.unwrap();
    let t = tx
        .tenant_insert(&Slug::parse(slug).unwrap(), slug, app.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    t
}

pub(crate) async fn client(
    app: &AppState,
    t: &Tenant,
    grants: &[&str],
    first_party: bool,
) -> (Client, String) {
    let c = clients::create(
        app,
        t,
        &NewClient {
            name: "RP".into(),
            redirect_uris: vec![CB.into()],
            grant_types: grants.iter().map(|s| s.to_string()).collect(),
            scopes: Some("openid profile email offline_access api".into()),
            first_party,
            ..NewClient::default()
        },
        &Context::default(),
    )
    .await
    .unwrap();
    (c.client, c.secret.unwrap())
}

pub(crate) async fn world(store: Store) -> World {
    let app = app(store);
    let a = tenant(&app, "acme").await;
    let b = tenant(&app, "beta").await;
    let user = admin::user_create(
        &app,
        &a,
        admin::UserInput {
            email: "ada@example.com",
            password: None,
            profile: Profile {
                name: Some("Ada".into()),
                ..Profile::default()
            },
            email_verified: true,
        },
        &Context::default(),
    )
    .await
    .unwrap();
    let rp = client(&app, &a, &["authorization_code", "refresh_token"], true).await;
    let svc = client(&app, &a, &["client_credentials"], false).await;
    let b_rp = client(
        &app,
        &b,
        &["authorization_code", "refresh_token", "client_credentials"],
        true,
    )
    .await;
    let mut tx = app.store.begin().await.unwrap();
    let (session, _) = sessions::create(
        &mut tx.scope(&a),
        &user,
        &["pwd"],
        &Context::default(),
        app.clock.now(),
        3600,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    World {
        app,
        a,
        b,
        rp,
        svc,
        b_rp,
        session,
    }
}

pub(crate) fn basic(c: &(Client, String)) -> Presented {
    Presented {
        client_id: c.0.client_id.clone(),
        secret: Some(c.1.clone()),
        method: AuthMethod::ClientSecretBasic,
    }
}

pub(crate) async fn code(w: &World, extra: &[(&str, &str)]) -> Result<String, Outcome> {
    code_in_session(w, &w.session, extra).await
}

/// A code for `rp` from the browser session `session` of tenant `a`.
pub(crate) async fn code_in_session(
    w: &World,
    session: &str,
    extra: &[(&str, &str)],
) -> Result<String, Outcome> {
    let mut p: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", w.rp.0.client_id.as_str()),
        ("redirect_uri", CB),
        ("scope", "openid profile offline_access"),
        ("state", "s"),
        ("nonce", "n"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        p.insert(k.to_string(), v.to_string());
    }
    match authorize::authorize(&w.app, &w.a, p, Some(session), None, &Context::default())
        .await
        .unwrap()
    {
        Outcome::Redirect(to) => {
            let u = url::Url::parse(&to).unwrap();
            let q: HashMap<_, _> = u.query_pairs().into_owned().collect();
            assert_eq!(q.get("state").map(String::as_str), Some("s"));
            assert_eq!(q["iss"], "https://id.example.test/t/acme");
            q.get("code").cloned().ok_or(Outcome::Redirect(to))
        }
        other => Err(other),
    }
}

pub(crate) async fn exchange(
    w: &World,
    t: &Tenant,
    who: &(Client, String),
    req: TokenRequest,
) -> Result<Issued, Error> {
    token::exchange(&w.app, t, &basic(who), req, &Context::default()).await
}

pub(crate) fn by_code(c: &str) -> TokenRequest {
    TokenRequest::AuthorizationCode {
        code: c.into(),
        redirect_uri: Some(CB.into()),
        code_verifier: None,
    }
}

pub(crate) fn by_refresh(r: &str) -> TokenRequest {
    TokenRequest::RefreshToken {
        refresh_token: r.into(),
        scope: None,
    }
}
