//! Keys, clients and housekeeping through the services, on both backends: two nodes agree on
//! signing keys through a rotation, the client lifecycle, purging expired rows.

use opentrusty::protocol::token::TokenRequest;
use opentrusty::protocol::{Code, keyring};
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::{Context, introspect, keys};
use opentrusty::store::Store;

use crate::both_backends;
use crate::oauth_world::*;

async fn two_nodes_agree_on_keys_through_rotation(store: Store) {
    let w = world(store.clone()).await;
    let node2 = app(store);
    let k1 = w.app.keys.for_tenant(&w.app, &w.a).await.unwrap();
    let k2 = node2.keys.for_tenant(&node2, &w.a).await.unwrap();
    assert_eq!(k1.jwks, k2.jwks, "both nodes publish the same JWKS");
    let now = w.app.clock.now();
    let old = k1
        .signer(opentrusty::domain::client::SigningAlg::RS256, now)
        .unwrap()
        .kid
        .clone();
    // Node 1 rotates; after its cache period node 2 publishes the next key, but neither signs
    // with it before it activates.
    let next = keys::rotate(
        &w.app,
        &w.a,
        opentrusty::domain::client::SigningAlg::RS256,
        keyring::PUBLISH_LEAD,
    )
    .await
    .unwrap();
    node2.clock.advance(61);
    w.app.clock.advance(61);
    let k2 = node2.keys.for_tenant(&node2, &w.a).await.unwrap();
    assert!(k2.jwks.contains(&next.kid) && k2.jwks.contains(&old));
    assert_eq!(
        keys::signer(&node2, &w.a, opentrusty::domain::client::SigningAlg::RS256)
            .await
            .unwrap()
            .kid,
        old
    );
    node2.clock.advance(keyring::PUBLISH_LEAD);
    w.app.clock.advance(keyring::PUBLISH_LEAD);
    for n in [&w.app, &node2] {
        assert_eq!(
            keys::signer(n, &w.a, opentrusty::domain::client::SigningAlg::RS256)
                .await
                .unwrap()
                .kid,
            next.kid
        );
        assert!(
            n.keys
                .for_tenant(n, &w.a)
                .await
                .unwrap()
                .jwks
                .contains(&old),
            "retired key stays published"
        );
    }
    // Once every token the old key signed has expired, housekeeping drops it.
    w.app.clock.advance(keyring::MAX_SIGNED_LIFETIME);
    keys::maintain(&w.app, &w.a).await.unwrap();
    let k = w.app.keys.for_tenant(&w.app, &w.a).await.unwrap();
    assert!(!k.jwks.contains(&old) && k.jwks.contains(&next.kid));
    // Concurrent first keys for a fresh tenant: one generation wins, both nodes agree.
    let c = tenant(&w.app, "gamma").await;
    let (x, y) = tokio::join!(
        w.app.keys.for_tenant(&w.app, &c),
        node2.keys.for_tenant(&node2, &c)
    );
    assert_eq!(x.unwrap().jwks, y.unwrap().jwks);
}
both_backends!(two_nodes_agree_on_keys_through_rotation);

async fn clients_lifecycle(store: Store) {
    let w = world(store).await;
    let s = clients::rotate_secret(&w.app, &w.a, &w.svc.0.client_id, &Context::default())
        .await
        .unwrap();
    let cc = TokenRequest::ClientCredentials { scope: None };
    assert_eq!(
        exchange(&w, &w.a, &w.svc, cc.clone())
            .await
            .unwrap_err()
            .code,
        Code::InvalidClient
    );
    let t = exchange(&w, &w.a, &(w.svc.0.clone(), s), cc).await.unwrap();
    clients::delete(&w.app, &w.a, &w.svc.0.client_id, &Context::default())
        .await
        .unwrap();
    let v = introspect::introspect(&w.app, &w.a, &basic(&w.rp), &t.access_token, None).await;
    // rp is confidential: the deleted client's token is simply gone.
    assert_eq!(v.unwrap()["active"], false);
    // Registration rules are enforced.
    let bad = NewClient {
        name: "x".into(),
        redirect_uris: vec!["http://evil.example/cb".into()],
        ..NewClient::default()
    };
    assert!(
        clients::create(&w.app, &w.a, &bad, &Context::default())
            .await
            .is_err()
    );
    let bad = NewClient {
        name: "x".into(),
        public: true,
        grant_types: vec!["client_credentials".into()],
        ..NewClient::default()
    };
    assert!(
        clients::create(&w.app, &w.a, &bad, &Context::default())
            .await
            .is_err()
    );
}
both_backends!(clients_lifecycle);

async fn housekeeping_purges_expired_rows(store: Store) {
    let w = world(store).await;
    let _ = exchange(
        &w,
        &w.a,
        &w.svc,
        TokenRequest::ClientCredentials { scope: None },
    )
    .await
    .unwrap();
    let _ = code(&w, &[]).await.unwrap();
    w.app.clock.advance(10 * 86_400);
    let counts = opentrusty::service::housekeeping::round(&w.app)
        .await
        .unwrap();
    let get = |t: &str| {
        counts
            .iter()
            .find(|(n, _)| *n == t)
            .map(|(_, n)| *n)
            .unwrap()
    };
    assert_eq!(get("access_tokens"), 1);
    assert_eq!(get("auth_codes"), 1);
    assert_eq!(get("sessions"), 1);
}
both_backends!(housekeeping_purges_expired_rows);
