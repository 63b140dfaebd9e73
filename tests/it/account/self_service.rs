//! The self-service use cases behind the account page (issue 13), on both backends with a
//! fixed clock: a password change (current password checked and counted like a failed login,
//! other sessions and every token and code of the user ended, this browser kept), sessions
//! and consents named by a form only ever this user's in this tenant, revoking ending the
//! client's tokens, the profile's field rules and claims.

use opentrusty::domain::user::{Email, User};
use opentrusty::protocol::Code;
use opentrusty::service::account::password::{Change, WRONG_CURRENT};
use opentrusty::service::account::{apps, password, profile, sessions as own};
use opentrusty::service::links::{self, Purpose};
use opentrusty::service::sessions::{self, Current};
use opentrusty::service::{Context, Error, admin, userinfo};
use opentrusty::store::Store;

use crate::both_backends;
use crate::oauth_world::{World, by_code, by_refresh, code_in_session, exchange, world};

const OLD: &str = "old password 1";
const NEW: &str = "a brand new passphrase";

/// A new session of `email` in tenant `a` (another browser): its cookie value and what a
/// request with it sees.
async fn browser(w: &World, email: &str) -> (String, Current) {
    let user = user(w, email).await;
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
    let current = sessions::current(&w.app, &w.a, &token)
        .await
        .unwrap()
        .unwrap();
    (token, current)
}

async fn user(w: &World, email: &str) -> User {
    let mut tx = w.app.store.read().await.unwrap();
    let email = Email::parse(email).unwrap();
    tx.scope(&w.a).user_by_email(&email).await.unwrap().unwrap()
}

async fn alive(w: &World, token: &str) -> bool {
    sessions::current(&w.app, &w.a, token)
        .await
        .unwrap()
        .is_some()
}

/// The newest audit rows of tenant `a`: (type, actor, metadata).
async fn audit(w: &World, n: i64) -> Vec<(String, Option<String>, serde_json::Value)> {
    let mut tx = w.app.store.read().await.unwrap();
    let rows = tx.scope(&w.a).audit_list(n).await.unwrap();
    rows.into_iter()
        .map(|r| {
            let meta = serde_json::from_str(&r.metadata).unwrap();
            (r.event_type, r.actor, meta)
        })
        .collect()
}

fn change<'a>(current: &str, new: &'a str, repeat: &'a str) -> Change<'a> {
    Change {
        current: current.to_owned(),
        new,
        repeat,
    }
}

