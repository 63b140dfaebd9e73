//! `make bench-oidc` load generator: drives one running daemon with keep-alive HTTP/1.1 clients and
//! reports requests/s, p50/p99 latency and the daemon's CPU time per request (from
//! /proc/PID/stat), plus the physical limits measured in the same run (a trivial handler of the
//! same router, raw RS256 signs/s with a cached key on 2 threads). See bench/run.sh.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use opentrusty::domain::client::SigningAlg;
use opentrusty::protocol::jose::{SigningKey, generate};

struct Env {
    base: String,
    issuer: String,
    pid: i32,
    conns: usize,
    secs: u64,
    rp: (String, String),
    svc: (String, String),
    cookie: String,
}

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is required"))
}

/// utime + stime of a process in microseconds.
fn cpu_us(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields after ")": state is [0]; utime is field 14 overall -> index 11, stime -> 12.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks * 1_000_000 / 100
}

/// utime + stime of the PostgreSQL server (the postmaster named by OT_PG_PID and its
/// children, the backends) in microseconds; 0 when the run is not on PostgreSQL.
fn pg_cpu_us() -> u64 {
    let Some(postmaster) = std::env::var("OT_PG_PID")
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    else {
        return 0;
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            *pid == postmaster
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .ok()
                    .and_then(|s| {
                        s.rsplit_once(')')?
                            .1
                            .split_whitespace()
                            .nth(1)?
                            .parse::<i32>()
                            .ok()
                    })
                    == Some(postmaster)
        })
        .map(cpu_us)
        .sum()
}

fn rss_kib(pid: i32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

type Step = Arc<dyn Fn(reqwest::Client, Arc<Env>, usize) -> futures_step::BoxFut + Send + Sync>;

mod futures_step {
    pub type BoxFut = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;
}

/// A worker's per-connection state (the refresh token chain).
#[derive(Default)]
struct Chain(tokio::sync::Mutex<HashMap<usize, String>>);

async fn run(name: &str, e: &Arc<Env>, step: Step) {
    // OT_ONLY=substring runs just the matching scenarios (for profiling one of them).
    if let Ok(only) = std::env::var("OT_ONLY")
        && !name.contains(only.as_str())
    {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let commits0 = group_commits(e).await;
    let cpu0 = cpu_us(e.pid);
    let pg0 = pg_cpu_us();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..e.conns {
        let (stop, e, step) = (stop.clone(), e.clone(), step.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if step(http.clone(), e.clone(), w).await {
                    lat.push(t.elapsed().as_micros() as u32);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(e.secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, er) = t.await.unwrap();
        all.extend(l);
        errors += er;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_us(e.pid) - cpu0;
    // Backends that ended during the run take their CPU time with them: a lower bound.
    let pg = pg_cpu_us().saturating_sub(pg0);
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    let n = all.len().max(1) as f64;
    let commits1 = group_commits(e).await;
    let (sets, batches) = (commits1.0 - commits0.0, commits1.1 - commits0.1);
    let grouped = if batches > 0.0 {
        format!("   {:.1} writes/commit", sets / batches)
    } else {
        String::new()
    };
    let rate = all.len() as f64 / wall;
    let pg_note = if pg > 0 {
        format!(" + PostgreSQL {:>6.1}", pg as f64 / n)
    } else {
        String::new()
    };
    println!(
        "{name:<28} {rate:>9.0} req/s   p50 {:>6} µs   p99 {:>6} µs   server CPU {:>6.1}{pg_note} µs/req   errors {errors}{grouped}",
        pct(0.50),
        pct(0.99),
        cpu as f64 / n
    );
    // OT_SUMMARY=file: one tab-separated line per scenario, for run.sh's backend comparison.
    if let Ok(path) = std::env::var("OT_SUMMARY") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(
                f,
                "{name}\t{rate:.0}\t{:.1}\t{}",
                (cpu + pg) as f64 / n,
                pct(0.99)
            );
        }
    }
}

/// The daemon's group-commit counters (sets written, batches committed) from /metrics.
async fn group_commits(e: &Env) -> (f64, f64) {
    let text = match reqwest::get(format!("{}/metrics", e.base)).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    (
        value("opentrusty_db_group_commit_sets_total"),
        value("opentrusty_db_group_commit_batches_total"),
    )
}

fn rs256_limit() -> f64 {
    let key = Arc::new(
        SigningKey::from_pkcs8(SigningAlg::RS256, &generate(SigningAlg::RS256).unwrap()).unwrap(),
    );
    let claims = serde_json::json!({"iss": "https://id.example.com/t/acme", "sub": "01936f9e-0000-7000-8000-000000000000", "aud": "client", "exp": 1, "iat": 1, "auth_time": 1, "nonce": "n", "at_hash": "x", "azp": "client", "sid": "s"});
    let stop = Instant::now() + Duration::from_secs(3);
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (key, claims) = (key.clone(), claims.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < stop {
                    key.sign_jwt(&claims).unwrap();
                    n += 1;
                }
                n
            })
        })
        .map(|t| t.join().unwrap())
        .collect();
    threads.iter().sum::<u64>() as f64 / 3.0
}

