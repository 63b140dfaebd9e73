//! `make bench` (management API part): `GET /api/v1/tenants/{slug}/users?limit=100` with
//! 100,000 users in the tenant, on SQLite and on PostgreSQL (issue 10 goal: p99 < 20 ms).
//!
//! The users are written straight through the store in transactions of 1,000 (no Argon2id:
//! the list never reads a password), 1% of them disabled. Requests go through the admin
//! plane's real router in process (extractors, API-token authentication, JSON), one at a
//! time, so each latency is the server's own work. Reports p50/p99/max of: the first page,
//! a page from a cursor in the middle, the `status=disabled` filter, and an email prefix.
//!
//! Usage: cargo run --release --example users-bench. PostgreSQL runs on a fresh database of
//! the server at `BENCH_POSTGRES_URL` (or `OPENTRUSTY_TEST_POSTGRES_URL`), skipped without one.
//! `BENCH_USERS` (100000), `BENCH_REQUESTS` (1000 per scenario), `BENCH_BACKENDS`
//! ("sqlite postgres").

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use opentrusty::app::{App, AppState};
use opentrusty::clock::Clock;
use opentrusty::config::{Config, DatabaseUrl};
use opentrusty::domain::role::Role;
use opentrusty::domain::tenant::{Slug, Status, Tenant};
use opentrusty::domain::user::{Email, Profile};
use opentrusty::service::{Context, api_tokens};
use opentrusty::store::Store;
use opentrusty::store::users::NewUser;
use opentrusty::systemd::Plane;
use tower::ServiceExt;

