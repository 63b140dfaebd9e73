//! Headless Chromium through authorize -> login page -> consent page -> redirect with a code,
//! and the code then redeemed at the token endpoint. Screenshot: target/test-artifacts/consent.png.

use std::path::PathBuf;
use std::process::Command;

use crate::browser::{artifacts, browser_ready};
use crate::common::http::Target;
use crate::login_pages::{cli, site};

#[test]
fn a_person_authorizes_a_client_in_a_browser() {
    if !browser_ready() {
        return;
    }
    let site = site(&[]);
    let Target::Tcp(addr) = site.target else {
        unreachable!()
    };
    let out = cli(
        &site.db,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Browser RP",
            "--redirect-uri",
            "https://rp.example/cb",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = c["client_id"].as_str().unwrap();
    let start = format!(
        "http://{addr}/t/acme/authorize?response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid%20email&state=st8&nonce=n8"
    );
    let out = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/authorize.mjs"))
        .args([
            &start,
            "https://rp.example/cb",
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
    let landed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("landed: "))
        .expect("a redirect URL");
    let q: std::collections::HashMap<String, String> = url::Url::parse(landed)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["state"], "st8");
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri=https%3A%2F%2Frp.example%2Fcb",
        q["code"]
    );
    let basic = base64_basic(id, c["client_secret"].as_str().unwrap());
    let res = crate::common::http::send(
        &site.target,
        "POST",
        "/t/acme/token",
        &[format!("Authorization: Basic {basic}")],
        Some(&body),
    )
    .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.json()["id_token"].is_string());
}

fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}
