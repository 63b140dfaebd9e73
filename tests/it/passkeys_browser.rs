//! Passkeys in a real browser (issue 12): tests/browser/passkeys.mjs drives headless Chromium
//! with a virtual WebAuthn authenticator against the daemon served in-process on
//! `http://localhost:PORT` (RP id `localhost`): a passkey is added on the account page, signs
//! in alone through a relying party's /authorize (id_token `amr` `hwk mfa`, `acr` mfa), then
//! serves as the second step after the password (`pwd hwk mfa`), and is removed. Every page
//! passes axe and is photographed (target/test-artifacts/passkeys/). Both backends.
//!
//! `OPENTRUSTY_CAPTURE_WEBAUTHN_FIXTURE=FILE` (SQLite run only) also writes one captured
//! discoverable sign-in (state, answer, stored credential) to FILE: how
//! tests/fixtures/webauthn_assertion.json was made.

use std::path::PathBuf;
use std::process::Command;

use opentrusty::app::AppState;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::Profile;
use opentrusty::service::admin::{self, UserInput};
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::factors::totp as factor_totp;
use opentrusty::service::{Context, token};
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use opentrusty::web::conn::{self, Limits};
use tokio::runtime::Runtime;

use crate::browser::{artifacts, browser_ready};
use crate::common::stores;
use crate::mfa_login::{totp_now, unbase32};
use crate::oauth_world::{KEK, by_code};

const PW: &str = "password-acme";
const CB: &str = "https://rp.example/cb";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/passkeys.mjs")
}

/// Chromium, playwright-core and axe-core; a skip (or a failure under
/// OPENTRUSTY_TEST_REQUIRE_BROWSER=1) without them, like the console's browser tests.
fn ready() -> bool {
    if !browser_ready() {
        return false;
    }
    let axe = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/axe-core/axe.min.js");
    if axe.exists() {
        return true;
    }
    let why = "tests/browser/node_modules/axe-core is missing (npm ci --prefix tests/browser)";
    if std::env::var("OPENTRUSTY_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("browser test required but {why}");
    }
    eprintln!("SKIPPED: passkeys in a browser ({why})");
    false
}

/// The daemon's router in-process on 127.0.0.1, its public URL `http://{host}:PORT`.
pub(crate) fn serve(
    rt: &Runtime,
    store: Store,
    host: &str,
) -> (AppState, u16, tokio::sync::watch::Sender<bool>) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://{host}:{port}");
    let app = stores::app(
        store,
        &[
            ("OPENTRUSTY_PUBLIC_URL", &url),
            ("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
        ],
    );
    let router = opentrusty::web::router(app.clone(), Plane::All);
    let limits = Limits::from_config(&app.config.http);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    rt.spawn(conn::serve(listener, router, limits, Plane::All, stopped));
    (app, port, stop)
}

/// Tenant `acme` with alice (password only) and bob (password + authenticator app), and a
/// first-party relying party.
async fn world(app: &AppState) -> (Tenant, (opentrusty::domain::client::Client, String)) {
    let ctx = Context::cli();
    let t = admin::tenant_create(app, "acme", Some("Acme"), &ctx)
        .await
        .unwrap();
    let mut users = Vec::new();
    for email in ["alice@example.com", "bob@example.com"] {
        let input = UserInput {
            email,
            password: Some(PW),
            profile: Profile::default(),
            email_verified: true,
        };
        users.push(admin::user_create(app, &t, input, &ctx).await.unwrap());
    }
    let e = factor_totp::begin(app, &t, &users[1], "Phone")
        .await
        .unwrap();
    let code = totp_now(app, &unbase32(&e.secret));
    factor_totp::confirm(app, &t, &users[1], &e.factor_id, &code, &ctx)
        .await
        .unwrap();
    let rp = clients::create(
        app,
        &t,
        &NewClient {
            name: "RP".into(),
            redirect_uris: vec![CB.into()],
            grant_types: vec!["authorization_code".into()],
            first_party: true,
            ..NewClient::default()
        },
        &ctx,
    )
    .await
    .unwrap();
    (t, (rp.client, rp.secret.unwrap()))
}

