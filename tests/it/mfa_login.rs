//! The second factor at login (issue 12): a session is stepped up in place after the factor
//! (same cookie, `sid` and `auth_time`; `amr` gains the factor and `mfa`), on both backends.

use opentrusty::app::AppState;
use opentrusty::domain::tenant::MfaPolicy;
use opentrusty::protocol::totp;
use opentrusty::service::authorize::Outcome;
use opentrusty::service::factors::login::{self as step, Answer};
use opentrusty::service::factors::totp as factor_totp;
use opentrusty::service::{Context, Error, admin, sessions, userinfo};
use opentrusty::store::Store;
use serde_json::json;

use crate::both_backends;
use crate::common::stores;
use crate::identity::{PW, tenant_with_user, try_login};
use crate::oauth_world::{World, by_code, by_refresh, code, exchange, world};

async fn a_session_is_stepped_up_in_place(store: Store) {
    let app = stores::app(store, &[("OPENTRUSTY_SESSION_LIFETIME", "1800")]);
    let t = tenant_with_user(&app, "acme", "alice@example.com").await;
    let other = tenant_with_user(&app, "globex", "alice@example.com").await;
    let s = try_login(&app, &t, "alice@example.com", PW)
        .await
        .ok()
        .unwrap();
    let before = sessions::current(&app, &t, &s.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.session.amr, ["pwd"]);
    assert_eq!(before.session.mfa_at, None);
    assert!(!sessions::has_second_factor(&before.session));

    app.clock.advance(90);
    let ctx = Context::default();
    let up = sessions::step_up(&app, &t, &s.token, &["otp"])
        .await
        .unwrap();
    assert_eq!(up.amr, ["pwd", "otp", "mfa"]);
    let now = before.session.auth_time + 90;
    assert_eq!(up.mfa_at, Some(now));
    let after = sessions::current(&app, &t, &s.token)
        .await
        .unwrap()
        .expect("the same cookie still opens the session");
    assert_eq!(after.session.sid, before.session.sid, "not a new session");
    assert_eq!(after.session.auth_time, before.session.auth_time);
    assert_eq!(after.session.amr, ["pwd", "otp", "mfa"]);
    assert_eq!(after.session.mfa_at, Some(now));
    assert!(sessions::has_second_factor(&after.session));

    // A second step-up (a passkey later) adds its method; mfa stays once and last.
    app.clock.advance(10);
    let again = sessions::step_up(&app, &t, &s.token, &["hwk"])
        .await
        .unwrap();
    assert_eq!(again.amr, ["pwd", "otp", "hwk", "mfa"]);
    assert_eq!(again.mfa_at, Some(now + 10));

    // Another tenant's session, an unknown token, an ended session: nothing to step up.
    for token in [s.token.as_str(), "no-such-session", ""] {
        assert!(matches!(
            sessions::step_up(&app, &other, token, &["otp"]).await,
            Err(Error::NotFound("session"))
        ));
    }
    let fresh = try_login(&app, &t, "alice@example.com", PW)
        .await
        .ok()
        .unwrap();
    let fresh_now = sessions::current(&app, &t, &fresh.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fresh_now.session.amr,
        ["pwd"],
        "other sessions are untouched"
    );
    assert_eq!(fresh_now.session.mfa_at, None);
    assert!(
        sessions::logout(&app, &t, &fresh.token, &ctx)
            .await
            .unwrap()
    );
    assert!(matches!(
        sessions::step_up(&app, &t, &fresh.token, &["otp"]).await,
        Err(Error::NotFound("session"))
    ));
    // Past the absolute lifetime the session is gone and cannot be revived by a factor.
    app.clock.advance(1800);
    assert!(matches!(
        sessions::step_up(&app, &t, &s.token, &["otp"]).await,
        Err(Error::NotFound("session"))
    ));
}
both_backends!(a_session_is_stepped_up_in_place);

