//! Login sessions on both backends with a fixed clock: idle and absolute expiry, touch,
//! logout, and sessions of one tenant never valid in another.

use crate::both_backends;
use crate::common::stores;
use crate::identity::{PW, tenant_with_user, try_login};
use opentrusty::service::admin;
use opentrusty::service::{Context, sessions};
use opentrusty::store::Store;

async fn sessions_expire_idle_and_absolute(store: Store) {
    let app = stores::app(
        store,
        &[
            ("OPENTRUSTY_SESSION_IDLE_TIMEOUT", "600"),
            ("OPENTRUSTY_SESSION_LIFETIME", "1800"),
        ],
    );
    let t = tenant_with_user(&app, "acme", "alice@example.com").await;
    let s = try_login(&app, &t, "alice@example.com", PW)
        .await
        .ok()
        .unwrap();
    let second = try_login(&app, &t, "alice@example.com", PW)
        .await
        .ok()
        .unwrap();
    assert_ne!(s.token, second.token, "a new session id on every login");
    // Active use keeps it alive past the idle timeout...
    for _ in 0..2 {
        app.clock.advance(500);
        assert!(
            sessions::current(&app, &t, &s.token)
                .await
                .unwrap()
                .is_some()
        );
    }
    // ...but not past the absolute lifetime.
    app.clock.advance(500);
    assert!(
        sessions::current(&app, &t, &s.token)
            .await
            .unwrap()
            .is_some()
    );
    app.clock.advance(400);
    assert!(
        sessions::current(&app, &t, &s.token)
            .await
            .unwrap()
            .is_none(),
        "absolute lifetime reached"
    );
    // Idle: the second session was not used for 1900 s.
    assert!(
        sessions::current(&app, &t, &second.token)
            .await
            .unwrap()
            .is_none(),
        "idle timeout reached"
    );
    // Logout deletes the row; password change and disable end sessions.
    let s3 = try_login(&app, &t, "alice@example.com", PW)
        .await
        .ok()
        .unwrap();
    assert!(
        sessions::logout(&app, &t, &s3.token, &Context::default())
            .await
            .unwrap()
    );
    assert!(
        sessions::current(&app, &t, &s3.token)
            .await
            .unwrap()
            .is_none()
    );
    let s4 = try_login(&app, &t, "alice@example.com", PW)
        .await
        .ok()
        .unwrap();
    admin::user_set_password(
        &app,
        &t,
        "alice@example.com",
        "a brand new password",
        &Context::cli(),
    )
    .await
    .unwrap();
    assert!(
        sessions::current(&app, &t, &s4.token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        try_login(&app, &t, "alice@example.com", "a brand new password")
            .await
            .is_ok()
    );
}
both_backends!(sessions_expire_idle_and_absolute);
