//! The real binary under a socket-activation harness with a `NOTIFY_SOCKET` listener.

use std::os::unix::net::UnixListener;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::common::http::{self, Target};
use crate::common::{Launch, NotifySocket, eventually, free_port, tcp_listener, tempdir};

const START: Duration = Duration::from_secs(20);

#[test]
fn socket_activation_notify_and_clean_stop() {
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let listener = tcp_listener();
    let target = Target::tcp(listener.local_addr().unwrap());
    let mut daemon = Launch::new(dir.path())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .env("WATCHDOG_USEC", "400000")
        .socket(&listener, "auth")
        .spawn();
    drop(listener); // the daemon holds its own copy now
    assert!(
        notify.wait_for("READY=1", START),
        "no READY=1; log:\n{}",
        daemon.stderr()
    );
    let lines = notify.lines();
    assert!(lines.iter().any(|l| l.starts_with("STATUS=")), "{lines:?}");
    // READY comes only after the database and migrations: STATUS about migrating precedes it.
    let migrating = lines
        .iter()
        .position(|l| l.contains("migrating"))
        .expect("migrating status");
    let ready = lines.iter().position(|l| l == "READY=1").unwrap();
    assert!(migrating < ready, "{lines:?}");

    let res = http::get(&target, "/health/ready").unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["status"], "ok");
    assert!(res.header("x-request-id").is_some_and(|v| !v.is_empty()));

    // The watchdog pings at half of WATCHDOG_USEC.
    assert!(
        notify.wait_for("WATCHDOG=1", Duration::from_secs(3)),
        "{:?}",
        notify.lines()
    );

    daemon.signal(Signal::SIGTERM);
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(15)),
        Some(0),
        "log:\n{}",
        daemon.stderr()
    );
    assert!(
        notify.lines().iter().any(|l| l == "STOPPING=1"),
        "{:?}",
        notify.lines()
    );
}

