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

/// Runs the daemon in a private mount namespace whose journald socket is ours, performs
/// `act(port)` once it is ready, and collects entries until `done` holds (or 20 s pass).
fn journal_run(
    db: &str,
    env: &[(&str, &str)],
    act: impl Fn(u16),
    done: impl Fn(&[BTreeMap<String, String>]) -> bool,
) -> Option<Vec<BTreeMap<String, String>>> {
    if !nix::unistd::Uid::effective().is_root()
        || Command::new("unshare").arg("--version").output().is_err()
    {
        eprintln!("SKIPPED: journald test needs root and unshare for a private mount namespace");
        return None;
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
        .env("OPENTRUSTY_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_DATABASE_URL", db)
        // The generated key-encryption key belongs in the test directory, not the cwd.
        .env("STATE_DIRECTORY", dir.path())
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut entries = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = vec![0u8; 65536];
    let mut acted = false;
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            entries.push(parse_entry(&buf[..n]));
        }
        if !acted
            && entries
                .iter()
                .any(|e| e.get("MESSAGE").is_some_and(|m| m == "ready"))
        {
            act(port);
            acted = true;
        }
        if acted && done(&entries) {
            break;
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        acted,
        "daemon never became ready; entries {entries:?}; stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(entries)
}

fn message<'a>(
    entries: &'a [BTreeMap<String, String>],
    m: &str,
) -> Option<&'a BTreeMap<String, String>> {
    entries
        .iter()
        .find(|e| e.get("MESSAGE").is_some_and(|v| v == m))
}

#[test]
fn events_reach_journald_natively_with_prefixed_fields() {
    let dir = tempdir();
    let db = format!("sqlite://{}/db.sqlite", dir.path().display());
    let get = |port: u16| {
        let _ = crate::common::http::get(
            &crate::common::http::Target::tcp(([127, 0, 0, 1], port).into()),
            "/health/live",
        );
    };
    let Some(entries) = journal_run(&db, &[("OPENTRUSTY_ACCESS_LOG", "all")], get, |e| {
        message(e, "request").is_some()
    }) else {
        return;
    };
    let ready = message(&entries, "ready").unwrap();
    assert_eq!(ready["SYSLOG_IDENTIFIER"], "opentrusty");
    assert_eq!(ready["PRIORITY"], "6", "INFO maps to informational");
    assert!(ready.contains_key("OPENTRUSTY_VERSION"), "{ready:?}");
    let request = message(&entries, "request").expect("access log event");
    assert_eq!(request["OPENTRUSTY_HTTP_ROUTE"], "/health/live");
    assert_eq!(request["OPENTRUSTY_HTTP_STATUS"], "200");
    assert!(
        request.contains_key("OPENTRUSTY_REQUEST_ID"),
        "span fields are forwarded: {request:?}"
    );
}

#[test]
fn audit_events_carry_a_stable_message_id() {
    let dir = tempdir();
    let db = format!("sqlite://{}/db.sqlite", dir.path().display());
    let out = crate::login_pages::cli(&db, &["tenant", "create", "acme"], None);
    assert!(out.status.success());
    let out = crate::login_pages::cli(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "a@example.com",
            "--password-file",
            "-",
        ],
        Some("right password"),
    );
    assert!(out.status.success());
    let login = |port: u16| {
        let t = crate::common::http::Target::tcp(([127, 0, 0, 1], port).into());
        let page = crate::common::http::get(&t, "/t/acme/login").unwrap();
        let cookie = page
            .cookies()
            .into_iter()
            .find(|(k, _)| k == "opentrusty_csrf")
            .map(|(k, v)| format!("{k}={v}"))
            .unwrap();
        let token = page
            .body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        for pw in ["wrong password", "right password"] {
            let form = format!(
                "csrf={token}&email=a%40example.com&password={}",
                pw.replace(' ', "+")
            );
            crate::common::http::send(
                &t,
                "POST",
                "/t/acme/login",
                &[format!("Cookie: {cookie}")],
                Some(&form),
            )
            .unwrap();
        }
    };
    let done = |e: &[BTreeMap<String, String>]| message(e, "audit: login.succeeded").is_some();
    let Some(entries) = journal_run(&db, &[], login, done) else {
        return;
    };
    let failed = message(&entries, "audit: login.failed").expect("login.failed in the journal");
    assert_eq!(failed["MESSAGE_ID"], "7c1f0a5be2d84f7e9a4f3b8c6d2e1a02");
    assert_eq!(failed["OPENTRUSTY_AUDIT_EVENT"], "login.failed");
    assert_eq!(failed["PRIORITY"], "5");
    assert_eq!(failed["OPENTRUSTY_CLIENT_IP"], "127.0.0.1");
    assert!(failed["OPENTRUSTY_METADATA"].contains("wrong_password"));
    assert!(
        !failed.values().any(|v| v.contains("wrong password")),
        "no password in the journal"
    );
    let ok = message(&entries, "audit: login.succeeded").unwrap();
    assert_eq!(ok["MESSAGE_ID"], "7c1f0a5be2d84f7e9a4f3b8c6d2e1a01");
    assert!(!ok["OPENTRUSTY_REQUEST_ID"].is_empty());
}