/// The payload of a JWT (the signature is checked by the RP suites; here only the claims).
fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// RFC 4648 base32 (no padding) back to bytes, as an authenticator app reads the secret.
pub(crate) fn unbase32(s: &str) -> Vec<u8> {
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

/// The code an authenticator app shows now for `seed`.
pub(crate) fn totp_now(app: &AppState, seed: &[u8]) -> String {
    totp::code(seed, app.clock.now() / 30)
}

/// Enrols a TOTP factor for the world's user (begin, then confirm with the app's code);
/// returns the seed. The clock then moves to the next step so the next code is fresh.
async fn enrol(w: &World) -> Vec<u8> {
    let user = user_of(w).await;
    let e = factor_totp::begin(&w.app, &w.a, &user, "Phone")
        .await
        .unwrap();
    let seed = unbase32(&e.secret);
    factor_totp::confirm(
        &w.app,
        &w.a,
        &user,
        &e.factor_id,
        &totp_now(&w.app, &seed),
        &Context::default(),
    )
    .await
    .unwrap();
    w.app.clock.advance(30);
    seed
}

/// A new password-only session of the world's user.
async fn password_session(w: &World) -> String {
    let user = user_of(w).await;
    let mut tx = w.app.store.begin().await.unwrap();
    let (token, _) = sessions::create(
        &mut tx.scope(&w.a),
        &user,
        &["pwd"],
        &Context::default(),
        w.app.clock.now(),
        3600,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    token
}

fn clone_world(w: &World) -> World {
    World {
        app: w.app.clone(),
        a: w.a.clone(),
        b: w.b.clone(),
        rp: w.rp.clone(),
        svc: w.svc.clone(),
        b_rp: w.b_rp.clone(),
        session: w.session.clone(),
    }
}

async fn user_of(w: &World) -> opentrusty::domain::user::User {
    sessions::current(&w.app, &w.a, &w.session)
        .await
        .unwrap()
        .unwrap()
        .user
}

async fn second_step(w: &World, answer: Answer<'_>) -> Option<step::Passed> {
    let current = sessions::current(&w.app, &w.a, &w.session)
        .await
        .unwrap()
        .unwrap();
    step::verify(
        &w.app,
        &w.a,
        &current,
        &w.session,
        answer,
        &Context::default(),
    )
    .await
    .unwrap()
}

fn needs_factor(outcome: Result<String, Outcome>) -> bool {
    match outcome {
        Err(Outcome::SecondFactor { enrol, params }) => {
            assert!(params.iter().any(|(k, _)| k == "client_id"), "{params:?}");
            enrol
        }
        other => panic!("expected the second factor, got {other:?}"),
    }
}

const ACR_MFA: (&str, &str) = ("acr_values", "urn:opentrusty:mfa");

async fn acr_values_ask_for_the_factor_and_tokens_say_so(store: Store) {
    let w = world(store).await;
    // Without a factor and without asking: a password sign-in, amr pwd, acr pwd.
    let c = code(&w, &[]).await.unwrap();
    let t = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap();
    let id = claims(t.id_token.as_deref().unwrap());
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["acr"], "urn:opentrusty:pwd");
    let info = userinfo::userinfo(&w.app, &w.a, &t.access_token)
        .await
        .unwrap();
    assert_eq!(info["acr"], "urn:opentrusty:pwd");

    // Asking for mfa without a factor: enrol first; with prompt=none: interaction_required.
    assert!(needs_factor(code(&w, &[ACR_MFA]).await));
    match code(&w, &[ACR_MFA, ("prompt", "none")]).await {
        Err(Outcome::Redirect(to)) => assert!(to.contains("error=interaction_required"), "{to}"),
        other => panic!("{other:?}"),
    }

    // Once enrolled, every sign-in asks for the factor, asked for or not.
    let seed = enrol(&w).await;
    assert!(!needs_factor(code(&w, &[]).await));
    assert!(!needs_factor(code(&w, &[ACR_MFA]).await));
    // A code from outside the window does not pass, and the session stays password-only.
    let far = totp::code(&seed, w.app.clock.now() / 30 + 5);
    assert!(second_step(&w, Answer::Totp(&far)).await.is_none());
    assert!(!needs_factor(code(&w, &[]).await));
    let now_code = totp_now(&w.app, &seed);
    let passed = second_step(&w, Answer::Totp(&now_code)).await.unwrap();
    assert_eq!(passed.session.amr, ["pwd", "otp", "mfa"]);
    assert_eq!(passed.recovery_left, None);
    // The same code again, in another password session of the same step: a replay, refused.
    let other = World {
        session: password_session(&w).await,
        ..clone_world(&w)
    };
    assert!(second_step(&other, Answer::Totp(&now_code)).await.is_none());
    assert!(
        !needs_factor(code(&other, &[]).await),
        "still not stepped up"
    );

    let c = code(&w, &[ACR_MFA]).await.unwrap();
    let t = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap();
    let id = claims(t.id_token.as_deref().unwrap());
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], "urn:opentrusty:mfa");
    let info = userinfo::userinfo(&w.app, &w.a, &t.access_token)
        .await
        .unwrap();
    assert_eq!(info["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(info["acr"], "urn:opentrusty:mfa");
    // A refreshed id_token tells the same sign-in.
    let r = exchange(
        &w,
        &w.a,
        &w.rp,
        by_refresh(t.refresh_token.as_deref().unwrap()),
    )
    .await
    .unwrap();
    let id = claims(r.id_token.as_deref().unwrap());
    assert_eq!(id["acr"], "urn:opentrusty:mfa");
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));

    // prompt=login (and max_age) still ask for the password first.
    assert!(matches!(
        code(&w, &[("prompt", "login")]).await,
        Err(Outcome::Login { .. })
    ));
    w.app.clock.advance(120);
    assert!(matches!(
        code(&w, &[("max_age", "60")]).await,
        Err(Outcome::Login { .. })
    ));

    // A new password session asks again.
    let w = World {
        session: password_session(&w).await,
        ..w
    };
    assert!(
        !needs_factor(code(&w, &[]).await),
        "a new session asks again"
    );
}
both_backends!(acr_values_ask_for_the_factor_and_tokens_say_so);

