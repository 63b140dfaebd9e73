//! The dashboard's sign-in chart: the hourly counters follow real logins, failed logins and
//! lockouts (written with their audit events, per tenant; both backends), and the page draws
//! them as an accessible inline SVG with a table of daily totals (over HTTP, as an owner sees
//! it).

use opentrusty::app::AppState;
use opentrusty::domain::tenant::Tenant;
use opentrusty::service::console::pages::SignIns;
use opentrusty::store::Store;
use opentrusty::store::login_stats::{HOUR, HourRow};

use super::browser::Browser;
use super::{console_site, port_of};
use crate::both_backends;
use crate::common::stores::{self, T0};
use crate::identity::{PW, tenant_with_user, try_login};

async fn counters(app: &AppState, t: &Tenant) -> Vec<HourRow> {
    let mut tx = app.store.read().await.unwrap();
    tx.scope(t).login_stats(0, i64::MAX).await.unwrap()
}

async fn audit_count(app: &AppState, t: &Tenant, kind: &str) -> i64 {
    let mut tx = app.store.read().await.unwrap();
    let rows = tx.scope(t).audit_list(1000).await.unwrap();
    rows.iter().filter(|r| r.event_type == kind).count() as i64
}

async fn sign_in_counters_follow_logins_failures_and_lockouts(store: Store) {
    let app = stores::app(
        store,
        &[
            ("OPENTRUSTY_LOCKOUT_THRESHOLD", "3"),
            ("OPENTRUSTY_LOCKOUT_DURATION", "7200"),
        ],
    );
    let acme = tenant_with_user(&app, "acme", "alice@example.com").await;
    let beta = tenant_with_user(&app, "beta", "bob@example.com").await;
    let hour0 = T0 / HOUR;

    // Two logins, then three wrong passwords: the third locks the account.
    for _ in 0..2 {
        assert!(
            try_login(&app, &acme, "alice@example.com", PW)
                .await
                .is_ok()
        );
    }
    for _ in 0..3 {
        assert!(
            try_login(&app, &acme, "alice@example.com", "wrong")
                .await
                .is_err()
        );
    }
    // An hour later: a login attempt on the locked account and one of an unknown email are
    // failed logins too.
    app.clock.advance(HOUR);
    assert!(
        try_login(&app, &acme, "alice@example.com", PW)
            .await
            .is_err()
    );
    assert!(
        try_login(&app, &acme, "nobody@example.com", PW)
            .await
            .is_err()
    );
    // beta's login is beta's only.
    assert!(try_login(&app, &beta, "bob@example.com", PW).await.is_ok());

    let rows = counters(&app, &acme).await;
    assert_eq!(
        rows,
        [
            HourRow {
                hour: hour0,
                logins: 2,
                failures: 3,
                lockouts: 1
            },
            HourRow {
                hour: hour0 + 1,
                logins: 0,
                failures: 2,
                lockouts: 0
            },
        ]
    );
    // The counters agree with the audit trail they are derived from.
    let sum = |f: fn(&HourRow) -> i64| rows.iter().map(f).sum::<i64>();
    assert_eq!(
        sum(|r| r.logins),
        audit_count(&app, &acme, "login.succeeded").await
    );
    assert_eq!(
        sum(|r| r.failures),
        audit_count(&app, &acme, "login.failed").await
    );
    assert_eq!(
        sum(|r| r.lockouts),
        audit_count(&app, &acme, "account.locked").await
    );
    assert_eq!(
        counters(&app, &beta).await,
        [HourRow {
            hour: hour0 + 1,
            logins: 1,
            failures: 0,
            lockouts: 0
        }]
    );

    // The dashboard's window holds both hours in place among its 168.
    let now = app.clock.now();
    let (from, to) = SignIns::window(now);
    assert_eq!(to - from, 168);
    let mut tx = app.store.read().await.unwrap();
    let stored = tx.scope(&acme).login_stats(from, to).await.unwrap();
    drop(tx);
    let s = SignIns::of(&stored, now);
    assert_eq!(s.now_hour, hour0 + 1);
    assert_eq!(s.hours[(hour0 - s.first_hour) as usize], rows[0]);
    assert_eq!(s.hours[(hour0 + 1 - s.first_hour) as usize], rows[1]);
    assert_eq!(s.hours.iter().map(|h| h.failures).sum::<i64>(), 5);
}
both_backends!(sign_in_counters_follow_logins_failures_and_lockouts);