const BATCH: usize = 1000;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn app(store: Store) -> AppState {
    let env: BTreeMap<String, String> = [
        ("OPENTRUSTY_PUBLIC_URL", "https://id.example.test"),
        (
            "OPENTRUSTY_KEY_ENCRYPTION_KEY",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ),
        ("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192"),
        ("OPENTRUSTY_ARGON2_ITERATIONS", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::from_vars(&env).expect("bench configuration");
    App::new(config, store, Clock::System, None).expect("app")
}

/// Inserts `n` users into `tenant` in transactions of [`BATCH`]; returns the id of the middle one.
async fn populate(app: &AppState, tenant: &Tenant, n: usize) -> String {
    let now = app.clock.now();
    let mut middle = String::new();
    let started = Instant::now();
    for start in (0..n).step_by(BATCH) {
        let mut tx = app.store.begin().await.expect("begin");
        let mut scope = tx.scope(tenant);
        for i in start..(start + BATCH).min(n) {
            let email = Email::parse(&format!("user{i:06}@example.com")).expect("email");
            let profile = Profile {
                given_name: Some(format!("Given{i}")),
                family_name: Some(format!("Family{i}")),
                ..Profile::default()
            };
            let new = NewUser {
                email: &email,
                email_verified: i % 2 == 0,
                password_hash: None,
                profile: &profile,
            };
            let u = scope.user_insert(&new, now).await.expect("insert");
            if i % 100 == 7 {
                scope
                    .user_set_status(u.id, Status::Disabled, now)
                    .await
                    .expect("disable");
            }
            if i == n / 2 {
                middle = u.id.to_string();
            }
        }
        tx.commit().await.expect("commit");
    }
    println!(
        "  {n} users inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    middle
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Times `requests` sequential GETs of `path`; checks each answer is a full page of users.
async fn measure(
    app: &AppState,
    token: &str,
    label: &str,
    path: &str,
    requests: usize,
) -> Duration {
    let router = opentrusty::web::router(app.clone(), Plane::Admin);
    let mut times = Vec::with_capacity(requests);
    for i in 0..requests + 20 {
        let req = Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let t = Instant::now();
        let res = router.clone().oneshot(req).await.expect("router");
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        let elapsed = t.elapsed();
        assert!(status.is_success(), "{path}: {status}");
        if i == 0 {
            let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
            let items = v["items"].as_array().map(Vec::len).unwrap_or(0);
            assert!(items > 0, "{path}: empty page");
        }
        // The first 20 warm the caches and the prepared statements.
        if i >= 20 {
            times.push(elapsed);
        }
    }
    times.sort();
    let p99 = percentile(&times, 0.99);
    println!(
        "  {label:<44} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    p99
}

async fn run(backend: &str, store: Store, n: usize, requests: usize, settle: impl FnOnce()) {
    println!("{backend}:");
    store.migrate().await.expect("migrate");
    let app = app(store);
    let now = app.clock.now();
    let tenant = {
        let mut tx = app.store.begin().await.expect("begin");
        let slug = Slug::parse("acme").expect("slug");
        let t = tx.tenant_insert(&slug, "Acme", now).await.expect("tenant");
        tx.commit().await.expect("commit");
        t
    };
    let middle = populate(&app, &tenant, n).await;
    settle();
    let token = api_tokens::create(
        &app,
        &tenant,
        "bench",
        Role::Viewer,
        Duration::from_secs(3600),
        None,
        &Context::default(),
    )
    .await
    .expect("token")
    .token;
    let base = "/api/v1/tenants/acme/users";
    let p99 = measure(
        &app,
        &token,
        "first page (limit=100)",
        &format!("{base}?limit=100"),
        requests,
    )
    .await;
    let cursor = format!("{base}?limit=100&cursor={middle}");
    measure(
        &app,
        &token,
        "page after a cursor in the middle",
        &cursor,
        requests,
    )
    .await;
    let disabled = format!("{base}?limit=100&status=disabled");
    measure(
        &app,
        &token,
        "status=disabled (1% of users)",
        &disabled,
        requests,
    )
    .await;
    // user0xxx00 to user0xxx99: the 100 users around the middle.
    let prefix = format!("{base}?limit=100&email=user{:04}", n / 200);
    measure(
        &app,
        &token,
        "email prefix (100 matches)",
        &prefix,
        requests,
    )
    .await;
    let verdict = if p99 < Duration::from_millis(20) {
        "met"
    } else {
        "NOT met"
    };
    println!("  goal p99 < 20 ms for the first page: {verdict}");
    app.store.close().await;
}

/// A fresh database on the PostgreSQL server at `admin`, through psql.
fn fresh_database(admin: &str) -> Option<(url::Url, String)> {
    let name = format!("users_bench_{}", std::process::id());
    let ok = Command::new("psql")
        .args([
            admin,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("users-bench: could not create a database on the PostgreSQL server");
        return None;
    }
    let mut url = url::Url::parse(admin).ok()?;
    url.set_path(&format!("/{name}"));
    Some((url, name))
}

#[tokio::main]
async fn main() {
    let n = env_num("BENCH_USERS", 100_000);
    let requests = env_num("BENCH_REQUESTS", 1000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite postgres".into());
    println!(
        "GET /api/v1/tenants/acme/users with {n} users, {requests} sequential requests per scenario (in process, admin router, API token)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Store::connect(&DatabaseUrl::Sqlite(dir.path().join("users.db")), 8)
        .await
        .expect("sqlite");
    if backends.contains("sqlite") {
        run("sqlite", sqlite, n, requests, || ()).await;
    }
    if !backends.contains("postgres") {
        return;
    }

    let admin = ["BENCH_POSTGRES_URL", "OPENTRUSTY_TEST_POSTGRES_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()));
    let Some(admin) = admin else {
        println!("postgres: skipped (set BENCH_POSTGRES_URL or OPENTRUSTY_TEST_POSTGRES_URL)");
        return;
    };
    let Some((url, name)) = fresh_database(&admin) else {
        return;
    };
    let url_text = url.to_string();
    let pg = Store::connect(&DatabaseUrl::Postgres(url), 8)
        .await
        .expect("postgres");
    // As a table that has been live for a while is: vacuumed and analyzed (autovacuum would
    // get there on its own, in the middle of the measurement).
    let analyze = || {
        let _ = Command::new("psql")
            .args([url_text.as_str(), "-qc", "VACUUM ANALYZE users"])
            .status();
    };
    run("postgres", pg, n, requests, analyze).await;
    let _ = Command::new("psql")
        .args([
            admin.as_str(),
            "-qc",
            &format!("DROP DATABASE IF EXISTS {name}"),
        ])
        .status();
}
