//! The built-in console client `opentrusty-console`: created with every tenant, added by
//! migration 0013 to tenants that existed before it, its URIs written from the configuration
//! (`service::console::reconcile`), never listed as an ordinary client and never deletable.
//! Both backends.

use opentrusty::config::DatabaseUrl;
use opentrusty::domain::client::ClientKind;
use opentrusty::service::{self, Context, Error, console};
use opentrusty::store::Store;

use crate::common::stores::app;

const REDIRECT: &str = "https://id.example.test/console/t/old/callback";

/// Applies the migrations before 0013 from a copy of the backend's directory.
async fn migrate_before_console<DB>(pool: &sqlx::Pool<DB>, backend: &str)
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Connection: sqlx::migrate::Migrate,
{
    let dir = crate::common::tempdir();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if name.as_str() < "0013" {
            std::fs::copy(e.path(), dir.path().join(&name)).unwrap();
        }
    }
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(pool)
        .await
        .unwrap();
}

const INSERT_TENANT: &str = "INSERT INTO tenants (id, slug, display_name, status, created_at, updated_at) \
     VALUES ($1, 'old', 'Old Corp', 'active', 1, 1)";

/// A database migrated to 0012 with tenant `old`, then opened (and migrated) by the store.
async fn store_with_old_tenant(backend: &str) -> Option<(Store, tempfile::TempDir)> {
    let dir = crate::common::tempdir();
    let id = uuid::Uuid::now_v7().to_string();
    let url = if backend == "sqlite" {
        let path = dir.path().join("old.db");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        migrate_before_console(&pool, backend).await;
        sqlx::query(INSERT_TENANT)
            .bind(&id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        DatabaseUrl::Sqlite(path)
    } else {
        let url = crate::common::pg::fresh_database("console_migration").await?;
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        migrate_before_console(&pool, backend).await;
        sqlx::query(INSERT_TENANT)
            .bind(&id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        DatabaseUrl::Postgres(url.parse().unwrap())
    };
    let store = Store::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    Some((store, dir))
}

async fn migration_and_creation(backend: &str) {
    let Some((store, _dir)) = store_with_old_tenant(backend).await else {
        return;
    };
    let app = app(store, &[]);
    let ctx = Context::cli();
    let old = service::admin::tenant(&app, "old").await.unwrap();

    // The migration added the client; its URIs wait for the configuration.
    let c = service::clients::get(&app, &old, console::CLIENT_ID)
        .await
        .unwrap();
    assert_eq!(c.kind, ClientKind::Public);
    assert!(c.require_pkce && !c.allow_plain_pkce && c.first_party);
    assert_eq!(c.scopes.to_string(), "openid opentrusty:admin");
    assert!(c.redirect_uris.is_empty());
    // The daemon's start writes them (once: a second pass changes nothing).
    assert_eq!(console::reconcile(&app).await.unwrap(), 1);
    assert_eq!(console::reconcile(&app).await.unwrap(), 0);
    let c = service::clients::get(&app, &old, console::CLIENT_ID)
        .await
        .unwrap();
    let uris: Vec<&str> = c.redirect_uris.iter().map(|u| u.as_str()).collect();
    assert_eq!(uris, [REDIRECT]);
    let post: Vec<&str> = c
        .post_logout_redirect_uris
        .iter()
        .map(|u| u.as_str())
        .collect();
    assert_eq!(post, ["https://id.example.test/console/t/old/signed-out"]);

    // A new tenant has it from its creation, with its URIs.
    let new = service::admin::tenant_create(&app, "fresh", None, &ctx)
        .await
        .unwrap();
    let c = service::clients::get(&app, &new, console::CLIENT_ID)
        .await
        .unwrap();
    assert_eq!(
        c.redirect_uris[0].as_str(),
        "https://id.example.test/console/t/fresh/callback"
    );
    assert_eq!(console::reconcile(&app).await.unwrap(), 0);

    // Not an ordinary client: not listed, not deletable (409 on the API).
    for t in [&old, &new] {
        assert!(service::clients::list(&app, t).await.unwrap().is_empty());
        match service::clients::delete(&app, t, console::CLIENT_ID, &ctx).await {
            Err(Error::Conflict(m)) => assert!(m.contains("cannot be deleted"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(
            service::clients::get(&app, t, console::CLIENT_ID)
                .await
                .is_ok()
        );
    }

    // An ADMIN_URL moves the URIs on the next start.
    let moved = crate::common::stores::app(
        app.store.clone(),
        &[("OPENTRUSTY_ADMIN_URL", "https://admin.example.test/")],
    );
    assert_eq!(console::reconcile(&moved).await.unwrap(), 2);
    let c = service::clients::get(&moved, &old, console::CLIENT_ID)
        .await
        .unwrap();
    assert_eq!(
        c.redirect_uris[0].as_str(),
        "https://admin.example.test/console/t/old/callback"
    );
}

#[tokio::test]
async fn builtin_client_sqlite() {
    migration_and_creation("sqlite").await;
}

#[tokio::test]
async fn builtin_client_postgres() {
    migration_and_creation("postgres").await;
}
