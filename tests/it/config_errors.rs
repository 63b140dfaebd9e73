//! Every bad variable stops start-up with exit code 78 and one line naming it.

use std::process::Command;

use crate::common::{BIN, tempdir};

fn start_with(var: &str, value: &str) -> (Option<i32>, String) {
    let dir = tempdir();
    let out = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env(
            "OPENTRUSTY_DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.path().display()),
        )
        .env("OPENTRUSTY_ALLOW_ROOT", "true")
        .env(var, value)
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn each_bad_variable_exits_78_and_names_it() {
    let cases = [
        ("OPENTRUSTY_LISTEN", "localhost"),
        ("OPENTRUSTY_ADMIN_LISTEN", "unix:relative.sock"),
        ("OPENTRUSTY_PUBLIC_URL", "not a url"),
        ("OPENTRUSTY_LOG", "info,[[["),
        ("OPENTRUSTY_LOG_FORMAT", "xml"),
        ("OPENTRUSTY_MIGRATE_ON_START", "perhaps"),
        ("OPENTRUSTY_SHUTDOWN_TIMEOUT", "-3"),
        ("OPENTRUSTY_ALLOW_ROOT", "yesplease"),
        ("OPENTRUSTY_USER", "bad user"),
        ("OPENTRUSTY_DATABASE_MAX_CONNECTIONS", "0"),
    ];
    for (var, value) in cases {
        let (code, stderr) = start_with(var, value);
        assert_eq!(code, Some(78), "{var}={value}: stderr: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{var}: expected one line, got {stderr}");
        assert!(lines[0].contains(var), "{var}: {stderr}");
        assert!(lines[0].contains(value), "{var}: value missing: {stderr}");
    }
}

#[test]
fn secret_database_url_is_not_echoed() {
    let (code, stderr) = start_with("OPENTRUSTY_DATABASE_URL", "mysql://app:hunter2@db/x");
    assert_eq!(code, Some(78));
    assert!(stderr.contains("OPENTRUSTY_DATABASE_URL"));
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn check_config_prints_redacted_config_and_warns_on_typos() {
    let out = Command::new(BIN)
        .args(["check-config", "--json"])
        .env_clear()
        .env(
            "OPENTRUSTY_DATABASE_URL",
            "postgres://app:hunter2@db.internal/opentrusty",
        )
        // PostgreSQL requires a configured key-encryption key (never printed either).
        .env("OPENTRUSTY_KEY_ENCRYPTION_KEY", "ab".repeat(32))
        .env("OPENTRUSTY_LISTN", "oops")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["OPENTRUSTY_DATABASE_URL"],
        "postgres://app:REDACTED@db.internal/opentrusty"
    );
    assert!(!stdout.contains("hunter2"));
    assert!(!stdout.contains(&"ab".repeat(32)), "{stdout}");
    assert!(stderr.contains("OPENTRUSTY_LISTN"), "{stderr}");

    let out = Command::new(BIN)
        .arg("check-config")
        .env_clear()
        .env("OPENTRUSTY_LISTEN", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn refuses_root_without_permission() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: refuses_root_without_permission needs root");
        return;
    }
    let dir = tempdir();
    let out = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env(
            "OPENTRUSTY_DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.path().display()),
        )
        .env(
            "OPENTRUSTY_LISTEN",
            format!("127.0.0.1:{}", crate::common::free_port()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to run as root"));
}

#[test]
fn version_and_help_read_well() {
    let out = Command::new(BIN).arg("version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("opentrusty "));
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "migrate", "check-config", "version"] {
        assert!(help.contains(sub), "{help}");
    }
}
