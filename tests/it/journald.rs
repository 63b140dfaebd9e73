//! Native journald output: the daemon runs in a private mount namespace where
//! `/run/systemd/journal/socket` is a datagram socket this test owns, so the test reads exactly
//! what journald would receive, without touching the host's journal.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{BIN, tempdir};

/// Parses one native-protocol datagram (`KEY=value` lines and the binary-safe
/// `KEY\n<u64 le length><bytes>\n` form).
fn parse_entry(mut buf: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    while !buf.is_empty() {
        let nl = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
        let line = &buf[..nl];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            out.insert(
                String::from_utf8_lossy(&line[..eq]).into(),
                String::from_utf8_lossy(&line[eq + 1..]).into(),
            );
            buf = &buf[(nl + 1).min(buf.len())..];
        } else {
            let key = String::from_utf8_lossy(line).to_string();
            let rest = &buf[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            out.insert(key, String::from_utf8_lossy(&rest[8..8 + len]).into());
            buf = &rest[(8 + len + 1).min(rest.len())..];
        }
    }
    out
}

#[test]
fn events_reach_journald_natively_with_prefixed_fields() {
    if !nix::unistd::Uid::effective().is_root()
        || Command::new("unshare").arg("--version").output().is_err()
    {
        eprintln!("SKIPPED: journald test needs root and unshare for a private mount namespace");
        return;
    }
    let dir = tempdir();
    let jdir = dir.path().join("journal");
    std::fs::create_dir(&jdir).unwrap();
    let sock = UnixDatagram::bind(jdir.join("socket")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = crate::common::free_port();
    // In the namespace: a private tmpfs on /run (the host's is untouched), our directory
    // bind-mounted where journald's socket lives, then the daemon.
    let script = format!(
        "set -e; mount -t tmpfs tmpfs /run; mkdir -p /run/systemd/journal; mount --bind {} /run/systemd/journal; exec {} serve",
        jdir.display(),
        BIN
    );
    let mut child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("JOURNAL_STREAM", "8:12345")
        .env("OPENTRUSTY_ALLOW_ROOT", "true")
        .env("OPENTRUSTY_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "OPENTRUSTY_DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.path().display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut entries = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = vec![0u8; 65536];
    let mut requested = false;
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            entries.push(parse_entry(&buf[..n]));
        }
        if !requested
            && entries
                .iter()
                .any(|e| e.get("MESSAGE").is_some_and(|m| m == "ready"))
        {
            let _ = crate::common::http::get(
                &crate::common::http::Target::tcp(([127, 0, 0, 1], port).into()),
                "/health/live",
            );
            requested = true;
        }
        if entries
            .iter()
            .any(|e| e.get("MESSAGE").is_some_and(|m| m == "request"))
        {
            break;
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let ready = entries
        .iter()
        .find(|e| e.get("MESSAGE").is_some_and(|m| m == "ready"))
        .unwrap_or_else(|| {
            panic!(
                "no ready event; got {entries:?}; stderr {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_eq!(ready["SYSLOG_IDENTIFIER"], "opentrusty");
    assert_eq!(ready["PRIORITY"], "6", "INFO maps to informational");
    assert!(ready.contains_key("OPENTRUSTY_VERSION"), "{ready:?}");
    let request = entries
        .iter()
        .find(|e| e.get("MESSAGE").is_some_and(|m| m == "request"))
        .expect("access log event");
    assert_eq!(request["OPENTRUSTY_HTTP_ROUTE"], "/health/live");
    assert_eq!(request["OPENTRUSTY_HTTP_STATUS"], "200");
    assert!(
        request.contains_key("OPENTRUSTY_REQUEST_ID"),
        "span fields are forwarded: {request:?}"
    );
}
