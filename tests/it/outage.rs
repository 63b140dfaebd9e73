//! A database outage is a 503 with `Retry-After`, not a 500 (issue 9, defect 10): with the
//! PostgreSQL server stopped, every endpoint that needs the database answers 503 within a few
//! seconds in its own shape (OAuth JSON `temporarily_unavailable`, the HTML page for browsers),
//! and once the server is back they all recover without restarting the daemon.

use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine;

use crate::common::http::{self, Response, Target};
use crate::common::{Launch, eventually, free_port, pg, tempdir};
use crate::oauth_world::KEK;

const CB: &str = "https://rp.example/cb";
/// The pool's acquire timeout is 3 s; this leaves room for a slow machine.
const PROMPT: Duration = Duration::from_secs(10);

fn cli(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let out =
        crate::login_pages::cli_env(db, &[("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)], args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn client(db: &str, grants: &[&str]) -> (String, String) {
    let mut args = vec![
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "RP",
        "--redirect-uri",
        CB,
        "--scope",
        "openid",
        "--scope",
        "api",
        "--json",
    ];
    for g in grants {
        args.extend(["--grant", g]);
    }
    let v: serde_json::Value = serde_json::from_slice(&cli(db, &args, None).stdout).unwrap();
    (
        v["client_id"].as_str().unwrap().to_owned(),
        v["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// The requests under test, each with what a healthy answer looks like.
struct Probe {
    name: &'static str,
    send: Box<dyn Fn() -> Response>,
    html: bool,
    healthy: u16,
}

fn send(
    target: &Target,
    method: &str,
    path: &str,
    headers: &[String],
    form: Option<&str>,
) -> Response {
    http::send(target, method, path, headers, form).unwrap()
}

fn check_unavailable(p: &Probe) {
    let started = Instant::now();
    let res = (p.send)();
    let took = started.elapsed();
    eprintln!("outage: {} answered {} after {took:?}", p.name, res.status);
    assert!(took < PROMPT, "{}: answered after {took:?}", p.name);
    assert_eq!(res.status, 503, "{}: {}", p.name, res.body);
    let retry: u64 = res
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{}: no Retry-After", p.name));
    assert!(retry >= 1, "{}", p.name);
    let content_type = res.header("content-type").unwrap_or_default();
    if p.html {
        assert!(
            content_type.starts_with("text/html"),
            "{}: {content_type}",
            p.name
        );
        assert!(res.body.contains("Temporarily unavailable"), "{}", p.name);
    } else {
        assert!(content_type.starts_with("application/json"), "{}", p.name);
        assert_eq!(res.json()["error"], "temporarily_unavailable", "{}", p.name);
    }
}

#[test]
fn a_database_outage_is_503_and_recovers() {
    let Some(cluster) = pg::Cluster::start("a_database_outage_is_503_and_recovers") else {
        return;
    };
    let db = cluster.url();
    let dir = tempdir();
    let port = free_port();
    let daemon = Launch::new(dir.path())
        .env("OPENTRUSTY_DATABASE_URL", &db)
        .env("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_PUBLIC_URL", &format!("http://127.0.0.1:{port}"))
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1")
        .spawn();
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    assert!(
        eventually(Duration::from_secs(30), || http::get(
            &target,
            "/health/ready"
        )
        .is_ok_and(|r| r.status == 200)),
        "{}",
        daemon.stderr()
    );
    cli(&db, &["tenant", "create", "acme"], None);
    cli(
        &db,
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
        Some("password-acme\n"),
    );
    let (svc, svc_secret) = client(&db, &["client_credentials"]);
    let (rp, _) = client(&db, &["authorization_code"]);
    let basic = format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{svc}:{svc_secret}"))
    );

    // While the database is up: a token for /userinfo, a login form with its CSRF pair.
    let token = eventually(Duration::from_secs(10), || {
        send(
            &target,
            "POST",
            "/t/acme/token",
            std::slice::from_ref(&basic),
            Some("grant_type=client_credentials"),
        )
        .status
            == 200
    });
    assert!(token, "{}", daemon.stderr());
    let issued = send(
        &target,
        "POST",
        "/t/acme/token",
        std::slice::from_ref(&basic),
        Some("grant_type=client_credentials"),
    )
    .json();
    let access = issued["access_token"].as_str().unwrap().to_owned();
    let page = http::get(&target, "/t/acme/login").unwrap();
    let csrf_cookie = page
        .cookies()
        .into_iter()
        .find(|(k, _)| k.ends_with("opentrusty_csrf"))
        .map(|(k, v)| format!("Cookie: {k}={v}"))
        .unwrap();
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();

    let t = target.clone();
    let b = basic.clone();
    let token_probe = Probe {
        name: "POST /token (client_credentials)",
        send: Box::new(move || {
            send(
                &t,
                "POST",
                "/t/acme/token",
                std::slice::from_ref(&b),
                Some("grant_type=client_credentials"),
            )
        }),
        html: false,
        healthy: 200,
    };
    let t = target.clone();
    let bearer = format!("Authorization: Bearer {access}");
    let userinfo_probe = Probe {
        name: "GET /userinfo",
        send: Box::new(move || {
            send(
                &t,
                "GET",
                "/t/acme/userinfo",
                std::slice::from_ref(&bearer),
                None,
            )
        }),
        // A client_credentials token has no user: 403 insufficient_scope once healthy.
        html: false,
        healthy: 403,
    };
    let t = target.clone();
    let b = basic.clone();
    let introspect_probe = Probe {
        name: "POST /introspect",
        send: Box::new(move || {
            send(
                &t,
                "POST",
                "/t/acme/introspect",
                std::slice::from_ref(&b),
                Some("token=abc"),
            )
        }),
        html: false,
        healthy: 200,
    };
    let t = target.clone();
    let authorize = format!(
        "/t/acme/authorize?response_type=code&client_id={rp}&redirect_uri={}&scope=openid&state=s",
        url::form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>()
    );
    let authorize_probe = Probe {
        name: "GET /authorize",
        send: Box::new(move || send(&t, "GET", &authorize, &["Accept: text/html".into()], None)),
        html: true,
        // To the login page.
        healthy: 302,
    };
    let t = target.clone();
    let form = format!("csrf={csrf}&email=alice%40example.com&password=wrong");
    let login_probe = Probe {
        name: "POST /login",
        send: Box::new(move || {
            send(
                &t,
                "POST",
                "/t/acme/login",
                &[csrf_cookie.clone(), "Accept: text/html".into()],
                Some(&form),
            )
        }),
        html: true,
        healthy: 401,
    };
    let t = target.clone();
    let discovery_probe = Probe {
        name: "GET discovery",
        send: Box::new(move || {
            send(
                &t,
                "GET",
                "/t/acme/.well-known/openid-configuration",
                &[],
                None,
            )
        }),
        html: false,
        healthy: 200,
    };
    let t = target.clone();
    let jwks_probe = Probe {
        name: "GET /jwks.json",
        send: Box::new(move || send(&t, "GET", "/t/acme/jwks.json", &[], None)),
        html: false,
        healthy: 200,
    };
    let probes = [
        token_probe,
        userinfo_probe,
        introspect_probe,
        authorize_probe,
        login_probe,
        discovery_probe,
        jwks_probe,
    ];
    for p in &probes {
        assert_eq!((p.send)().status, p.healthy, "{} before the outage", p.name);
    }

    cluster.pg_stop();
    let stopped = Instant::now();
    // Concurrent token requests (their client is still cached, so they all reach group
    // commit): the batch fails fast and so does everything queued behind it, instead of each
    // set being retried alone after another wait for the pool.
    let burst: Vec<_> = (0..16)
        .map(|_| {
            let (t, b) = (target.clone(), basic.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                let res = send(
                    &t,
                    "POST",
                    "/t/acme/token",
                    &[b],
                    Some("grant_type=client_credentials"),
                );
                (res.status, started.elapsed())
            })
        })
        .collect();
    for h in burst {
        let (status, took) = h.join().unwrap();
        assert_eq!(status, 503);
        assert!(
            took < PROMPT,
            "a concurrent token request answered after {took:?}"
        );
    }
    for p in &probes[..5] {
        check_unavailable(p);
    }
    // Discovery and JWKS need the database only for the tenant, cached for 2 s.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(stopped.elapsed()));
    for p in &probes[5..] {
        check_unavailable(p);
    }

    cluster.pg_start();
    for p in &probes {
        assert!(
            eventually(Duration::from_secs(30), || (p.send)().status == p.healthy),
            "{} did not recover; log:\n{}",
            p.name,
            daemon.stderr()
        );
    }
}