fn cell(body: &str, id: &str) -> Option<i64> {
    body.split(&format!("id=\"{id}\">"))
        .nth(1)
        .and_then(|s| s.split('<').next())
        .and_then(|s| s.parse().ok())
}

#[test]
fn the_dashboard_charts_real_sign_ins_as_an_accessible_svg() {
    let s = console_site(&[("OPENTRUSTY_LOCKOUT_THRESHOLD", "3")]);
    let port = port_of(&s);
    // bob (acme, no role) mistypes his password three times: three failures and a lockout.
    let mut bob = Browser::new(&[port]);
    for _ in 0..3 {
        let res = bob.sign_in("/console/t/acme/", "bob@example.com", "not-bobs-password");
        assert_ne!(res.status, 200);
    }
    // alice, acme's owner, signs in: a login.
    let mut alice = Browser::new(&[port]);
    let page = alice.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;

    assert!(body.contains("<figure class=\"chart\">"), "{body}");
    assert!(
        body.contains(
            "<figcaption id=\"chart-caption\">Sign-ins over the last 7 days</figcaption>"
        )
    );
    assert!(
        body.contains("<svg role=\"img\" aria-labelledby=\"chart-title\""),
        "{body}"
    );
    assert!(body.contains("<title id=\"chart-title\">Sign-ins over the last 7 days</title>"));
    assert_eq!(body.matches("<polyline class=\"series").count(), 3);
    // The CSP has no unsafe-inline: no style attribute anywhere, no inline script.
    assert!(!body.contains("style="), "{body}");
    assert!(!body.contains("<script>"));
    // The text alternative: seven days and the totals.
    assert!(body.contains("<caption>Sign-ins per day (UTC)</caption>"));
    let daily = body.split("id=\"sign-ins-daily\"").nth(1).unwrap();
    assert_eq!(daily.matches("<th scope=\"row\">").count(), 8, "{daily}");
    assert_eq!(cell(body, "total-logins"), Some(1), "{body}");
    assert_eq!(cell(body, "total-failures"), Some(3), "{body}");
    assert_eq!(cell(body, "total-lockouts"), Some(1), "{body}");
    assert!(body.contains("in all, logins: 1, failed logins: 3, lockouts: 1."));

    // Another tenant's dashboard does not count acme's sign-ins.
    let mut root = Browser::new(&[port]);
    let page = root.sign_in("/console/", "root@example.com", super::ROOT_PW);
    assert_eq!(page.status, 200, "{}", page.body);
    let (beta, _) = root.open("/console/t/beta/");
    assert_eq!(cell(&beta.body, "total-logins"), Some(0), "{}", beta.body);
    assert_eq!(cell(&beta.body, "total-failures"), Some(0));
    // The platform's own: root's sign-in.
    assert_eq!(cell(&page.body, "total-logins"), Some(1), "{}", page.body);
}

