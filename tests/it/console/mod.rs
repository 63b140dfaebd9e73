//! The admin console (issue 11) over real HTTP: signing in through `/authorize` and the real
//! login page, tenant isolation, refusal without a role, sign-out (CSRF, console session and
//! OP session), where the console is served; and its built-in client (`builtin`).

mod audit;
pub(crate) mod browser;
mod builtin;
mod chromium;
mod clients;
mod dashboard;
mod first_run;
mod keys_tokens;
mod pages_postgres;
mod postgres;
mod recent;
mod tenants;
mod users;

use std::time::Duration;

use crate::common::http;
use crate::common::{eventually, free_port};
use crate::login_pages::{Site, cli, site};
use browser::{Browser, field};

const ROOT_PW: &str = "root-password-1234";

fn ok(out: std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The site of `login_pages` (acme and beta, alice in each) plus a platform owner, alice as
/// acme's owner and bob, who holds no role in acme.
fn console_site(extra: &[(&str, &str)]) -> Site {
    let s = site(extra);
    let pw = format!("{ROOT_PW}\n");
    ok(cli(
        &s.db,
        &[
            "bootstrap",
            "--email",
            "root@example.com",
            "--password-file",
            "-",
        ],
        Some(&pw),
    ));
    ok(cli(
        &s.db,
        &[
            "user",
            "role",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--role",
            "owner",
        ],
        None,
    ));
    ok(cli(
        &s.db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--password-file",
            "-",
        ],
        Some("password-bob\n"),
    ));
    s
}

fn port_of(s: &Site) -> u16 {
    match &s.target {
        http::Target::Tcp(a) => a.port(),
        http::Target::Unix(_) => unreachable!("the site listens on TCP"),
    }
}

#[test]
fn platform_and_tenant_owners_sign_in_and_stay_in_their_scope() {
    let s = console_site(&[]);
    let port = port_of(&s);
    // First run: the daemon started before bootstrap and said how to make the first user.
    assert!(
        s.daemon.stderr().contains("opentrusty bootstrap"),
        "{}",
        s.daemon.stderr()
    );

    // The platform owner signs in at /console/ and sees the platform dashboard.
    let mut root = Browser::new(&[port]);
    let page = root.sign_in("/console/", "root@example.com", ROOT_PW);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Dashboard</h1>"), "{}", page.body);
    assert!(page.body.contains("owner (platform)"), "{}", page.body);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let cookie = root
        .cookies
        .keys()
        .find(|k| k.contains("opentrusty_console") && !k.contains("login"))
        .cloned();
    assert_eq!(
        cookie.as_deref(),
        Some("opentrusty_console"),
        "{:?}",
        root.cookies
    );
    // ... and reaches every tenant from there: acme has alice and bob, no registered client
    // (the built-in one is not counted).
    let (acme, _) = root.open("/console/t/acme/");
    assert_eq!(acme.status, 200, "{}", acme.body);
    assert!(acme.body.contains("ACME Corp"));
    assert!(acme.body.contains("id=\"count-users\">2<"), "{}", acme.body);
    assert!(
        acme.body.contains("id=\"count-clients\">0<"),
        "{}",
        acme.body
    );
    // The users page: search by the start of the email, a page at a time.
    let (users, _) = root.open("/console/t/acme/users");
    assert_eq!(users.status, 200, "{}", users.body);
    assert!(users.body.contains(">alice@example.com<") && users.body.contains(">bob@example.com<"));
    assert!(users.body.contains(">owner<"), "{}", users.body);
    let (bo, _) = root.open("/console/t/acme/users?email=BO");
    assert!(bo.body.contains(">bob@example.com<") && !bo.body.contains(">alice@example.com<"));
    let (first, _) = root.open("/console/t/acme/users?limit=1");
    assert_eq!(
        first.body.matches("class=\"user-email\"").count(),
        1,
        "{}",
        first.body
    );
    let next = first
        .body
        .split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a next page link")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let (second, _) = root.open(&format!("/console/t/acme/users{next}"));
    assert_eq!(
        second.body.matches("class=\"user-email\"").count(),
        1,
        "{}",
        second.body
    );
    assert!(
        !second.body.contains("id=\"next-page\""),
        "{next}: {}",
        second.body
    );
    assert_ne!(first.body, second.body);
    let (bad, _) = root.open("/console/t/acme/users?limit=0");
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("limit must be from 1 to 500"),
        "{}",
        bad.body
    );
    let (who, _) = root.open("/console/t/platform/whoami");
    assert!(
        who.body.contains("id=\"whoami-role\">owner<"),
        "{}",
        who.body
    );
    assert!(who.body.contains("tenants:manage"), "{}", who.body);

    // A tenant owner signs in at /console/t/acme/.
    let mut alice = Browser::new(&[port]);
    let page = alice.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("alice@example.com"));
    assert!(page.body.contains(">owner<"), "{}", page.body);
    // Her sign-in is on the dashboard's newest events.
    assert!(page.body.contains("login.succeeded"), "{}", page.body);
    // Her console session on beta's pages: the not-found page (not a sign-in, not a 403).
    let (beta, _) = alice.open("/console/t/beta/");
    assert_eq!(beta.status, 404, "{}", beta.body);
    assert!(beta.body.contains("Not found"));
    let (beta, _) = alice.open("/console/t/beta/whoami");
    assert_eq!(beta.status, 404);
    // Nor the platform's.
    assert_eq!(alice.open("/console/t/platform/").0.status, 404);
}

