//! What the benches that drive the real binary share: running its CLI, its raw Argon2id rate
//! (the limit a login rate is measured against), starting `serve` and waiting for READY=1,
//! and reading a process's CPU time and memory from /proc.

#![allow(dead_code)]

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks (100 Hz on Linux).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs an operator command of `bin` on `db`, with `stdin` piped in; panics if it fails.
pub fn cli(bin: &str, db: &str, args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut c = Command::new(bin)
        .args(args)
        .env("OPENTRUSTY_DATABASE_URL", db)
        .env("OPENTRUSTY_ALLOW_ROOT", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run the binary");
    if let Some(s) = stdin {
        c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(c.stdin.take());
    assert!(c.wait().unwrap().success(), "{args:?} failed");
}

/// Raw Argon2id rate of the same binary (same optimisation, same parameters) on `threads`.
pub fn raw_argon2_rate(bin: &str, threads: usize, secs: u64) -> f64 {
    let out = Command::new(bin)
        .args([
            "hash-rate",
            "--json",
            "--threads",
            &threads.to_string(),
            "--seconds",
            &secs.to_string(),
        ])
        .output()
        .expect("hash-rate");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("hash-rate JSON");
    v["hashes_per_second"].as_f64().unwrap_or(0.0)
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `bin serve` on `db` at `127.0.0.1:port` with login throttles out of the way and
/// waits for READY=1 on a notify socket in `dir`; returns the child and the time to READY.
pub fn serve(bin: &str, db: &str, dir: &Path, port: u16) -> (Child, Duration) {
    let notify_path = dir.join(format!("notify-{port}.sock"));
    let _ = std::fs::remove_file(&notify_path);
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    let child = Command::new(bin)
        .arg("serve")
        .env("OPENTRUSTY_DATABASE_URL", db)
        .env("STATE_DIRECTORY", dir)
        .env("OPENTRUSTY_LISTEN", format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("OPENTRUSTY_ALLOW_ROOT", "true")
        .env("OPENTRUSTY_LOG", "warn")
        .env("OPENTRUSTY_LOGIN_RATE_PER_IP", "1000000")
        .env("OPENTRUSTY_LOGIN_RATE_PER_ACCOUNT", "1000000")
        .env("NOTIFY_SOCKET", &notify_path)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 512];
    loop {
        let n = notify.recv(&mut buf).expect("READY=1 within 30 s");
        if String::from_utf8_lossy(&buf[..n])
            .lines()
            .any(|l| l == "READY=1")
        {
            break;
        }
    }
    (child, started.elapsed())
}
