//! Operator commands are as careful as the daemon: files they create are private (umask 077),
//! root is refused, and the key-encryption key (KEK) cannot fork: a generated KEK lives beside
//! the SQLite file it protects, the database records its check value, and a process with
//! another key refuses with one line instead of sealing keys nobody else can open (issue 9,
//! defects 8 and 11).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{BIN, tempdir};

/// Runs the binary from `cwd` with only `env` (plus cheap Argon2id) in its environment.
fn run(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn operator_commands_create_private_files_and_refuse_root() {
    let dir = tempdir();
    let db_dir = dir.path().join("state");
    let db = format!("sqlite://{}/opentrusty.db", db_dir.display());
    let env = [
        ("OPENTRUSTY_DATABASE_URL", db.as_str()),
        ("OPENTRUSTY_ALLOW_ROOT", "true"),
    ];
    for args in [
        &["tenant", "create", "acme"][..],
        &["keys", "rotate", "--tenant", "acme"],
    ] {
        let out = run(dir.path(), &env, args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for f in ["opentrusty.db", "key-encryption-key"] {
        assert_eq!(mode(&db_dir.join(f)), 0o600, "{f} must be private");
    }
    for entry in std::fs::read_dir(&db_dir).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(mode(&p) & 0o077, 0, "{} is readable by others", p.display());
    }
    if nix::unistd::Uid::effective().is_root() {
        let out = run(
            dir.path(),
            &[("OPENTRUSTY_DATABASE_URL", db.as_str())],
            &["tenant", "list"],
        );
        assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
        assert!(stderr(&out).contains("OPENTRUSTY_ALLOW_ROOT"));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
}

#[test]
fn a_second_key_encryption_key_is_refused_and_changes_nothing() {
    let dir = tempdir();
    let db_dir = dir.path().join("state");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let db = format!("sqlite://{}/opentrusty.db", db_dir.display());
    let env = [
        ("OPENTRUSTY_DATABASE_URL", db.as_str()),
        ("OPENTRUSTY_ALLOW_ROOT", "true"),
    ];
    let out = run(dir.path(), &env, &["tenant", "create", "acme"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let keys = |cwd: &Path| {
        let out = run(cwd, &env, &["keys", "list", "--tenant", "acme", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let before = keys(dir.path());
    // From another working directory the same database finds the same generated key.
    let out = run(&elsewhere, &env, &["keys", "rotate", "--tenant", "acme"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !elsewhere.join("var").exists(),
        "no KEK in the working directory"
    );
    let rotated = keys(dir.path());
    assert_ne!(before, rotated);

    // Without the generated file, the database's keys are not sealed anew with a new key.
    let kek_file = db_dir.join("key-encryption-key");
    let saved = std::fs::read_to_string(&kek_file).unwrap();
    std::fs::remove_file(&kek_file).unwrap();
    let out = run(&elsewhere, &env, &["keys", "rotate", "--tenant", "acme"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("OPENTRUSTY_KEY_ENCRYPTION_KEY"), "{e}");
    assert!(!kek_file.exists(), "no new key was generated");

    // A configured key that is not the database's: refused, naming the expected key id.
    let wrong = "11".repeat(32);
    let with_wrong = [
        ("OPENTRUSTY_DATABASE_URL", db.as_str()),
        ("OPENTRUSTY_ALLOW_ROOT", "true"),
        ("OPENTRUSTY_KEY_ENCRYPTION_KEY", wrong.as_str()),
    ];
    let out = run(
        dir.path(),
        &with_wrong,
        &["keys", "rotate", "--tenant", "acme"],
    );
    assert!(!out.status.success());
    let e2 = stderr(&out);
    assert_eq!(e2.lines().count(), 1, "{e2}");
    assert!(e2.contains("OPENTRUSTY_KEY_ENCRYPTION_KEY"), "{e2}");
    // Both refusals name the same expected key id: the one the database recorded.
    let expected_id = e2
        .split("expects key id ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("names the expected key id");
    assert!(e.contains(expected_id), "{e}");

    // The configured right key (the saved file's content) works, and nothing changed meanwhile.
    let right = saved.trim().to_owned();
    let with_right = [
        ("OPENTRUSTY_DATABASE_URL", db.as_str()),
        ("OPENTRUSTY_ALLOW_ROOT", "true"),
        ("OPENTRUSTY_KEY_ENCRYPTION_KEY", right.as_str()),
    ];
    let out = run(
        dir.path(),
        &with_right,
        &["keys", "list", "--tenant", "acme", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(after, rotated);
}

#[test]
fn postgres_requires_a_configured_key_encryption_key() {
    let dir = tempdir();
    let out = run(
        dir.path(),
        &[
            (
                "OPENTRUSTY_DATABASE_URL",
                "postgres://opentrusty@127.0.0.1:1/opentrusty",
            ),
            ("OPENTRUSTY_ALLOW_ROOT", "true"),
        ],
        &["migrate"],
    );
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("OPENTRUSTY_KEY_ENCRYPTION_KEY"), "{e}");
    assert!(e.contains("PostgreSQL"), "{e}");
}