/// OpenID Connect: the token responses carry an RS256 id_token.
const OIDC: &str = "openid%20offline_access";
/// Plain OAuth 2.0 (no `openid`): access and refresh tokens only, nothing to sign.
const OAUTH: &str = "profile%20offline_access";

/// Gets a code with the session cookie (first-party client: no consent) and exchanges it.
async fn code_flow(http: &reqwest::Client, e: &Env, scope: &str) -> Option<serde_json::Value> {
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope={scope}&nonce=n",
        e.issuer, e.rp.0
    );
    let res = http
        .get(url)
        .header("cookie", &e.cookie)
        .send()
        .await
        .ok()?;
    let loc = res.headers().get("location")?.to_str().ok()?.to_owned();
    let code = url::Url::parse(&loc)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "code")?
        .1
        .into_owned();
    let res = http
        .post(format!("{}/token", e.issuer))
        .basic_auth(&e.rp.0, Some(&e.rp.1))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example/cb"),
        ])
        .send()
        .await
        .ok()?;
    if !res.status().is_success() {
        eprintln!(
            "token answered {}: {}",
            res.status(),
            res.text().await.unwrap_or_default()
        );
        return None;
    }
    res.json().await.ok()
}

fn get(path: &'static str) -> Step {
    Arc::new(move |http, e, _| {
        Box::pin(async move {
            http.get(format!(
                "{}{path}",
                if path.starts_with("/health") {
                    &e.base
                } else {
                    &e.issuer
                }
            ))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        })
    })
}

/// Each connection rotates its own refresh token chain, started by one code flow.
fn refresh(scope: &'static str) -> Step {
    let chain = Arc::new(Chain::default());
    Arc::new(move |http, e, w| {
        let chain = chain.clone();
        Box::pin(async move {
            let current = chain.0.lock().await.get(&w).cloned();
            let current = match current {
                Some(c) => c,
                None => match code_flow(&http, &e, scope)
                    .await
                    .and_then(|t| t["refresh_token"].as_str().map(str::to_owned))
                {
                    Some(r) => r,
                    None => return false,
                },
            };
            let res = http
                .post(format!("{}/token", e.issuer))
                .basic_auth(&e.rp.0, Some(&e.rp.1))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", current.as_str()),
                ])
                .send()
                .await;
            let Ok(res) = res else { return false };
            let Ok(v) = res.json::<serde_json::Value>().await else {
                return false;
            };
            // Each variant must do what it says: the OIDC grant signs, the OAuth one does not.
            let as_expected = if scope == OAUTH {
                v["id_token"].is_null()
            } else {
                v["id_token"].is_string()
            };
            match v["refresh_token"].as_str() {
                Some(next) if as_expected => {
                    chain.0.lock().await.insert(w, next.to_owned());
                    true
                }
                _ => false,
            }
        })
    })
}

