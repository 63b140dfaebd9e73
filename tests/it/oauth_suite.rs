//! The OAuth grants on both backends with a fixed clock: code flow and replay, refresh
//! rotation and reuse, client credentials, introspection and revocation.

use opentrusty::domain::client::AuthMethod;
use opentrusty::protocol::Code;
use opentrusty::protocol::token::TokenRequest;
use opentrusty::service::userinfo::Refused;
use opentrusty::service::{Context, introspect, revoke, token, userinfo};
use opentrusty::store::Store;

use crate::both_backends;
use crate::oauth_world::*;

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
    // A retry inside the grace window (default 2 s) is answered again; its refresh token
    // replaces r1, which no longer refreshes.
    w.app.clock.advance(1);
    let retry = exchange(&w, &w.a, &w.rp, by_refresh(&r0)).await.unwrap();
    assert_eq!(
        exchange(&w, &w.a, &w.rp, by_refresh(&r1))
            .await
            .unwrap_err()
            .code,
        Code::InvalidGrant
    );
    let r1 = retry.refresh_token.unwrap();
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
