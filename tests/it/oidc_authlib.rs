//! The Python `authlib` relying party (tests/e2e/authlib_rp.py) against the real daemon.
//! Skipped, saying so, when authlib is not installed; `OPENTRUSTY_TEST_REQUIRE_AUTHLIB=1`
//! (set by CI) turns the skip into a failure. Two runs: a password-only user, and a request
//! with `acr_values=urn:opentrusty:mfa` for a user with an authenticator app (issue 12).

use std::process::Command;

use opentrusty::app::App;
use opentrusty::clock::Clock;
use opentrusty::config::DatabaseUrl;
use opentrusty::protocol::totp;
use opentrusty::service::factors::totp as factor_totp;
use opentrusty::service::{Context, admin};
use opentrusty::store::Store;

use crate::common::stores;
use crate::login_pages::{Site, cli, site};
use crate::mfa_login::unbase32;
use crate::oauth_world::KEK;

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

/// Skips (saying so) when authlib is missing, unless CI requires it.
fn skip() -> bool {
    if authlib_available() {
        return false;
    }
    if std::env::var("OPENTRUSTY_TEST_REQUIRE_AUTHLIB").as_deref() == Ok("1") {
        panic!("OPENTRUSTY_TEST_REQUIRE_AUTHLIB=1 but python3 cannot import authlib");
    }
    eprintln!("SKIPPED: authlib relying party (pip install authlib requests)");
    true
}

/// Runs the authlib RP script against `site` with `extra` environment variables.
fn run_rp(site: &Site, extra: &[(&str, &str)]) {
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
        .envs(extra.iter().copied())
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

/// A password-only user: `amr` ["pwd"], `acr` urn:opentrusty:pwd.
#[test]
fn authlib_relying_party() {
    if skip() {
        return;
    }
    let site = site(&[]);
    run_rp(&site, &[]);
}

/// `acr_values=urn:opentrusty:mfa`: the RP's browser passes the TOTP step (the code computed
/// by the script from the seed enrolled here, on the daemon's database, with the real clock)
/// and the id_token says `otp` and `mfa`, `acr` urn:opentrusty:mfa.
#[test]
fn authlib_relying_party_asks_for_a_second_factor() {
    if skip() {
        return;
    }
    let site = site(&[("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let secret = rt.block_on(async {
        let path = site.db.strip_prefix("sqlite://").unwrap();
        let store = Store::connect(&DatabaseUrl::Sqlite(path.into()), 2)
            .await
            .unwrap();
        let config = stores::config(&[("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)]);
        let app = App::new(config, store, Clock::System, None).unwrap();
        let t = admin::tenant(&app, "acme").await.unwrap();
        let users = admin::users_list(&app, &t).await.unwrap();
        let alice = users
            .into_iter()
            .find(|u| u.email.as_str() == "alice@example.com")
            .unwrap();
        let e = factor_totp::begin(&app, &t, &alice, "Phone").await.unwrap();
        // The previous step's code (inside the window): the script's code of this step is
        // then never a replay of the enrolment's.
        let step = app.clock.now() / 30 - 1;
        let code = totp::code(&unbase32(&e.secret), step);
        factor_totp::confirm(&app, &t, &alice, &e.factor_id, &code, &Context::default())
            .await
            .unwrap();
        e.secret
    });
    run_rp(
        &site,
        &[
            ("OT_ACR", "urn:opentrusty:mfa"),
            ("OT_TOTP_SECRET", &secret),
        ],
    );
}
