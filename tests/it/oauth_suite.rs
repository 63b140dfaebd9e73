//! The OAuth services and stores, written once and run on both backends with a fixed clock:
//! grants, code replay, refresh rotation and reuse, revocation, introspection, cross-tenant
//! isolation, client management, and key rotation agreed by two nodes on one database.

use std::collections::HashMap;

use opentrusty::app::AppState;
use opentrusty::domain::client::{AuthMethod, Client};
use opentrusty::domain::tenant::{Slug, Tenant};
use opentrusty::domain::user::Profile;
use opentrusty::protocol::token::{Issued, TokenRequest};
use opentrusty::protocol::{Code, Error};
use opentrusty::service::authorize::{self, Outcome};
use opentrusty::service::client_auth::Presented;
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::userinfo::Refused;
use opentrusty::service::{Context, admin, introspect, revoke, sessions, token, userinfo};
use opentrusty::store::Store;

use crate::both_backends;
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
    match authorize::authorize(&w.app, &w.a, p, Some(&w.session), None, &Context::default())
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

async fn code_flow_and_replay(store: Store) {
    let w = world(store).await;
    let c = code(&w, &[]).await.unwrap();
    let first = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap();
    assert!(first.id_token.is_some() && first.refresh_token.is_some());
    let claims = userinfo::userinfo(&w.app, &w.a, &first.access_token)
        .await
        .unwrap();
    assert_eq!(claims["name"], "Ada");
    // A second redemption fails and revokes what the first one issued (RFC 6749 §4.1.2).
    let again = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap_err();
    assert_eq!(again.code, Code::InvalidGrant);
    assert_eq!(
        userinfo::userinfo(&w.app, &w.a, &first.access_token)
            .await
            .unwrap_err(),
        Refused::InvalidToken
    );
    let r = exchange(
        &w,
        &w.a,
        &w.rp,
        by_refresh(first.refresh_token.as_ref().unwrap()),
    )
    .await
    .unwrap_err();
    assert_eq!(r.code, Code::InvalidGrant);
    // Wrong redirect_uri and expired codes fail too.
    let c = code(&w, &[]).await.unwrap();
    let wrong = TokenRequest::AuthorizationCode {
        code: c,
        redirect_uri: Some("https://rp.example/other".into()),
        code_verifier: None,
    };
    assert_eq!(
        exchange(&w, &w.a, &w.rp, wrong).await.unwrap_err().code,
        Code::InvalidGrant
    );
    let c = code(&w, &[]).await.unwrap();
    w.app.clock.advance(61);
    assert_eq!(
        exchange(&w, &w.a, &w.rp, by_code(&c))
            .await
            .unwrap_err()
            .code,
        Code::InvalidGrant
    );
}
both_backends!(code_flow_and_replay);