/// The claims of a JWT (the signature is the RP suites' business).
fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The id_token claims for the code in the RP URL `landed`.
fn id_token_of(
    rt: &Runtime,
    app: &AppState,
    t: &Tenant,
    rp: &(opentrusty::domain::client::Client, String),
    landed: &str,
) -> serde_json::Value {
    let url = url::Url::parse(landed).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {landed}"));
    let issued = rt
        .block_on(token::exchange(
            app,
            t,
            &crate::oauth_world::basic(rp),
            by_code(&code),
            &Context::default(),
        ))
        .unwrap();
    claims(&issued.id_token.unwrap())
}

fn run(rt: Runtime, store: Store, backend: &str, db: Option<PathBuf>) {
    if !ready() {
        return;
    }
    let (app, port, _stop) = serve(&rt, store, "localhost");
    let (t, rp) = rt.block_on(world(&app));
    let shots = artifacts().join("passkeys").join(backend);
    std::fs::create_dir_all(&shots).unwrap();
    let authorize = format!(
        "/t/acme/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1",
        rp.0.client_id,
        crate::login_pages::urlencode(CB)
    );
    let mut config = serde_json::json!({
        "base": format!("http://localhost:{port}"),
        "shots": shots,
        "email": "alice@example.com",
        "totpEmail": "bob@example.com",
        "password": PW,
        "authorize": authorize,
        "redirect": CB,
    });
    if let (Some(db), Ok(out)) = (db, std::env::var("OPENTRUSTY_CAPTURE_WEBAUTHN_FIXTURE")) {
        config["db"] = db.display().to_string().into();
        config["fixture"] = out.into();
    }
    let out = Command::new("node")
        .arg(script())
        .arg(config.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    assert!(stdout.contains("passkeys: ok"), "{stdout}");
    let landed = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{label}: ")))
            .unwrap_or_else(|| panic!("no {label} in {stdout}"))
            .to_owned()
    };

    // The passkey alone: multi-factor by itself (a device-bound virtual authenticator: hwk).
    let alone = id_token_of(&rt, &app, &t, &rp, &landed("passkey-only"));
    assert_eq!(alone["amr"], serde_json::json!(["hwk", "mfa"]), "{alone}");
    assert_eq!(alone["acr"], "urn:opentrusty:mfa");
    // Password, then the passkey as the second step: stepped up in place.
    let second = id_token_of(&rt, &app, &t, &rp, &landed("second-factor"));
    assert_eq!(
        second["amr"],
        serde_json::json!(["pwd", "hwk", "mfa"]),
        "{second}"
    );
    assert_eq!(second["acr"], "urn:opentrusty:mfa");
    assert_eq!(alone["sub"], second["sub"]);

    // The audit trail of the journey, passkey by passkey.
    let events = rt.block_on(opentrusty::service::audit::list(&app, Some(&t), 500));
    let count = |kind: &str, needle: &str| {
        events
            .as_ref()
            .unwrap()
            .iter()
            .filter(|e| e.event_type == kind && e.metadata.contains(needle))
            .count()
    };
    assert_eq!(count("mfa.enrolled", "\"webauthn\""), 1);
    assert_eq!(count("mfa.verified", "\"webauthn\""), 2);
    assert_eq!(count("mfa.recovery_code_used", ""), 1);
    assert_eq!(count("login.succeeded", "\"hwk\""), 1);
    assert_eq!(count("mfa.removed", "\"webauthn\""), 1);
    for page in [
        "login-passkey",
        "account-empty",
        "account-totp",
        "account-passkey-added",
        "recovery-codes",
        "factor-passkey",
        "factor-notice",
        "account-passkey-removed",
        "factor-totp",
        "factor-totp-error",
    ] {
        assert!(stdout.contains(&format!("page {page}: ok")), "{stdout}");
        for variant in ["light-1280", "light-390", "dark-1280", "dark-390"] {
            let f = shots.join(format!("{page}-{variant}.png"));
            assert!(f.exists(), "{} missing", f.display());
        }
    }
}

#[test]
fn a_passkey_is_added_signs_in_alone_and_as_second_step_then_removed_sqlite() {
    let dir = crate::common::tempdir();
    let rt = Runtime::new().unwrap();
    let store = rt.block_on(stores::sqlite(dir.path()));
    run(rt, store, "sqlite", Some(dir.path().join("suite.db")));
}

#[test]
fn a_passkey_is_added_signs_in_alone_and_as_second_step_then_removed_postgres() {
    let rt = Runtime::new().unwrap();
    if let Some(store) = rt.block_on(stores::postgres("passkeys_browser")) {
        run(rt, store, "postgres", None);
    }
}
