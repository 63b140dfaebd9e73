//! Login throttling behind a reverse proxy on a unix socket (issue 9, defect 7): with `unix`
//! in `OPENTRUSTY_TRUSTED_PROXIES` each forwarded client has its own per-IP bucket; without
//! it, every client of the socket shares one bucket (before, they had none at all).

use std::time::Duration;

use crate::common::http::{self, Response, Target};
use crate::common::{Daemon, Launch, eventually, tempdir};
use crate::login_pages::cli;

struct UnixSite {
    _dir: tempfile::TempDir,
    _daemon: Daemon,
    target: Target,
}

/// A daemon on a unix socket with tenant `acme` and alice, 3 logins per minute per IP.
fn unix_site(trusted: Option<&str>) -> UnixSite {
    let dir = tempdir();
    let db = format!("sqlite://{}/opentrusty.db", dir.path().display());
    for args in [
        &["tenant", "create", "acme"][..],
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--password-file",
            "-",
        ],
    ] {
        let out = cli(&db, args, Some("password-acme\n"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sock = dir.path().join("auth.sock");
    let mut launch = Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("unix:{}", sock.display()))
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1")
        .env("OPENTRUSTY_LOGIN_RATE_PER_IP", "3")
        .env("OPENTRUSTY_LOGIN_RATE_PER_ACCOUNT", "1000");
    if let Some(t) = trusted {
        launch = launch.env("OPENTRUSTY_TRUSTED_PROXIES", t);
    }
    let daemon = launch.spawn();
    let target = Target::unix(&sock);
    assert!(
        eventually(Duration::from_secs(20), || http::get(
            &target,
            "/health/ready"
        )
        .is_ok_and(|r| r.status == 200)),
        "{}",
        daemon.stderr()
    );
    UnixSite {
        _dir: dir,
        _daemon: daemon,
        target,
    }
}

/// One failed login attempt as forwarded by a proxy for `client`.
fn attempt(site: &UnixSite, client: &str) -> Response {
    let page = http::get(&site.target, "/t/acme/login").unwrap();
    let cookie = page
        .cookies()
        .into_iter()
        .find(|(k, _)| k.ends_with("opentrusty_csrf"))
        .map(|(k, v)| format!("Cookie: {k}={v}"))
        .expect("CSRF cookie");
    let token = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("CSRF field")
        .to_owned();
    http::send(
        &site.target,
        "POST",
        "/t/acme/login",
        &[cookie, format!("X-Forwarded-For: {client}")],
        Some(&format!(
            "csrf={token}&email=alice%40example.com&password=wrong"
        )),
    )
    .unwrap()
}

#[test]
fn a_trusted_unix_proxy_gets_a_bucket_per_forwarded_client() {
    let site = unix_site(Some("unix"));
    for _ in 0..3 {
        assert_eq!(attempt(&site, "203.0.113.1").status, 401);
    }
    let limited = attempt(&site, "203.0.113.1");
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());
    // Another client behind the same proxy is not affected; an IPv6 client is keyed by /64.
    assert_eq!(attempt(&site, "203.0.113.2").status, 401);
    for i in 1..=3 {
        assert_eq!(attempt(&site, &format!("2001:db8:5:6::{i}")).status, 401);
    }
    assert_eq!(attempt(&site, "2001:db8:5:6:ffff::9").status, 429);
    assert_eq!(attempt(&site, "2001:db8:5:7::1").status, 401);
}

#[test]
fn untrusted_unix_peers_share_one_bucket() {
    let site = unix_site(None);
    // X-Forwarded-For is not believed: these are one client, and are throttled as one.
    for i in 1..=3 {
        assert_eq!(attempt(&site, &format!("203.0.113.{i}")).status, 401);
    }
    assert_eq!(attempt(&site, "203.0.113.4").status, 429);
}