async fn password_change_ends_everything_but_this_browser(store: Store) {
    let w = world(store).await;
    let app = &w.app;
    let ctx = Context::default();
    admin::user_set_password(app, &w.a, "ada@example.com", OLD, &Context::cli())
        .await
        .unwrap();
    let (mine, me) = browser(&w, "ada@example.com").await;
    let (other, _) = browser(&w, "ada@example.com").await;
    // A refresh-token family and an access token (from the other browser) and an unredeemed
    // code (from this one): all the user's credentials.
    let code = code_in_session(&w, &other, &[]).await.unwrap();
    let issued = exchange(&w, &w.a, &w.rp, by_code(&code)).await.unwrap();
    let refresh = issued.refresh_token.clone().unwrap();
    let unredeemed = code_in_session(&w, &mine, &[]).await.unwrap();
    let ip = Some("192.0.2.9".parse().unwrap());
    // And a reset link sent earlier: a password chosen now retires it.
    let reset = {
        let mut tx = app.store.begin().await.unwrap();
        let ttl = std::time::Duration::from_secs(1800);
        let email = me.user.email.clone();
        let raw = links::issue(
            &mut tx.scope(&w.a),
            &me.user,
            Purpose::Reset,
            &email,
            ttl,
            app.clock.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        raw
    };
    let reset_live = || async {
        let mut tx = app.store.read().await.unwrap();
        links::peek(&mut tx.scope(&w.a), Purpose::Reset, &reset, app.clock.now())
            .await
            .unwrap()
            .is_some()
    };
    assert!(reset_live().await);

    // The new password's rules come first and cost no attempt.
    let r = password::change(app, &w.a, &me, change(OLD, "short", "short"), ip, &ctx).await;
    assert!(
        matches!(r, Err(Error::Invalid(m)) if m.starts_with("new_password: password is too short"))
    );
    let r = password::change(app, &w.a, &me, change(OLD, NEW, "something else"), ip, &ctx).await;
    assert!(matches!(r, Err(Error::Invalid(m)) if m.starts_with("new_password_repeat")));
    assert_eq!(user(&w, "ada@example.com").await.failed_attempts, 0);
    // A wrong current password counts like a failed login, audited as one via the account.
    let r = password::change(app, &w.a, &me, change("not it", NEW, NEW), ip, &ctx).await;
    assert!(matches!(r, Err(Error::Invalid(m)) if m == WRONG_CURRENT));
    assert_eq!(user(&w, "ada@example.com").await.failed_attempts, 1);
    let (kind, actor, meta) = audit(&w, 1).await.remove(0);
    assert_eq!(kind, "login.failed");
    assert_eq!(actor, Some(format!("user:{}", me.user.id)));
    assert_eq!(
        (meta["via"].as_str(), meta["reason"].as_str()),
        (Some("account"), Some("wrong_password"))
    );
    assert!(alive(&w, &other).await, "a refused change ends nothing");
    assert!(reset_live().await);

    // The right one: the failures reset, the other browser and every token and code end.
    let ended = password::change(app, &w.a, &me, change(OLD, NEW, NEW), ip, &ctx)
        .await
        .unwrap();
    assert_eq!(ended.other_sessions, 1);
    assert!(
        ended.refresh_tokens >= 1 && ended.access_tokens >= 1 && ended.codes == 1,
        "{ended:?}"
    );
    assert!(alive(&w, &mine).await, "this browser stays signed in");
    assert!(!alive(&w, &other).await);
    assert_eq!(user(&w, "ada@example.com").await.failed_attempts, 0);
    let e = exchange(&w, &w.a, &w.rp, by_refresh(&refresh))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::InvalidGrant);
    assert!(
        userinfo::userinfo(app, &w.a, &issued.access_token)
            .await
            .is_err()
    );
    let e = exchange(&w, &w.a, &w.rp, by_code(&unredeemed))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::InvalidGrant);
    let (kind, actor, meta) = audit(&w, 1).await.remove(0);
    assert_eq!(kind, "password.changed");
    assert_eq!(actor, Some(format!("user:{}", me.user.id)));
    assert_eq!(meta["via"], "account");
    assert_eq!(meta["sessions_ended"], 1);
    assert_eq!(meta["links_retired"], 1);
    assert_eq!(ended.links_retired, 1);
    assert!(!reset_live().await, "the reset link is retired");
    // The old password is gone, the new one works (here as the current one of a new change).
    let me = sessions::current(app, &w.a, &mine).await.unwrap().unwrap();
    let r = password::change(app, &w.a, &me, change(OLD, NEW, NEW), ip, &ctx).await;
    assert!(matches!(r, Err(Error::Invalid(m)) if m == WRONG_CURRENT));
    password::change(app, &w.a, &me, change(NEW, OLD, OLD), ip, &ctx)
        .await
        .unwrap();
}
both_backends!(password_change_ends_everything_but_this_browser);

/// Wrong current passwords lock the account at the login's threshold, and spend the login's
/// per-account budget.
async fn wrong_current_passwords_lock_and_throttle(store: Store) {
    let app = crate::common::stores::app(
        store,
        &[
            ("OPENTRUSTY_LOCKOUT_THRESHOLD", "3"),
            ("OPENTRUSTY_LOGIN_RATE_PER_ACCOUNT", "5"),
            ("OPENTRUSTY_KEY_ENCRYPTION_KEY", crate::oauth_world::KEK),
        ],
    );
    let t = crate::identity::tenant_with_user(&app, "acme", "alice@example.com").await;
    let pw = crate::identity::PW;
    let li = crate::identity::try_login(&app, &t, "alice@example.com", pw)
        .await
        .ok()
        .unwrap();
    let me = sessions::current(&app, &t, &li.token)
        .await
        .unwrap()
        .unwrap();
    let ctx = Context::default();
    for _ in 0..3 {
        let r = password::change(&app, &t, &me, change("wrong", NEW, NEW), None, &ctx).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    }
    // Locked now: the right password is refused too, before any check, as at the login page.
    let me = sessions::current(&app, &t, &li.token)
        .await
        .unwrap()
        .unwrap();
    let r = password::change(&app, &t, &me, change(pw, NEW, NEW), None, &ctx).await;
    assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
    let types: Vec<String> = {
        let mut tx = app.store.read().await.unwrap();
        tx.scope(&t)
            .audit_list(3)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.event_type)
            .collect()
    };
    assert_eq!(types, ["account.locked", "login.failed", "login.failed"]);
    // The budget of 5 per minute: one login, four attempts here; the next is throttled.
    let r = password::change(&app, &t, &me, change(pw, NEW, NEW), None, &ctx).await;
    assert!(matches!(r, Err(Error::RateLimited { .. })), "{r:?}");
}
both_backends!(wrong_current_passwords_lock_and_throttle);

