//! A real browser (Debian's headless Chromium, driven by playwright-core) logs in through the
//! login page. Screenshots are kept in `target/test-artifacts/`.

use std::path::PathBuf;
use std::process::Command;

use crate::common::http::Target;
use crate::login_pages::site;

fn skip_or_fail(why: &str) {
    if std::env::var("OPENTRUSTY_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("browser test required but {why}");
    }
    eprintln!(
        "SKIPPED: browser login ({why}); run `npm ci --prefix tests/browser` and install chromium"
    );
}

pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn browser_ready() -> bool {
    let modules = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/playwright-core");
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        skip_or_fail("/usr/bin/chromium is missing");
        return false;
    }
    if !modules.exists() {
        skip_or_fail("tests/browser/node_modules is missing");
        return false;
    }
    true
}

#[test]
fn a_person_logs_in_through_the_real_page() {
    if !browser_ready() {
        return;
    }
    let site = site(&[]);
    let Target::Tcp(addr) = site.target else {
        unreachable!()
    };
    let out = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/login.mjs"))
        .args([
            &format!("http://{addr}"),
            "acme",
            "alice@example.com",
            "password-acme",
        ])
        .arg(artifacts())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}\ndaemon: {}",
        String::from_utf8_lossy(&out.stderr),
        site.daemon.stderr()
    );
    assert!(stdout.contains("browser login: ok"));
    assert!(artifacts().join("login.png").exists());
}
