//! `make bench-console`: server time of the admin console's pages (issue 11 goal: p99 < 10 ms
//! for the dashboard and the first page of every list) on SQLite with 100,000 users and
//! 1,000,000 audit events, through the real daemon over HTTP with a signed-in console session.
//!
//! Set-up: the CLI makes the platform owner, tenant `acme`, 20 more tenants and 20 clients;
//! then the bulk rows go in by direct SQL (as `api-bench` fills the audit table): `acme`'s
//! users (1% disabled), 10,000 live login sessions, and the audit events over the last 30
//! days (sign-ins, failures, lockouts and changes; 95% of them `acme`'s), with the sign-in
//! counters the daemon would have kept for them (`login_stats`, the migration's backfill query).
//! The daemon (`OPENTRUSTY_ACCESS_LOG=all`, JSON lines) then serves the pages one request at a
//! time; the server time of each is the access log's `latency_us` (from the request's arrival
//! to its response), the client's round trip is shown next to it. Pages this build does not
//! have (404) are reported and skipped: adding one is one line in [`PAGES`].
//!
//! Usage: cargo run --release --example console-bench -- [DAEMON_BINARY]
//! (default target/release/opentrusty). `BENCH_USERS` (100000), `BENCH_EVENTS` (1000000),
//! `BENCH_REQUESTS` (300 per page).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

/// The pages measured: (label, path). The platform owner is signed in, so one session reaches
/// the platform's pages and acme's.
#[rustfmt::skip]
const PAGES: &[(&str, &str)] = &[
    ("dashboard (acme)", "/console/t/acme/"),
    ("users, first page (acme)", "/console/t/acme/users"),
    ("users, email prefix, 100 match (acme)", "/console/t/acme/users?email=user0500"),
    ("users, email prefix, 10,000 match (acme)", "/console/t/acme/users?email=user05"),
    ("audit, first page (acme)", "/console/t/acme/audit"),
    ("audit, type filter (acme)", "/console/t/acme/audit?type=account.locked"),
    ("audit, a rare type (acme)", "/console/t/acme/audit?type=tenant.created"),
    ("audit, one actor (acme)", "/console/t/acme/audit?actor=user%3A000000000042"),
    ("audit, every tenant (platform)", "/console/t/platform/audit"),
    ("tenants (platform)", "/console/t/platform/tenants"),
    ("dashboard (platform)", "/console/t/platform/"),
    ("clients (acme)", "/console/t/acme/clients"),
    ("keys (acme)", "/console/t/acme/keys"),
    ("API tokens (acme)", "/console/t/acme/api-tokens"),
];

const KEK: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ROOT_PW: &str = "bench-root-password-1234";
const DAY: i64 = 86_400;

