//! `make bench-mfa-login` (issue 12): login throughput with password + TOTP through the real
//! pages of the real binary, next to password-only logins and the raw Argon2id rate of the same
//! machine in the same run. The goal: password + TOTP ≥ 90 % of the raw Argon2id rate.
//!
//! A TOTP code is accepted once (the last used time step is stored), so every measured
//! password + TOTP login is a different user: the bench creates enough users, enrols an
//! authenticator app for each through the account page (the code computed from the secret
//! the page shows), then signs each in once: login form (Argon2id), which redirects to the
//! second-factor page → code → redirect. Each worker keeps one HTTP client (connections
//! reused, as a browser's); each sign-in has its own cookies.
//!
//! Usage: cargo run --release --example mfa-login-bench -- BINARY [SECONDS] [CLIENTS]

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentrusty::protocol::totp;
use tokio::sync::Mutex;

#[path = "common.rs"]
mod common;

const PASSWORD: &str = "bench password 1";

/// The value of the input named `name` in `body`, entities decoded.
fn field(body: &str, name: &str) -> Option<String> {
    let v = body
        .split(&format!("name=\"{name}\" value=\""))
        .nth(1)?
        .split('"')
        .next()?;
    Some(
        [
            ("&#38;", "&"),
            ("&#x2f;", "/"),
            ("&#34;", "\""),
            ("&#39;", "'"),
            ("&quot;", "\""),
            ("&lt;", "<"),
            ("&gt;", ">"),
            ("&amp;", "&"),
        ]
        .iter()
        .fold(v.to_owned(), |acc, (from, to)| acc.replace(from, to)),
    )
}

