//! Management roles from the operator CLI (issue 10, first part): bootstrap makes the platform
//! owner, `user role` grants and removes roles, and a tenant never loses its last active owner
//! (removing the role, disabling or deleting that user is refused and changes nothing).

use crate::cli::{err, ok};
use crate::common::tempdir;
use crate::login_pages::cli;

fn role(db: &str, tenant: &str, email: &str, role: &str) -> std::process::Output {
    cli(
        db,
        &[
            "user", "role", "--tenant", tenant, "--email", email, "--role", role, "--json",
        ],
        None,
    )
}

#[test]
fn roles_are_granted_and_the_last_owner_stays() {
    let dir = tempdir();
    let db = format!("sqlite://{}/roles.db", dir.path().display());
    ok(&cli(
        &db,
        &["bootstrap", "--email", "root@example.com"],
        None,
    ));
    // The bootstrap user owns the platform, and is its last owner.
    let e = err(&role(&db, "platform", "root@example.com", "none"));
    assert!(e.contains("last owner"), "{e}");
    let e = err(&cli(
        &db,
        &[
            "user",
            "disable",
            "--tenant",
            "platform",
            "--email",
            "root@example.com",
        ],
        None,
    ));
    assert!(e.contains("last owner"), "{e}");

    ok(&cli(&db, &["tenant", "create", "acme"], None));
    for email in ["alice@example.com", "bob@example.com"] {
        ok(&cli(
            &db,
            &["user", "create", "--tenant", "acme", "--email", email],
            None,
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(&ok(&role(&db, "acme", "alice@example.com", "owner"))).unwrap();
    assert_eq!(v["role"], "owner");
    assert_eq!(v["tenant"], "acme");
    ok(&role(&db, "acme", "bob@example.com", "admin"));
    // Unknown roles are refused by the parser, naming the choices.
    let bad = role(&db, "acme", "bob@example.com", "superuser");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("owner"));
    // Alice is the only owner: she keeps it until someone else holds it.
    assert!(err(&role(&db, "acme", "alice@example.com", "viewer")).contains("last owner"));
    ok(&role(&db, "acme", "bob@example.com", "owner"));
    let v: serde_json::Value =
        serde_json::from_str(&ok(&role(&db, "acme", "alice@example.com", "viewer"))).unwrap();
    assert_eq!(v["role"], "viewer");
    // Now Bob is the last owner: neither deleting nor disabling him goes through.
    for cmd in ["delete", "disable"] {
        let e = err(&cli(
            &db,
            &[
                "user",
                cmd,
                "--tenant",
                "acme",
                "--email",
                "bob@example.com",
            ],
            None,
        ));
        assert!(e.contains("last owner"), "{cmd}: {e}");
    }
    // Roles of one tenant are not roles of another: root has none in acme.
    let e = err(&role(&db, "acme", "root@example.com", "owner"));
    assert!(e.contains("not found"), "{e}");
    // Every change is in the audit trail.
    let audit = ok(&cli(&db, &["audit", "--tenant", "acme", "--json"], None));
    assert_eq!(audit.matches("user.role_changed").count(), 4, "{audit}");
}
