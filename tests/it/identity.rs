//! Identity rules through the service layer, on both backends: isolation, lockout, equal
//! answers for unknown users, sessions, audit rows.

use opentrusty::app::AppState;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::Profile;
use opentrusty::service::admin::{self, UserInput};
use opentrusty::service::login::{self, Attempt, Failed};
use opentrusty::service::{Context, sessions};
use opentrusty::store::Store;

use crate::both_backends;
use crate::common::stores;

pub(crate) const PW: &str = "correct horse battery";

pub(crate) async fn tenant_with_user(app: &AppState, slug: &str, email: &str) -> Tenant {
    let ctx = Context::cli();
    let t = admin::tenant_create(app, slug, Some(&slug.to_uppercase()), &ctx)
        .await
        .unwrap();
    let input = UserInput {
        email,
        password: Some(PW),
        profile: Profile::default(),
        email_verified: true,
    };
    admin::user_create(app, &t, input, &ctx).await.unwrap();
    t
}

pub(crate) async fn try_login(
    app: &AppState,
    t: &Tenant,
    email: &str,
    pw: &str,
) -> Result<login::LoggedIn, Failed> {
    let attempt = Attempt {
        email,
        password: pw.to_owned(),
        ip: Some("192.0.2.1".parse().unwrap()),
    };
    login::login(app, t, attempt, &Context::default()).await
}

async fn audit_types(app: &AppState, t: &Tenant) -> Vec<String> {
    let mut tx = app.store.read().await.unwrap();
    let mut rows = tx.scope(t).audit_list(100).await.unwrap();
    rows.reverse();
    rows.into_iter().map(|r| r.event_type).collect()
}

