//! The operator CLI end to end, against the same SQLite database the daemon would use.

use crate::common::tempdir;
use crate::login_pages::cli;

pub(crate) fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub(crate) fn err(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let e = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(e.lines().count(), 1, "one clear line: {e}");
    e
}

#[test]
fn bootstrap_tenant_and_user_lifecycle() {
    let dir = tempdir();
    let db = format!("sqlite://{}/cli.db", dir.path().display());

    // Bootstrap with a generated password: printed once, on stdout.
    let out = ok(&cli(
        &db,
        &["bootstrap", "--email", "Root@Example.com", "--json"],
        None,
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tenant"]["slug"], "platform");
    assert_eq!(v["user"]["email"], "root@example.com");
    assert!(v["password"].as_str().unwrap().len() >= 32);
    assert!(
        err(&cli(&db, &["bootstrap", "--email", "x@example.com"], None)).contains("already exists")
    );

    let out = ok(&cli(
        &db,
        &["tenant", "create", "acme", "--name", "Acme Corp", "--json"],
        None,
    ));
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(t["issuer"].as_str().unwrap().ends_with("/t/acme"));
    assert!(err(&cli(&db, &["tenant", "create", "acme"], None)).contains("already exists"));
    assert!(err(&cli(&db, &["tenant", "create", "Not_Valid"], None)).contains("slug"));
    assert!(err(&cli(&db, &["tenant", "create", "platform"], None)).contains("reserved"));

    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, "a fine password\n").unwrap();
    let pw = pwfile.to_str().unwrap();
    let out = ok(&cli(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--password-file",
            pw,
            "--given-name",
            "Alice",
            "--family-name",
            "Doe",
            "--json",
        ],
        None,
    ));
    let u: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(u["profile"]["name"], "Alice Doe");
    assert!(
        err(&cli(
            &db,
            &[
                "user",
                "create",
                "--tenant",
                "acme",
                "--email",
                "ALICE@example.com"
            ],
            None
        ))
        .contains("already exists")
    );
    assert!(
        err(&cli(
            &db,
            &[
                "user",
                "create",
                "--tenant",
                "nope",
                "--email",
                "a@example.com"
            ],
            None
        ))
        .contains("tenant not found")
    );
    assert!(
        err(&cli(
            &db,
            &[
                "user",
                "create",
                "--tenant",
                "acme",
                "--email",
                "b@example.com",
                "--password-file",
                "-"
            ],
            Some("short\n")
        ))
        .contains("too short")
    );
    assert!(
        err(&cli(
            &db,
            &["user", "create", "--tenant", "acme", "--email", "nope"],
            None
        ))
        .contains("email")
    );

    let list = ok(&cli(
        &db,
        &["user", "list", "--tenant", "acme", "--json"],
        None,
    ));
    let users: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);

    ok(&cli(
        &db,
        &[
            "user",
            "set-password",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--password-file",
            "-",
        ],
        Some("another fine password\n"),
    ));
    ok(&cli(
        &db,
        &[
            "user",
            "unlock",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
        ],
        None,
    ));
    assert!(
        err(&cli(
            &db,
            &[
                "user",
                "unlock",
                "--tenant",
                "acme",
                "--email",
                "ghost@example.com"
            ],
            None
        ))
        .contains("user not found")
    );
    let out = ok(&cli(
        &db,
        &[
            "user",
            "disable",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--json",
        ],
        None,
    ));
    assert!(out.contains("\"disabled\""));
    let out = ok(&cli(&db, &["tenant", "list", "--json"], None));
    let tenants: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tenants.as_array().unwrap().len(), 2);
    ok(&cli(&db, &["tenant", "disable", "acme"], None));
    let out = ok(&cli(&db, &["tenant", "list"], None));
    assert!(out.contains("acme\tdisabled"), "{out}");
}

#[test]
fn hash_rate_measures_the_configured_parameters() {
    let out = std::process::Command::new(crate::common::BIN)
        .args(["hash-rate", "--json", "--threads", "1", "--seconds", "1"])
        .env_clear()
        .env("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192")
        .env("OPENTRUSTY_ARGON2_ITERATIONS", "1")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert!(v["hashes_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(v["memory_kib"], 8192);
    assert_eq!(v["threads"], 1);
}

#[test]
fn updates_change_profiles_and_names() {
    let dir = tempdir();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    ok(&cli(&db, &["tenant", "create", "acme"], None));
    ok(&cli(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
        ],
        None,
    ));
    let out = ok(&cli(
        &db,
        &[
            "user",
            "update",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--nickname",
            "ally",
            "--locale",
            "en-GB",
            "--email-verified",
            "true",
            "--json",
        ],
        None,
    ));
    let u: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(u["profile"]["nickname"], "ally");
    assert_eq!(u["profile"]["locale"], "en-GB");
    assert_eq!(u["email_verified"], true);
    assert!(
        err(&cli(
            &db,
            &[
                "user",
                "update",
                "--tenant",
                "acme",
                "--email",
                "alice@example.com",
                "--picture",
                "http://x/y.png"
            ],
            None
        ))
        .contains("https")
    );
    assert!(
        err(&cli(
            &db,
            &[
                "user",
                "update",
                "--tenant",
                "acme",
                "--email",
                "alice@example.com"
            ],
            None
        ))
        .contains("nothing to change")
    );
    let out = ok(&cli(
        &db,
        &[
            "tenant",
            "update",
            "acme",
            "--name",
            "Acme Industries",
            "--json",
        ],
        None,
    ));
    assert!(out.contains("Acme Industries"));
    assert!(
        err(&cli(
            &db,
            &["tenant", "update", "acme", "--name", "  "],
            None
        ))
        .contains("name")
    );
}

#[test]
fn audit_list_shows_what_happened() {
    let dir = tempdir();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    ok(&cli(&db, &["tenant", "create", "acme"], None));
    ok(&cli(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
        ],
        None,
    ));
    ok(&cli(
        &db,
        &[
            "user",
            "disable",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
        ],
        None,
    ));
    let out = ok(&cli(
        &db,
        &["audit", "--tenant", "acme", "--json", "--limit", "2"],
        None,
    ));
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let types: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["user.disabled", "user.created"],
        "newest first, limited"
    );
    assert!(rows[0]["actor"].as_str().unwrap().starts_with("cli:uid="));
    let text = ok(&cli(&db, &["audit", "--tenant", "acme"], None));
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().last().unwrap().contains("tenant.created"));
    assert!(err(&cli(&db, &["audit", "--tenant", "nope"], None)).contains("tenant not found"));
    assert!(!cli(&db, &["audit", "--limit", "0"], None).status.success());
}