/// The tenant's policy and the client's registration require the factor as `acr_values`
/// does: a password-only user is sent to enrolment (no code), `prompt=none` gets
/// `interaction_required`; once enrolled, to the factor page.
async fn tenant_and_client_policies_require_the_factor(store: Store) {
    let w = world(store).await;
    assert!(code(&w, &[]).await.is_ok(), "optional and not required");

    // The client is registered to require a second factor.
    let now = w.app.clock.now();
    let mut tx = w.app.store.begin().await.unwrap();
    let (mut rp, _) = tx
        .scope(&w.a)
        .client_get(&w.rp.0.client_id)
        .await
        .unwrap()
        .unwrap();
    rp.require_mfa = true;
    tx.scope(&w.a).client_update(&rp, now).await.unwrap();
    tx.commit().await.unwrap();
    assert!(needs_factor(code(&w, &[]).await), "no factor: enrol");
    match code(&w, &[("prompt", "none")]).await {
        Err(Outcome::Redirect(to)) => assert!(to.contains("error=interaction_required"), "{to}"),
        other => panic!("{other:?}"),
    }
    rp.require_mfa = false;
    let mut tx = w.app.store.begin().await.unwrap();
    tx.scope(&w.a).client_update(&rp, now).await.unwrap();
    tx.commit().await.unwrap();
    assert!(code(&w, &[]).await.is_ok(), "the requirement lifted");

    // The tenant requires one (the tenant as the request sees it, after the cache forgot it).
    let mut tx = w.app.store.begin().await.unwrap();
    tx.tenant_set_mfa(&w.a.slug, MfaPolicy::Required, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    w.app.tenants.invalidate(w.a.slug.as_str());
    let required = admin::tenant(&w.app, w.a.slug.as_str()).await.unwrap();
    assert_eq!(required.mfa, MfaPolicy::Required);
    let w = World { a: required, ..w };
    assert!(needs_factor(code(&w, &[]).await), "no factor: enrol");
    let seed = enrol(&w).await;
    assert!(
        !needs_factor(code(&w, &[]).await),
        "enrolled: the factor page"
    );
    let passed = second_step(&w, Answer::Totp(&totp_now(&w.app, &seed)))
        .await
        .unwrap();
    assert_eq!(passed.session.amr, ["pwd", "otp", "mfa"]);
    assert!(code(&w, &[]).await.is_ok());
}
both_backends!(tenant_and_client_policies_require_the_factor);
