//! A restart under load answers every request: the test owns the listening socket (as
//! systemd does under socket activation) and passes it to one daemon after another —
//! SIGTERM, wait for the exit, start the next on the same socket, like `systemctl restart` —
//! while client threads send `GET /health/ready`, most on a new connection each, some on
//! keep-alive connections that retry the way HTTP clients do (RFC 9112 §9.3.1: a request on a
//! reused connection that was closed before any response byte is sent again).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::{Daemon, Launch, NotifySocket, tcp_listener, tempdir};

const TOTAL: usize = 10_000;
const NEW_CONNECTION_CLIENTS: usize = 6;
const KEEP_ALIVE_CLIENTS: usize = 2;
/// Restarts spread over the run.
const RESTARTS: usize = 12;
const REQUEST: &[u8] = b"GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n";
const REQUEST_CLOSE: &[u8] = b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// What one attempt got.
enum Outcome {
    /// A complete response with this status; `close` when the server ends the connection.
    Answered { status: u16, close: bool },
    /// Nothing at all came back (closed or reset before the first byte).
    NoAnswer(String),
    /// Something broke mid-response.
    Broken(String),
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Sends `request` and reads one response (by `Content-Length`).
fn exchange(s: &mut TcpStream, request: &[u8]) -> Outcome {
    if let Err(e) = s.write_all(request) {
        return Outcome::NoAnswer(format!("write: {e}"));
    }
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 2048];
    loop {
        match s.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Outcome::NoAnswer("closed".into()),
            Ok(0) => {
                return Outcome::Broken(format!(
                    "closed mid-response: {}",
                    String::from_utf8_lossy(&buf)
                ));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if buf.is_empty() => return Outcome::NoAnswer(format!("read: {e}")),
            Err(e) => return Outcome::Broken(format!("read mid-response: {e}")),
        }
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let Some(len) = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
        else {
            return Outcome::Broken(format!("no content-length: {head}"));
        };
        if buf.len() < end + 4 + len {
            continue;
        }
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let close = head.lines().any(|l| l == "connection: close");
        return Outcome::Answered { status, close };
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    retried: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, outcome: Outcome) {
        match outcome {
            Outcome::Answered { status: 200, .. } => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Answered { status, .. } => self
                .failures
                .lock()
                .unwrap()
                .push(format!("status {status}")),
            Outcome::NoAnswer(e) | Outcome::Broken(e) => {
                self.failures.lock().unwrap().push(e);
            }
        }
    }
}

