//! Forgot password without enumeration (issue 13), over real HTTP on both backends: a known
//! and an unknown address get the same status and the same bytes, and take the same time
//! (medians of 20 interleaved tries within 20 %); throttles per address (a few links an hour)
//! and per client IP answer a neutral 429 with `Retry-After`, the same for known and unknown
//! addresses.

use std::time::{Duration, Instant};

use crate::common::http::Response;
use crate::password_reset_fixture::{PW, Served, forgot, mail_on, serve};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn same_answer_same_time(s: Served) {
    // A known address each time (an address gets only a few links an hour), interleaved with
    // unknown ones.
    for i in 0..21 {
        s.user(&s.acme, &format!("known{i}@example.com"), Some(PW));
    }
    let mut b = s.browser();
    // Warm up both paths (connections, templates, the first statements).
    forgot(&mut b, "acme", "known20@example.com");
    forgot(&mut b, "acme", "nobody@example.com");
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    let mut answers: Vec<Response> = Vec::new();
    for i in 0..40 {
        // Interleaved, so that any drift of the machine's load hits both alike.
        let email = if i % 2 == 0 {
            format!("known{}@example.com", i / 2)
        } else {
            format!("nobody{}@example.com", i / 2)
        };
        let email = email.as_str();
        let page = b.get("/t/acme/password/forgot");
        let form = format!(
            "csrf={}&email={}",
            crate::console::browser::field(&page.body, "csrf").unwrap(),
            crate::login_pages::urlencode(email)
        );
        let started = Instant::now();
        let res = b.request("POST", "/t/acme/password/forgot", Some(&form));
        let took = started.elapsed();
        if i % 2 == 0 {
            known.push(took);
        } else {
            unknown.push(took);
        }
        answers.push(res);
    }
    let first = &answers[0];
    assert_eq!(first.status, 200, "{}", first.body);
    for a in &answers {
        assert_eq!((a.status, &a.body), (first.status, &first.body));
    }
    assert_eq!(
        s.outbox().len(),
        21,
        "one mail per request for a known address"
    );
    let (k, u) = (median(known), median(unknown));
    let (hi, lo) = (k.max(u), k.min(u));
    eprintln!("forgot-password medians: known {k:?}, unknown {u:?}");
    assert!(
        (hi - lo).as_secs_f64() <= 0.2 * hi.as_secs_f64(),
        "known {k:?} vs unknown {u:?}"
    );
    assert!(
        lo >= opentrusty::service::reset::ANSWER_FLOOR,
        "padded to the floor"
    );
}

#[test]
fn enumeration_sqlite() {
    let dir = crate::common::tempdir();
    same_answer_same_time(serve("sqlite", "reset_timing", &mail_on(dir.path())).unwrap());
}

#[test]
fn enumeration_postgres() {
    let dir = crate::common::tempdir();
    if let Some(s) = serve("postgres", "reset_timing", &mail_on(dir.path())) {
        same_answer_same_time(s);
    }
}

fn limited(res: &Response) -> bool {
    res.status == 429
        && res.header("retry-after").is_some()
        && res.body.contains("Too many requests")
}

fn throttles(backend: &str) {
    let dir = crate::common::tempdir();
    // Five requests an hour per address, whether it is known or not (the IP's own budget is
    // far above that here).
    let per_address = opentrusty::service::reset::REQUESTS_PER_ADDRESS_PER_HOUR as usize;
    let Some(s) = serve(backend, "reset_throttle_address", &mail_on(dir.path())) else {
        return;
    };
    s.user(&s.acme, "alice@example.com", Some(PW));
    let mut b = s.browser();
    for email in ["alice@example.com", "nobody@example.com"] {
        for _ in 0..per_address {
            assert_eq!(forgot(&mut b, "acme", email).status, 200);
        }
        let res = forgot(&mut b, "acme", email);
        assert!(limited(&res), "{email}: {} {}", res.status, res.body);
        assert!(!res.body.contains(email), "the page names no address");
    }
    assert_eq!(
        s.outbox().len(),
        per_address,
        "the throttled request sent nothing"
    );
    // Another address, and the same address in another tenant, have buckets of their own.
    assert_eq!(forgot(&mut b, "acme", "carol@example.com").status, 200);
    assert_eq!(forgot(&mut b, "beta", "alice@example.com").status, 200);

    // Three requests a minute per client IP, whatever the address.
    let mut vars = mail_on(dir.path());
    vars.push(("OPENTRUSTY_LOGIN_RATE_PER_IP".into(), "3".into()));
    let Some(s) = serve(backend, "reset_throttle_ip", &vars) else {
        return;
    };
    let mut b = s.browser();
    for i in 0..3 {
        let res = forgot(&mut b, "acme", &format!("user{i}@example.com"));
        assert_eq!(res.status, 200, "{}", res.body);
    }
    let res = forgot(&mut b, "acme", "user9@example.com");
    assert!(limited(&res), "{} {}", res.status, res.body);
    // Sign-in has its own bucket: asking for links does not lock the IP out of the login page.
    let page = b.get("/t/acme/login");
    let form = format!(
        "csrf={}&email=x%40example.com&password=wrong-password",
        crate::console::browser::field(&page.body, "csrf").unwrap()
    );
    assert_eq!(b.request("POST", "/t/acme/login", Some(&form)).status, 401);
}

#[test]
fn throttle_sqlite() {
    throttles("sqlite");
}

#[test]
fn throttle_postgres() {
    throttles("postgres");
}
