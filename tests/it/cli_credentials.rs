//! Operator commands that end credentials: deleting users, disabling and enabling clients and
//! tenants, and the introspection permission, end to end through the CLI.

use crate::cli::{err, ok};
use crate::common::tempdir;
use crate::login_pages::cli;

#[test]
fn delete_users_disable_clients_and_grant_introspection() {
    let dir = tempdir();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    ok(&cli(&db, &["tenant", "create", "acme"], None));
    let created = ok(&cli(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--json",
        ],
        None,
    ));
    let bob: serde_json::Value = serde_json::from_str(&created).unwrap();

    // user delete: the row is gone, the answer names the id only.
    let out = ok(&cli(
        &db,
        &[
            "user",
            "delete",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--json",
        ],
        None,
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!({ "deleted": bob["id"] }));
    let list = ok(&cli(&db, &["user", "list", "--tenant", "acme"], None));
    assert!(!list.contains("bob@example.com"));
    assert!(
        err(&cli(
            &db,
            &[
                "user",
                "delete",
                "--tenant",
                "acme",
                "--email",
                "bob@example.com"
            ],
            None
        ))
        .contains("user not found")
    );

    // A resource server registered with the introspection permission; shown by list --json.
    let out = ok(&cli(
        &db,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "api",
            "--grant",
            "client_credentials",
            "--scope",
            "api",
            "--introspection",
            "--json",
        ],
        None,
    ));
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = c["client_id"].as_str().unwrap().to_owned();
    assert_eq!(c["introspection"], true);
    let listed = |db: &str| -> serde_json::Value {
        let out = ok(&cli(
            db,
            &["client", "list", "--tenant", "acme", "--json"],
            None,
        ));
        serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
    };
    assert_eq!(listed(&db)["introspection"], true);
    assert_eq!(listed(&db)["status"], "active");
    ok(&cli(
        &db,
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            &id,
            "--introspection",
            "false",
        ],
        None,
    ));
    assert_eq!(listed(&db)["introspection"], false);
    assert!(
        err(&cli(
            &db,
            &["client", "update", "--tenant", "acme", &id],
            None
        ))
        .contains("nothing to change")
    );
    // An id that begins with `-` (older ids could) is an id to the CLI, not an option.
    let e = err(&cli(
        &db,
        &["client", "disable", "--tenant", "acme", "-yNoSuchClient"],
        None,
    ));
    assert!(e.contains("not found"), "{e}");

    // Disable and enable.
    let out = ok(&cli(
        &db,
        &["client", "disable", "--tenant", "acme", &id],
        None,
    ));
    assert!(out.contains("tokens were revoked"), "{out}");
    assert_eq!(listed(&db)["status"], "disabled");
    ok(&cli(
        &db,
        &["client", "enable", "--tenant", "acme", &id],
        None,
    ));
    assert_eq!(listed(&db)["status"], "active");
    assert!(
        err(&cli(
            &db,
            &["client", "disable", "--tenant", "acme", "nope"],
            None
        ))
        .contains("client not found")
    );

    // A tenant can be enabled again after it was disabled.
    let out = ok(&cli(&db, &["tenant", "disable", "acme", "--json"], None));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"],
        "disabled"
    );
    let out = ok(&cli(&db, &["tenant", "enable", "acme", "--json"], None));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"],
        "active"
    );
}
