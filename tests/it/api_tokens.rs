//! API tokens (issue 10, first part): created with a role no higher than the creator's, shown
//! once and stored hashed, authenticated by hash with revocation and expiry read on every
//! request, `last_used_at` written at most once a minute; both backends, and the CLI.

use std::time::Duration;

use opentrusty::domain::role::Role;
use opentrusty::service::{Context, Error, api_tokens};
use opentrusty::store::Store;

use crate::both_backends;
use crate::cli::{err, ok};
use crate::common::tempdir;
use crate::login_pages::cli;
use crate::oauth_world::{app, tenant};

async fn tokens_authenticate_until_revoked_or_expired(store: Store) {
    let app = app(store);
    let (a, b) = (tenant(&app, "acme").await, tenant(&app, "beta").await);
    let ctx = Context::default();
    let day = Duration::from_secs(86_400);
    // Nobody grants above their own role; admins grant none at all.
    for (creator, role) in [(Role::Admin, Role::Viewer), (Role::Owner, Role::Owner)] {
        let r = api_tokens::create(&app, &a, "x", role, day, Some(creator), &ctx).await;
        assert_eq!(r.is_ok(), creator.may_grant(role), "{creator} -> {role}");
    }
    let c = api_tokens::create(&app, &a, "ci", Role::Admin, day, Some(Role::Owner), &ctx)
        .await
        .unwrap();
    assert!(
        c.token.starts_with("otk_") && c.token.len() == 47,
        "{}",
        c.token
    );
    let me = api_tokens::authenticate(&app, &c.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (me.tenant_id.as_str(), me.role),
        (a.id.to_string().as_str(), Role::Admin)
    );
    // Stored hashed: the secret is nowhere in the listing.
    let listed = api_tokens::list(&app, &a).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|t| t.id == c.row.id && t.last_used_at.is_some())
    );
    assert!(!format!("{listed:?}").contains(&c.token[4..]));
    assert!(api_tokens::list(&app, &b).await.unwrap().is_empty());
    // Garbage, a near miss and an over-long value are simply nobody.
    for bad in ["", "otk_", "Bearer x", &c.token[..46], &"otk_x".repeat(100)] {
        assert_eq!(
            api_tokens::authenticate(&app, bad).await.unwrap(),
            None,
            "{bad}"
        );
    }
    // Another tenant cannot revoke it; its own tenant can, and it stops working at once.
    assert!(matches!(
        api_tokens::revoke(&app, &b, &c.row.id, &ctx).await,
        Err(Error::NotFound(_))
    ));
    api_tokens::revoke(&app, &a, &c.row.id, &ctx).await.unwrap();
    assert_eq!(
        api_tokens::authenticate(&app, &c.token).await.unwrap(),
        None
    );
    // Expiry: a 10-second token works for 10 seconds.
    let short = api_tokens::create(
        &app,
        &a,
        "short",
        Role::Viewer,
        Duration::from_secs(10),
        None,
        &ctx,
    )
    .await
    .unwrap();
    assert!(
        api_tokens::authenticate(&app, &short.token)
            .await
            .unwrap()
            .is_some()
    );
    app.clock.advance(10);
    assert_eq!(
        api_tokens::authenticate(&app, &short.token).await.unwrap(),
        None
    );
    // Bad names and lifetimes are refused and create nothing.
    let before = api_tokens::list(&app, &a).await.unwrap().len();
    for (name, life) in [
        ("", day),
        ("bad\nname", day),
        ("ok", Duration::from_secs(9)),
    ] {
        let r = api_tokens::create(&app, &a, name, Role::Viewer, life, None, &ctx).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{name:?}");
    }
    assert_eq!(api_tokens::list(&app, &a).await.unwrap().len(), before);
}
both_backends!(tokens_authenticate_until_revoked_or_expired);

#[test]
fn api_token_cli_creates_lists_and_revokes() {
    let dir = tempdir();
    let db = format!("sqlite://{}/tokens.db", dir.path().display());
    ok(&cli(&db, &["tenant", "create", "acme"], None));
    let out = ok(&cli(
        &db,
        &[
            "api-token",
            "create",
            "--tenant",
            "acme",
            "--role",
            "admin",
            "--name",
            "ci",
            "--expires-in",
            "30d",
            "--json",
        ],
        None,
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let token = v["token"].as_str().unwrap();
    assert!(token.starts_with("otk_"));
    assert_eq!(v["role"], "admin");
    assert_eq!(
        v["expires_at"].as_i64().unwrap() - v["created_at"].as_i64().unwrap(),
        30 * 86_400
    );
    let id = v["id"].as_str().unwrap();
    let list = ok(&cli(
        &db,
        &["api-token", "list", "--tenant", "acme", "--json"],
        None,
    ));
    assert!(list.contains(id) && !list.contains(&token[4..]), "{list}");
    let e = err(&cli(
        &db,
        &[
            "api-token",
            "create",
            "--tenant",
            "acme",
            "--role",
            "viewer",
            "--name",
            "x",
            "--expires-in",
            "2y",
        ],
        None,
    ));
    assert!(e.contains("expires_in"), "{e}");
    ok(&cli(
        &db,
        &["api-token", "revoke", "--tenant", "acme", id],
        None,
    ));
    let list = ok(&cli(&db, &["api-token", "list", "--tenant", "acme"], None));
    assert!(list.contains("revoked"), "{list}");
    assert!(
        err(&cli(
            &db,
            &["api-token", "revoke", "--tenant", "acme", id],
            None
        ))
        .contains("not found")
    );
}
