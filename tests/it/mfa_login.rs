//! The second factor at login (issue 12): a session is stepped up in place after the factor
//! (same cookie, `sid` and `auth_time`; `amr` gains the factor and `mfa`), on both backends.

use opentrusty::service::{Context, Error, sessions};
use opentrusty::store::Store;

use crate::both_backends;
use crate::common::stores;
use crate::identity::{PW, tenant_with_user, try_login};

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
    let up = sessions::step_up(&app, &t, &s.token, &["otp"], &ctx)
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
    let again = sessions::step_up(&app, &t, &s.token, &["hwk"], &ctx)
        .await
        .unwrap();
    assert_eq!(again.amr, ["pwd", "otp", "hwk", "mfa"]);
    assert_eq!(again.mfa_at, Some(now + 10));

    // Another tenant's session, an unknown token, an ended session: nothing to step up.
    for token in [s.token.as_str(), "no-such-session", ""] {
        assert!(matches!(
            sessions::step_up(&app, &other, token, &["otp"], &ctx).await,
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
        sessions::step_up(&app, &t, &fresh.token, &["otp"], &ctx).await,
        Err(Error::NotFound("session"))
    ));
    // Past the absolute lifetime the session is gone and cannot be revived by a factor.
    app.clock.advance(1800);
    assert!(matches!(
        sessions::step_up(&app, &t, &s.token, &["otp"], &ctx).await,
        Err(Error::NotFound("session"))
    ));
}
both_backends!(a_session_is_stepped_up_in_place);
