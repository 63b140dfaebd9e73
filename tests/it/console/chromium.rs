//! The console in a real browser (Debian's headless Chromium driven by playwright-core, the
//! scripts in tests/browser/console*.mjs): axe-core on every page (no serious or critical
//! violation), screenshots in light and dark at 1280 and 390 px under
//! target/test-artifacts/console/, no sideways scrolling at 390 px; and the journey
//! with JavaScript on and off, a third-party relying party (authlib) signing in between.

use std::path::PathBuf;
use std::process::{Command, Output};

use std::time::Duration;

use crate::browser::{artifacts, browser_ready};
use crate::common::http::{self, Target};
use crate::common::{Launch, eventually, free_port, tempdir};
use crate::login_pages::{Site, cli};

use super::{ROOT_PW, console_site, ok};

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

/// One set of pages (console_pages.mjs) on a site of `console_site`; returns the names
/// checked, each with four screenshots.
fn pages(set: &str, expect: &[&str]) {
    if !axe_ready() {
        return;
    }
    let s = console_site(&[]);
    let out = node(
        "console_pages.mjs",
        &serde_json::json!({
            "set": set,
            "base": base(&s.target),
            "shots": shots(),
            "root": ["root@example.com", ROOT_PW],
            "owner": ["alice@example.com", "password-acme"],
            "norole": ["bob@example.com", "password-bob"],
        }),
    );
    let stdout = passed(&out, &s.daemon.stderr());
    assert!(
        stdout.contains(&format!("console pages ({set}): ok")),
        "{stdout}"
    );
    for name in expect {
        assert!(stdout.contains(&format!("page {name}: ok")), "{stdout}");
        for variant in ["light-1280", "light-390", "dark-1280", "dark-390"] {
            let f = shots().join(format!("{name}-{variant}.png"));
            assert!(f.exists(), "{} missing", f.display());
        }
    }
}

#[test]
fn platform_console_pages_pass_axe_and_fit_390_px() {
    pages(
        "platform",
        &[
            "platform-dashboard",
            "tenants",
            "tenants-error",
            "platform-audit",
            "not-found",
            "signed-in",
            "signed-out",
            "no-access",
            "keys",
            "api-token-created",
        ],
    );
}

#[test]
fn tenant_console_pages_pass_axe_and_fit_390_px() {
    pages(
        "tenant",
        &[
            "dashboard",
            "users",
            "user-new-error",
            "user",
            "user-delete",
            "client-new",
            "client-registered",
            "client",
            "client-secret",
            "client-delete",
        ],
    );
}

/// python3 with authlib for the relying party; a failure under
/// OPENTRUSTY_TEST_REQUIRE_AUTHLIB=1 (CI), a skip otherwise.
fn authlib_ready() -> bool {
    let there = Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .status()
        .is_ok_and(|s| s.success());
    if !there {
        if std::env::var("OPENTRUSTY_TEST_REQUIRE_AUTHLIB").as_deref() == Ok("1") {
            panic!("OPENTRUSTY_TEST_REQUIRE_AUTHLIB=1 but python3 cannot import authlib");
        }
        eprintln!("SKIPPED: console journey (pip install authlib requests)");
    }
    there
}

/// A daemon with no tenant but `platform`, whose owner is root@example.com (made by
/// `bootstrap`): the journey creates acme itself.
fn platform_only_site() -> Site {
    let dir = tempdir();
    let db = format!("sqlite://{}/opentrusty.db", dir.path().display());
    ok(cli(
        &db,
        &[
            "bootstrap",
            "--email",
            "root@example.com",
            "--password-file",
            "-",
        ],
        Some(&format!("{ROOT_PW}\n")),
    ));
    let port = free_port();
    let daemon = Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{port}"))
        .env("OPENTRUSTY_PUBLIC_URL", &format!("http://127.0.0.1:{port}"))
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1")
        .spawn();
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
    Site {
        _dir: dir,
        daemon,
        target,
        db,
    }
}

fn after<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in {stdout}"))
}

/// The journey in Chromium (console_journey.mjs), then what the daemon recorded, read with
/// the operator's CLI rather than through the console.
fn journey(js: bool) {
    if !axe_ready() || !authlib_ready() {
        return;
    }
    let s = platform_only_site();
    let out = node(
        "console_journey.mjs",
        &serde_json::json!({
            "base": base(&s.target),
            "shots": shots(),
            "js": js,
            "root": ["root@example.com", ROOT_PW],
            "rp": concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/authlib_rp.py"),
        }),
    );
    let stdout = passed(&out, &s.daemon.stderr());
    let mode = if js { "js" } else { "nojs" };
    assert!(
        stdout.contains(&format!("journey ({mode}): ok")),
        "{stdout}"
    );
    let (user, client) = (after(&stdout, "user: "), after(&stdout, "client: "));

    // The client the owner registered: confidential, with the redirect URI she typed.
    let list = cli(
        &s.db,
        &["client", "list", "--tenant", "acme", "--json"],
        None,
    );
    let clients: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let c = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client)
        .unwrap_or_else(|| panic!("{client} not in {clients}"));
    assert_eq!(c["name"], "Acme Portal", "{c}");
    assert_eq!(c["kind"], "confidential", "{c}");
    assert_eq!(
        c["redirect_uris"],
        serde_json::json!(["https://rp.example/cb"])
    );
    // The audit trail: the user's sign-in through that client, then the refusal once disabled.
    let audit = cli(&s.db, &["audit", "--tenant", "acme", "--json"], None);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).unwrap();
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        events
            .iter()
            .filter(|e| e["event_type"] == kind && e["target"] == format!("user:{user}"))
            .collect()
    };
    assert_eq!(of("login.succeeded").len(), 1, "{events:#?}");
    assert_eq!(of("user.disabled").len(), 1, "{events:#?}");
    let failed = of("login.failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    let meta: serde_json::Value =
        serde_json::from_str(failed[0]["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta["reason"], "disabled", "{meta}");
}

#[test]
fn the_console_journey_in_a_browser() {
    journey(true);
}

#[test]
fn the_console_journey_without_javascript() {
    journey(false);
}
