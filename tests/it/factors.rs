//! Second factors in storage and their use cases, on both backends (issue 12): a TOTP
//! enrolment counts only once confirmed; a code is accepted once (a replay in the same step
//! fails); wrong codes count toward the lockout; recovery codes are single use and replaced
//! as a set; removing the last factor takes the recovery codes; an operator's reset removes
//! everything; no factor of one tenant answers for another's user; seeds are sealed at rest.

use opentrusty::app::AppState;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::{Profile, User};
use opentrusty::protocol::totp;
use opentrusty::service::factors::{self, recovery, totp as factor_totp};
use opentrusty::service::{Context, Error, admin, audit};
use opentrusty::store::Store;

use crate::both_backends;
use crate::common::stores;
use crate::oauth_world::{KEK, tenant};

fn app(store: Store) -> AppState {
    stores::app(
        store,
        &[
            ("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
            ("OPENTRUSTY_LOCKOUT_THRESHOLD", "3"),
        ],
    )
}

async fn user(app: &AppState, t: &Tenant, email: &str) -> User {
    let input = admin::UserInput {
        email,
        password: None,
        profile: Profile::default(),
        email_verified: true,
    };
    admin::user_create(app, t, input, &Context::default())
        .await
        .unwrap()
}

/// RFC 4648 base32 (no padding) back to bytes, as an authenticator app reads the secret.
fn unbase32(s: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {c}"),
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

async fn events(app: &AppState, t: &Tenant, kind: &str) -> usize {
    audit::list(app, Some(t), 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type == kind)
        .count()
}

async fn fresh(app: &AppState, t: &Tenant, email: &str) -> User {
    let mut tx = app.store.read().await.unwrap();
    tx.scope(t)
        .user_by_email(&opentrusty::domain::user::Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
}

async fn totp_is_enrolled_once_confirmed_and_codes_are_single_use(store: Store) {
    let app = app(store);
    let (a, b) = (tenant(&app, "acme").await, tenant(&app, "beta").await);
    let ctx = Context::default();
    let ann = user(&app, &a, "ann@example.com").await;
    let bea = user(&app, &b, "bea@example.com").await;

    let e = factor_totp::begin(&app, &a, &ann, "Phone").await.unwrap();
    assert!(
        e.uri
            .starts_with("otpauth://totp/acme%3Aann%40example.com?secret="),
        "{}",
        e.uri
    );
    let seed = unbase32(&e.secret);
    assert_eq!(seed.len(), totp::SECRET_LEN);
    // Pending: not a factor yet, so login would not ask for it.
    assert!(!factors::enrolled(&app, &a, ann.id).await.unwrap());
    // Sealed at rest: the stored value is neither the seed nor its base32 form.
    let rows = {
        let mut tx = app.store.read().await.unwrap();
        tx.scope(&a).factors_of(&ann.id.to_string()).await.unwrap()
    };
    let sealed = rows[0].secret.clone().unwrap();
    assert!(!sealed.contains(&e.secret) && sealed.len() > 40, "{sealed}");

    // Another tenant's user cannot confirm this enrolment, even with the right code.
    let now = app.clock.now();
    let code = totp::code(&seed, totp::step(now));
    let other = factor_totp::confirm(&app, &b, &bea, &e.factor_id, &code, &ctx).await;
    assert!(matches!(other, Err(Error::NotFound(_))), "{other:?}");
    // A wrong code is refused, naming the field, and counts as a failed attempt.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = factor_totp::confirm(&app, &a, &ann, &e.factor_id, wrong, &ctx).await;
    assert!(
        matches!(&r, Err(Error::Invalid(m)) if m.starts_with("code")),
        "{r:?}"
    );
    assert_eq!(fresh(&app, &a, "ann@example.com").await.failed_attempts, 1);
    let ann = fresh(&app, &a, "ann@example.com").await;
    factor_totp::confirm(&app, &a, &ann, &e.factor_id, &code, &ctx)
        .await
        .unwrap();
    assert!(factors::enrolled(&app, &a, ann.id).await.unwrap());
    assert_eq!(fresh(&app, &a, "ann@example.com").await.failed_attempts, 0);
    assert_eq!(events(&app, &a, "mfa.enrolled").await, 1);

    // The confirming code was used: the same code in the same step is a replay.
    assert!(
        !factor_totp::check(&app, &a, &ann, &code, &ctx)
            .await
            .unwrap()
    );
    app.clock.advance(totp::STEP);
    let next = totp::code(&seed, totp::step(app.clock.now()));
    let ann = fresh(&app, &a, "ann@example.com").await;
    assert!(
        factor_totp::check(&app, &a, &ann, &next, &ctx)
            .await
            .unwrap()
    );
    assert!(
        !factor_totp::check(&app, &a, &ann, &next, &ctx)
            .await
            .unwrap()
    );
    // A code from the step before, not used yet, is also too old once a later one was used.
    let prev = totp::code(&seed, totp::step(app.clock.now()) - 1);
    assert!(
        !factor_totp::check(&app, &a, &ann, &prev, &ctx)
            .await
            .unwrap()
    );
    // Beta's user has no factor: acme's code means nothing there.
    assert!(
        !factor_totp::check(&app, &b, &bea, &next, &ctx)
            .await
            .unwrap()
    );
    assert_eq!(events(&app, &a, "mfa.verified").await, 1);
    assert_eq!(events(&app, &a, "mfa.failed").await, 4);
}
both_backends!(totp_is_enrolled_once_confirmed_and_codes_are_single_use);

async fn wrong_codes_lock_the_account(store: Store) {
    let app = app(store);
    let a = tenant(&app, "acme").await;
    let ctx = Context::default();
    let ann = user(&app, &a, "ann@example.com").await;
    let e = factor_totp::begin(&app, &a, &ann, "Phone").await.unwrap();
    let seed = unbase32(&e.secret);
    let code = totp::code(&seed, totp::step(app.clock.now()));
    factor_totp::confirm(&app, &a, &ann, &e.factor_id, &code, &ctx)
        .await
        .unwrap();
    app.clock.advance(totp::STEP);
    let good = totp::code(&seed, totp::step(app.clock.now()));
    let wrong = if good == "123456" { "654321" } else { "123456" };
    for _ in 0..3 {
        let ann = fresh(&app, &a, "ann@example.com").await;
        assert!(
            !factor_totp::check(&app, &a, &ann, wrong, &ctx)
                .await
                .unwrap()
        );
    }
    let ann = fresh(&app, &a, "ann@example.com").await;
    assert!(ann.is_locked(app.clock.now()), "{ann:?}");
    assert_eq!(events(&app, &a, "account.locked").await, 1);
    // Locked: even the right code is refused, without a check.
    let r = factor_totp::check(&app, &a, &ann, &good, &ctx).await;
    assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
}
both_backends!(wrong_codes_lock_the_account);

async fn recovery_codes_removal_and_reset(store: Store) {
    let app = app(store);
    let (a, b) = (tenant(&app, "acme").await, tenant(&app, "beta").await);
    let ctx = Context::default();
    let ann = user(&app, &a, "ann@example.com").await;
    let bea = user(&app, &b, "bea@example.com").await;
    let e = factor_totp::begin(&app, &a, &ann, "Phone").await.unwrap();
    let code = totp::code(&unbase32(&e.secret), totp::step(app.clock.now()));
    let f = factor_totp::confirm(&app, &a, &ann, &e.factor_id, &code, &ctx)
        .await
        .unwrap();

    let codes = recovery::create(&app, &a, &ann, &ctx).await.unwrap();
    assert_eq!(codes.len(), recovery::COUNT);
    let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), recovery::COUNT);
    assert!(
        recovery::redeem(&app, &a, &ann, &codes[0].to_uppercase(), &ctx)
            .await
            .unwrap()
    );
    assert!(
        !recovery::redeem(&app, &a, &ann, &codes[0], &ctx)
            .await
            .unwrap()
    );
    assert!(
        !recovery::redeem(&app, &b, &bea, &codes[1], &ctx)
            .await
            .unwrap()
    );
    assert_eq!(recovery::left(&app, &a, &ann).await.unwrap(), 9);
    // A new set replaces the old one.
    let again = recovery::create(&app, &a, &ann, &ctx).await.unwrap();
    let ann = fresh(&app, &a, "ann@example.com").await;
    assert!(
        !recovery::redeem(&app, &a, &ann, &codes[2], &ctx)
            .await
            .unwrap()
    );
    assert_eq!(recovery::left(&app, &a, &ann).await.unwrap(), 10);
    assert_eq!(events(&app, &a, "mfa.recovery_code_used").await, 1);

    // Beta cannot remove acme's factor; removing the last one takes the codes with it.
    let r = factors::remove(&app, &b, bea.id, &f.id, &ctx).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
    factors::remove(&app, &a, ann.id, &f.id, &ctx)
        .await
        .unwrap();
    assert!(!factors::enrolled(&app, &a, ann.id).await.unwrap());
    assert_eq!(recovery::left(&app, &a, &ann).await.unwrap(), 0);
    assert!(
        !recovery::redeem(&app, &a, &ann, &again[0], &ctx)
            .await
            .unwrap()
    );

    // An operator's reset removes every factor (pending enrolments too) and every code.
    let e = factor_totp::begin(&app, &a, &ann, "Phone").await.unwrap();
    let code = totp::code(&unbase32(&e.secret), totp::step(app.clock.now()) + 1);
    factor_totp::confirm(&app, &a, &ann, &e.factor_id, &code, &ctx)
        .await
        .unwrap();
    factor_totp::begin(&app, &a, &ann, "Tablet").await.unwrap();
    recovery::create(&app, &a, &ann, &ctx).await.unwrap();
    assert_eq!(
        factors::reset(&app, &a, ann.id, None, &ctx).await.unwrap(),
        2
    );
    assert!(!factors::enrolled(&app, &a, ann.id).await.unwrap());
    assert_eq!(recovery::left(&app, &a, &ann).await.unwrap(), 0);
    assert_eq!(events(&app, &a, "mfa.reset").await, 1);
    let r = factors::reset(&app, &b, ann.id, None, &ctx).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
    // Names are bounded and checked.
    for bad in ["", "   ", &"x".repeat(65), "a\u{7}b"] {
        let r = factor_totp::begin(&app, &a, &ann, bad).await;
        assert!(
            matches!(r, Err(Error::Invalid(_))),
            "{bad:?}: {:?}",
            r.err()
        );
    }
}
both_backends!(recovery_codes_removal_and_reset);
