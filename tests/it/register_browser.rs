//! Self-registration in a real browser (issue 13; tests/browser/register.mjs, headless
//! Chromium): refused where closed, and sign-up → mail → link → confirm → sign in where
//! open, with screenshots and axe on every page. The mail's link comes from the outbox of
//! the in-process site: the script asks for it on stdout and gets it on stdin. Screenshots
//! in `target/test-artifacts/register/`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use opentrusty::domain::tenant::Registration;
use opentrusty::service::{Context, admin};

use crate::browser::{artifacts, browser_ready};
use crate::verify_pages::{PW, Site};

#[test]
fn a_person_signs_up_in_a_real_browser() {
    if !browser_ready() {
        return;
    }
    let site = Site::new(false, "register_browser").unwrap();
    site.tenant("acme");
    site.tenant("beta");
    site.rt
        .block_on(admin::tenant_set_registration(
            &site.app,
            "acme",
            Registration::Open,
            &Context::cli(),
        ))
        .unwrap();
    let dir = artifacts().join("register");
    std::fs::create_dir_all(&dir).unwrap();
    let base = format!("http://127.0.0.1:{}", site.port);
    let mut child = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/register.mjs"))
        .args([&base, "acme", "beta", "rita@example.com", PW])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = Some(child.stdin.take().unwrap());
    let mut said = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(email) = line.strip_prefix("need-link ") {
            let mails = site.mails_to(email);
            let link = mails
                .last()
                .and_then(|m| {
                    m.text
                        .split_whitespace()
                        .find(|w| w.contains("/email/verify/"))
                })
                .unwrap_or("none")
                .to_owned();
            // One answer, then stdin closes (the script asks once).
            if let Some(mut s) = stdin.take() {
                writeln!(s, "{link}").unwrap();
            }
        }
        said.push(line);
    }
    let out = child.wait_with_output().unwrap();
    let said = said.join("\n");
    assert!(
        out.status.success(),
        "stdout: {said}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("browser registration: ok"), "{said}");
    for shot in ["closed", "form", "sent", "confirm", "confirmed"] {
        assert!(
            dir.join(format!("register-{shot}-light-1280.png")).exists(),
            "{shot}"
        );
    }
    let rita = site.reload(
        &site.rt.block_on(admin::tenant(&site.app, "acme")).unwrap(),
        "rita@example.com",
    );
    assert!(rita.email_verified);
}