/// Sessions and consents named by a form are only ever the user's own in this tenant.
async fn ids_from_forms_name_only_the_users_own(store: Store) {
    let w = world(store).await;
    let app = &w.app;
    let ctx = Context::default();
    let bob = admin::user_create(
        app,
        &w.a,
        admin::UserInput {
            email: "bob@example.com",
            password: None,
            profile: Default::default(),
            email_verified: true,
        },
        &ctx,
    )
    .await
    .unwrap();
    let (mine, me) = browser(&w, "ada@example.com").await;
    let (_, second) = browser(&w, "ada@example.com").await;
    let (bobs, bob_now) = browser(&w, "bob@example.com").await;
    // The list: this user's live sessions (the world's, and two new), this one marked.
    let list = own::list(app, &w.a, &me).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s.this_browser).count(), 1);
    assert!(list.iter().all(|s| s.info.sid != bob_now.session.sid));
    // Bob's sid, an over-long one, this browser's own: refused, nothing ends.
    for sid in [bob_now.session.sid.as_str(), &"f".repeat(500), ""] {
        let r = own::end(app, &w.a, &me, sid, &ctx).await;
        assert!(matches!(r, Err(Error::NotFound("session"))), "{sid}: {r:?}");
    }
    assert!(matches!(
        own::end(app, &w.a, &me, &me.session.sid, &ctx).await,
        Err(Error::Conflict(_))
    ));
    assert!(alive(&w, &bobs).await && alive(&w, &mine).await);
    // Ada's sid is not found from tenant b either (another tenant's handle).
    let in_b = Current { ..me.clone() };
    assert!(matches!(
        own::end(app, &w.b, &in_b, &second.session.sid, &ctx).await,
        Err(Error::NotFound(_))
    ));
    own::end(app, &w.a, &me, &second.session.sid, &ctx)
        .await
        .unwrap();
    let (kind, _, meta) = audit(&w, 1).await.remove(0);
    assert_eq!(
        (kind.as_str(), meta["via"].as_str()),
        ("session.ended", Some("account"))
    );
    assert_eq!(meta["sid"], second.session.sid.as_str());
    assert!(matches!(
        own::end(app, &w.a, &me, &second.session.sid, &ctx).await,
        Err(Error::NotFound(_))
    ));
    // All others: the world's session goes, this one and bob's stay.
    assert_eq!(own::end_others(app, &w.a, &me, &ctx).await.unwrap(), 1);
    assert_eq!(own::end_others(app, &w.a, &me, &ctx).await.unwrap(), 0);
    assert!(!alive(&w, &w.session).await);
    assert!(alive(&w, &mine).await && alive(&w, &bobs).await);

    // Consents: ada's to rp, with tokens; bob's to rp.
    let now = app.clock.now();
    {
        let mut tx = app.store.begin().await.unwrap();
        let mut scope = tx.scope(&w.a);
        for u in [me.user.id, bob.id] {
            scope
                .consent_put(
                    &u.to_string(),
                    &w.rp.0.client_id,
                    "openid profile",
                    now,
                    now + 86400,
                )
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let code = code_in_session(&w, &mine, &[]).await.unwrap();
    let issued = exchange(&w, &w.a, &w.rp, by_code(&code)).await.unwrap();
    let listed = apps::list(app, &w.a, &me.user).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].client_name.as_deref(), Some("RP"));
    assert_eq!(listed[0].scopes, ["openid", "profile"]);
    // Another tenant's handle, an unknown client: not found, nothing revoked.
    for (t, client) in [(&w.b, w.rp.0.client_id.as_str()), (&w.a, "nope")] {
        let r = apps::revoke(app, t, &me.user, client, &ctx).await;
        assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
    }
    assert!(
        userinfo::userinfo(app, &w.a, &issued.access_token)
            .await
            .is_ok()
    );
    apps::revoke(app, &w.a, &me.user, &w.rp.0.client_id, &ctx)
        .await
        .unwrap();
    assert!(apps::list(app, &w.a, &me.user).await.unwrap().is_empty());
    assert_eq!(
        apps::list(app, &w.a, &bob).await.unwrap().len(),
        1,
        "bob's stays"
    );
    assert!(
        userinfo::userinfo(app, &w.a, &issued.access_token)
            .await
            .is_err()
    );
    let refresh = issued.refresh_token.unwrap();
    let e = exchange(&w, &w.a, &w.rp, by_refresh(&refresh))
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::InvalidGrant);
    let (kind, actor, meta) = audit(&w, 1).await.remove(0);
    assert_eq!(kind, "consent.revoked");
    assert_eq!(actor, Some(format!("user:{}", me.user.id)));
    assert_eq!(meta["via"], "account");
    assert_eq!(meta["refresh_tokens_revoked"], 1);
}
both_backends!(ids_from_forms_name_only_the_users_own);

