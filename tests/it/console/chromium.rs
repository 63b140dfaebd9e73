//! The console in a real browser (Debian's headless Chromium driven by playwright-core, the
//! scripts in tests/browser/console*.mjs): axe-core on every page (no serious or critical
//! violation), screenshots in light and dark at 1280 and 390 px under
//! target/test-artifacts/console/, no sideways scrolling at 390 px; and the journey
//! with JavaScript on and off, a third-party relying party (authlib) signing in between.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::browser::{artifacts, browser_ready};
use crate::common::http::Target;

use super::{ROOT_PW, console_site};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(name)
}

/// Chromium and playwright-core (`browser_ready`), and axe-core next to them; like
/// `browser_ready`, a failure under OPENTRUSTY_TEST_REQUIRE_BROWSER=1 and a skip otherwise.
fn axe_ready() -> bool {
    if !browser_ready() {
        return false;
    }
    if script("node_modules/axe-core/axe.min.js").exists() {
        return true;
    }
    let why = "tests/browser/node_modules/axe-core is missing (npm ci --prefix tests/browser)";
    if std::env::var("OPENTRUSTY_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("browser test required but {why}");
    }
    eprintln!("SKIPPED: console in a browser ({why})");
    false
}

fn shots() -> PathBuf {
    let dir = artifacts().join("console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn base(target: &Target) -> String {
    match target {
        Target::Tcp(a) => format!("http://{a}"),
        Target::Unix(_) => unreachable!("the site listens on TCP"),
    }
}

fn node(script_name: &str, config: &serde_json::Value) -> Output {
    Command::new("node")
        .arg(script(script_name))
        .arg(config.to_string())
        .output()
        .unwrap()
}

fn passed(out: &Output, daemon: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}\ndaemon:\n{daemon}",
        String::from_utf8_lossy(&out.stderr),
    );
    // (Shown with --nocapture: the pages checked and the screenshots' names.)
    println!("{stdout}");
    stdout
}

#[test]
fn every_console_page_passes_axe_and_fits_390_px() {
    if !axe_ready() {
        return;
    }
    let s = console_site(&[]);
    let out = node(
        "console_pages.mjs",
        &serde_json::json!({
            "base": base(&s.target),
            "shots": shots(),
            "root": ["root@example.com", ROOT_PW],
            "norole": ["bob@example.com", "password-bob"],
        }),
    );
    let stdout = passed(&out, &s.daemon.stderr());
    assert!(stdout.contains("console pages: ok"), "{stdout}");
    for name in ["tenants", "acme-users", "not-found", "signed-out"] {
        for variant in ["light-1280", "light-390", "dark-1280", "dark-390"] {
            let f = shots().join(format!("{name}-{variant}.png"));
            assert!(f.exists(), "{} missing", f.display());
        }
    }
}
