//! The account page's self-service sections in a real browser (tests/browser/account_journey.mjs,
//! Debian's headless Chromium with playwright-core and axe-core): sign in, edit the profile,
//! end another session, change the password; axe on every page, screenshots of the pages
//! and of each section under target/test-artifacts/account/.

use std::path::PathBuf;
use std::process::Command;

use crate::browser::{artifacts, browser_ready};
use crate::common::http::Target;
use crate::login_pages::site;

#[test]
fn the_account_journey_in_chromium() {
    if !browser_ready() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir.join("node_modules/axe-core/axe.min.js").exists() {
        if std::env::var("OPENTRUSTY_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("browser test required but tests/browser/node_modules/axe-core is missing");
        }
        eprintln!("SKIPPED: account journey (npm ci --prefix tests/browser)");
        return;
    }
    let site = site(&[]);
    let Target::Tcp(addr) = site.target else {
        unreachable!("the site listens on TCP")
    };
    let shots = artifacts().join("account");
    std::fs::create_dir_all(&shots).unwrap();
    let config = serde_json::json!({
        "base": format!("http://{addr}"),
        "shots": shots,
        "email": "alice@example.com",
        "password": "password-acme",
        "new_password": "a new passphrase for acme",
    });
    let out = Command::new("node")
        .arg(dir.join("account_journey.mjs"))
        .arg(config.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}\ndaemon:\n{}",
        String::from_utf8_lossy(&out.stderr),
        site.daemon.stderr()
    );
    println!("{stdout}");
    assert!(stdout.contains("account journey: ok"), "{stdout}");
    for page in [
        "overview",
        "profile",
        "profile-error",
        "password",
        "password-error",
        "after-password",
    ] {
        assert!(
            stdout.contains(&format!("page account-{page}: ok")),
            "{stdout}"
        );
        for variant in ["light-1280", "light-390", "dark-1280", "dark-390"] {
            let f = shots.join(format!("account-{page}-{variant}.png"));
            assert!(f.exists(), "{} missing", f.display());
        }
    }
    for section in ["profile", "password", "sessions", "apps"] {
        assert!(
            shots
                .join(format!("account-section-{section}.png"))
                .exists()
        );
    }
    // What the journey did, as the server recorded it.
    let events = super::sql(
        &site,
        "SELECT event_type FROM audit_events WHERE metadata LIKE '%\"via\":\"account\"%' ORDER BY id",
    );
    assert_eq!(
        events,
        [
            "user.updated",
            "session.ended",
            "login.failed",
            "password.changed"
        ]
    );
}