/// The profile: the operators' claim rules plus the shapes of locale and zoneinfo; only what
/// changed is written; the claims reach userinfo.
async fn profile_rules_and_claims(store: Store) {
    let w = world(store).await;
    let app = &w.app;
    let ctx = Context::default();
    let (mine, me) = browser(&w, "ada@example.com").await;
    let mut input = profile::ProfileInput::of(&me.user);
    assert_eq!(input.name, "Ada");
    assert!(
        profile::update(app, &w.a, &me.user, &input, &ctx)
            .await
            .unwrap()
            .is_empty()
    );
    for (field, bad) in [
        ("locale", "english please"),
        ("zoneinfo", "../../etc/passwd"),
        ("given_name", &"x".repeat(501)),
        ("nickname", "a\u{7}b"),
    ] {
        let mut i = input.clone();
        match field {
            "locale" => i.locale = bad.into(),
            "zoneinfo" => i.zoneinfo = bad.into(),
            "given_name" => i.given_name = bad.into(),
            _ => i.nickname = bad.into(),
        }
        let r = profile::update(app, &w.a, &me.user, &i, &ctx).await;
        assert!(
            matches!(&r, Err(Error::Invalid(m)) if m.starts_with(field)),
            "{field}: {r:?}"
        );
    }
    assert_eq!(
        user(&w, "ada@example.com").await.profile,
        me.user.profile,
        "nothing written"
    );
    input.given_name = " Ada ".into();
    input.family_name = "Lovelace".into();
    input.name = String::new();
    input.locale = "en-GB".into();
    input.zoneinfo = "Europe/London".into();
    let changed = profile::update(app, &w.a, &me.user, &input, &ctx)
        .await
        .unwrap();
    assert_eq!(
        changed,
        ["given_name", "family_name", "name", "locale", "zoneinfo"]
    );
    let stored = user(&w, "ada@example.com").await;
    assert_eq!(stored.profile.given_name.as_deref(), Some("Ada"));
    assert_eq!(stored.profile.name, None, "an empty field clears the claim");
    assert!(stored.email_verified, "not the user's to change");
    let (kind, _, meta) = audit(&w, 1).await.remove(0);
    assert_eq!(
        (kind.as_str(), meta["via"].as_str()),
        ("user.updated", Some("account"))
    );
    let code = code_in_session(&w, &mine, &[]).await.unwrap();
    let issued = exchange(&w, &w.a, &w.rp, by_code(&code)).await.unwrap();
    let claims = userinfo::userinfo(app, &w.a, &issued.access_token)
        .await
        .unwrap();
    assert_eq!(claims["family_name"], "Lovelace");
    assert_eq!(claims["locale"], "en-GB");
    assert_eq!(claims["zoneinfo"], "Europe/London");
    assert!(!claims.contains_key("name"));
}
both_backends!(profile_rules_and_claims);
