//! `make bench` (identity part): start-up and login throughput of the real binary, measured
//! next to the physical limit of the same machine in the same run.
//!
//! Reports: binary size; exec → READY=1 on an existing SQLite database; idle RSS; raw Argon2id
//! hashes/s with the daemon's parameters and concurrency (the limit); logins/s through the real
//! form (CSRF + POST, correct password) and its ratio to the limit; server CPU per login; p50/p99
//! of `/health/ready` while the hash pool is saturated; peak RSS.
//!
//! Usage: cargo run --example identity-bench -- BINARY [SECONDS] [CLIENTS]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "common.rs"]
mod common;
use common::{cli, cpu_ticks, percentile, raw_argon2_rate, rss_kib};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/x86_64-unknown-linux-musl/release/opentrusty".into());
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let clients: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(8);
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/bench.db", dir.path().display());
    println!(
        "binary: {bin} ({:.1} MB)",
        std::fs::metadata(&bin)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0)
    );

    cli(&bin, &db, &["tenant", "create", "bench"], None);
    cli(
        &bin,
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "bench",
            "--email",
            "load@example.com",
            "--password-file",
            "-",
        ],
        Some("bench password 1"),
    );

    // Start-up: exec to READY=1 on the existing database (migrations already applied).
    let port = common::free_port();
    let spawn = || common::serve(&bin, &db, dir.path(), port);
    // The first start creates the tenant's signing keys; the figure that matters is a
    // restart on an existing database, as under systemd.
    let (mut first, first_ready) = spawn();
    let _ = Command::new("kill").arg(first.id().to_string()).status();
    let _ = first.wait();
    println!(
        "first start (creates signing keys): exec -> READY=1 {:.1} ms",
        first_ready.as_secs_f64() * 1e3
    );
    let (mut daemon, ready_after) = spawn();
    let pid = daemon.id();
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = rss_kib(pid, "VmRSS:");
    println!(
        "start-up: exec -> READY=1 {:.1} ms; idle RSS {:.1} MiB",
        ready_after.as_secs_f64() * 1e3,
        idle_rss as f64 / 1024.0
    );

    let raw = raw_argon2_rate(&bin, cpus, secs.min(5.0) as u64);
    println!("limit: raw Argon2id (m=19456 KiB, t=2, p=1) on {cpus} threads: {raw:.1} hashes/s");

    let base = format!("http://127.0.0.1:{port}");
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_ticks(pid);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (base, stop, ok, other) = (base.clone(), stop.clone(), ok.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap();
            let page = http
                .get(format!("{base}/t/bench/login"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let token = page
                .split("name=\"csrf\" value=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap()
                .to_owned();
            let form = [
                ("csrf", token.as_str()),
                ("email", "load@example.com"),
                ("password", "bench password 1"),
            ];
            while !stop.load(Ordering::Relaxed) {
                match http
                    .post(format!("{base}/t/bench/login"))
                    .form(&form)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 303 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    // Readiness probe latency while the pool is saturated.
    let probe = {
        let (base, stop) = (base.clone(), stop.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut lat = Vec::new();
            tokio::time::sleep(Duration::from_millis(300)).await;
            while !stop.load(Ordering::Relaxed) {
                let s = Instant::now();
                if http
                    .get(format!("{base}/health/ready"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
                {
                    lat.push(s.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            lat
        })
    };
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let mut lat = probe.await.unwrap();
    lat.sort();
    let cpu = cpu_ticks(pid) - cpu_before;
    let logins = ok.load(Ordering::Relaxed);
    let rate = logins as f64 / elapsed;
    println!(
        "logins: {logins} in {elapsed:.1} s = {rate:.1}/s with {clients} clients ({} other answers); {:.0}% of the raw Argon2id rate",
        other.load(Ordering::Relaxed),
        100.0 * rate / raw
    );
    println!(
        "server CPU per login: {:.2} ms",
        cpu as f64 * 10.0 / logins.max(1) as f64
    );
    println!(
        "/health/ready during saturation: n={} p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "peak RSS: {:.1} MiB",
        rss_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}
