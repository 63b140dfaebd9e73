//! The access log writes what an operator needs (`OPENTRUSTY_ACCESS_LOG`, default `errors`),
//! and the discovery document and JWKS are served from bytes rendered once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixListener;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::common::http::{self, Target};
use crate::common::{Daemon, Launch, NotifySocket, eventually, tcp_listener, tempdir};

struct Running {
    daemon: Daemon,
    auth: SocketAddr,
    admin: Target,
    _dir: tempfile::TempDir,
}

/// A daemon with tenant `acme`, an `auth` TCP socket and an `admin` unix socket.
fn start(env: &[(&str, &str)]) -> Running {
    let dir = tempdir();
    let db = format!("sqlite://{}/opentrusty.db", dir.path().display());
    let out = crate::login_pages::cli(&db, &["tenant", "create", "acme"], None);
    assert!(out.status.success(), "{out:?}");
    let notify = NotifySocket::new(dir.path());
    let auth = tcp_listener();
    let admin_path = dir.path().join("admin.sock");
    let admin = UnixListener::bind(&admin_path).unwrap();
    let mut launch = Launch::new(dir.path())
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .socket(&auth, "auth")
        .socket(&admin, "admin");
    for (k, v) in env {
        launch = launch.env(k, v);
    }
    let daemon = launch.spawn();
    assert!(
        notify.wait_for("READY=1", Duration::from_secs(20)),
        "log:\n{}",
        daemon.stderr()
    );
    Running {
        auth: auth.local_addr().unwrap(),
        admin: Target::unix(&admin_path),
        daemon,
        _dir: dir,
    }
}

fn get_with_id(target: &Target, path: &str, id: &str) -> http::Response {
    http::send(target, "GET", path, &[format!("X-Request-Id: {id}")], None).unwrap()
}

/// A token request whose body arrives `delay` after its head: the handler cannot answer before
/// it has the body, so the request takes at least `delay`, however fast the machine.
fn slow_token_request(addr: SocketAddr, id: &str, delay: Duration) -> u16 {
    let body = "grant_type=client_credentials&client_id=nobody";
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /t/acme/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: {id}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    std::thread::sleep(delay);
    s.write_all(body.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    http::parse(&buf).unwrap().status
}

/// The access-log line of the request with this id, if any.
fn line_of<'a>(log: &'a str, id: &str) -> Option<&'a str> {
    log.lines()
        .find(|l| l.contains(&format!("request_id={id}")) && l.contains("http_status="))
}

#[test]
fn by_default_only_errors_admin_client_errors_and_slow_requests_are_logged() {
    let mut run = start(&[("OPENTRUSTY_ACCESS_LOG_SLOW_MS", "200")]);
    let auth = Target::tcp(run.auth);
    assert_eq!(get_with_id(&auth, "/health/live", "fast-ok").status, 200);
    assert_eq!(get_with_id(&auth, "/no/such", "auth-404").status, 404);
    assert_eq!(get_with_id(&run.admin, "/no/such", "admin-404").status, 404);
    let status = slow_token_request(run.auth, "slow-one", Duration::from_millis(600));
    assert!((400..500).contains(&status), "{status}");
    // Lines are written in order: once the last one is there, the earlier ones would be too.
    assert!(
        eventually(Duration::from_secs(10), || line_of(
            &run.daemon.stderr(),
            "slow-one"
        )
        .is_some()),
        "{}",
        run.daemon.stderr()
    );
    let log = run.daemon.stderr();
    let slow = line_of(&log, "slow-one").unwrap();
    assert!(slow.contains("http_route=/t/{tenant}/token"), "{slow}");
    let admin = line_of(&log, "admin-404").expect("admin-plane 404 is logged");
    assert!(admin.contains("http_status=404"), "{admin}");
    assert!(line_of(&log, "fast-ok").is_none(), "{log}");
    assert!(line_of(&log, "auth-404").is_none(), "{log}");
    // Metrics still count every request.
    let metrics = http::get(&run.admin, "/metrics").unwrap();
    assert!(
        metrics
            .body
            .contains("opentrusty_http_requests_total{route=\"/health/live\",status=\"200\"} 1"),
        "{}",
        metrics.body
    );
    run.daemon.signal(Signal::SIGTERM);
    assert_eq!(run.daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn access_log_all_logs_every_request_and_off_none() {
    let mut run = start(&[("OPENTRUSTY_ACCESS_LOG", "all")]);
    let auth = Target::tcp(run.auth);
    for i in 0..3 {
        assert_eq!(
            get_with_id(&auth, "/health/live", &format!("ok-{i}")).status,
            200
        );
    }
    assert!(
        eventually(Duration::from_secs(10), || (0..3).all(|i| line_of(
            &run.daemon.stderr(),
            &format!("ok-{i}")
        )
        .is_some())),
        "{}",
        run.daemon.stderr()
    );
    run.daemon.signal(Signal::SIGTERM);
    assert_eq!(run.daemon.wait_exit(Duration::from_secs(15)), Some(0));

    let mut run = start(&[
        ("OPENTRUSTY_ACCESS_LOG", "off"),
        ("OPENTRUSTY_ACCESS_LOG_SLOW_MS", "1"),
    ]);
    slow_token_request(run.auth, "slow-off", Duration::from_millis(300));
    assert_eq!(get_with_id(&run.admin, "/no/such", "admin-off").status, 404);
    run.daemon.signal(Signal::SIGTERM);
    assert_eq!(run.daemon.wait_exit(Duration::from_secs(15)), Some(0));
    let log = run.daemon.stderr();
    assert!(log.contains("stopped cleanly"), "{log}");
    assert!(line_of(&log, "slow-off").is_none(), "{log}");
    assert!(line_of(&log, "admin-off").is_none(), "{log}");
}

#[test]
fn discovery_and_jwks_bytes_are_the_same_on_every_request() {
    let mut run = start(&[]);
    let auth = Target::tcp(run.auth);
    let issuer = "http://127.0.0.1:8080/t/acme";
    let expected = opentrusty::protocol::discovery::document(issuer).to_string();
    for _ in 0..3 {
        let res = http::get(&auth, "/t/acme/.well-known/openid-configuration").unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.header("cache-control"), Some("public, max-age=3600"));
        assert_eq!(res.body, expected);
    }
    let first = http::get(&auth, "/t/acme/jwks.json").unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        Some("application/jwk-set+json")
    );
    assert!(!first.json()["keys"].as_array().unwrap().is_empty());
    let again = http::get(&auth, "/t/acme/jwks.json").unwrap();
    assert_eq!(again.body, first.body);
    run.daemon.signal(Signal::SIGTERM);
    assert_eq!(run.daemon.wait_exit(Duration::from_secs(15)), Some(0));
}