#[test]
fn a_user_without_a_role_is_refused_with_a_page() {
    let s = console_site(&[]);
    let mut bob = Browser::new(&[port_of(&s)]);
    let page = bob.sign_in("/console/t/acme/", "bob@example.com", "password-bob");
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains("No access to the console"),
        "{}",
        page.body
    );
    assert!(!bob.cookies.contains_key("opentrusty_console"));

    // Given the viewer role, bob signs in and sees the dashboard without a write button
    // (the only button is "Sign out").
    ok(cli(
        &s.db,
        &[
            "user",
            "role",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--role",
            "viewer",
        ],
        None,
    ));
    // (His login session at acme is still there: no password asked this time.)
    let (page, _) = bob.open("/console/t/acme/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(">viewer<"), "{}", page.body);
    assert_eq!(page.body.matches("<button").count(), 1, "{}", page.body);
    assert!(page.body.contains(">Sign out</button>"));
    // A removed role ends console access at the next request: a new sign-in starts.
    ok(cli(
        &s.db,
        &[
            "user",
            "role",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--role",
            "none",
        ],
        None,
    ));
    let res = bob.get("/console/t/acme/");
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(
        res.header("location")
            .unwrap()
            .contains("/t/acme/authorize?")
    );
}

#[test]
fn sign_out_needs_csrf_and_ends_the_console_and_op_sessions() {
    let s = console_site(&[]);
    let port = port_of(&s);
    let mut alice = Browser::new(&[port]);
    let page = alice.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = field(&page.body, "csrf").expect("sign-out form token");
    let console_cookie = alice.cookies["opentrusty_console"].clone();

    // Without the CSRF token (or with a wrong one) nothing ends.
    let res = alice.request("POST", "/console/t/acme/signout", Some(""));
    assert_eq!(res.status, 403, "{}", res.body);
    let res = alice.request("POST", "/console/t/acme/signout", Some("csrf=forged"));
    assert_eq!(res.status, 403);
    assert_eq!(alice.open("/console/t/acme/").0.status, 200);

    // With it: the console session ends, then the OP's (RP-initiated logout) ...
    let res = alice.request(
        "POST",
        "/console/t/acme/signout",
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let to = res.header("location").unwrap().to_owned();
    assert!(to.contains("/t/acme/logout?id_token_hint="), "{to}");
    let (done, at) = alice.follow(res, "/console/t/acme/signout".into());
    assert_eq!(done.status, 200, "{at}: {}", done.body);
    assert!(at.contains("/console/t/acme/signed-out"), "{at}");
    assert!(done.body.contains("Signed out"));
    // The console revoked its access token on the way out (RFC 7009).
    let audit = cli(&s.db, &["audit", "--tenant", "acme", "--json"], None);
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.contains("\"oauth.token_revoked\""), "{audit}");
    assert!(audit.contains("\"event_type\":\"logout\""), "{audit}");
    // ... the old console cookie no longer opens anything (a new sign-in starts) ...
    let stale = http::send(
        &crate::common::http::Target::tcp(([127, 0, 0, 1], port).into()),
        "GET",
        "/console/t/acme/",
        &[format!("Cookie: opentrusty_console={console_cookie}")],
        None,
    )
    .unwrap();
    assert_eq!(stale.status, 303);
    assert!(
        stale
            .header("location")
            .unwrap()
            .contains("/t/acme/authorize?")
    );
    // ... and the OP session is over too: the way back in is the login form.
    let (_, at) = alice.open("/console/t/acme/");
    assert!(at.contains("/t/acme/login"), "{at}");
}

