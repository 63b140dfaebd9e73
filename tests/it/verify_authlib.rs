//! The `email_verified` claim follows the verification link, as a relying party sees it
//! (issue 13): an operator creates a user with `opentrusty user create` while mail is
//! configured, so a verification mail is queued with the user; the Python authlib RP
//! (tests/e2e/authlib_rp.py) signs in and reads `email_verified: false` from userinfo; the
//! link from the queued mail is confirmed over HTTP on the real daemon; the RP signs in again
//! and reads `true`. Skipped like the other authlib tests when authlib is missing.

use std::process::Command;
use std::time::Duration;

use crate::common::http::Target;
use crate::common::{Launch, eventually, free_port, http, tempdir};
use crate::console::browser::Browser;
use crate::login_pages::cli_env;
use crate::verify_pages::{Queued, confirm, verify_link};

fn authlib_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var("OPENTRUSTY_TEST_REQUIRE_AUTHLIB").as_deref() == Ok("1") {
        panic!("OPENTRUSTY_TEST_REQUIRE_AUTHLIB=1 but python3 cannot import authlib");
    }
    if !ok {
        eprintln!("SKIPPED: authlib relying party (pip install authlib requests)");
    }
    ok
}

/// Every queued message of the daemon's SQLite database.
fn outbox(db_path: &std::path::Path) -> Vec<Queued> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db_path.display()))
            .await
            .unwrap();
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT kind, recipient, subject, body_text FROM mail_outbox ORDER BY created_at, id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows.into_iter()
            .map(|(kind, to, subject, text)| Queued {
                kind,
                to,
                subject,
                text,
            })
            .collect()
    })
}

#[test]
fn an_authlib_relying_party_sees_email_verified_follow_the_link() {
    if !authlib_available() {
        return;
    }
    let dir = tempdir();
    let db_path = dir.path().join("opentrusty.db");
    let db = format!("sqlite://{}", db_path.display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let spool = format!("file:{}", dir.path().join("mail").display());
    let mail_env = [
        ("OPENTRUSTY_PUBLIC_URL", base.as_str()),
        ("OPENTRUSTY_SMTP_URL", spool.as_str()),
        ("OPENTRUSTY_MAIL_FROM", "idp@example.test"),
    ];
    let run = |args: &[&str], stdin: Option<&str>| {
        let out = cli_env(&db, &mail_env, args, stdin);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap_or_default()
    };
    run(&["tenant", "create", "acme", "--name", "ACME Corp"], None);
    run(
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
    let rp = run(
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "authlib RP",
            "--redirect-uri",
            "https://rp.example/cb",
            "--first-party",
            "--json",
        ],
        None,
    );
    let mails = outbox(&db_path);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, "alice@example.com");

    let mut launch = Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1");
    for (k, v) in mail_env {
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
    let rp_sees = |verified: &str| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/authlib_rp.py");
        let out = Command::new("python3")
            .arg(script)
            .env("OT_BASE", &base)
            .env("OT_ISSUER", format!("{base}/t/acme"))
            .env("OT_REDIRECT_URI", "https://rp.example/cb")
            .env("OT_CLIENT_ID", rp["client_id"].as_str().unwrap())
            .env("OT_CLIENT_SECRET", rp["client_secret"].as_str().unwrap())
            .env("OT_EMAIL", "alice@example.com")
            .env("OT_PASSWORD", "password-acme")
            .env("OT_MODE", "login")
            .env("OT_EMAIL_VERIFIED", verified)
            .env("AUTHLIB_INSECURE_TRANSPORT", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "authlib RP (email_verified {verified}) failed:\n{}\n{}\ndaemon log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            daemon.stderr()
        );
    };
    rp_sees("false");
    let (path, _) = verify_link(&mails[0]);
    let mut b = Browser::new(&[port]);
    let done = confirm(&mut b, &path);
    assert_eq!(done.status, 200, "{}", done.body);
    rp_sees("true");
}