async fn concurrent_redemption_has_one_winner(store: Store) {
    let w = std::sync::Arc::new(world(store).await);
    let c = code(&w, &[]).await.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (w, c) = (w.clone(), c.clone());
            tokio::spawn(async move { exchange(&w, &w.a, &w.rp, by_code(&c)).await.is_ok() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}
both_backends!(concurrent_redemption_has_one_winner);

async fn refresh_rotation_grace_and_reuse(store: Store) {
    let w = world(store).await;
    let c = code(&w, &[]).await.unwrap();
    let t0 = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap();
    let r0 = t0.refresh_token.unwrap();
    let t1 = exchange(&w, &w.a, &w.rp, by_refresh(&r0)).await.unwrap();
    let r1 = t1.refresh_token.clone().unwrap();
    assert_ne!(r0, r1);
    assert_ne!(t0.access_token, t1.access_token);
    // A retry inside the grace window (default 10 s) is answered again.
    w.app.clock.advance(5);
    assert!(exchange(&w, &w.a, &w.rp, by_refresh(&r0)).await.is_ok());
    // Narrowing works; widening does not.
    let narrow = TokenRequest::RefreshToken {
        refresh_token: r1.clone(),
        scope: Some(opentrusty::domain::scope::Scope::parse("openid").unwrap()),
    };
    let t2 = exchange(&w, &w.a, &w.rp, narrow).await.unwrap();
    assert_eq!(t2.scope.to_string(), "openid");
    let r2 = t2.refresh_token.unwrap();
    let wide = TokenRequest::RefreshToken {
        refresh_token: r2.clone(),
        scope: Some(opentrusty::domain::scope::Scope::parse("openid email").unwrap()),
    };
    assert_eq!(
        exchange(&w, &w.a, &w.rp, wide).await.unwrap_err().code,
        Code::InvalidScope
    );
    // Outside the grace window, presenting r0 again is a replay: the family dies.
    w.app.clock.advance(30);
    assert_eq!(
        exchange(&w, &w.a, &w.rp, by_refresh(&r0))
            .await
            .unwrap_err()
            .code,
        Code::InvalidGrant
    );
    assert_eq!(
        exchange(&w, &w.a, &w.rp, by_refresh(&r2))
            .await
            .unwrap_err()
            .code,
        Code::InvalidGrant
    );
    assert_eq!(
        userinfo::userinfo(&w.app, &w.a, &t2.access_token)
            .await
            .unwrap_err(),
        Refused::InvalidToken
    );
    // Another client cannot use this client's refresh token.
    let c = code(&w, &[]).await.unwrap();
    let fresh = exchange(&w, &w.a, &w.rp, by_code(&c))
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let other = client(&w.app, &w.a, &["authorization_code", "refresh_token"], true).await;
    assert_eq!(
        exchange(&w, &w.a, &other, by_refresh(&fresh))
            .await
            .unwrap_err()
            .code,
        Code::InvalidGrant
    );
}
both_backends!(refresh_rotation_grace_and_reuse);

async fn client_credentials_introspect_revoke(store: Store) {
    let w = world(store).await;
    let cc = TokenRequest::ClientCredentials { scope: None };
    let t = exchange(&w, &w.a, &w.svc, cc.clone()).await.unwrap();
    assert_eq!(t.scope.to_string(), "api");
    assert!(t.refresh_token.is_none() && t.id_token.is_none());
    let bad = TokenRequest::ClientCredentials {
        scope: Some(opentrusty::domain::scope::Scope::parse("openid").unwrap()),
    };
    assert_eq!(
        exchange(&w, &w.a, &w.svc, bad).await.unwrap_err().code,
        Code::InvalidScope
    );
    // The rp client may not use this grant.
    assert_eq!(
        exchange(&w, &w.a, &w.rp, cc.clone())
            .await
            .unwrap_err()
            .code,
        Code::UnauthorizedClient
    );
    // A wrong secret, or the wrong method, is invalid_client.
    let mut wrong = basic(&w.svc);
    wrong.secret = Some("nope".into());
    assert_eq!(
        token::exchange(&w.app, &w.a, &wrong, cc.clone(), &Context::default())
            .await
            .unwrap_err()
            .code,
        Code::InvalidClient
    );
    let mut post = basic(&w.svc);
    post.method = AuthMethod::ClientSecretPost;
    assert_eq!(
        token::exchange(&w.app, &w.a, &post, cc.clone(), &Context::default())
            .await
            .unwrap_err()
            .code,
        Code::InvalidClient
    );

    let v = introspect::introspect(&w.app, &w.a, &basic(&w.svc), &t.access_token, None)
        .await
        .unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], w.svc.0.client_id.as_str());
    let v = introspect::introspect(&w.app, &w.a, &basic(&w.svc), "unknown", None)
        .await
        .unwrap();
    assert_eq!(v["active"], false);
    // Only the owner revokes; unknown tokens are fine.
    revoke::revoke(
        &w.app,
        &w.a,
        &basic(&w.rp),
        &t.access_token,
        &Context::default(),
    )
    .await
    .unwrap();
    let v = introspect::introspect(&w.app, &w.a, &basic(&w.svc), &t.access_token, None)
        .await
        .unwrap();
    assert_eq!(v["active"], true);
    revoke::revoke(
        &w.app,
        &w.a,
        &basic(&w.svc),
        &t.access_token,
        &Context::default(),
    )
    .await
    .unwrap();
    let v = introspect::introspect(&w.app, &w.a, &basic(&w.svc), &t.access_token, None)
        .await
        .unwrap();
    assert_eq!(v["active"], false);
    revoke::revoke(&w.app, &w.a, &basic(&w.svc), "unknown", &Context::default())
        .await
        .unwrap();
    // Expiry.
    let t = exchange(&w, &w.a, &w.svc, cc).await.unwrap();
    w.app.clock.advance(3600);
    let v = introspect::introspect(&w.app, &w.a, &basic(&w.svc), &t.access_token, None)
        .await
        .unwrap();
    assert_eq!(v["active"], false);
}
both_backends!(client_credentials_introspect_revoke);

