//! Forgot password and invitation in a real browser (issue 13): tests/browser/reset.mjs in
//! headless Chromium against a daemon that sends to the SMTP sink, reading the links from the
//! mail as a person would; axe-core and screenshots (target/test-artifacts/reset/) on every
//! page. Then what the daemon recorded, read with the operator's CLI.

use std::path::PathBuf;
use std::process::Command;

use crate::browser::{artifacts, browser_ready};
use crate::common::http::Target;
use crate::login_pages::{cli, cli_env, site};
use crate::mail_sink::{self, Sink};

#[test]
fn forgot_password_and_invitation_in_chromium() {
    if !browser_ready() || mail_sink::skip() {
        return;
    }
    let sink = Sink::start();
    let env = mail_sink::daemon_env(&sink);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = site(&env);
    // The operator invites bob on the database with the daemon's settings (its public URL
    // makes the link); the daemon's sender sends the mail.
    let public = format!(
        "http://{}",
        match &s.target {
            Target::Tcp(a) => a.to_string(),
            Target::Unix(_) => unreachable!(),
        }
    );
    let mut cli_vars = env.clone();
    cli_vars.push(("OPENTRUSTY_PUBLIC_URL", public.as_str()));
    let args = [
        "user",
        "invite",
        "--tenant",
        "acme",
        "--email",
        "bob@example.com",
    ];
    let out = cli_env(&s.db, &cli_vars, &args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let Target::Tcp(addr) = s.target else {
        unreachable!()
    };
    let shots = artifacts().join("reset");
    let config = serde_json::json!({
        "base": format!("http://{addr}"),
        "shots": shots,
        "mails": sink.mail_dir(),
        "alice": ["alice@example.com", "password-acme"],
        "newpw": "a brand new passphrase",
        "bob": "bob@example.com",
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/reset.mjs");
    let out = Command::new("node")
        .arg(script)
        .arg(config.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}\ndaemon:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.daemon.stderr()
    );
    println!("{stdout}");
    assert!(stdout.contains("reset journey: ok"), "{stdout}");
    assert!(shots.join("reset-choose-dark-390.png").exists());

    let audit = cli(&s.db, &["audit", "--tenant", "acme", "--json"], None);
    let trail = String::from_utf8_lossy(&audit.stdout);
    for kind in ["password.reset", "user.invited", "user.invitation_accepted"] {
        assert!(
            trail.contains(&format!("\"event_type\":\"{kind}\"")),
            "{kind}: {trail}"
        );
    }
}