/// RFC 4648 base32 (no padding) back to bytes.
fn unbase32(s: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client for one worker: its connections are reused from sign-in to sign-in. (Building a
/// client loads the TLS roots; one per sign-in costs the bench more CPU than the server spends
/// on a login outside Argon2id, on the same cores.) Cookies are each sign-in's own: [`Visit`].
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One sign-in as a fresh browser makes it: the worker's client with a cookie jar of its own.
struct Visit<'a> {
    http: &'a reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl<'a> Visit<'a> {
    fn new(http: &'a reqwest::Client) -> Self {
        Visit {
            http,
            cookies: Vec::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Option<reqwest::Response> {
        let req = if self.cookies.is_empty() {
            req
        } else {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req.header(reqwest::header::COOKIE, jar.join("; "))
        };
        let res = req.send().await.ok()?;
        for set in res.headers().get_all(reqwest::header::SET_COOKIE) {
            let Some((name, rest)) = set.to_str().ok().and_then(|s| s.split_once('=')) else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default();
            let gone = value.is_empty() || rest.to_ascii_lowercase().contains("max-age=0");
            self.cookies.retain(|(k, _)| k != name);
            if !gone {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Some(res)
    }

    async fn get(&mut self, url: &str) -> Option<reqwest::Response> {
        let req = self.http.get(url);
        self.send(req).await
    }

    async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Option<reqwest::Response> {
        let req = self.http.post(url).form(form);
        self.send(req).await
    }

    /// A page's body.
    async fn page(&mut self, url: &str) -> Option<String> {
        self.get(url).await?.text().await.ok()
    }
}

/// The `Location` of a redirect, made absolute.
fn location(base: &str, res: &reqwest::Response) -> Option<String> {
    let to = res.headers().get("location")?.to_str().ok()?;
    Some(if to.starts_with("http") {
        to.to_owned()
    } else {
        format!("{base}{to}")
    })
}

/// Signs `email` in with the password; returns where the login sends the browser next.
async fn password_step(v: &mut Visit<'_>, base: &str, email: &str) -> Option<String> {
    let page = v.page(&format!("{base}/t/bench/login")).await?;
    let csrf = field(&page, "csrf")?;
    let form = [
        ("csrf", csrf.as_str()),
        ("email", email),
        ("password", PASSWORD),
    ];
    let res = v.post(&format!("{base}/t/bench/login"), &form).await?;
    if res.status() != 303 {
        return None;
    }
    location(base, &res)
}

/// Enrols an authenticator app for a freshly signed-in user; returns its secret.
async fn enrol(http: &reqwest::Client, base: &str, email: &str) -> Vec<u8> {
    let mut v = Visit::new(http);
    password_step(&mut v, base, email).await.expect("sign in");
    let page = v
        .page(&format!("{base}/t/bench/account/totp"))
        .await
        .expect("the enrolment page");
    let secret = page
        .split("<code id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .map(unbase32)
        .expect("the secret on the enrolment page");
    let code = totp::code(&secret, totp::step(unix_now()));
    let res = v
        .post(
            &format!("{base}/t/bench/account/totp"),
            &[
                ("csrf", field(&page, "csrf").unwrap().as_str()),
                ("factor", field(&page, "factor").unwrap().as_str()),
                ("name", "Bench"),
                ("code", code.as_str()),
            ],
        )
        .await
        .expect("the enrolment answer");
    assert!(
        res.status().is_redirection() || res.status().is_success(),
        "enrolment answered {}",
        res.status()
    );
    secret
}

/// One password + TOTP login of a user whose app is enrolled, the way a browser meets it: the
/// password, which sends the browser on to the second-factor page, and the code, which
/// completes the sign-in. True when it ends signed in.
async fn mfa_login(http: &reqwest::Client, base: &str, email: &str, secret: &[u8]) -> bool {
    let mut v = Visit::new(http);
    let Some(factor_url) = password_step(&mut v, base, email)
        .await
        .filter(|to| to.contains("/login/factor"))
    else {
        return false;
    };
    let Some(page) = v.page(&factor_url).await else {
        return false;
    };
    let (Some(csrf), Some(return_to)) = (field(&page, "csrf"), field(&page, "return_to")) else {
        return false;
    };
    // The next step's code: accepted (±1 step) and later than the step the enrolment used.
    let code = totp::code(secret, totp::step(unix_now()) + 1);
    let action = factor_url.split('?').next().unwrap_or(&factor_url);
    let form = [
        ("csrf", csrf.as_str()),
        ("return_to", return_to.as_str()),
        ("code", code.as_str()),
    ];
    v.post(action, &form)
        .await
        .is_some_and(|r| r.status() == 303)
}

/// Runs `clients` workers for `secs`; each calls `one` until time is up. Returns (ok, other,
/// elapsed seconds, server CPU ticks).
async fn load<F, Fut>(pid: u32, clients: usize, secs: f64, one: F) -> (u64, u64, f64, u64)
where
    F: Fn(reqwest::Client) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<bool>> + Send,
{
    let one = Arc::new(one);
    let (ok, other) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let cpu_before = common::cpu_ticks(pid);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (one, ok, other) = (one.clone(), ok.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            while Instant::now() < deadline {
                match one(http.clone()).await {
                    Some(true) => ok.fetch_add(1, Ordering::Relaxed),
                    Some(false) => other.fetch_add(1, Ordering::Relaxed),
                    None => break,
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (
        ok.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
        common::cpu_ticks(pid) - cpu_before,
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/x86_64-unknown-linux-musl/release/opentrusty".into());
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let clients: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(8);
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/bench.db", dir.path().display());

    let raw = common::raw_argon2_rate(&bin, cpus, secs.clamp(2.0, 5.0) as u64);
    println!("limit: raw Argon2id (daemon defaults) on {cpus} threads: {raw:.1} hashes/s");
    // Every measured MFA login spends one user; leave a margin over the raw rate.
    let users = ((raw * secs * 1.3) as usize).max(50);

    common::cli(&bin, &db, &["tenant", "create", "bench"], None);
    let emails: Vec<String> = (0..users).map(|i| format!("u{i}@example.com")).collect();
    let setup = Instant::now();
    for email in emails
        .iter()
        .chain(std::iter::once(&"plain@example.com".to_owned()))
    {
        common::cli(
            &bin,
            &db,
            &[
                "user",
                "create",
                "--tenant",
                "bench",
                "--email",
                email,
                "--password-file",
                "-",
            ],
            Some(PASSWORD),
        );
    }
    let port = common::free_port();
    let (mut daemon, _) = common::serve(&bin, &db, dir.path(), port);
    let pid = daemon.id();
    let base = format!("http://127.0.0.1:{port}");

    // Enrol an authenticator app for every MFA user, `clients` at a time.
    let queue = Arc::new(Mutex::new(emails.into_iter().collect::<VecDeque<_>>()));
    let enrolled = Arc::new(Mutex::new(VecDeque::new()));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (queue, enrolled, base) = (queue.clone(), enrolled.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let http = client();
            loop {
                let Some(email) = queue.lock().await.pop_front() else {
                    break;
                };
                let secret = enrol(&http, &base, &email).await;
                enrolled.lock().await.push_back((email, secret));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "setup: {users} users with an authenticator app in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let report = |label: &str, (ok, other, elapsed, cpu): (u64, u64, f64, u64)| {
        let rate = ok as f64 / elapsed;
        println!(
            "{label}: {ok} in {elapsed:.1} s = {rate:.1}/s with {clients} clients ({other} failed); \
             {:.0}% of the raw Argon2id rate; server CPU {:.2} ms per login",
            100.0 * rate / raw,
            cpu as f64 * 10.0 / ok.max(1) as f64
        );
        rate
    };

    let b = base.clone();
    let plain = load(pid, clients, secs, move |http| {
        let b = b.clone();
        async move {
            let mut v = Visit::new(&http);
            Some(
                password_step(&mut v, &b, "plain@example.com")
                    .await
                    .is_some(),
            )
        }
    })
    .await;
    let plain_rate = report("password only   ", plain);

    let b = base.clone();
    let mfa = load(pid, clients, secs, move |http| {
        let (b, enrolled) = (b.clone(), enrolled.clone());
        async move {
            let (email, secret) = enrolled.lock().await.pop_front()?;
            Some(mfa_login(&http, &b, &email, &secret).await)
        }
    })
    .await;
    let mfa_rate = report("password + TOTP ", mfa);
    println!(
        "password + TOTP / password only: {:.0}%",
        100.0 * mfa_rate / plain_rate.max(f64::MIN_POSITIVE)
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}
