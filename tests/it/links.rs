//! Single-use links sent by mail (issue 13), on both backends: a link is used once; looking
//! at it uses nothing; it expires; a new one retires the older one of the same purpose; it
//! means nothing in another tenant, for another purpose, or when it is too long to be ours;
//! a link redeemed in a transaction that rolls back stays usable; and a queued mail commits
//! and rolls back with the change that caused it.

use std::time::Duration;

use opentrusty::domain::user::{Email, Profile, User};
use opentrusty::service::links::{self, Purpose};
use opentrusty::service::mail::{self, Letter};
use opentrusty::service::{Context, admin};
use opentrusty::store::Store;

use crate::both_backends;
use crate::oauth_world::{app, tenant};

async fn user(app: &opentrusty::app::AppState, t: &opentrusty::domain::tenant::Tenant) -> User {
    let input = admin::UserInput {
        email: "ann@example.com",
        password: None,
        profile: Profile::default(),
        email_verified: false,
    };
    admin::user_create(app, t, input, &Context::default())
        .await
        .unwrap()
}

async fn links_are_single_use_per_tenant_and_purpose(store: Store) {
    let app = app(store);
    let (a, b) = (tenant(&app, "acme").await, tenant(&app, "beta").await);
    let ann = user(&app, &a).await;
    let email = Email::parse("ann@example.com").unwrap();
    let ttl = Duration::from_secs(1800);

    let mut tx = app.store.begin().await.unwrap();
    let now = app.clock.now();
    let raw = links::issue(&mut tx.scope(&a), &ann, Purpose::Reset, &email, ttl, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(raw.len(), 43);

    let mut tx = app.store.begin().await.unwrap();
    let now = app.clock.now();
    // Looking consumes nothing, and the link says whose it is.
    for _ in 0..2 {
        let seen = links::peek(&mut tx.scope(&a), Purpose::Reset, &raw, now)
            .await
            .unwrap()
            .expect("live link");
        assert_eq!(seen.user_id, ann.id);
        assert_eq!(seen.email, "ann@example.com");
        assert_eq!(seen.expires_at, now + 1800);
    }
    // Another tenant, another purpose, a mangled or oversized token: nothing.
    assert!(
        links::redeem(&mut tx.scope(&b), Purpose::Reset, &raw, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        links::redeem(&mut tx.scope(&a), Purpose::Verify, &raw, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        links::redeem(&mut tx.scope(&a), Purpose::Reset, &raw[1..], now)
            .await
            .unwrap()
            .is_none()
    );
    let huge = "x".repeat(100_000);
    assert!(
        links::peek(&mut tx.scope(&a), Purpose::Reset, &huge, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        links::redeem(&mut tx.scope(&a), Purpose::Reset, "", now)
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();

    // A redemption that rolls back leaves the link usable.
    {
        let mut tx = app.store.begin().await.unwrap();
        assert!(
            links::redeem(&mut tx.scope(&a), Purpose::Reset, &raw, now)
                .await
                .unwrap()
                .is_some()
        );
        drop(tx);
    }
    let mut tx = app.store.begin().await.unwrap();
    assert!(
        links::redeem(&mut tx.scope(&a), Purpose::Reset, &raw, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        links::redeem(&mut tx.scope(&a), Purpose::Reset, &raw, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        links::peek(&mut tx.scope(&a), Purpose::Reset, &raw, now)
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
}
both_backends!(links_are_single_use_per_tenant_and_purpose);

async fn links_expire_and_a_new_one_retires_the_old(store: Store) {
    let app = app(store);
    let a = tenant(&app, "acme").await;
    let ann = user(&app, &a).await;
    let email = Email::parse("ann@example.com").unwrap();
    let ttl = Duration::from_secs(600);
    let mut tx = app.store.begin().await.unwrap();
    let now = app.clock.now();
    let first = links::issue(&mut tx.scope(&a), &ann, Purpose::Verify, &email, ttl, now)
        .await
        .unwrap();
    let invite = links::issue(&mut tx.scope(&a), &ann, Purpose::Invite, &email, ttl, now)
        .await
        .unwrap();
    let second = links::issue(&mut tx.scope(&a), &ann, Purpose::Verify, &email, ttl, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = app.store.begin().await.unwrap();
    // The newer verification link retired the older one, not the invitation.
    assert!(
        links::peek(&mut tx.scope(&a), Purpose::Verify, &first, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        links::peek(&mut tx.scope(&a), Purpose::Verify, &second, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        links::peek(&mut tx.scope(&a), Purpose::Invite, &invite, now)
            .await
            .unwrap()
            .is_some()
    );
    // At the expiry instant the link is dead.
    let later = now + 600;
    assert!(
        links::peek(&mut tx.scope(&a), Purpose::Verify, &second, later - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        links::redeem(&mut tx.scope(&a), Purpose::Verify, &second, later)
            .await
            .unwrap()
            .is_none()
    );
    // A new password retires the reset and invitation links, not a verification.
    let verify = links::issue(&mut tx.scope(&a), &ann, Purpose::Verify, &email, ttl, now)
        .await
        .unwrap();
    let n = links::retire(&mut tx.scope(&a), ann.id, links::SET_PASSWORD, now)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        links::peek(&mut tx.scope(&a), Purpose::Verify, &verify, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        links::redeem(&mut tx.scope(&a), Purpose::Invite, &invite, now)
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
}
both_backends!(links_expire_and_a_new_one_retires_the_old);

async fn queued_mail_lives_and_dies_with_its_transaction(store: Store) {
    let app = app(store);
    let a = tenant(&app, "acme").await;
    let to = Email::parse("ann@example.com").unwrap();
    let m = mail::compose(
        &a,
        &Letter {
            kind: "test",
            to: &to,
            subject: "Hello".into(),
            lead: "A test.".into(),
            action: "Open",
            link: "https://id.example.test/t/acme/x",
            note: "Nothing to do.".into(),
        },
    )
    .unwrap();
    assert!(
        !mail::enabled(&app),
        "mail is off without OPENTRUSTY_SMTP_URL"
    );
    let now = app.clock.now();
    {
        let mut tx = app.store.begin().await.unwrap();
        mail::queue(&mut tx.scope(&a), &m, now).await.unwrap();
        drop(tx); // rolled back
    }
    let mut tx = app.store.begin().await.unwrap();
    mail::queue(&mut tx.scope(&a), &m, now).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = app.store.read().await.unwrap();
    assert_eq!(tx.outbox_pending_count().await.unwrap(), 1);
}
both_backends!(queued_mail_lives_and_dies_with_its_transaction);

/// An operator setting a password retires the reset link the user had been sent.
async fn a_new_password_retires_reset_links(store: Store) {
    let app = app(store);
    let a = tenant(&app, "acme").await;
    let ann = user(&app, &a).await;
    let email = Email::parse("ann@example.com").unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let now = app.clock.now();
    let ttl = Duration::from_secs(1800);
    let raw = links::issue(&mut tx.scope(&a), &ann, Purpose::Reset, &email, ttl, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let pw = opentrusty::domain::user::NewPassword::parse("a new password 1").unwrap();
    admin::user_set_password_id(&app, &a, ann.id, &pw, None, &Context::default())
        .await
        .unwrap();
    let mut tx = app.store.read().await.unwrap();
    let seen = links::peek(&mut tx.scope(&a), Purpose::Reset, &raw, now).await;
    assert!(seen.unwrap().is_none());
}
both_backends!(a_new_password_retires_reset_links);
