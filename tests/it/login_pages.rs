//! The login pages over real HTTP: CSRF, return_to allow-list, equal answers, cookies and
//! headers; and the fixtures other suites share (a site with two tenants, operator commands).
//! The pages under pressure are in `login_limits`.

use std::process::{Command, Output};
use std::time::Duration;

use crate::common::http::{self, Response, Target};
use crate::common::{BIN, Daemon, Launch, eventually, free_port, tempdir};

pub struct Site {
    pub _dir: tempfile::TempDir,
    pub daemon: Daemon,
    pub target: Target,
    pub db: String,
}

pub fn cli(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    cli_env(db, &[], args, stdin)
}

/// An operator command on `db` with only `env` (and cheap Argon2id) in its environment.
pub fn cli_env(db: &str, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("OPENTRUSTY_DATABASE_URL", db)
        // The tests run as root in CI; operator commands refuse root like the daemon.
        .env("OPENTRUSTY_ALLOW_ROOT", "true")
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// A daemon with tenants `acme` and `beta`, each with alice@example.com (password "password-<slug>").
pub fn site(extra: &[(&str, &str)]) -> Site {
    let dir = tempdir();
    let db = format!("sqlite://{}/opentrusty.db", dir.path().display());
    for slug in ["acme", "beta"] {
        let out = cli(
            &db,
            &[
                "tenant",
                "create",
                slug,
                "--name",
                &format!("{} Corp", slug.to_uppercase()),
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pw = format!("password-{slug}\n");
        let out = cli(
            &db,
            &[
                "user",
                "create",
                "--tenant",
                slug,
                "--email",
                "alice@example.com",
                "--password-file",
                "-",
            ],
            Some(&pw),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let port = free_port();
    let mut launch = Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_PUBLIC_URL", &format!("http://127.0.0.1:{port}"))
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1");
    for (k, v) in extra {
        launch = launch.env(k, v);
    }
    let daemon = launch.spawn();
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    assert!(
        eventually(Duration::from_secs(20), || http::get(
            &target,
            "/health/ready"
        )
        .is_ok_and(|r| r.status == 200)),
        "{}",
        daemon.stderr()
    );
    Site {
        _dir: dir,
        daemon,
        target,
        db,
    }
}

/// GET the login page; returns the CSRF cookie header and the form token.
pub fn login_form(site: &Site, slug: &str, query: &str) -> (String, String, Response) {
    let res = http::get(&site.target, &format!("/t/{slug}/login{query}")).unwrap();
    let cookie = res
        .cookies()
        .into_iter()
        .find(|(k, _)| k == "opentrusty_csrf")
        .map(|(k, v)| format!("{k}={v}"))
        .unwrap_or_default();
    let token = res
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned();
    (cookie, token, res)
}

pub fn post_login(site: &Site, slug: &str, cookie: &str, form: &str) -> Response {
    http::send(
        &site.target,
        "POST",
        &format!("/t/{slug}/login"),
        &[format!("Cookie: {cookie}")],
        Some(form),
    )
    .unwrap()
}

/// The session cookie a response sets (for whichever tenant), as `name=value`.
pub fn session_cookie(res: &Response) -> Option<String> {
    res.cookies()
        .into_iter()
        .find(|(k, v)| k.starts_with("opentrusty_session_") && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
}

#[test]
fn page_is_accessible_and_secure() {
    let site = site(&[]);
    let (cookie, token, res) = login_form(&site, "acme", "?login_hint=alice%40example.com");
    assert_eq!(res.status, 200);
    assert!(
        res.body.contains("ACME Corp"),
        "shows the tenant's display name"
    );
    for needle in [
        "<label for=\"email\">",
        "autocomplete=\"username\"",
        "autocomplete=\"current-password\"",
        "value=\"alice@example.com\"",
        "lang=\"en\"",
    ] {
        assert!(res.body.contains(needle), "missing {needle}");
    }
    assert!(!res.body.contains("<script"), "no JavaScript");
    let csp = res.header("content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert!(cookie.starts_with("opentrusty_csrf=") && token.len() == 64);
    let set = res.set_cookies.join("\n");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let css = http::get(&site.target, "/assets/opentrusty.css").unwrap();
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[test]
fn login_sets_a_session_and_returns_to_authorize() {
    let site = site(&[]);
    let return_to = "/t/acme/authorize?client_id=app&state=xyz";
    let (cookie, token, _) = login_form(
        &site,
        "acme",
        &format!("?return_to={}", urlencode(return_to)),
    );
    let form = format!(
        "csrf={token}&email=Alice%40Example.com&password=password-acme&return_to={}",
        urlencode(return_to)
    );
    let res = post_login(&site, "acme", &cookie, &form);
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some(return_to));
    let session = session_cookie(&res).expect("session cookie");
    assert!(
        res.set_cookies
            .iter()
            .any(|c| c.starts_with("opentrusty_session_acme=")
                && c.contains("HttpOnly")
                && c.contains("SameSite=Lax")
                && c.contains("Path=/"))
    );
    // The session is recognised by its own tenant only.
    let page = http::send(
        &site.target,
        "GET",
        "/t/acme/login",
        &[format!("Cookie: {session}")],
        None,
    )
    .unwrap();
    assert!(
        page.body
            .contains("signed in as <strong>alice@example.com</strong>"),
        "{}",
        page.body
    );
    let other = http::send(
        &site.target,
        "GET",
        "/t/beta/login",
        &[format!("Cookie: {session}")],
        None,
    )
    .unwrap();
    assert!(
        !other.body.contains("signed in as"),
        "tenant B must not accept tenant A's session"
    );
    // Logout ends it.
    let (csrf_cookie, token, _) = login_form(&site, "acme", "");
    let res = http::send(
        &site.target,
        "POST",
        "/t/acme/logout",
        &[format!("Cookie: {session}; {csrf_cookie}")],
        Some(&format!("csrf={token}")),
    )
    .unwrap();
    assert_eq!(res.status, 200);
    assert!(res.body.contains("signed out"));
    let page = http::send(
        &site.target,
        "GET",
        "/t/acme/login",
        &[format!("Cookie: {session}")],
        None,
    )
    .unwrap();
    assert!(!page.body.contains("signed in as"));
}

#[test]
fn unknown_user_and_wrong_password_look_the_same() {
    let site = site(&[]);
    let (cookie, token, _) = login_form(&site, "acme", "");
    let wrong = post_login(
        &site,
        "acme",
        &cookie,
        &format!("csrf={token}&email=alice%40example.com&password=not-her-password"),
    );
    let unknown = post_login(
        &site,
        "acme",
        &cookie,
        &format!("csrf={token}&email=alice%40example.com&password=not-her-password")
            .replace("alice", "nobody"),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, wrong.status);
    let normalise = |r: &Response| {
        r.body
            .replace("nobody@example.com", "alice@example.com")
            .lines()
            .filter(|l| !l.contains("Reference:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(normalise(&wrong), normalise(&unknown));
    assert!(
        wrong
            .body
            .contains("The email address or password is incorrect.")
    );
    assert!(session_cookie(&wrong).is_none() && session_cookie(&unknown).is_none());
}

#[test]
fn csrf_and_return_to_are_enforced() {
    let site = site(&[]);
    let (cookie, token, _) = login_form(&site, "acme", "");
    let good = "email=alice%40example.com&password=password-acme";
    // No token, a wrong token, a token without its cookie, a token from another tenant.
    let (beta_cookie, beta_token, _) = login_form(&site, "beta", "");
    for (c, body) in [
        (cookie.as_str(), good.to_string()),
        (cookie.as_str(), format!("csrf={}&{good}", "0".repeat(64))),
        ("", format!("csrf={token}&{good}")),
        (beta_cookie.as_str(), format!("csrf={beta_token}&{good}")),
    ] {
        let res = post_login(&site, "acme", c, &body);
        assert_eq!(res.status, 403, "{body}");
        assert!(
            session_cookie(&res).is_none(),
            "no session without a valid CSRF token"
        );
    }
    for evil in [
        "https://evil.example/",
        "//evil.example/t/acme/authorize",
        "/t/beta/authorize?x=1",
        "/t/acme/logout",
    ] {
        let res = http::get(
            &site.target,
            &format!("/t/acme/login?return_to={}", urlencode(evil)),
        )
        .unwrap();
        assert_eq!(res.status, 400, "{evil}");
        let res = post_login(
            &site,
            "acme",
            &cookie,
            &format!("csrf={token}&{good}&return_to={}", urlencode(evil)),
        );
        assert_eq!(res.status, 400, "{evil}");
        assert!(res.header("location").is_none() && session_cookie(&res).is_none());
    }
    // Garbage bodies are client errors.
    let res = http::send(
        &site.target,
        "POST",
        "/t/acme/login",
        &["Content-Type: application/json".into()],
        Some("{}"),
    )
    .unwrap();
    assert_eq!(res.status, 400);
    assert_eq!(
        http::get(&site.target, "/t/nope/login").unwrap().status,
        404
    );
}

#[test]
fn disabled_tenants_disappear() {
    let site = site(&[]);
    let page = || {
        http::send(
            &site.target,
            "GET",
            "/t/beta/login",
            &["Accept: text/html".into()],
            None,
        )
        .unwrap()
    };
    assert_eq!(page().status, 200);
    let out = cli(&site.db, &["tenant", "disable", "beta"], None);
    assert!(out.status.success());
    // Another process changed it: the daemon's tenant cache notices within its TTL (2 s).
    assert!(eventually(Duration::from_secs(5), || page().status == 404));
    assert!(page().body.contains("There is no such tenant"));
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
