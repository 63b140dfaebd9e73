//! `make bench` (management API part, issue 10), in process on SQLite, on one client thread:
//!
//! 1. API token authentication: CPU per `GET /api/v1/whoami` with an `otk_` token (the
//!    whole request through the admin plane's router: token hash, lookup, tenant check,
//!    JSON answer), next to a trivial API answer without authentication (`/api/unknown`,
//!    the JSON 404), so the difference is what authentication costs. Budget: ≤ 20 µs.
//! 2. Audit export: `GET /api/v1/tenants/acme/audit` with `Accept: application/x-ndjson` over
//!    N events (default 1,000,000), consumed chunk by chunk: events/s and peak RSS during the
//!    export (the peak is reset just before it). Goal: ≥ 100k events/s with flat memory.
//!
//! CPU is the whole process's (utime + stime from /proc/self/stat, so SQLite's connection
//! threads count too), divided by the requests.
//!
//! Usage: cargo run --release --example api-bench -- [WHOAMI_REQUESTS] [AUDIT_EVENTS]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::StreamExt;
use opentrusty::app::{App, AppState};
use opentrusty::clock::Clock;
use opentrusty::config::{Config, DatabaseUrl};
use opentrusty::domain::role::Role;
use opentrusty::domain::tenant::Slug;
use opentrusty::service::{Context, api_tokens};
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use tower::ServiceExt;

/// utime + stime of this process, in seconds (clock ticks of 10 ms).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (tick(11) + tick(12)) as f64 / 100.0
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn get(path: &str, bearer: Option<&str>, accept: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(b) = bearer {
        r = r.header("authorization", format!("Bearer {b}"));
    }
    if let Some(a) = accept {
        r = r.header("accept", a);
    }
    r.body(Body::empty()).unwrap()
}

/// `n` requests, one at a time; returns (CPU µs, wall µs) per request.
async fn per_request(
    router: &axum::Router,
    n: u32,
    req: impl Fn() -> Request<Body>,
    want: StatusCode,
) -> (f64, f64) {
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    for _ in 0..n {
        let res = router.clone().oneshot(req()).await.unwrap();
        assert_eq!(res.status(), want);
        let _ = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
    }
    let cpu = (cpu_secs() - cpu0) * 1e6 / f64::from(n);
    (cpu, t0.elapsed().as_secs_f64() * 1e6 / f64::from(n))
}

/// Fills `audit_events` with `n` events of `tenant_id` in one statement (ids sort in
/// creation order like UUIDv7 ones; metadata and columns as a login event has them).
async fn fill_audit(db: &std::path::Path, tenant_id: &str, n: u64) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", db.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let sql = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
        INSERT INTO audit_events (id, tenant_id, event_type, actor, target, ip, user_agent, \
        request_id, metadata, created_at) \
        SELECT printf('%08x-0000-7000-8000-%012x', 1000000 + i / 1000, i), $1, \
        CASE i % 3 WHEN 0 THEN 'login.succeeded' WHEN 1 THEN 'login.failed' ELSE 'logout' END, \
        printf('user:%012d', i % 5000), printf('user:%012d', i % 5000), '192.0.2.' || (i % 250), \
        'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', \
        printf('%032x', i), '{\"amr\":[\"pwd\"],\"client_id\":\"portal\"}', 1800000000 + i / 100 \
        FROM n";
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(n as i64)
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
}

fn config() -> Config {
    let env: std::collections::BTreeMap<String, String> = [
        ("OPENTRUSTY_PUBLIC_URL", "https://id.example.test"),
        ("OPENTRUSTY_LOG", "warn"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Config::from_vars(&env).unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let requests: u32 = args.next().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let events: u64 = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(requests, events));
}

async fn run(requests: u32, events: u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let store = Store::connect(&DatabaseUrl::Sqlite(db.clone()), 4)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let app: AppState = App::new(config(), store, Clock::System, None).unwrap();
    let acme = {
        let mut tx = app.store.begin().await.unwrap();
        let slug = Slug::parse("acme").unwrap();
        let t = tx
            .tenant_insert(&slug, "Acme", app.clock.now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        t
    };
    let day = Duration::from_secs(86_400);
    let ctx = Context::default();
    let token = api_tokens::create(&app, &acme, "bench", Role::Admin, day, None, &ctx)
        .await
        .unwrap()
        .token;
    let router = opentrusty::web::router(app.clone(), Plane::Admin);

    println!("== API token authentication (SQLite, one client, in process, {requests} requests)");
    let whoami = || get("/api/v1/whoami", Some(&token), None);
    let trivial = || get("/api/unknown", None, None);
    per_request(&router, 2_000, whoami, StatusCode::OK).await; // warm-up
    per_request(&router, 2_000, trivial, StatusCode::NOT_FOUND).await;
    let (t_cpu, t_wall) = per_request(&router, requests, trivial, StatusCode::NOT_FOUND).await;
    let (w_cpu, w_wall) = per_request(&router, requests, whoami, StatusCode::OK).await;
    println!("trivial API answer (no auth)   CPU {t_cpu:6.1} µs/req   wall {t_wall:6.1} µs/req");
    println!("whoami with an API token       CPU {w_cpu:6.1} µs/req   wall {w_wall:6.1} µs/req");
    println!(
        "authentication + whoami over the trivial answer: {:.1} µs CPU/req (budget 20)",
        w_cpu - t_cpu
    );
    // The floor under any lookup that is not cached: one read statement through the store.
    let id = acme.id.to_string();
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    for _ in 0..requests {
        let mut tx = app.store.read().await.unwrap();
        assert!(tx.tenant_by_id(&id).await.unwrap().is_some());
    }
    println!(
        "one read statement through the store (the floor of an uncached lookup): CPU {:6.1} µs   wall {:6.1} µs",
        (cpu_secs() - cpu0) * 1e6 / f64::from(requests),
        t0.elapsed().as_secs_f64() * 1e6 / f64::from(requests)
    );

    println!("== audit export as NDJSON (SQLite, {events} events)");
    let t0 = Instant::now();
    fill_audit(&db, &acme.id.to_string(), events).await;
    println!("filled in {:.1} s", t0.elapsed().as_secs_f64());
    // Reset the peak RSS to now (Linux: 5 > clear_refs), so the peak below is the export's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss0 = status_kib("VmRSS");
    let (cpu0, t0) = (cpu_secs(), Instant::now());
    let req = get(
        "/api/v1/tenants/acme/audit",
        Some(&token),
        Some("application/x-ndjson"),
    );
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body().into_data_stream();
    let (mut lines, mut bytes, mut samples) = (0u64, 0u64, vec![]);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len() as u64;
        let before = lines;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if before / (events / 4).max(1) != lines / (events / 4).max(1) {
            samples.push((lines, status_kib("VmRSS")));
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    assert_eq!(
        lines,
        events + 1,
        "every event (and the token's creation) once"
    );
    println!(
        "{lines} events, {:.0} MB in {secs:.2} s: {:.0} events/s ({:.2} µs CPU/event)",
        bytes as f64 / 1e6,
        lines as f64 / secs,
        cpu * 1e6 / lines as f64
    );
    let rss: Vec<String> = samples
        .iter()
        .map(|(n, kib)| format!("{n}: {} MiB", kib / 1024))
        .collect();
    println!(
        "RSS before {} MiB; while streaming {}; peak during the export {} MiB",
        rss0 / 1024,
        rss.join(", "),
        status_kib("VmHWM") / 1024
    );
}
