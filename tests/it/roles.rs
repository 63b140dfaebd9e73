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

/// A token as minted by `actor` (an audit name) in `t`.
async fn mint(
    app: &opentrusty::app::AppState,
    t: &opentrusty::domain::tenant::Tenant,
    actor: String,
    role: Role,
) -> opentrusty::service::api_tokens::Created {
    let ctx = Context {
        actor: Some(actor),
        ..Context::default()
    };
    let day = std::time::Duration::from_secs(86_400);
    opentrusty::service::api_tokens::create(app, t, "t", role, day, None, &ctx)
        .await
        .unwrap()
}

async fn live(app: &opentrusty::app::AppState, token: &str) -> bool {
    opentrusty::service::api_tokens::authenticate(app, token)
        .await
        .unwrap()
        .is_some()
}

/// The API tokens a user minted die when the user could no longer mint them: a lowered role
/// takes those above the new one (and every token those minted), disabling or deleting takes
/// all; a platform user's tokens in other tenants go with their platform role; nobody else's
/// tokens are touched.
async fn tokens_die_with_their_creators_standing(store: Store) {
    let app = app(store);
    let (a, p) = (tenant(&app, "acme").await, tenant(&app, "platform").await);
    let ctx = Context::default();
    let ann = user(&app, &a, "ann@example.com").await;
    let bob = user(&app, &a, "bob@example.com").await;
    for u in [&ann, &bob] {
        roles::set_role_id(&app, &a, u.id, Some(Role::Owner), None, &ctx)
            .await
            .unwrap();
    }
    let ann_owner = mint(&app, &a, format!("user:{}", ann.id), Role::Owner).await;
    let ann_admin = mint(&app, &a, format!("user:{}", ann.id), Role::Admin).await;
    let ann_viewer = mint(&app, &a, format!("user:{}", ann.id), Role::Viewer).await;
    // A token minted by ann's owner token, with a modest role: it dies with its parent.
    let child = mint(
        &app,
        &a,
        format!("api_token:{}", ann_owner.row.id),
        Role::Viewer,
    )
    .await;
    let grandchild = mint(
        &app,
        &a,
        format!("api_token:{}", child.row.id),
        Role::Viewer,
    )
    .await;
    let bobs = mint(&app, &a, format!("user:{}", bob.id), Role::Owner).await;

    roles::set_role_id(&app, &a, ann.id, Some(Role::Admin), None, &ctx)
        .await
        .unwrap();
    assert!(!live(&app, &ann_owner.token).await, "above the new role");
    assert!(!live(&app, &child.token).await, "minted by a revoked token");
    assert!(!live(&app, &grandchild.token).await, "and so on down");
    assert!(live(&app, &ann_admin.token).await && live(&app, &ann_viewer.token).await);
    assert!(live(&app, &bobs.token).await, "another creator's token");
    let events = opentrusty::service::audit::list(&app, Some(&a), 50)
        .await
        .unwrap();
    let change: serde_json::Value = events
        .iter()
        .filter(|e| e.event_type == "user.role_changed")
        .map(|e| serde_json::from_str::<serde_json::Value>(&e.metadata).unwrap())
        .find(|m| m["to"] == "admin")
        .expect("the role change is audited");
    assert_eq!(change["api_tokens_revoked"], 3);

    // A promotion revokes nothing; disabling takes every token ann minted.
    roles::set_role_id(&app, &a, ann.id, Some(Role::Owner), None, &ctx)
        .await
        .unwrap();
    assert!(live(&app, &ann_admin.token).await);
    admin::user_set_status_id(
        &app,
        &a,
        ann.id,
        opentrusty::domain::tenant::Status::Disabled,
        None,
        &ctx,
    )
    .await
    .unwrap();
    assert!(!live(&app, &ann_admin.token).await && !live(&app, &ann_viewer.token).await);
    assert!(live(&app, &bobs.token).await);

    // Deleting takes the rest: bob's tokens die with bob (ann keeps the tenant an owner).
    admin::user_set_status_id(
        &app,
        &a,
        ann.id,
        opentrusty::domain::tenant::Status::Active,
        None,
        &ctx,
    )
    .await
    .unwrap();
    admin::user_delete_id(&app, &a, bob.id, None, &ctx)
        .await
        .unwrap();
    assert!(!live(&app, &bobs.token).await);

    // A platform owner's tokens in a tenant go when the platform role is lowered.
    let pat = user(&app, &p, "pat@example.com").await;
    let root = user(&app, &p, "root@example.com").await;
    for u in [&pat, &root] {
        roles::set_role_id(&app, &p, u.id, Some(Role::Owner), None, &ctx)
            .await
            .unwrap();
    }
    let pat_home = mint(&app, &p, format!("user:{}", pat.id), Role::Admin).await;
    let pat_in_acme = mint(&app, &a, format!("platform/user:{}", pat.id), Role::Admin).await;
    let pat_viewer_in_acme =
        mint(&app, &a, format!("platform/user:{}", pat.id), Role::Viewer).await;
    roles::set_role_id(&app, &p, pat.id, Some(Role::Viewer), None, &ctx)
        .await
        .unwrap();
    assert!(!live(&app, &pat_home.token).await && !live(&app, &pat_in_acme.token).await);
    assert!(live(&app, &pat_viewer_in_acme.token).await);
}
both_backends!(tokens_die_with_their_creators_standing);
