//! Management roles in storage, on both backends: set and read per tenant, the last active
//! owner kept through role changes, disabling and deleting, and no role crosses tenants.

use opentrusty::domain::role::Role;
use opentrusty::domain::user::{Profile, User};
use opentrusty::service::{Context, Error, admin, roles};
use opentrusty::store::Store;

use crate::both_backends;
use crate::oauth_world::{app, tenant};

async fn user(
    app: &opentrusty::app::AppState,
    t: &opentrusty::domain::tenant::Tenant,
    email: &str,
) -> User {
    admin::user_create(
        app,
        t,
        admin::UserInput {
            email,
            password: None,
            profile: Profile::default(),
            email_verified: true,
        },
        &Context::default(),
    )
    .await
    .unwrap()
}

fn conflict<T: std::fmt::Debug>(r: Result<T, Error>) {
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
}

async fn roles_and_the_last_owner(store: Store) {
    let app = app(store);
    let (a, b) = (tenant(&app, "acme").await, tenant(&app, "beta").await);
    let ctx = Context::default();
    let ann = user(&app, &a, "ann@example.com").await;
    let ben = user(&app, &a, "ben@example.com").await;
    let bea = user(&app, &b, "ann@example.com").await;
    assert_eq!(roles::role_of(&app, &a, &ann).await.unwrap(), None);
    roles::set_role(&app, &a, "ann@example.com", Some(Role::Owner), &ctx)
        .await
        .unwrap();
    assert_eq!(
        roles::role_of(&app, &a, &ann).await.unwrap(),
        Some(Role::Owner)
    );
    // The same address in another tenant is another user, without a role.
    assert_eq!(roles::role_of(&app, &b, &bea).await.unwrap(), None);
    // Ann is the last owner of acme.
    conflict(roles::set_role(&app, &a, "ann@example.com", None, &ctx).await);
    conflict(admin::user_disable(&app, &a, "ann@example.com", &ctx).await);
    conflict(admin::user_delete(&app, &a, "ann@example.com", &ctx).await);
    assert_eq!(
        roles::role_of(&app, &a, &ann).await.unwrap(),
        Some(Role::Owner)
    );
    // A second owner lets the first step down; a disabled owner does not count.
    roles::set_role(&app, &a, "ben@example.com", Some(Role::Owner), &ctx)
        .await
        .unwrap();
    admin::user_disable(&app, &a, "ben@example.com", &ctx)
        .await
        .unwrap();
    conflict(roles::set_role(&app, &a, "ann@example.com", Some(Role::Admin), &ctx).await);
    assert_eq!(
        roles::role_of(&app, &a, &ben).await.unwrap(),
        Some(Role::Owner)
    );
    user(&app, &a, "cid@example.com").await;
    roles::set_role(&app, &a, "cid@example.com", Some(Role::Owner), &ctx)
        .await
        .unwrap();
    roles::set_role(&app, &a, "ann@example.com", Some(Role::Admin), &ctx)
        .await
        .unwrap();
    assert_eq!(
        roles::role_of(&app, &a, &ann).await.unwrap(),
        Some(Role::Admin)
    );
}
both_backends!(roles_and_the_last_owner);

/// Two owners demoted at the same time, in fresh tenants over and over: never both (the
/// second waits for the first's lock on PostgreSQL; SQLite writes one at a time).
async fn concurrent_demotions_keep_an_owner(store: Store) {
    let app = app(store);
    let ctx = Context::default();
    for round in 0..15 {
        let t = tenant(&app, &format!("round{round}")).await;
        user(&app, &t, "x@example.com").await;
        user(&app, &t, "y@example.com").await;
        for email in ["x@example.com", "y@example.com"] {
            roles::set_role(&app, &t, email, Some(Role::Owner), &ctx)
                .await
                .unwrap();
        }
        let (rx, ry) = tokio::join!(
            roles::set_role(&app, &t, "x@example.com", None, &ctx),
            roles::set_role(&app, &t, "y@example.com", None, &ctx)
        );
        assert!(
            rx.is_err() || ry.is_err(),
            "round {round}: both of the last two owners were demoted"
        );
        conflict(if rx.is_err() { rx } else { ry });
    }
}
both_backends!(concurrent_demotions_keep_an_owner);
