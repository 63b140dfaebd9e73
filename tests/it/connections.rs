//! Connection limits of the real daemon on real sockets: the header-read deadline (slow and
//! silent clients), the idle keep-alive deadline, and the per-listener connection bound.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::http::{self, Target};
use crate::common::{Daemon, Launch, NotifySocket, tcp_listener, tempdir};

const START: Duration = Duration::from_secs(20);
/// Far above any deadline under test: a connection still open after this was never cut.
const GIVE_UP: Duration = Duration::from_secs(15);

struct Running {
    daemon: Daemon,
    auth: SocketAddr,
    admin: Target,
    _dir: tempfile::TempDir,
}

/// The daemon with an `auth` TCP socket and an `admin` unix socket, and extra settings.
fn start(env: &[(&str, &str)]) -> Running {
    let dir = tempdir();
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
        notify.wait_for("READY=1", START),
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

/// Whether the server closed `s` (EOF or reset) within `within`; bytes that arrive meanwhile
/// are returned too, so a test can tell "answered" from "closed".
fn closed_within(s: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (true, got),
        }
    }
    (false, got)
}

/// Sends one keep-alive request and reads exactly its response (by `Content-Length`).
fn keep_alive_get(s: &mut TcpStream, path: &str) -> http::Response {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).expect("response");
        assert!(n > 0, "closed before a full response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .expect("content-length");
            if buf.len() >= end + 4 + len {
                return http::parse(&buf).unwrap();
            }
        }
    }
}

#[test]
fn a_client_sending_a_header_line_every_few_hundred_ms_is_cut_off() {
    let mut run = start(&[("OPENTRUSTY_HTTP_HEADER_TIMEOUT", "1")]);
    let mut s = TcpStream::connect(run.auth).unwrap();
    let started = Instant::now();
    s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut cut = false;
    while started.elapsed() < GIVE_UP {
        // Each line arrives well within any per-read timeout; only a deadline on the whole
        // head ends this.
        if s.write_all(b"X-Slow: 1\r\n").is_err() {
            cut = true;
            break;
        }
        let (closed, got) = closed_within(&mut s, Duration::from_millis(300));
        assert!(
            got.is_empty() || closed,
            "{}",
            String::from_utf8_lossy(&got)
        );
        if closed {
            cut = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(cut, "a slow head kept the connection open for {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "cut too early: {took:?}"
    );
    run.daemon.signal(Signal::SIGTERM);
    assert_eq!(run.daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn a_silent_connection_is_closed_after_the_header_timeout() {
    let mut run = start(&[("OPENTRUSTY_HTTP_HEADER_TIMEOUT", "1")]);
    let mut s = TcpStream::connect(run.auth).unwrap();
    let started = Instant::now();
    let (closed, got) = closed_within(&mut s, GIVE_UP);
    let took = started.elapsed();
    assert!(closed, "a silent connection stayed open for {took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "cut too early: {took:?}"
    );
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    run.daemon.signal(Signal::SIGTERM);
    assert_eq!(run.daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_the_header_timeout() {
    let mut run = start(&[
        ("OPENTRUSTY_HTTP_HEADER_TIMEOUT", "1"),
        ("OPENTRUSTY_HTTP_IDLE_TIMEOUT", "3"),
    ]);
    let mut s = TcpStream::connect(run.auth).unwrap();
    assert_eq!(keep_alive_get(&mut s, "/health/live").status, 200);
    // Idle for longer than the header timeout but within the idle timeout: still served.
    std::thread::sleep(Duration::from_millis(1800));
    assert_eq!(keep_alive_get(&mut s, "/health/live").status, 200);
    let idle_from = Instant::now();
    let (closed, got) = closed_within(&mut s, GIVE_UP);
    let took = idle_from.elapsed();
    assert!(closed, "an idle connection stayed open for {took:?}");
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        took >= Duration::from_millis(2500),
        "closed after {took:?}, before the idle timeout"
    );
    run.daemon.signal(Signal::SIGTERM);
    assert_eq!(run.daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn connections_over_the_limit_are_closed_at_once_and_counted() {
    let mut run = start(&[("OPENTRUSTY_HTTP_MAX_CONNECTIONS", "2")]);
    // Two connections the daemon has certainly accepted (each answered once), kept open.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(run.auth).unwrap();
            assert_eq!(keep_alive_get(&mut s, "/health/live").status, 200);
            s
        })
        .collect();
    let mut third = TcpStream::connect(run.auth).unwrap();
    let _ = third.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n");
    let (closed, got) = closed_within(&mut third, Duration::from_secs(5));
    assert!(closed, "the connection over the limit was not closed");
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // The bound is per listener: the admin socket still answers, and counts.
    let metrics = http::get(&run.admin, "/metrics").unwrap();
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("opentrusty_http_connections_refused_total{plane=\"auth\"} 1"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("opentrusty_http_connections_open{plane=\"auth\"} 2"),
        "{}",
        metrics.body
    );
    // A held connection still works; once one closes, a new one is accepted again.
    assert_eq!(keep_alive_get(&mut held[0], "/health/live").status, 200);
    drop(held.pop());
    assert!(crate::common::eventually(Duration::from_secs(10), || {
        http::get(&Target::tcp(run.auth), "/health/live").is_ok_and(|r| r.status == 200)
    }));
    run.daemon.signal(Signal::SIGTERM);
    assert_eq!(run.daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

/// A request head beyond what one connection may buffer (64 KiB) gets 431 and is not read on:
/// slow clients cannot pin hyper's default ~400 KiB per connection.
#[test]
fn an_oversized_request_head_gets_431() {
    let r = start(&[]);
    let mut s = TcpStream::connect(r.auth).unwrap();
    let head = format!(
        "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    // The server may answer and close before the whole head is written.
    let _ = s.write_all(head.as_bytes());
    let (_, got) = closed_within(&mut s, GIVE_UP);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    // A head of ordinary size on a new connection is served.
    let mut s = TcpStream::connect(r.auth).unwrap();
    let ok = format!(
        "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    s.write_all(ok.as_bytes()).unwrap();
    let (_, got) = closed_within(&mut s, GIVE_UP);
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    r.daemon.signal(Signal::SIGTERM);
}