async fn isolation_between_tenants(store: Store) {
    let app = stores::app(store, &[]);
    let a = tenant_with_user(&app, "acme", "alice@example.com").await;
    let b = tenant_with_user(&app, "beta", "bob@example.com").await;
    // The same email may exist in both tenants as different users.
    let ctx = Context::cli();
    let input = UserInput {
        email: "Alice@Example.com",
        password: Some("another password"),
        profile: Profile::default(),
        email_verified: false,
    };
    let alice_b = admin::user_create(&app, &b, input, &ctx).await.unwrap();

    // A's user is invisible in B: B's alice has her own password, A's password fails there.
    assert!(try_login(&app, &b, "bob@example.com", PW).await.is_ok());
    assert!(matches!(
        try_login(&app, &b, "alice@example.com", PW).await,
        Err(Failed::BadCredentials)
    ));
    let ok_a = try_login(&app, &a, "alice@example.com", PW)
        .await
        .ok()
        .unwrap();
    assert_ne!(ok_a.user.id, alice_b.id);
    // A's session is not a session in B.
    assert!(
        sessions::current(&app, &a, &ok_a.token)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        sessions::current(&app, &b, &ok_a.token)
            .await
            .unwrap()
            .is_none()
    );
    // Scoped reads of A's user id from B find nothing.
    let mut tx = app.store.read().await.unwrap();
    assert!(
        tx.scope(&b)
            .user_by_id(ok_a.user.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tx.scope(&a)
            .user_by_id(ok_a.user.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(tx.scope(&b).users_list().await.unwrap().len(), 2);
    drop(tx);
    // Logging out via B does not end A's session.
    assert!(
        !sessions::logout(&app, &b, &ok_a.token, &Context::default())
            .await
            .unwrap()
    );
    assert!(
        sessions::current(&app, &a, &ok_a.token)
            .await
            .unwrap()
            .is_some()
    );
}
both_backends!(isolation_between_tenants);

async fn lockout_after_threshold_and_unlock(store: Store) {
    let app = stores::app(
        store,
        &[
            ("OPENTRUSTY_LOCKOUT_THRESHOLD", "3"),
            ("OPENTRUSTY_LOCKOUT_DURATION", "600"),
        ],
    );
    let t = tenant_with_user(&app, "acme", "alice@example.com").await;
    for _ in 0..3 {
        assert!(matches!(
            try_login(&app, &t, "alice@example.com", "wrong password").await,
            Err(Failed::BadCredentials)
        ));
    }
    // Locked: even the right password is refused, with the same answer.
    assert!(matches!(
        try_login(&app, &t, "alice@example.com", PW).await,
        Err(Failed::BadCredentials)
    ));
    let types = audit_types(&app, &t).await;
    assert!(types.contains(&"account.locked".to_string()), "{types:?}");
    // The lock ends by itself after the duration...
    app.clock.advance(601);
    assert!(try_login(&app, &t, "alice@example.com", PW).await.is_ok());
    // ...and an operator can end it early.
    for _ in 0..3 {
        let _ = try_login(&app, &t, "alice@example.com", "wrong password").await;
    }
    assert!(try_login(&app, &t, "alice@example.com", PW).await.is_err());
    admin::user_unlock(&app, &t, "alice@example.com", &Context::cli())
        .await
        .unwrap();
    assert!(try_login(&app, &t, "alice@example.com", PW).await.is_ok());
    // Success resets the counter: two more failures do not lock.
    for _ in 0..2 {
        let _ = try_login(&app, &t, "alice@example.com", "wrong password").await;
    }
    assert!(try_login(&app, &t, "alice@example.com", PW).await.is_ok());
    let types = audit_types(&app, &t).await;
    assert!(types.contains(&"account.unlocked".to_string()), "{types:?}");
}
both_backends!(lockout_after_threshold_and_unlock);

async fn parallel_failures_all_count(store: Store) {
    let app = stores::app(store, &[("OPENTRUSTY_LOCKOUT_THRESHOLD", "8")]);
    let t = tenant_with_user(&app, "acme", "alice@example.com").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, t) = (app.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            try_login(&app, &t, "alice@example.com", "wrong password")
                .await
                .is_err()
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    // Eight parallel failures counted eight times: the account is locked now.
    assert!(try_login(&app, &t, "alice@example.com", PW).await.is_err());
    let mut tx = app.store.read().await.unwrap();
    let email = opentrusty::domain::user::Email::parse("alice@example.com").unwrap();
    let user = tx.scope(&t).user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(user.failed_attempts, 8);
    assert!(user.locked_until.is_some());
}
both_backends!(parallel_failures_all_count);

async fn unknown_disabled_and_wrong_cost_one_verification_each(store: Store) {
    let app = stores::app(store, &[]);
    let t = tenant_with_user(&app, "acme", "alice@example.com").await;
    let input = UserInput {
        email: "dora@example.com",
        password: Some(PW),
        profile: Profile::default(),
        email_verified: false,
    };
    admin::user_create(&app, &t, input, &Context::cli())
        .await
        .unwrap();
    admin::user_disable(&app, &t, "dora@example.com", &Context::cli())
        .await
        .unwrap();
    for (email, pw) in [
        ("nobody@example.com", PW),
        ("alice@example.com", "wrong password"),
        ("dora@example.com", PW),
        ("not-an-email", PW),
    ] {
        let before = app.hasher.verifications();
        assert!(
            matches!(
                try_login(&app, &t, email, pw).await,
                Err(Failed::BadCredentials)
            ),
            "{email}"
        );
        assert_eq!(
            app.hasher.verifications(),
            before + 1,
            "{email}: every failure pays for one Argon2id verification"
        );
    }
    let types = audit_types(&app, &t).await;
    assert_eq!(
        types.iter().filter(|t| *t == "login.failed").count(),
        4,
        "{types:?}"
    );
}
both_backends!(unknown_disabled_and_wrong_cost_one_verification_each);

async fn audit_rows_for_each_event_type(store: Store) {
    let app = stores::app(store, &[("OPENTRUSTY_LOCKOUT_THRESHOLD", "2")]);
    let ctx = Context::cli();
    let (platform, _) = admin::bootstrap(&app, "root@example.com", "bootstrap password", &ctx)
        .await
        .unwrap();
    let t = tenant_with_user(&app, "acme", "alice@example.com").await;
    let s = try_login(&app, &t, "alice@example.com", PW)
        .await
        .ok()
        .unwrap();
    sessions::logout(&app, &t, &s.token, &Context::default())
        .await
        .unwrap();
    let _ = try_login(&app, &t, "alice@example.com", "wrong password").await;
    let _ = try_login(&app, &t, "alice@example.com", "wrong password").await;
    admin::user_unlock(&app, &t, "alice@example.com", &ctx)
        .await
        .unwrap();
    admin::user_set_password(&app, &t, "alice@example.com", "another good password", &ctx)
        .await
        .unwrap();
    admin::user_disable(&app, &t, "alice@example.com", &ctx)
        .await
        .unwrap();
    admin::tenant_disable(&app, "acme", &ctx).await.unwrap();
    let types = audit_types(&app, &t).await;
    for want in [
        "tenant.created",
        "user.created",
        "login.succeeded",
        "logout",
        "login.failed",
        "account.locked",
        "account.unlocked",
        "password.changed",
        "user.disabled",
        "tenant.disabled",
    ] {
        assert!(
            types.iter().any(|t| t == want),
            "missing {want} in {types:?}"
        );
    }
    let platform_types = audit_types(&app, &platform).await;
    assert!(
        platform_types.contains(&"bootstrap".to_string()),
        "{platform_types:?}"
    );
    // No secret ever reaches the metadata.
    let mut tx = app.store.read().await.unwrap();
    for row in tx.scope(&t).audit_list(100).await.unwrap() {
        for secret in [
            PW,
            "wrong password",
            "another good password",
            s.token.as_str(),
        ] {
            assert!(!row.metadata.contains(secret), "{row:?}");
        }
    }
}
both_backends!(audit_rows_for_each_event_type);

async fn bootstrap_runs_once_and_input_errors_are_clear(store: Store) {
    let app = stores::app(store, &[]);
    let ctx = Context::cli();
    admin::bootstrap(&app, "root@example.com", "bootstrap password", &ctx)
        .await
        .unwrap();
    let again = admin::bootstrap(&app, "other@example.com", "bootstrap password", &ctx)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
    let e = admin::tenant_create(&app, "platform", None, &ctx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
    let e = admin::tenant_create(&app, "Bad Slug", None, &ctx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("slug"), "{e}");
    let t = admin::tenant_create(&app, "acme", None, &ctx)
        .await
        .unwrap();
    let e = admin::tenant_create(&app, "acme", None, &ctx)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let weak = UserInput {
        email: "a@example.com",
        password: Some("short"),
        profile: Profile::default(),
        email_verified: false,
    };
    assert!(
        admin::user_create(&app, &t, weak, &ctx)
            .await
            .unwrap_err()
            .to_string()
            .contains("too short")
    );
    let long = "x".repeat(1025);
    let weak = UserInput {
        email: "a@example.com",
        password: Some(&long),
        profile: Profile::default(),
        email_verified: false,
    };
    assert!(
        admin::user_create(&app, &t, weak, &ctx)
            .await
            .unwrap_err()
            .to_string()
            .contains("too long")
    );
    let bad = UserInput {
        email: "not an email",
        password: None,
        profile: Profile::default(),
        email_verified: false,
    };
    assert!(
        admin::user_create(&app, &t, bad, &ctx)
            .await
            .unwrap_err()
            .to_string()
            .contains("email")
    );
    assert!(
        admin::users_list(&app, &t).await.unwrap().is_empty(),
        "nothing was created by bad input"
    );
}
both_backends!(bootstrap_runs_once_and_input_errors_are_clear);

async fn updates_are_audited(store: Store) {
    let app = stores::app(store, &[]);
    let ctx = Context::cli();
    let t = tenant_with_user(&app, "acme", "alice@example.com").await;
    let patch = admin::ProfilePatch {
        nickname: Some("ally".into()),
        given_name: Some("Alice".into()),
        ..Default::default()
    };
    let u = admin::user_update(&app, &t, "alice@example.com", patch, &ctx)
        .await
        .unwrap();
    assert_eq!(u.profile.nickname.as_deref(), Some("ally"));
    let clear = admin::ProfilePatch {
        nickname: Some(String::new()),
        ..Default::default()
    };
    let u = admin::user_update(&app, &t, "alice@example.com", clear, &ctx)
        .await
        .unwrap();
    assert_eq!(u.profile.nickname, None);
    assert_eq!(
        u.profile.given_name.as_deref(),
        Some("Alice"),
        "untouched fields stay"
    );
    let renamed = admin::tenant_update(&app, "acme", "Acme Industries", &ctx)
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Acme Industries");
    let types = audit_types(&app, &t).await;
    assert_eq!(
        types.iter().filter(|t| *t == "user.updated").count(),
        2,
        "{types:?}"
    );
    assert!(types.contains(&"tenant.updated".to_string()), "{types:?}");
    let mut tx = app.store.read().await.unwrap();
    let row = tx.scope(&t).audit_list(1).await.unwrap().remove(0);
    assert!(row.metadata.contains("Acme Industries"));
}
both_backends!(updates_are_audited);