async fn revoking_a_refresh_token_ends_its_family(store: Store) {
    let w = world(store).await;
    let c = code(&w, &[]).await.unwrap();
    let t = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap();
    revoke::revoke(
        &w.app,
        &w.a,
        &basic(&w.rp),
        t.refresh_token.as_ref().unwrap(),
        &Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        userinfo::userinfo(&w.app, &w.a, &t.access_token)
            .await
            .unwrap_err(),
        Refused::InvalidToken
    );
    assert!(
        exchange(
            &w,
            &w.a,
            &w.rp,
            by_refresh(t.refresh_token.as_ref().unwrap())
        )
        .await
        .is_err()
    );
}
both_backends!(revoking_a_refresh_token_ends_its_family);

async fn nothing_crosses_tenants(store: Store) {
    let w = world(store).await;
    let c = code(&w, &[]).await.unwrap();
    // Tenant A's client does not exist in B.
    let e = exchange(&w, &w.b, &w.rp, by_code(&c)).await.unwrap_err();
    assert_eq!(e.code, Code::InvalidClient);
    // B's own client cannot redeem A's code in B.
    assert_eq!(
        exchange(&w, &w.b, &w.b_rp, by_code(&c))
            .await
            .unwrap_err()
            .code,
        Code::InvalidGrant
    );
    // The code still works in A (it was never taken in B).
    let t = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap();
    // A's tokens are unknown in B.
    assert_eq!(
        userinfo::userinfo(&w.app, &w.b, &t.access_token)
            .await
            .unwrap_err(),
        Refused::InvalidToken
    );
    let v = introspect::introspect(&w.app, &w.b, &basic(&w.b_rp), &t.access_token, None)
        .await
        .unwrap();
    assert_eq!(v["active"], false);
    assert_eq!(
        exchange(
            &w,
            &w.b,
            &w.b_rp,
            by_refresh(t.refresh_token.as_ref().unwrap())
        )
        .await
        .unwrap_err()
        .code,
        Code::InvalidGrant
    );
    // A's session does not authorize in B.
    let p: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", w.b_rp.0.client_id.as_str()),
        ("redirect_uri", CB),
        ("scope", "openid"),
        ("prompt", "none"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    match authorize::authorize(&w.app, &w.b, p, Some(&w.session), None, &Context::default())
        .await
        .unwrap()
    {
        Outcome::Redirect(to) => assert!(to.contains("error=login_required"), "{to}"),
        other => panic!("{other:?}"),
    }
    // A's client is not a client of B at the authorize endpoint either.
    let p: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", w.rp.0.client_id.as_str()),
        ("redirect_uri", CB),
        ("scope", "openid"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert!(matches!(
        authorize::authorize(&w.app, &w.b, p, None, None, &Context::default())
            .await
            .unwrap(),
        Outcome::ErrorPage(_)
    ));
    // Clients are not listed or deletable across tenants.
    assert!(
        clients::list(&w.app, &w.b)
            .await
            .unwrap()
            .iter()
            .all(|c| c.client_id != w.rp.0.client_id)
    );
    assert!(
        clients::delete(&w.app, &w.b, &w.rp.0.client_id, &Context::default())
            .await
            .is_err()
    );
}
both_backends!(nothing_crosses_tenants);

async fn prompt_max_age_and_hint(store: Store) {
    let w = world(store).await;
    w.app.clock.advance(100);
    assert!(matches!(
        code(&w, &[("prompt", "login")]).await,
        Err(Outcome::Login { .. })
    ));
    assert!(matches!(
        code(&w, &[("max_age", "10")]).await,
        Err(Outcome::Login { .. })
    ));
    assert!(code(&w, &[("max_age", "1000")]).await.is_ok());
    let t = exchange(&w, &w.a, &w.rp, by_code(&code(&w, &[]).await.unwrap()))
        .await
        .unwrap();
    let hint = t.id_token.unwrap();
    assert!(
        code(&w, &[("prompt", "none"), ("id_token_hint", &hint)])
            .await
            .is_ok()
    );
    match code(&w, &[("id_token_hint", "not.a.jwt")]).await {
        Err(Outcome::Redirect(to)) => assert!(to.contains("error=invalid_request")),
        other => panic!("{other:?}"),
    }
    // A client that is not first-party gets the consent page, and access_denied on "deny".
    let third = client(&w.app, &w.a, &["authorization_code"], false).await;
    let p: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", third.0.client_id.as_str()),
        ("redirect_uri", CB),
        ("scope", "openid email"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let ctx = Context::default();
    let consent =
        |answer| authorize::authorize(&w.app, &w.a, p.clone(), Some(&w.session), answer, &ctx);
    assert!(matches!(
        consent(None).await.unwrap(),
        Outcome::Consent { .. }
    ));
    match consent(Some(false)).await.unwrap() {
        Outcome::Redirect(to) => assert!(to.contains("error=access_denied")),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(consent(Some(true)).await.unwrap(), Outcome::Redirect(to) if to.contains("code="))
    );
    // Remembered from now on.
    assert!(matches!(consent(None).await.unwrap(), Outcome::Redirect(to) if to.contains("code=")));
}
both_backends!(prompt_max_age_and_hint);

async fn public_clients_need_pkce(store: Store) {
    let w = world(store).await;
    let public = clients::create(
        &w.app,
        &w.a,
        &NewClient {
            name: "SPA".into(),
            redirect_uris: vec![CB.into()],
            public: true,
            first_party: true,
            ..NewClient::default()
        },
        &Context::default(),
    )
    .await
    .unwrap();
    assert!(public.secret.is_none());
    let id = public.client.client_id.clone();
    let params = |extra: &[(&str, &str)]| -> HashMap<String, String> {
        let mut p: HashMap<String, String> = [
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", CB),
            ("scope", "openid"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        p
    };
    let ctx = Context::default();
    // Without a challenge: an error redirect, no code.
    match authorize::authorize(&w.app, &w.a, params(&[]), Some(&w.session), None, &ctx)
        .await
        .unwrap()
    {
        Outcome::Redirect(to) => assert!(to.contains("error=invalid_request"), "{to}"),
        other => panic!("{other:?}"),
    }
    // RFC 7636 Appendix B pair.
    let p = params(&[
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ]);
    let code = match authorize::authorize(&w.app, &w.a, p, Some(&w.session), None, &ctx)
        .await
        .unwrap()
    {
        Outcome::Redirect(to) => url::Url::parse(&to)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned(),
        other => panic!("{other:?}"),
    };
    let who = Presented {
        client_id: id.clone(),
        secret: None,
        method: AuthMethod::None,
    };
    let without = TokenRequest::AuthorizationCode {
        code: code.clone(),
        redirect_uri: Some(CB.into()),
        code_verifier: None,
    };
    assert_eq!(
        token::exchange(&w.app, &w.a, &who, without, &ctx)
            .await
            .unwrap_err()
            .code,
        Code::InvalidGrant
    );
    // That failed attempt spent the code; a fresh one with the verifier works.
    let p = params(&[
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ]);
    let code = match authorize::authorize(&w.app, &w.a, p, Some(&w.session), None, &ctx)
        .await
        .unwrap()
    {
        Outcome::Redirect(to) => url::Url::parse(&to)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned(),
        other => panic!("{other:?}"),
    };
    let with = TokenRequest::AuthorizationCode {
        code,
        redirect_uri: Some(CB.into()),
        code_verifier: Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
    };
    let t = token::exchange(&w.app, &w.a, &who, with, &ctx)
        .await
        .unwrap();
    assert!(t.id_token.is_some());
    // A public client cannot pretend to hold a secret, nor use client_credentials.
    let fake = Presented {
        client_id: id,
        secret: Some("x".into()),
        method: AuthMethod::ClientSecretPost,
    };
    let cc = TokenRequest::ClientCredentials { scope: None };
    assert_eq!(
        token::exchange(&w.app, &w.a, &fake, cc, &ctx)
            .await
            .unwrap_err()
            .code,
        Code::InvalidClient
    );
}
both_backends!(public_clients_need_pkce);
