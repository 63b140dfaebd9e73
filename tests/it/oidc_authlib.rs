//! The Python `authlib` relying party (tests/e2e/authlib_rp.py) against the real daemon.
//! Skipped, saying so, when authlib is not installed; `OPENTRUSTY_TEST_REQUIRE_AUTHLIB=1`
//! (set by CI) turns the skip into a failure.

use std::process::Command;

use crate::login_pages::{cli, site};

fn authlib_available() -> bool {
    Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .status()
        .is_ok_and(|s| s.success())
}

fn client(db: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "authlib RP",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = cli(db, &args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn authlib_relying_party() {
    if !authlib_available() {
        if std::env::var("OPENTRUSTY_TEST_REQUIRE_AUTHLIB").as_deref() == Ok("1") {
            panic!("OPENTRUSTY_TEST_REQUIRE_AUTHLIB=1 but python3 cannot import authlib");
        }
        eprintln!("SKIPPED: authlib_relying_party (pip install authlib requests)");
        return;
    }
    let site = site(&[]);
    let base = match &site.target {
        crate::common::http::Target::Tcp(a) => format!("http://{a}"),
        _ => unreachable!(),
    };
    let rp = client(
        &site.db,
        &[
            "--redirect-uri",
            "https://rp.example/cb",
            "--first-party",
            "--post-logout-redirect-uri",
            "https://rp.example/bye",
        ],
    );
    let svc = client(
        &site.db,
        &["--grant", "client_credentials", "--scope", "api"],
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/authlib_rp.py");
    let out = Command::new("python3")
        .arg(script)
        .env("OT_BASE", &base)
        .env("OT_ISSUER", format!("{base}/t/acme"))
        .env("OT_REDIRECT_URI", "https://rp.example/cb")
        .env("OT_LOGOUT_URI", "https://rp.example/bye")
        .env("OT_CLIENT_ID", rp["client_id"].as_str().unwrap())
        .env("OT_CLIENT_SECRET", rp["client_secret"].as_str().unwrap())
        .env("OT_SVC_ID", svc["client_id"].as_str().unwrap())
        .env("OT_SVC_SECRET", svc["client_secret"].as_str().unwrap())
        .env("OT_EMAIL", "alice@example.com")
        .env("OT_PASSWORD", "password-acme")
        // authlib refuses plain-http token endpoints unless told this is a test.
        .env("AUTHLIB_INSECURE_TRANSPORT", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "authlib RP failed:\n{}\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        site.daemon.stderr()
    );
}
