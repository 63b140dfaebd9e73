//! What a client may do with other clients' tokens, through the real endpoints on both
//! backends: introspection sees a client's own tokens, other clients' access tokens only with
//! the registered permission (RFC 7662 §4), refresh tokens only their own client's; and the
//! `Basic` challenge follows only a request that used Basic (RFC 6749 §5.2).

use axum::http::StatusCode;
use opentrusty::service::Context;
use opentrusty::service::clients::{self, ClientPatch, NewClient};
use opentrusty::store::Store;

use crate::both_backends;
use crate::credentials::{call, introspect, post_basic, post_form, redeem, s, sign_in};
use crate::oauth_world::{CB, world};

/// RFC 7662 §4: a client sees its own tokens; another client's access tokens only with the
/// registered permission; refresh tokens only their own client, ever.
async fn introspection_is_limited_to_what_the_caller_may_see(store: Store) {
    let w = world(store).await;
    let ctx = Context::default();
    let tokens = redeem(&w, &sign_in(&w, "ada@example.com").await).await;
    let (access, refresh_token) = (s(&tokens, "access_token"), s(&tokens, "refresh_token"));
    let own = introspect(&w, &w.rp, &access).await;
    assert_eq!(own["active"], true);
    assert_eq!(own["client_id"], w.rp.0.client_id.as_str());
    assert_eq!(introspect(&w, &w.rp, &refresh_token).await["active"], true);

    // svc is confidential but has no permission: it learns nothing of rp's tokens.
    for t in [&access, &refresh_token] {
        let v = introspect(&w, &w.svc, t).await;
        assert_eq!(v, serde_json::json!({ "active": false }));
    }
    // With the permission: rp's access token, still not its refresh token.
    let patch = ClientPatch {
        introspection: Some(true),
    };
    let svc = clients::update(&w.app, &w.a, &w.svc.0.client_id, &patch, &ctx)
        .await
        .unwrap();
    assert!(svc.introspection);
    let v = introspect(&w, &w.svc, &access).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["sub"], own["sub"]);
    assert_eq!(
        introspect(&w, &w.svc, &refresh_token).await,
        serde_json::json!({ "active": false })
    );
    // Withdrawn again.
    let patch = ClientPatch {
        introspection: Some(false),
    };
    clients::update(&w.app, &w.a, &w.svc.0.client_id, &patch, &ctx)
        .await
        .unwrap();
    assert_eq!(introspect(&w, &w.svc, &access).await["active"], false);
    // A public client cannot be given the permission.
    let public = clients::create(
        &w.app,
        &w.a,
        &NewClient {
            name: "SPA".into(),
            public: true,
            redirect_uris: vec![CB.into()],
            introspection: true,
            ..NewClient::default()
        },
        &ctx,
    )
    .await;
    assert!(public.is_err());
}
both_backends!(introspection_is_limited_to_what_the_caller_may_see);

/// RFC 6749 §5.2: the Basic challenge answers a client that tried Basic, and only that one.
async fn basic_challenge_only_after_basic(store: Store) {
    let w = world(store).await;
    let post = clients::create(
        &w.app,
        &w.a,
        &NewClient {
            name: "post".into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: Some("client_secret_post".into()),
            scopes: Some("api".into()),
            ..NewClient::default()
        },
        &Context::default(),
    )
    .await
    .unwrap();
    let post = (post.client, post.secret.unwrap());
    let wrong_basic = (w.svc.0.clone(), "wrong".to_owned());
    let wrong_post = (post.0.clone(), "wrong".to_owned());
    for (endpoint, pairs) in [
        ("/token", vec![("grant_type", "client_credentials")]),
        ("/introspect", vec![("token", "x")]),
        ("/revoke", vec![("token", "x")]),
    ] {
        let a = call(&w, post_basic(&w.a, endpoint, &wrong_basic, &pairs)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{endpoint}");
        assert_eq!(a.body["error"], "invalid_client");
        assert!(
            a.challenge
                .as_deref()
                .is_some_and(|c| c.starts_with("Basic ")),
            "{endpoint}: Basic was used, the challenge is due"
        );
        let a = call(&w, post_form(&w.a, endpoint, &wrong_post, &pairs)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{endpoint}");
        assert_eq!(a.body["error"], "invalid_client");
        assert_eq!(
            a.challenge, None,
            "{endpoint}: no challenge after client_secret_post"
        );
        // The right secret in the body works, so the refusal above was about the secret.
        let a = call(&w, post_form(&w.a, endpoint, &post, &pairs)).await;
        assert_eq!(a.status, StatusCode::OK, "{endpoint}: {}", a.body);
    }
}
both_backends!(basic_challenge_only_after_basic);