#[test]
fn the_console_is_served_only_on_the_admin_plane_where_it_has_a_url() {
    // A separate admin listener without OPENTRUSTY_ADMIN_URL: off, with a line saying so.
    let admin = free_port();
    let s = site(&[("OPENTRUSTY_ADMIN_LISTEN", &format!("127.0.0.1:{admin}"))]);
    let port = port_of(&s);
    let auth = http::Target::tcp(([127, 0, 0, 1], port).into());
    let adm = http::Target::tcp(([127, 0, 0, 1], admin).into());
    assert!(eventually(Duration::from_secs(10), || http::get(
        &adm,
        "/health/ready"
    )
    .is_ok_and(|r| r.status == 200)));
    assert_eq!(http::get(&adm, "/console/").unwrap().status, 404);
    assert_eq!(http::get(&auth, "/console/").unwrap().status, 404);
    assert!(
        s.daemon.stderr().contains("the admin console is off"),
        "{}",
        s.daemon.stderr()
    );
    drop(s);

    // With OPENTRUSTY_ADMIN_URL it is on, on the admin listener only; the auth plane never
    // answers /console/.
    let admin = free_port();
    let s = site(&[
        ("OPENTRUSTY_ADMIN_LISTEN", &format!("127.0.0.1:{admin}")),
        ("OPENTRUSTY_ADMIN_URL", &format!("http://127.0.0.1:{admin}")),
    ]);
    let auth = http::Target::tcp(([127, 0, 0, 1], port_of(&s)).into());
    let adm = http::Target::tcp(([127, 0, 0, 1], admin).into());
    assert!(eventually(Duration::from_secs(10), || http::get(
        &adm,
        "/health/ready"
    )
    .is_ok_and(|r| r.status == 200)));
    let res = http::get(&adm, "/console/").unwrap();
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some("/console/t/platform/"));
    assert_eq!(http::get(&auth, "/console/").unwrap().status, 404);
    assert_eq!(http::get(&auth, "/console/t/acme/").unwrap().status, 404);
    // The sign-in leaves the admin plane for the auth plane's /authorize, whose redirect URI
    // is on the admin URL (reconciled at start: the tenants were made by the offline CLI).
    let res = http::get(&adm, "/console/t/acme/").unwrap();
    let to = res.header("location").unwrap();
    assert!(
        to.starts_with(&format!(
            "http://127.0.0.1:{}/t/acme/authorize?",
            port_of(&s)
        )),
        "{to}"
    );
    let cb =
        crate::login_pages::urlencode(&format!("http://127.0.0.1:{admin}/console/t/acme/callback"));
    assert!(to.contains(&format!("redirect_uri={cb}")), "{to}");
    // The browser journey across both listeners.
    let pw = "root-password-1234\n";
    ok(cli(
        &s.db,
        &[
            "bootstrap",
            "--email",
            "root@example.com",
            "--password-file",
            "-",
        ],
        Some(pw),
    ));
    let mut root = Browser::new(&[admin, port_of(&s)]);
    let page = root.sign_in("/console/", "root@example.com", ROOT_PW);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Dashboard</h1>"));
    drop(s);

    // OPENTRUSTY_CONSOLE=false turns it off even where it would be served.
    let s = site(&[("OPENTRUSTY_CONSOLE", "false")]);
    assert_eq!(http::get(&s.target, "/console/").unwrap().status, 404);
    assert_eq!(
        http::get(&s.target, "/console/t/acme/").unwrap().status,
        404
    );
    assert_eq!(http::get(&s.target, "/health/ready").unwrap().status, 200);
}

#[test]
fn the_cli_neither_lists_nor_deletes_the_builtin_client() {
    let dir = crate::common::tempdir();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    ok(cli(&db, &["tenant", "create", "acme"], None));
    let list = cli(&db, &["client", "list", "--tenant", "acme", "--json"], None);
    assert!(list.status.success());
    let items: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(items, serde_json::json!([]));
    let del = cli(
        &db,
        &["client", "delete", "--tenant", "acme", "opentrusty-console"],
        None,
    );
    assert!(!del.status.success());
    let msg = String::from_utf8_lossy(&del.stderr);
    assert!(
        msg.contains("built-in client and cannot be deleted"),
        "{msg}"
    );
}

#[test]
fn once_there_is_a_platform_owner_the_start_line_names_the_console() {
    let dir = crate::common::tempdir();
    let db = format!("sqlite://{}/opentrusty.db", dir.path().display());
    ok(cli(
        &db,
        &[
            "bootstrap",
            "--email",
            "root@example.com",
            "--password-file",
            "-",
        ],
        Some("root-password-1234\n"),
    ));
    let port = free_port();
    let daemon = crate::common::Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_PUBLIC_URL", &format!("http://127.0.0.1:{port}"))
        .spawn();
    let want = format!("admin console: http://127.0.0.1:{port}/console/");
    assert!(
        eventually(Duration::from_secs(20), || daemon.stderr().contains(&want)),
        "{}",
        daemon.stderr()
    );
    assert!(!daemon.stderr().contains("opentrusty bootstrap"));
}
