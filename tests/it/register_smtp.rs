//! Self-registration end to end with real mail (issue 13): the real daemon, its sender and a
//! real SMTP server (aiosmtpd, `mail_sink`). Sign up over HTTP → the verification mail
//! arrives (text and HTML parts, the tenant's name, the same link in both) → the link is
//! confirmed → the new account signs in; a sign-up with a taken address answers the same and
//! the owner receives the notice instead. SQLite and PostgreSQL.

use std::time::Duration;

use crate::common::http::{self, Target};
use crate::common::{Launch, eventually, free_port, pg, tempdir};
use crate::console::browser::{Browser, field};
use crate::login_pages::{cli_env, urlencode};
use crate::mail_sink::{self, Sink};
use crate::oauth_world::KEK;
use crate::verify_pages::{PW, confirm, sign_in};

fn sign_up(b: &mut Browser, email: &str) -> u16 {
    let page = b.get("/t/acme/register");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = field(&page.body, "csrf").unwrap();
    let form = format!(
        "csrf={csrf}&email={}&password={PW}&password_again={PW}&name=",
        urlencode(email)
    );
    b.request("POST", "/t/acme/register", Some(&form)).status
}

fn sign_up_with_real_mail(db: &str) {
    let sink = Sink::start();
    let dir = tempdir();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut env: Vec<(&str, String)> = mail_sink::daemon_env(&sink);
    env.push(("OPENTRUSTY_PUBLIC_URL", base.clone()));
    env.push(("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK.to_owned()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str], stdin: Option<&str>| {
        let out = cli_env(db, &env_ref, args, stdin);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["tenant", "create", "acme", "--name", "Acme Corp"], None);
    run(
        &["tenant", "update", "acme", "--registration", "open"],
        None,
    );
    run(
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--email-verified",
            "--password-file",
            "-",
        ],
        Some(PW),
    );
    let mut launch = Launch::new(dir.path())
        .env("OPENTRUSTY_DATABASE_URL", db)
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1");
    for (k, v) in &env_ref {
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

    let mut b = Browser::new(&[port]);
    assert_eq!(sign_up(&mut b, "dan@example.com"), 200);
    let mail = sink.wait_for(1, Duration::from_secs(10)).remove(0);
    assert_eq!(mail.to(), ["dan@example.com"]);
    assert!(mail.defects.is_empty(), "{:?}", mail.defects);
    assert!(mail.subject().contains("Acme Corp"), "{}", mail.subject());
    let link = mail
        .link_containing("/t/acme/email/verify/")
        .unwrap_or_else(|| panic!("{mail:?}"));
    assert!(mail.html_links().contains(&link), "{:?}", mail.html_links());
    assert!(link.starts_with(&base), "{link}");

    // Not before the link; after it, the chosen password signs in.
    let mut dan = Browser::new(&[port]);
    assert_eq!(sign_in(&mut dan, "acme", "dan@example.com", PW), 401);
    let done = confirm(&mut dan, &link);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(sign_in(&mut dan, "acme", "dan@example.com", PW), 303);

    // A taken address: the owner is told, by mail; nobody gets a link.
    let mut other = Browser::new(&[port]);
    assert_eq!(sign_up(&mut other, "alice@example.com"), 200);
    let all = sink.wait_for(2, Duration::from_secs(10));
    let notice = &all[1];
    assert_eq!(notice.to(), ["alice@example.com"]);
    assert!(
        notice.subject().contains("Someone tried to sign up"),
        "{}",
        notice.subject()
    );
    assert!(notice.link_containing("/email/verify/").is_none());
    assert_eq!(
        sink.settle(Duration::from_millis(500)).len(),
        2,
        "nothing else"
    );
}

#[test]
fn sqlite() {
    if mail_sink::skip() {
        return;
    }
    let dir = tempdir();
    sign_up_with_real_mail(&format!("sqlite://{}/site.db", dir.path().display()));
}

#[test]
fn postgres() {
    if mail_sink::skip() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    if let Some(url) = rt.block_on(pg::fresh_database("register_smtp")) {
        sign_up_with_real_mail(&url);
    }
}
