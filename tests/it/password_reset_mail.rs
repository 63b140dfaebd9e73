//! Forgot password end to end with a real SMTP server (issue 13): the daemon is killed with
//! SIGKILL right after it answered the forgot-password POST; after a restart on the same
//! database the mail reaches the sink exactly once, and its link sets the new password.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::common::http::{self, Target};
use crate::common::{Daemon, Launch, eventually, free_port, tempdir};
use crate::console::browser::{Browser, field};
use crate::login_pages::{cli, urlencode};
use crate::mail_sink::{self, Sink};
use crate::password_reset_fixture::{NEW_PW, choose, forgot};

/// A daemon on `dir`'s database, serving on `port`, sending to `sink`.
fn daemon(dir: &Path, port: u16, sink: &Sink) -> Daemon {
    let mut launch = Launch::new(dir)
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_PUBLIC_URL", &format!("http://127.0.0.1:{port}"))
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1");
    for (k, v) in mail_sink::daemon_env(sink) {
        launch = launch.env(k, &v);
    }
    let d = launch.spawn();
    let target = Target::tcp(([127, 0, 0, 1], port).into());
    assert!(
        eventually(Duration::from_secs(20), || http::get(
            &target,
            "/health/ready"
        )
        .is_ok_and(|r| r.status == 200)),
        "{}",
        d.stderr()
    );
    d
}

#[test]
fn the_reset_mail_survives_a_sigkill_right_after_the_answer() {
    if mail_sink::skip() {
        return;
    }
    let sink = Sink::start();
    let dir = tempdir();
    let db = format!("sqlite://{}/opentrusty.db", dir.path().display());
    assert!(
        cli(&db, &["tenant", "create", "acme"], None)
            .status
            .success()
    );
    let create = [
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "alice@example.com",
        "--password-file",
        "-",
    ];
    assert!(cli(&db, &create, Some("password-acme\n")).status.success());
    let port = free_port();
    let mut first = daemon(dir.path(), port, &sink);

    let mut b = Browser::new(&[port]);
    let res = forgot(&mut b, "acme", "alice@example.com");
    assert_eq!(res.status, 200, "{}", res.body);
    first.signal(Signal::SIGKILL);
    first.wait_exit(Duration::from_secs(10));
    let log = first.stderr();

    let second = daemon(dir.path(), port, &sink);
    sink.wait_for(1, Duration::from_secs(15));
    let mails = sink.settle(Duration::from_secs(3));
    assert_eq!(mails.len(), 1, "exactly once\n{log}\n{}", second.stderr());
    let mail = &mails[0];
    assert_eq!(mail.to(), ["alice@example.com"]);
    assert!(mail.defects.is_empty(), "{:?}", mail.defects);
    let link = mail
        .link_containing("/t/acme/password/reset/")
        .unwrap_or_else(|| panic!("{:?}", mail.text));
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{port}/t/acme/")),
        "{link}"
    );
    assert!(
        mail.html_links().contains(&link),
        "the HTML part has the same link"
    );

    // The link works once, and the new password signs in.
    let res = choose(&mut b, &link, NEW_PW);
    assert_eq!(res.status, 200, "{}", res.body);
    let page = b.get("/t/acme/login");
    let form = format!(
        "csrf={}&email=alice%40example.com&password={}",
        field(&page.body, "csrf").unwrap(),
        urlencode(NEW_PW)
    );
    assert_eq!(b.request("POST", "/t/acme/login", Some(&form)).status, 303);
    assert_eq!(b.get(&link).status, 410);
}