/// Takes a ticket per request until `TOTAL` were handed out.
fn take(tickets: &AtomicUsize) -> bool {
    tickets
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

fn new_connection_client(addr: SocketAddr, tickets: &AtomicUsize, tally: &Tally) {
    while take(tickets) {
        let outcome = match connect(addr) {
            Ok(mut s) => exchange(&mut s, REQUEST_CLOSE),
            Err(e) => Outcome::NoAnswer(format!("connect: {e}")),
        };
        tally.record(outcome);
    }
}

fn keep_alive_client(addr: SocketAddr, tickets: &AtomicUsize, tally: &Tally) {
    let mut conn: Option<TcpStream> = None;
    while take(tickets) {
        let outcome = match conn.take() {
            // A reused connection may be closed by a server that is stopping: retry once on
            // a new one, but only if nothing of a response came back.
            Some(mut s) => match exchange(&mut s, REQUEST) {
                Outcome::NoAnswer(_) => {
                    tally.retried.fetch_add(1, Ordering::Relaxed);
                    fresh(addr, &mut conn)
                }
                other => keep(other, s, &mut conn),
            },
            None => fresh(addr, &mut conn),
        };
        tally.record(outcome);
    }
}

fn fresh(addr: SocketAddr, conn: &mut Option<TcpStream>) -> Outcome {
    match connect(addr) {
        Ok(mut s) => {
            let outcome = exchange(&mut s, REQUEST);
            keep(outcome, s, conn)
        }
        Err(e) => Outcome::NoAnswer(format!("connect: {e}")),
    }
}

/// Keeps the connection for the next request unless the server said it closes it.
fn keep(outcome: Outcome, s: TcpStream, conn: &mut Option<TcpStream>) -> Outcome {
    if let Outcome::Answered { close: false, .. } = outcome {
        *conn = Some(s);
    }
    outcome
}

fn start(dir: &std::path::Path, notify: &NotifySocket, listener: &std::net::TcpListener) -> Daemon {
    let ready_before = ready_count(notify);
    let daemon = Launch::new(dir)
        .env("NOTIFY_SOCKET", notify.path.to_str().unwrap())
        .env("OPENTRUSTY_LOG", "warn")
        .socket(listener, "auth")
        .spawn();
    assert!(
        crate::common::eventually(Duration::from_secs(30), || ready_count(notify)
            > ready_before),
        "no READY=1; log:\n{}",
        daemon.stderr()
    );
    daemon
}

fn ready_count(notify: &NotifySocket) -> usize {
    notify.lines().iter().filter(|l| *l == "READY=1").count()
}

#[test]
fn restarts_under_load_answer_every_request() {
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let listener = tcp_listener();
    let addr = listener.local_addr().unwrap();
    let mut daemon = start(dir.path(), &notify, &listener);

    let tickets = Arc::new(AtomicUsize::new(TOTAL));
    let tally = Arc::new(Tally::default());
    let done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..NEW_CONNECTION_CLIENTS + KEEP_ALIVE_CLIENTS)
        .map(|i| {
            let (tickets, tally) = (tickets.clone(), tally.clone());
            std::thread::spawn(move || {
                if i < NEW_CONNECTION_CLIENTS {
                    new_connection_client(addr, &tickets, &tally)
                } else {
                    keep_alive_client(addr, &tickets, &tally)
                }
            })
        })
        .collect();
    let watcher = {
        let done = done.clone();
        let tickets = tickets.clone();
        std::thread::spawn(move || {
            while tickets.load(Ordering::Relaxed) > 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            done.store(true, Ordering::Relaxed);
        })
    };

    // `systemctl restart`, again and again, while the clients run: one restart per
    // `TOTAL / RESTARTS` requests handed out, so the count does not depend on the machine's speed.
    let started = Instant::now();
    let mut restarts = 0;
    while !done.load(Ordering::Relaxed) {
        let handed_out = TOTAL - tickets.load(Ordering::Relaxed);
        if handed_out < (restarts + 1) * (TOTAL / RESTARTS) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        daemon.signal(Signal::SIGTERM);
        let code = daemon.wait_exit(Duration::from_secs(30));
        assert_eq!(code, Some(0), "log:\n{}", daemon.stderr());
        daemon = start(dir.path(), &notify, &listener);
        restarts += 1;
    }
    for c in clients {
        c.join().unwrap();
    }
    watcher.join().unwrap();
    let elapsed = started.elapsed();
    daemon.signal(Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), Some(0));

    let failures = tally.failures.lock().unwrap();
    let ok = tally.ok.load(Ordering::Relaxed);
    eprintln!(
        "{TOTAL} requests, {restarts} restarts in {elapsed:?}: {ok} answered 200, {} failed, {} keep-alive retries",
        failures.len(),
        tally.retried.load(Ordering::Relaxed)
    );
    assert!(
        failures.is_empty(),
        "{} of {TOTAL} requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    assert_eq!(ok, TOTAL);
    assert!(
        restarts >= 5,
        "only {restarts} restarts happened under load"
    );
}

#[test]
fn a_connection_accepted_before_sigterm_is_answered_after_it() {
    let dir = tempdir();
    let notify = NotifySocket::new(dir.path());
    let listener = tcp_listener();
    let addr = listener.local_addr().unwrap();
    let mut daemon = start(dir.path(), &notify, &listener);
    // One connection that was served and is idle, one that has not sent anything yet.
    let mut idle = connect(addr).unwrap();
    assert!(matches!(
        exchange(&mut idle, REQUEST),
        Outcome::Answered { status: 200, .. }
    ));
    let mut fresh = connect(addr).unwrap();
    // Give the daemon time to accept it (it cannot be observed from here).
    std::thread::sleep(Duration::from_millis(300));
    daemon.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    // The idle one is closed; the fresh one gets its answer, and is told it is the last.
    let mut buf = [0u8; 64];
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(
        matches!(idle.read(&mut buf), Ok(0) | Err(_)),
        "idle connection not closed"
    );
    match exchange(&mut fresh, REQUEST) {
        Outcome::Answered { status, close } => {
            assert_eq!(status, 200);
            assert!(close, "the last response says Connection: close");
        }
        Outcome::NoAnswer(e) | Outcome::Broken(e) => {
            panic!("accepted before SIGTERM, not answered: {e}")
        }
    }
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}
