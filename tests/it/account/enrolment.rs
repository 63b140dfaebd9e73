//! The enrolment use cases behind the account page, on both backends.

use opentrusty::protocol::totp;
use opentrusty::service::factors::{account, totp as factor_totp};
use opentrusty::service::{Context, Error};
use opentrusty::store::Store;

use super::unbase32;
use crate::both_backends;

/// The enrolment use cases behind the page: a pending enrolment opens for its owner only
/// (not another user's, not another tenant's), the form's name is kept, and the enrolment
/// code cannot be replayed at login.
async fn pending_enrolments_belong_to_their_user(store: Store) {
    use opentrusty::domain::user::Profile;
    use opentrusty::service::admin;
    let app = crate::oauth_world::app(store);
    let a = crate::oauth_world::tenant(&app, "acme").await;
    let b = crate::oauth_world::tenant(&app, "beta").await;
    let ctx = Context::default();
    let mk = |t, email| {
        let app = app.clone();
        async move {
            let input = admin::UserInput {
                email,
                password: None,
                profile: Profile::default(),
                email_verified: true,
            };
            admin::user_create(&app, t, input, &Context::default())
                .await
                .unwrap()
        }
    };
    let ada = mk(&a, "ada@example.com").await;
    let bob = mk(&a, "bob@example.com").await;
    let ada_b = mk(&b, "ada@example.com").await;
    let e = factor_totp::begin(&app, &a, &ada, "Authenticator app")
        .await
        .unwrap();
    let p = account::pending(&app, &a, &ada, &e.factor_id)
        .await
        .unwrap();
    assert_eq!(
        (p.secret.as_str(), p.uri.as_str()),
        (e.secret.as_str(), e.uri.as_str())
    );
    for (t, u) in [(&a, &bob), (&b, &ada_b)] {
        assert!(matches!(
            account::pending(&app, t, u, &e.factor_id).await,
            Err(Error::NotFound(_))
        ));
    }
    assert!(matches!(
        account::pending(&app, &a, &ada, &"x".repeat(1000)).await,
        Err(Error::NotFound(_))
    ));
    let seed = unbase32(&e.secret);
    let code = totp::code(&seed, totp::step(app.clock.now()));
    let r = account::confirm_named(&app, &a, &bob, &e.factor_id, "Mine", &code, &ctx).await;
    assert!(
        matches!(r, Err(Error::NotFound(_))),
        "bob cannot confirm ada's enrolment"
    );
    let r = account::confirm_named(&app, &a, &ada, &e.factor_id, " ", &code, &ctx).await;
    assert!(matches!(r, Err(Error::Invalid(m)) if m.starts_with("name")));
    let f = account::confirm_named(&app, &a, &ada, &e.factor_id, " Phone ", &code, &ctx)
        .await
        .unwrap();
    assert_eq!(f.name, "Phone");
    // The enrolment code is spent: the login check refuses it in the same step.
    assert!(
        !factor_totp::check(&app, &a, &ada, &code, &ctx)
            .await
            .unwrap()
    );
    app.clock.advance(30);
    let next = totp::code(&seed, totp::step(app.clock.now()));
    assert!(
        factor_totp::check(&app, &a, &ada, &next, &ctx)
            .await
            .unwrap()
    );
    // An enrolment left for longer than PENDING_SECS is gone.
    let e = factor_totp::begin(&app, &a, &bob, "Authenticator app")
        .await
        .unwrap();
    app.clock.advance(account::PENDING_SECS);
    assert!(matches!(
        account::pending(&app, &a, &bob, &e.factor_id).await,
        Err(Error::NotFound(_))
    ));
}
both_backends!(pending_enrolments_belong_to_their_user);
