//! A passkey sign-in replayed from a ceremony captured once in Chromium
//! (tests/fixtures/webauthn_assertion.json: webauthn-rs's stored state, the browser's answer,
//! the stored credential; see passkeys_browser.rs): the answer verifies once and signs in with
//! `amr` `hwk mfa`; the same ceremony again is gone; another tenant never matches the
//! credential; the same answer against a fresh copy of its state (a replayed assertion: the
//! signature counter no longer grows) is refused and audited as a cloned authenticator, and
//! counts as a failed sign-in. Both backends.

use base64::Engine;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::{Profile, User};
use opentrusty::service::admin::{self, UserInput};
use opentrusty::service::factors::webauthn::binding;
use opentrusty::service::factors::webauthn_signin;
use opentrusty::service::login::Failed;
use opentrusty::service::{Context, Error};
use opentrusty::store::Store;
use opentrusty::store::ceremonies::CeremonyRow;
use opentrusty::store::factors::FactorRow;
use serde_json::Value;

use crate::both_backends;
use crate::common::stores;
use crate::oauth_world::KEK;

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/webauthn_assertion.json")).unwrap()
}

const COOKIE: &str = "the-browsers-pre-login-cookie";

async fn events(app: &opentrusty::app::AppState, t: &Tenant, kind: &str, needle: &str) -> usize {
    opentrusty::service::audit::list(app, Some(t), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == kind && e.metadata.contains(needle))
        .count()
}

async fn ceremony(app: &opentrusty::app::AppState, t: &Tenant, id: &str, state: &Value) {
    let now = app.clock.now();
    let mut tx = app.store.begin().await.unwrap();
    tx.scope(t)
        .ceremony_insert(&CeremonyRow {
            id: id.into(),
            purpose: "signin".into(),
            binding: binding(COOKIE),
            user_id: None,
            name: None,
            state: state.to_string(),
            created_at: now,
            expires_at: now + 300,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn a_captured_sign_in_verifies_once(store: Store) {
    let fx = fixture();
    let origin = fx["origin"].as_str().unwrap();
    let app = stores::app(
        store,
        &[
            ("OPENTRUSTY_PUBLIC_URL", origin),
            ("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
        ],
    );
    let ctx = Context::default();
    let mut tenants: Vec<(Tenant, User)> = Vec::new();
    for slug in ["acme", "beta"] {
        let t = admin::tenant_create(&app, slug, None, &Context::cli())
            .await
            .unwrap();
        let input = UserInput {
            email: "alice@example.com",
            password: Some("password-acme"),
            profile: Profile::default(),
            email_verified: true,
        };
        let u = admin::user_create(&app, &t, input, &Context::cli())
            .await
            .unwrap();
        tenants.push((t, u));
    }
    let (acme, alice) = &tenants[0];
    let (beta, _) = &tenants[1];
    // The captured credential becomes alice's passkey at acme only.
    let credential_id = fx["response"]["rawId"].as_str().unwrap().to_owned();
    let mut tx = app.store.begin().await.unwrap();
    tx.scope(acme)
        .factor_insert(&FactorRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: alice.id.to_string(),
            kind: "webauthn".into(),
            name: "Laptop".into(),
            secret: None,
            kek_id: None,
            credential_id: Some(credential_id.clone()),
            credential: Some(fx["credential"].to_string()),
            last_step: None,
            confirmed: true,
            created_at: app.clock.now(),
            last_used_at: None,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The user handle names the account; it is not covered by the signature, so the answer
    // can name this test's alice.
    let mut answer = fx["response"].clone();
    let uuid = uuid::Uuid::parse_str(&alice.id.to_string()).unwrap();
    answer["response"]["userHandle"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(uuid.as_bytes())
        .into();
    let state = &fx["state"];
    let bound = binding(COOKIE);

    // Another tenant: the same answer never finds the credential.
    ceremony(&app, beta, "c-beta", state).await;
    let r = webauthn_signin::finish(&app, beta, &bound, "c-beta", &answer, &ctx).await;
    assert!(matches!(r, Err(Failed::BadCredentials)), "{:?}", r.err());
    assert_eq!(
        events(&app, beta, "login.failed", "unknown_credential").await,
        1
    );

    // A ceremony started by another browser is not this one's.
    ceremony(&app, acme, "c-1", state).await;
    let other = binding("another-browser");
    let r = webauthn_signin::finish(&app, acme, &other, "c-1", &answer, &ctx).await;
    assert!(
        matches!(r, Err(Failed::Service(Error::NotFound("ceremony")))),
        "{:?}",
        r.err()
    );

    // The browser that started it: signed in, two factors in one.
    let done = webauthn_signin::finish(&app, acme, &bound, "c-1", &answer, &ctx)
        .await
        .unwrap();
    assert_eq!(done.user.id, alice.id);
    let current = opentrusty::service::sessions::current(&app, acme, &done.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.session.amr, ["hwk", "mfa"]);
    assert_eq!(events(&app, acme, "login.succeeded", "\"hwk\"").await, 1);
    assert_eq!(events(&app, acme, "mfa.verified", "\"webauthn\"").await, 1);

    // The same ceremony again: used.
    let r = webauthn_signin::finish(&app, acme, &bound, "c-1", &answer, &ctx).await;
    assert!(
        matches!(r, Err(Failed::Service(Error::NotFound("ceremony")))),
        "{:?}",
        r.err()
    );

    // The same answer against a fresh copy of its state: the stored counter has caught up,
    // so this is a second use of one signature counter value — a clone signal.
    ceremony(&app, acme, "c-2", state).await;
    let r = webauthn_signin::finish(&app, acme, &bound, "c-2", &answer, &ctx).await;
    assert!(matches!(r, Err(Failed::BadCredentials)), "{:?}", r.err());
    assert_eq!(
        events(&app, acme, "mfa.clone_suspected", "\"webauthn\"").await,
        1
    );
    assert_eq!(
        events(&app, acme, "login.failed", "cloned_authenticator").await,
        1
    );
    let mut tx = app.store.read().await.unwrap();
    let u = tx.scope(acme).user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(
        u.failed_attempts, 1,
        "a refused passkey counts toward the lockout"
    );
}
both_backends!(a_captured_sign_in_verifies_once);