#[tokio::main]
async fn main() {
    // The physical limit of the RS256 scenarios, measured once per `make bench` run.
    if std::env::var("OT_RS256_ONLY").is_ok_and(|s| s == "1") {
        println!(
            "limit: raw RS256 signs/s with a cached aws-lc-rs key on 2 threads: {:.0}",
            rs256_limit()
        );
        return;
    }
    let e = Arc::new(Env {
        base: env("OT_BASE"),
        issuer: env("OT_ISSUER"),
        pid: env("OT_PID").parse().unwrap(),
        conns: env("OT_CONNS").parse().unwrap(),
        secs: env("OT_SECS").parse().unwrap(),
        rp: (env("OT_RP_ID"), env("OT_RP_SECRET")),
        svc: (env("OT_SVC_ID"), env("OT_SVC_SECRET")),
        cookie: env("OT_COOKIE"),
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let idle = rss_kib(e.pid, "VmRSS:");
    // Fixtures: one user token for userinfo/introspection.
    let user = code_flow(&http, &e, OIDC)
        .await
        .expect("a code flow works before the bench");
    let access = user["access_token"].as_str().unwrap().to_owned();
    // bench/run.sh runs one scenario per call (OT_ONLY), alternating the backends, and asks for
    // the limits and memory once at the end (OT_REPORT=1).
    let one_scenario = std::env::var("OT_ONLY").is_ok_and(|s| !s.is_empty());
    let report = std::env::var("OT_REPORT").is_ok_and(|s| s == "1");
    if !one_scenario {
        println!(
            "connections {}, {} s per scenario; daemon pid {}",
            e.conns, e.secs, e.pid
        );
    }
    run("trivial handler (/health/live)", &e, get("/health/live")).await;
    run("discovery", &e, get("/.well-known/openid-configuration")).await;
    run("jwks", &e, get("/jwks.json")).await;
    run(
        "client_credentials",
        &e,
        Arc::new(|http, e, _| {
            Box::pin(async move {
                http.post(format!("{}/token", e.issuer))
                    .basic_auth(&e.svc.0, Some(&e.svc.1))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
        }),
    )
    .await;
    let a2 = access.clone();
    run(
        "introspection",
        &e,
        Arc::new(move |http, e, _| {
            let a = a2.clone();
            Box::pin(async move {
                http.post(format!("{}/introspect", e.issuer))
                    .basic_auth(&e.svc.0, Some(&e.svc.1))
                    .form(&[("token", a.as_str())])
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
        }),
    )
    .await;
    let a3 = access.clone();
    run(
        "userinfo",
        &e,
        Arc::new(move |http, e, _| {
            let a = a3.clone();
            Box::pin(async move {
                http.get(format!("{}/userinfo", e.issuer))
                    .bearer_auth(a)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            })
        }),
    )
    .await;
    run(
        "refresh (rotation, OAuth grant: no id_token)",
        &e,
        refresh(OAUTH),
    )
    .await;
    run(
        "refresh (rotation, OIDC grant: RS256 id_token)",
        &e,
        refresh(OIDC),
    )
    .await;
    run(
        "code exchange (authorize+token, RS256 id_token)",
        &e,
        Arc::new(|http, e, _| {
            Box::pin(async move {
                code_flow(&http, &e, OIDC)
                    .await
                    .is_some_and(|t| t["id_token"].is_string())
            })
        }),
    )
    .await;
    let peak = rss_kib(e.pid, "VmHWM:");
    if report {
        println!("daemon RSS: peak {peak} KiB under load");
    }
    if !one_scenario {
        println!(
            "limit: raw RS256 signs/s with a cached aws-lc-rs key on 2 threads: {:.0}",
            rs256_limit()
        );
        println!(
            "daemon RSS: {idle} KiB after key loading and the first code flow, peak {peak} KiB under load"
        );
    }
}