#[test]
fn named_sockets_split_the_planes_and_unix_sockets_work() {
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let auth = tcp_listener();
    let admin_path = dir.path().join("admin.sock");
    let admin = UnixListener::bind(&admin_path).unwrap();
    let auth_target = Target::tcp(auth.local_addr().unwrap());
    let admin_target = Target::unix(&admin_path);
    let mut daemon = Launch::new(dir.path())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .socket(&auth, "auth")
        .socket(&admin, "admin")
        .spawn();
    assert!(
        notify.wait_for("READY=1", START),
        "log:\n{}",
        daemon.stderr()
    );

    for t in [&auth_target, &admin_target] {
        assert_eq!(http::get(t, "/health/live").unwrap().status, 200);
        assert_eq!(http::get(t, "/health/ready").unwrap().status, 200);
    }
    // /metrics lives on the admin plane only.
    assert_eq!(http::get(&auth_target, "/metrics").unwrap().status, 404);
    let metrics = http::get(&admin_target, "/metrics").unwrap();
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("opentrusty_http_requests_total"),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("route=\"/health/ready\""),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("opentrusty_build_info"),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("opentrusty_db_pool_connections"),
        "{}",
        metrics.body
    );

    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn a_single_unnamed_loopback_socket_serves_every_plane() {
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let l = tcp_listener();
    let target = Target::tcp(l.local_addr().unwrap());
    let mut daemon = Launch::new(dir.path())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .socket(&l, "")
        .spawn();
    assert!(
        notify.wait_for("READY=1", START),
        "log:\n{}",
        daemon.stderr()
    );
    assert_eq!(http::get(&target, "/metrics").unwrap().status, 200);
    assert_eq!(http::get(&target, "/health/live").unwrap().status, 200);
    assert!(!says_admin_plane_is_not_served(&daemon.stderr()));
    daemon.signal(Signal::SIGINT);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

/// The one start-up line that says the admin plane is not served, and where to put it.
fn says_admin_plane_is_not_served(log: &str) -> bool {
    log.lines().any(|l| {
        l.contains("admin plane")
            && l.contains("not served")
            && l.contains("OPENTRUSTY_ADMIN_LISTEN")
            && l.contains("`admin`")
    })
}

#[test]
fn a_lone_listener_on_all_interfaces_serves_the_auth_plane_only() {
    let dir = tempdir();
    let port = free_port();
    let mut daemon = Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("0.0.0.0:{port}"))
        .spawn();
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    assert!(
        eventually(START, || http::get(&target, "/health/live")
            .is_ok_and(|r| r.status == 200)),
        "log:\n{}",
        daemon.stderr()
    );
    assert_eq!(http::get(&target, "/metrics").unwrap().status, 404);
    // The auth plane is there: its routes answer "no such tenant", not "no such endpoint".
    let res = http::get(&target, "/t/acme/.well-known/openid-configuration").unwrap();
    assert_eq!(res.status, 404);
    assert!(res.body.contains("no such tenant"), "{}", res.body);
    let log = daemon.stderr();
    assert!(says_admin_plane_is_not_served(&log), "{log}");
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn an_unnamed_socket_on_all_interfaces_serves_the_auth_plane_only() {
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    let mut daemon = Launch::new(dir.path())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .socket(&l, "opentrusty.socket")
        .spawn();
    assert!(
        notify.wait_for("READY=1", START),
        "log:\n{}",
        daemon.stderr()
    );
    assert_eq!(http::get(&target, "/metrics").unwrap().status, 404);
    assert_eq!(http::get(&target, "/health/ready").unwrap().status, 200);
    let log = daemon.stderr();
    assert!(says_admin_plane_is_not_served(&log), "{log}");
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn a_socket_named_auth_never_serves_the_admin_plane_even_on_loopback() {
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let l = tcp_listener();
    let target = Target::tcp(l.local_addr().unwrap());
    let mut daemon = Launch::new(dir.path())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .socket(&l, "auth")
        .spawn();
    assert!(
        notify.wait_for("READY=1", START),
        "log:\n{}",
        daemon.stderr()
    );
    assert_eq!(http::get(&target, "/metrics").unwrap().status, 404);
    let log = daemon.stderr();
    assert!(says_admin_plane_is_not_served(&log), "{log}");
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn binds_from_config_without_systemd_and_rejects_garbage_with_4xx() {
    let dir = tempdir();
    let port = free_port();
    let admin_path = dir.path().join("admin.sock");
    let mut daemon = Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env(
            "OPENTRUSTY_ADMIN_LISTEN",
            &format!("unix:{}", admin_path.display()),
        )
        .env("OPENTRUSTY_ACCESS_LOG", "all")
        .spawn();
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    assert!(
        eventually(START, || http::get(&target, "/health/live")
            .is_ok_and(|r| r.status == 200)),
        "log:\n{}",
        daemon.stderr()
    );
    assert_eq!(
        http::get(&Target::unix(&admin_path), "/metrics")
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        http::get(&target, "/metrics").unwrap().status,
        404,
        "metrics only on the admin listener"
    );

    // Unknown path: JSON 404.
    let res = http::get(&target, "/no/such/thing").unwrap();
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"], "not_found");
    // Malformed request line, oversized body, bad method: client errors, never 5xx.
    let res = http::raw(&target, b"GARBAGE\r\n\r\n");
    assert!(
        res.as_ref()
            .map_or(true, |r| (400..500).contains(&r.status)),
        "{res:?}"
    );
    let big = "a".repeat(200 * 1024);
    let res = http::post_form(&target, "/health/live", &big).unwrap();
    assert!((400..500).contains(&res.status), "{}", res.status);
    let res = http::raw(
        &target,
        b"DELETE /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(res.status, 405);
    // A caller's request id is echoed when sane, replaced when not.
    let res = http::raw(&target, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(res.header("x-request-id"), Some("abc-123"));
    let res = http::raw(&target, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Request-Id: <script>\r\nConnection: close\r\n\r\n").unwrap();
    assert_ne!(res.header("x-request-id"), Some("<script>"));

    // With ACCESS_LOG=all, one event per request with method, route, status and latency.
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
    let log = daemon.stderr();
    assert!(
        log.lines().any(|l| l.contains("request")
            && l.contains("http_route=/health/live")
            && l.contains("http_status=200")
            && l.contains("latency_us=")),
        "{log}"
    );
}

#[test]
fn sighup_reloads_the_log_filter_from_the_env_file() {
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let env_file = dir.path().join("opentrusty.env");
    std::fs::write(&env_file, "OPENTRUSTY_LOG=warn\n").unwrap();
    let l = tcp_listener();
    let target = Target::tcp(l.local_addr().unwrap());
    let mut daemon = Launch::new(dir.path())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .env("OPENTRUSTY_LOG", "warn")
        .env("OPENTRUSTY_ACCESS_LOG", "all")
        .env("OPENTRUSTY_ENV_FILE", env_file.to_str().unwrap())
        .socket(&l, "auth")
        .spawn();
    assert!(notify.wait_for("READY=1", START));
    http::get(&target, "/health/live").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !daemon.stderr().contains("http_route=/health/live"),
        "info events must be filtered at warn"
    );

    std::fs::write(&env_file, "# now verbose\nOPENTRUSTY_LOG=info\n").unwrap();
    daemon.signal(Signal::SIGHUP);
    assert!(
        notify.wait_for("RELOADING=1", Duration::from_secs(5)),
        "{:?}",
        notify.lines()
    );
    assert!(eventually(Duration::from_secs(5), || notify
        .lines()
        .iter()
        .filter(|l| *l == "READY=1")
        .count()
        >= 2));
    http::get(&target, "/health/live").unwrap();
    assert!(
        eventually(Duration::from_secs(5), || daemon
            .stderr()
            .contains("http_route=/health/live")),
        "{}",
        daemon.stderr()
    );
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn drops_privileges_when_started_as_root_with_opentrusty_user() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: drops_privileges needs root");
        return;
    }
    let dir = tempdir();
    // The state directory must be writable by the target user.
    nix::unistd::chown(
        dir.path(),
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .unwrap();
    let notify_dir = tempdir();
    nix::unistd::chown(
        notify_dir.path(),
        Some(nix::unistd::Uid::from_raw(65534)),
        None,
    )
    .unwrap();
    let notify = NotifySocket::new(notify_dir.path());
    std::fs::set_permissions(
        &notify.path,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let l = tcp_listener();
    let mut daemon = Launch::new(dir.path())
        .without("OPENTRUSTY_ALLOW_ROOT")
        .env("OPENTRUSTY_USER", "65534:65534")
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .socket(&l, "auth")
        .spawn();
    assert!(
        notify.wait_for("READY=1", START),
        "log:\n{}",
        daemon.stderr()
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u == "65534"),
        "{uid_line}"
    );
    let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    assert!(
        !groups.split_whitespace().skip(1).any(|g| g == "0"),
        "{groups}"
    );
    // The database file was created by the unprivileged user, private to it.
    let meta = std::fs::metadata(dir.path().join("opentrusty.db")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 65534);
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077,
        0
    );
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}