/// Housekeeping sweeps what the console leaves behind in every tenant: sign-ins never
/// finished, console sessions past their lifetime or idle, and sign-in counters of hours
/// older than the chart's window; live rows stay.
async fn housekeeping_prunes_console_rows_and_old_counters(store: Store) {
    use opentrusty::domain::user::Email;
    use opentrusty::service::console::session::IDLE_TIMEOUT;
    use opentrusty::service::housekeeping;
    use opentrusty::store::console::{ConsoleSessionRow, LoginRow};
    use opentrusty::store::login_stats::Series;

    let app = stores::app(
        store,
        &[("OPENTRUSTY_KEY_ENCRYPTION_KEY", crate::oauth_world::KEK)],
    );
    let t = tenant_with_user(&app, "acme", "alice@example.com").await;
    let now = app.clock.now();
    let mut tx = app.store.begin().await.unwrap();
    let alice = tx
        .scope(&t)
        .user_by_email(&Email::parse("alice@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let login = |expires_at| LoginRow {
        state: "s".into(),
        nonce: "n".into(),
        verifier: "v".into(),
        return_to: "/console/t/acme/".into(),
        expires_at,
    };
    let session = |expires_at| ConsoleSessionRow {
        user_id: alice.id.to_string(),
        tokens: "sealed".into(),
        kek_id: "k".into(),
        auth_time: now,
        last_seen: now,
        expires_at,
    };
    let mut scope = tx.scope(&t);
    scope
        .console_login_insert("login-live", &login(now + 600), now)
        .await
        .unwrap();
    scope
        .console_login_insert("login-expired", &login(now - 1), now - 600)
        .await
        .unwrap();
    scope
        .console_session_insert("session-live", &session(now + 3600), now)
        .await
        .unwrap();
    scope
        .console_session_insert("session-expired", &session(now - 1), now - 7200)
        .await
        .unwrap();
    // Last seen (at creation) longer ago than the idle limit, though within its lifetime.
    scope
        .console_session_insert("session-idle", &session(now + 3600), now - IDLE_TIMEOUT)
        .await
        .unwrap();
    tx.login_stats_bump(t.id, now - 9 * 86_400, Series::Logins)
        .await
        .unwrap();
    tx.login_stats_bump(t.id, now - 6 * 86_400, Series::Failures)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let counts = housekeeping::round(&app).await.unwrap();
    let count = |what: &str| counts.iter().find(|(t, _)| *t == what).unwrap().1;
    assert_eq!(count("console_logins"), 1, "{counts:?}");
    assert_eq!(count("console_sessions"), 2, "{counts:?}");
    assert_eq!(count("login_stats"), 1, "{counts:?}");

    let mut tx = app.store.begin().await.unwrap();
    let mut scope = tx.scope(&t);
    for (id, stays) in [
        ("session-live", true),
        ("session-expired", false),
        ("session-idle", false),
    ] {
        assert_eq!(
            scope.console_session_get(id).await.unwrap().is_some(),
            stays,
            "{id}"
        );
    }
    assert!(
        scope
            .console_login_take("login-expired")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        scope
            .console_login_take("login-live")
            .await
            .unwrap()
            .is_some()
    );
    tx.commit().await.unwrap();
    let left = counters(&app, &t).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].failures, 1);
}
both_backends!(housekeeping_prunes_console_rows_and_old_counters);

/// The dashboard's user count is kept by triggers: it follows users created and deleted by
/// the use cases, per tenant.
async fn the_user_count_follows_creations_and_deletions(store: Store) {
    use opentrusty::domain::user::Profile;
    use opentrusty::service::Context;
    use opentrusty::service::admin::{self, UserInput};

    let app = stores::app(store, &[]);
    let acme = tenant_with_user(&app, "acme", "alice@example.com").await;
    let beta = tenant_with_user(&app, "beta", "bob@example.com").await;
    let ctx = Context::cli();
    for i in 0..3 {
        let email = format!("user{i}@example.com");
        let input = UserInput {
            email: &email,
            password: Some(PW),
            profile: Profile::default(),
            email_verified: false,
        };
        admin::user_create(&app, &acme, input, &ctx).await.unwrap();
    }
    admin::user_delete(&app, &acme, "user1@example.com", &ctx)
        .await
        .unwrap();
    let now = app.clock.now();
    let mut tx = app.store.read().await.unwrap();
    let a = tx
        .scope(&acme)
        .console_counts("opentrusty-console", now)
        .await
        .unwrap();
    let b = tx
        .scope(&beta)
        .console_counts("opentrusty-console", now)
        .await
        .unwrap();
    assert_eq!((a.users, b.users), (3, 1));
    drop(tx);
    // Live sessions: a login's, until it expires.
    assert!(try_login(&app, &beta, "bob@example.com", PW).await.is_ok());
    let mut tx = app.store.read().await.unwrap();
    let b = tx
        .scope(&beta)
        .console_counts("opentrusty-console", now)
        .await
        .unwrap();
    let a = tx
        .scope(&acme)
        .console_counts("opentrusty-console", now)
        .await
        .unwrap();
    assert_eq!((a.sessions, b.sessions), (0, 1));
    let later = now + 365 * 86_400;
    let b = tx
        .scope(&beta)
        .console_counts("opentrusty-console", later)
        .await
        .unwrap();
    assert_eq!(b.sessions, 0);
}
both_backends!(the_user_count_follows_creations_and_deletions);
