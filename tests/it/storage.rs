//! The storage suite, written once and run on both backends, plus readiness against a
//! PostgreSQL server that goes away and comes back.

use std::time::Duration;

use nix::sys::signal::Signal;
use opentrusty::store::{Backend, SCHEMA_VERSION_KEY, Store};

use crate::both_backends;
use crate::common::http::{self, Target};
use crate::common::pg;
use crate::common::{Launch, NotifySocket, eventually, tcp_listener, tempdir};

async fn migrations_are_idempotent(store: Store) {
    store.migrate().await.unwrap();
    let mut tx = store.read().await.unwrap();
    assert_eq!(
        tx.meta_get(SCHEMA_VERSION_KEY).await.unwrap().as_deref(),
        Some("1")
    );
}
both_backends!(migrations_are_idempotent);

async fn meta_set_get_and_overwrite(store: Store) {
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.meta_get("installation").await.unwrap(), None);
    tx.meta_set("installation", "a", 1).await.unwrap();
    tx.meta_set("installation", "b", 2).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    assert_eq!(
        tx.meta_get("installation").await.unwrap().as_deref(),
        Some("b")
    );
}
both_backends!(meta_set_get_and_overwrite);

async fn dropped_transaction_rolls_back(store: Store) {
    {
        let mut tx = store.begin().await.unwrap();
        tx.meta_set("ghost", "x", 1).await.unwrap();
    }
    let mut tx = store.read().await.unwrap();
    assert_eq!(tx.meta_get("ghost").await.unwrap(), None);
}
both_backends!(dropped_transaction_rolls_back);

async fn concurrent_writers_all_succeed(store: Store) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let v: i64 = tx
                .meta_get("counter")
                .await
                .unwrap()
                .map_or(0, |s| s.parse().unwrap());
            tx.meta_set("counter", &(v + 1).to_string(), i)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut tx = store.read().await.unwrap();
    let n: i64 = tx
        .meta_get("counter")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    // SQLite serialises writers (BEGIN IMMEDIATE), so no update is lost there; PostgreSQL's
    // READ COMMITTED may interleave read-then-write, so only success is required there.
    if store.backend() == Backend::Sqlite {
        assert_eq!(n, 16);
    } else {
        assert!(n >= 1);
    }
}
both_backends!(concurrent_writers_all_succeed);

async fn ping_answers(store: Store) {
    store.ping(Duration::from_secs(2)).await.unwrap();
    let stats = store.pool_stats();
    assert!(stats.max >= 1);
}
both_backends!(ping_answers);

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = Store::migration_names(Backend::Sqlite);
    let postgres = Store::migration_names(Backend::Postgres);
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

#[test]
fn readiness_follows_postgres_without_a_restart() {
    let Some(cluster) = pg::Cluster::start("readiness_follows_postgres_without_a_restart") else {
        return;
    };
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let l = tcp_listener();
    let target = Target::tcp(l.local_addr().unwrap());
    let mut daemon = Launch::new(dir.path())
        .env("OPENTRUSTY_DATABASE_URL", &cluster.url())
        .env("OPENTRUSTY_KEY_ENCRYPTION_KEY", &"42".repeat(32))
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .socket(&l, "auth")
        .spawn();
    assert!(
        notify.wait_for("READY=1", Duration::from_secs(30)),
        "log:\n{}",
        daemon.stderr()
    );
    assert_eq!(http::get(&target, "/health/ready").unwrap().status, 200);

    cluster.pg_stop();
    assert!(
        eventually(Duration::from_secs(15), || http::get(
            &target,
            "/health/ready"
        )
        .is_ok_and(|r| r.status == 503)),
        "ready should turn 503 while PostgreSQL is down"
    );
    let res = http::get(&target, "/health/ready").unwrap();
    assert_eq!(res.json()["status"], "unavailable");
    assert_eq!(
        http::get(&target, "/health/live").unwrap().status,
        200,
        "liveness does not depend on the database"
    );

    cluster.pg_start();
    assert!(
        eventually(Duration::from_secs(20), || http::get(
            &target,
            "/health/ready"
        )
        .is_ok_and(|r| r.status == 200)),
        "ready should return to 200 once PostgreSQL is back; log:\n{}",
        daemon.stderr()
    );
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}
