//! The login page under pressure: a saturated hashing pool answers 503 while health stays
//! fast, an in-flight login completes during the drain, oversized forms get 413, attempts are
//! throttled per account and per IP, and a new login replaces the previous session.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::http::{self, Response, Target};
use crate::login_pages::{login_form, post_login, session_cookie, site};

#[test]
fn saturated_hash_pool_answers_503_and_health_stays_fast() {
    // Expensive hashes, one at a time, a short queue deadline.
    let site = site(&[
        ("OPENTRUSTY_ARGON2_MEMORY_KIB", "131072"),
        ("OPENTRUSTY_ARGON2_ITERATIONS", "3"),
        ("OPENTRUSTY_HASH_CONCURRENCY", "1"),
        ("OPENTRUSTY_HASH_QUEUE_TIMEOUT_MS", "100"),
    ]);
    let (cookie, token, _) = login_form(&site, "acme", "");
    let form = format!("csrf={token}&email=alice%40example.com&password=wrong-password");
    let target = site.target.clone();
    let workers: Vec<_> = (0..12)
        .map(|_| {
            let (t, c, f) = (target.clone(), cookie.clone(), form.clone());
            std::thread::spawn(move || {
                http::send(
                    &t,
                    "POST",
                    "/t/acme/login",
                    &[format!("Cookie: {c}")],
                    Some(&f),
                )
                .unwrap()
            })
        })
        .collect();
    let mut worst = Duration::ZERO;
    let until = Instant::now() + Duration::from_millis(800);
    while Instant::now() < until {
        let start = Instant::now();
        assert_eq!(http::get(&target, "/health/live").unwrap().status, 200);
        worst = worst.max(start.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    let results: Vec<Response> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let busy: Vec<&Response> = results.iter().filter(|r| r.status == 503).collect();
    assert!(
        !busy.is_empty(),
        "statuses: {:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(busy.iter().all(|r| {
        r.header("retry-after")
            .is_some_and(|v| v.parse::<u64>().is_ok())
    }));
    assert!(
        results.iter().all(|r| r.status == 503 || r.status == 401),
        "only busy or wrong-password answers"
    );
    // Generous bound: hashing runs off the async workers, so liveness is not queued behind it.
    assert!(
        worst < Duration::from_millis(500),
        "health/live took {worst:?} while hashing was saturated"
    );
}

#[test]
fn in_flight_login_completes_during_the_drain() {
    let mut site = site(&[]);
    let (cookie, token, _) = login_form(&site, "acme", "");
    let body = format!("csrf={token}&email=alice%40example.com&password=password-acme");
    let Target::Tcp(addr) = site.target.clone() else {
        unreachable!()
    };
    // Send the headers and half the body, then SIGTERM, then the rest.
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    let head = format!(
        "POST /t/acme/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    site.daemon.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).unwrap();
    let res = http::parse(&buf).unwrap();
    assert_eq!(
        res.status, 303,
        "the in-flight login finished: {}",
        res.body
    );
    assert_eq!(site.daemon.wait_exit(Duration::from_secs(15)), Some(0));
    // New connections are refused after the drain began.
    assert!(http::get(&site.target, "/health/live").is_err());
}

#[test]
fn oversized_forms_get_413() {
    let site = site(&[]);
    let (cookie, token, _) = login_form(&site, "acme", "");
    let huge = format!("csrf={token}&email={}", "a".repeat(100 * 1024));
    assert_eq!(post_login(&site, "acme", &cookie, &huge).status, 413);
}

#[test]
fn login_attempts_are_throttled_per_account_and_per_ip() {
    let site = site(&[
        ("OPENTRUSTY_LOGIN_RATE_PER_ACCOUNT", "3"),
        ("OPENTRUSTY_LOGIN_RATE_PER_IP", "5"),
    ]);
    let (cookie, token, _) = login_form(&site, "acme", "");
    let attempt = |email: &str| {
        post_login(
            &site,
            "acme",
            &cookie,
            &format!("csrf={token}&email={email}&password=wrong-password"),
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt("alice%40example.com").status, 401);
    }
    let limited = attempt("alice%40example.com");
    assert_eq!(limited.status, 429);
    assert!(
        limited
            .header("retry-after")
            .is_some_and(|v| v.parse::<u64>().unwrap() >= 1)
    );
    // Another account from the same IP still has room, until the per-IP budget (5) is spent.
    assert_eq!(attempt("bob%40example.com").status, 401);
    assert_eq!(attempt("carol%40example.com").status, 429, "per-IP limit");
}

#[test]
fn a_new_login_replaces_the_previous_session() {
    let site = site(&[]);
    let login = |cookie: &str| {
        let (csrf, token, _) = login_form(&site, "acme", "");
        let c = if cookie.is_empty() {
            csrf
        } else {
            format!("{csrf}; {cookie}")
        };
        let res = post_login(
            &site,
            "acme",
            &c,
            &format!("csrf={token}&email=alice%40example.com&password=password-acme"),
        );
        session_cookie(&res).expect("session")
    };
    let first = login("");
    let second = login(&first);
    assert_ne!(first, second, "a new id on every login");
    let signed_in = |cookie: &str| {
        http::send(
            &site.target,
            "GET",
            "/t/acme/login",
            &[format!("Cookie: {cookie}")],
            None,
        )
        .unwrap()
        .body
        .contains("signed in as")
    };
    assert!(signed_in(&second));
    assert!(!signed_in(&first), "the replaced session no longer works");
}
