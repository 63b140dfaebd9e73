//! Authorization rules on both backends with a fixed clock: nothing crosses tenants, prompt,
//! max_age and id_token_hint, PKCE for public clients.

use std::collections::HashMap;

use opentrusty::domain::client::AuthMethod;
use opentrusty::protocol::Code;
use opentrusty::protocol::token::TokenRequest;
use opentrusty::service::authorize::{self, Outcome};
use opentrusty::service::client_auth::Presented;
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::userinfo::Refused;
use opentrusty::service::{Context, introspect, token, userinfo};
use opentrusty::store::Store;

use crate::both_backends;
use crate::oauth_world::*;

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