fn env_num(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

struct Env {
    bin: PathBuf,
    dir: PathBuf,
}

impl Env {
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "OPENTRUSTY_DATABASE_URL",
                format!("sqlite://{}/bench.db", self.dir.display()),
            )
            .env("STATE_DIRECTORY", &self.dir)
            .env("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)
            .env("OPENTRUSTY_ALLOW_ROOT", "true")
            .env("OPENTRUSTY_LOG", "warn");
        c
    }

    fn cli(&self, args: &[&str], stdin: Option<&str>) {
        use std::io::Write;
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the CLI");
        if let Some(s) = stdin {
            let _ = child.stdin.take().map(|mut i| i.write_all(s.as_bytes()));
        }
        let out = child.wait_with_output().expect("CLI");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The bulk rows, by direct SQL on the database the CLI made.
async fn fill(db: &Path, users: i64, events: i64, now: i64) {
    let url = format!("sqlite://{}", db.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
    let acme: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'acme'")
        .fetch_one(&mut c)
        .await
        .expect("acme");
    let t = Instant::now();
    let users_sql = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
        INSERT INTO users (id, tenant_id, email, email_verified, password_hash, given_name, \
        family_name, status, created_at, updated_at) \
        SELECT printf('%08x-0000-7000-8000-%012x', 2000000 + i / 1000, i), $1, \
        printf('user%06d@example.com', i), i % 2, NULL, 'Given' || i, 'Family' || i, \
        CASE WHEN i % 100 = 7 THEN 'disabled' ELSE 'active' END, $3 - 90 * 86400 + i, $3 FROM n";
    sqlx::query(sqlx::AssertSqlSafe(users_sql))
        .bind(&acme)
        .bind(users)
        .bind(now)
        .execute(&mut c)
        .await
        .expect("users");
    let sessions_sql = "INSERT INTO sessions (id_hash, sid, tenant_id, user_id, auth_time, amr, \
        ip, user_agent, created_at, last_seen, expires_at) \
        SELECT printf('%064x', rowid), printf('sid%012d', rowid), tenant_id, id, $2, '[\"pwd\"]', \
        '192.0.2.1', 'bench', $2, $2, $2 + 43200 FROM users WHERE tenant_id = $1 \
        AND email LIKE 'user%' LIMIT 10000";
    sqlx::query(sqlx::AssertSqlSafe(sessions_sql))
        .bind(&acme)
        .bind(now)
        .execute(&mut c)
        .await
        .expect("sessions");
    println!(
        "  {users} users and 10000 sessions inserted in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    // Over the last 30 days, oldest first: per 100 events 55 logins, 30 failures, 2 lockouts
    // and 13 other changes; every 20th event belongs to another tenant or the installation.
    let events_sql = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
        INSERT INTO audit_events (id, tenant_id, event_type, actor, target, ip, user_agent, \
        request_id, metadata, created_at) \
        SELECT printf('%08x-0000-7000-8000-%012x', 1000000 + i / 1000, i), \
        CASE WHEN i % 20 = 19 THEN (SELECT id FROM others WHERE k = (i / 20) % 21) ELSE $1 END, \
        CASE WHEN i % 100 < 55 THEN 'login.succeeded' WHEN i % 100 < 85 THEN 'login.failed' \
             WHEN i % 100 < 87 THEN 'account.locked' WHEN i % 100 < 95 THEN 'logout' \
             ELSE 'user.updated' END, \
        printf('user:%012d', i % 5000), printf('user:%012d', i % 5000), '192.0.2.' || (i % 250), \
        'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', \
        printf('%032x', i), '{\"amr\":[\"pwd\"]}', $3 - 30 * 86400 + i * (30 * 86400) / $2 \
        FROM n";
    // The other 21 tenants (the platform and t00..t19), numbered.
    sqlx::query(
        "CREATE TEMP TABLE others AS SELECT row_number() OVER (ORDER BY slug) - 1 AS k, id \
         FROM tenants WHERE slug <> 'acme'",
    )
    .execute(&mut c)
    .await
    .expect("others");
    sqlx::query(sqlx::AssertSqlSafe(events_sql))
        .bind(&acme)
        .bind(events)
        .bind(now)
        .execute(&mut c)
        .await
        .expect("audit events");
    // The counters the daemon keeps with each event (migration 0014's backfill).
    let stats_sql = "DELETE FROM login_stats; \
        INSERT INTO login_stats (tenant_id, hour, logins, failures, lockouts) \
        SELECT tenant_id, created_at / 3600, \
        SUM(CASE WHEN event_type = 'login.succeeded' THEN 1 ELSE 0 END), \
        SUM(CASE WHEN event_type = 'login.failed' THEN 1 ELSE 0 END), \
        SUM(CASE WHEN event_type = 'account.locked' THEN 1 ELSE 0 END) \
        FROM audit_events WHERE tenant_id IS NOT NULL \
        AND event_type IN ('login.succeeded', 'login.failed', 'account.locked') \
        GROUP BY tenant_id, created_at / 3600";
    sqlx::raw_sql(sqlx::AssertSqlSafe(stats_sql))
        .execute(&mut c)
        .await
        .expect("login_stats");
    println!(
        "  {events} audit events (and their hourly sign-in counters) inserted in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    compare_chart_sources(&mut c, &acme, now).await;
    c.close().await.expect("close");
}

/// What the chart would cost read from the audit trail itself (the alternative to the
/// counters, with the existing `(tenant_id, created_at)` index), next to the counters' read.
async fn compare_chart_sources(c: &mut sqlx::SqliteConnection, acme: &str, now: i64) {
    let from_hour = (now / DAY - 6) * 24;
    let raw = "SELECT created_at / 3600 AS h, \
        SUM(event_type = 'login.succeeded'), SUM(event_type = 'login.failed'), \
        SUM(event_type = 'account.locked') FROM audit_events \
        WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
        AND event_type IN ('login.succeeded', 'login.failed', 'account.locked') GROUP BY h";
    let counters = "SELECT hour, logins, failures, lockouts FROM login_stats \
        WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour";
    let mut time = async |sql: &str, lo: i64, hi: i64, label: &str| {
        let mut best = Duration::MAX;
        let mut rows = 0;
        for _ in 0..5 {
            let t = Instant::now();
            rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .bind(acme)
                .bind(lo)
                .bind(hi)
                .fetch_all(&mut *c)
                .await
                .expect("chart query")
                .len();
            best = best.min(t.elapsed());
        }
        println!(
            "  chart data from {label:<44} {rows:>4} rows in {:>8.2} ms (best of 5)",
            best.as_secs_f64() * 1e3
        );
    };
    let to_hour = from_hour + 168;
    time(
        raw,
        from_hour * 3600,
        to_hour * 3600,
        "the audit events (7 days)",
    )
    .await;
    time(
        counters,
        from_hour,
        to_hour,
        "the hourly counters (login_stats)",
    )
    .await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn field(body: &str, name: &str) -> Option<String> {
    body.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&").replace("&#38;", "&"))
}

/// Signs the platform owner in at `/console/` the way a browser does (authorize, login form,
/// callback, the continue page); returns the dashboard's body.
async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let login = http
        .get(format!("{base}/console/"))
        .send()
        .await
        .expect("GET /console/");
    let action = login.url().clone();
    let page = login.text().await.expect("login page");
    let mut form = vec![
        ("email", "root@example.com".to_owned()),
        ("password", ROOT_PW.to_owned()),
        (
            "csrf",
            field(&page, "csrf").expect("the login form's token"),
        ),
    ];
    if let Some(r) = field(&page, "return_to") {
        form.push(("return_to", r));
    }
    let mut action = action;
    action.set_query(None);
    let done = http
        .post(action)
        .form(&form)
        .send()
        .await
        .expect("POST login");
    let body = done.text().await.expect("signed in");
    let next = body
        .split("id=\"continue\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the continue link");
    let home = http
        .get(format!("{base}{next}"))
        .send()
        .await
        .expect("dashboard");
    home.text().await.expect("dashboard body")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The `latency_us` of every access-log line in `log` after byte `from`.
fn server_times(log: &Path, from: usize) -> Vec<f64> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.get(from..)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v["fields"]["latency_us"]
                .as_u64()
                .or(v["latency_us"].as_u64())
        })
        .map(|us| us as f64 / 1e3)
        .collect()
}

#[tokio::main]
async fn main() {
    let bin = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/opentrusty".into());
    let users = env_num("BENCH_USERS", 100_000);
    let events = env_num("BENCH_EVENTS", 1_000_000);
    let requests = env_num("BENCH_REQUESTS", 300) as usize;
    let dir = tempfile::tempdir().expect("tempdir");
    let env = Env {
        bin: std::fs::canonicalize(&bin).expect("the daemon binary"),
        dir: dir.path().to_owned(),
    };
    println!(
        "console pages on SQLite: {users} users, {events} audit events, {requests} sequential requests per page"
    );
    let t = Instant::now();
    env.cli(
        &[
            "bootstrap",
            "--email",
            "root@example.com",
            "--password-file",
            "-",
        ],
        Some(&format!("{ROOT_PW}\n")),
    );
    env.cli(&["tenant", "create", "acme", "--name", "ACME Corp"], None);
    for i in 0..20 {
        env.cli(&["tenant", "create", &format!("t{i:02}")], None);
        let uri = format!("https://app{i}.example/cb");
        let name = format!("App {i}");
        env.cli(
            &[
                "client",
                "create",
                "--tenant",
                "acme",
                "--name",
                &name,
                "--redirect-uri",
                &uri,
            ],
            None,
        );
    }
    println!(
        "  tenants, clients and the platform owner made by the CLI in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    fill(&dir.path().join("bench.db"), users, events, now()).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.path().join("daemon.log");
    let _daemon = Daemon(
        env.cmd()
            .arg("serve")
            .env("OPENTRUSTY_LISTEN", format!("127.0.0.1:{port}"))
            .env("OPENTRUSTY_PUBLIC_URL", &base)
            .env("OPENTRUSTY_LOG", "info")
            .env("OPENTRUSTY_LOG_FORMAT", "json")
            .env("OPENTRUSTY_ACCESS_LOG", "all")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start the daemon"),
    );
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let ready = async {
        for _ in 0..200 {
            if http
                .get(format!("{base}/health/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(
        ready.await,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let home = sign_in(&http, &base).await;
    assert!(home.contains("<h1>Dashboard</h1>"), "not signed in: {home}");

    println!(
        "{:<42} {:>26}   {:>22}",
        "page", "server time p50 / p99", "round trip p50 / p99"
    );
    for (label, path) in PAGES {
        let url = format!("{base}{path}");
        let first = http.get(&url).send().await.expect("GET");
        if first.status() == 404 {
            println!("{label:<42} (not in this build: 404)");
            continue;
        }
        assert_eq!(first.status(), 200, "{path}");
        for _ in 0..20 {
            let _ = http.get(&url).send().await.expect("warm-up").bytes().await;
        }
        let from = std::fs::metadata(&log)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let mut trips = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let res = http.get(&url).send().await.expect("GET");
            let status = res.status();
            let _ = res.bytes().await.expect("body");
            trips.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(status, 200, "{path}");
        }
        // The last lines may still be on their way to the file.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut server = server_times(&log, from);
        server.sort_by(f64::total_cmp);
        trips.sort_by(f64::total_cmp);
        assert!(
            server.len() >= requests,
            "{path}: {} access-log lines",
            server.len()
        );
        let p99 = percentile(&server, 0.99);
        println!(
            "{label:<42} {:>9.2} / {:>6.2} ms {}   {:>9.2} / {:>6.2} ms",
            percentile(&server, 0.5),
            p99,
            if p99 < 10.0 { "  " } else { "!!" },
            percentile(&trips, 0.5),
            percentile(&trips, 0.99),
        );
    }
    println!(
        "goal: p99 < 10 ms server time for the dashboard and the first page of every list (!! marks a miss)"
    );
    if std::env::var_os("BENCH_KEEP").is_some() {
        println!("database kept: {}", dir.keep().join("bench.db").display());
    }
}
