//! The operator's second-factor commands (issue 12): `tenant update --mfa`, `client
//! create|update --require-mfa`, `user reset-mfa`, on the database directly (`--offline`'s
//! path) and through the daemon, where they become management API requests over the admin
//! socket and print what the offline commands print; each audited as the operator at this host.
//! (The API itself: `api::factors`.)

use opentrusty::config::DatabaseUrl;
use opentrusty::domain::tenant::MfaPolicy;
use opentrusty::service::{admin, factors};
use opentrusty::store::Store;
use serde_json::Value;

use super::*;
use crate::cli::{err, ok};
use crate::common::{Launch, stores, tempdir};
use crate::login_pages::cli;
use crate::oauth_world::KEK;

#[test]
fn mfa_commands_go_to_the_daemon() {
    let dir = tempdir();
    let (_daemon, socket) = daemon_with_admin_socket(
        Launch::new(dir.path()).env("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
        dir.path(),
    );
    let cwd = tempdir();
    let run = |args: &[&str]| ok_json(&remote(&socket, cwd.path(), args));
    run(&["tenant", "create", "acme", "--json"]);

    let t = run(&["tenant", "update", "acme", "--mfa", "required", "--json"]);
    assert_eq!(t["mfa"], "required", "{t}");
    let out = remote(&socket, cwd.path(), &["tenant", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("acme\tactive\tacme\tmfa=required"), "{text}");
    let out = remote(
        &socket,
        cwd.path(),
        &["tenant", "update", "acme", "--mfa", "optional"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "tenant acme: second factors optional"
    );

    let c = run(&[
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "Bank",
        "--redirect-uri",
        "https://bank.example/cb",
        "--require-mfa",
        "--json",
    ]);
    assert_eq!(c["require_mfa"], true, "{c}");
    let id = c["client_id"].as_str().unwrap().to_owned();
    let c = run(&[
        "client",
        "update",
        "--tenant",
        "acme",
        &id,
        "--require-mfa=false",
        "--json",
    ]);
    assert_eq!(c["require_mfa"], false, "{c}");
    let list = run(&["client", "list", "--tenant", "acme", "--json"]);
    assert_eq!(list[0]["require_mfa"], false, "{list}");

    run(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "ann@example.com",
        "--json",
    ]);
    // An authenticator app, enrolled in the daemon's database as the account page would.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let check = |want: bool| {
        rt.block_on(async {
            let url = DatabaseUrl::Sqlite(dir.path().join("opentrusty.db"));
            let store = Store::connect(&url, 2).await.unwrap();
            let app = stores::app(store, &[("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)]);
            let t = admin::tenant(&app, "acme").await.unwrap();
            let ann = admin::users_list(&app, &t).await.unwrap().remove(0);
            if want {
                crate::api::factors::enrol(&app, &t, &ann, "Phone").await;
            }
            let enrolled = factors::enrolled(&app, &t, ann.id).await.unwrap();
            app.store.close().await;
            enrolled
        })
    };
    assert!(check(true));
    let r = run(&[
        "user",
        "reset-mfa",
        "--tenant",
        "acme",
        "--email",
        "ann@example.com",
        "--json",
    ]);
    assert_eq!(r["factors_removed"], 1, "{r}");
    assert!(!check(false));
    let out = remote(
        &socket,
        cwd.path(),
        &[
            "user",
            "reset-mfa",
            "--tenant",
            "acme",
            "--email",
            "nobody@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));

    let rows = audit_rows(dir.path(), "acme");
    let reset = rows
        .iter()
        .find(|r| r["event_type"] == "mfa.reset")
        .expect("mfa.reset");
    assert!(
        reset["actor"].as_str().unwrap().starts_with("local:"),
        "{reset}"
    );
    assert!(
        rows.iter().any(|r| r["event_type"] == "tenant.updated"
            && r["metadata"].as_str().unwrap().contains("required")),
        "{rows:?}"
    );
}

fn cli_json(out: &std::process::Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[test]
fn policy_client_flag_and_reset_offline() {
    let dir = tempdir();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    ok(&cli(&db, &["tenant", "create", "acme"], None));

    // The policy: set, shown by update and list, refused when misspelt, audited.
    let t = cli_json(&cli(
        &db,
        &["tenant", "update", "acme", "--mfa", "required", "--json"],
        None,
    ));
    assert_eq!(
        (t["mfa"].as_str(), t["name"].as_str()),
        (Some("required"), Some("acme"))
    );
    let text = ok(&cli(&db, &["tenant", "list"], None));
    assert!(text.contains("acme\tactive\tacme\tmfa=required"), "{text}");
    let out = cli(&db, &["tenant", "update", "acme", "--mfa", "always"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mfa"));
    // The policy it has already: said again, not audited again (checked below).
    ok(&cli(
        &db,
        &["tenant", "update", "acme", "--mfa", "required"],
        None,
    ));
    // Nothing to change is a usage error, not a silent success.
    assert!(
        !cli(&db, &["tenant", "update", "acme"], None)
            .status
            .success()
    );
    let text = ok(&cli(
        &db,
        &[
            "tenant", "update", "acme", "--mfa", "optional", "--name", "Acme",
        ],
        None,
    ));
    assert!(
        text.contains("renamed tenant acme") && text.contains("second factors optional"),
        "{text}"
    );

    // A client that always needs a second factor, and withdrawing it.
    let c = cli_json(&cli(
        &db,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Bank",
            "--redirect-uri",
            "https://bank.example/cb",
            "--require-mfa",
            "--json",
        ],
        None,
    ));
    assert_eq!(c["require_mfa"], true, "{c}");
    let id = c["client_id"].as_str().unwrap();
    let c = cli_json(&cli(
        &db,
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            id,
            "--require-mfa=false",
            "--json",
        ],
        None,
    ));
    assert_eq!(c["require_mfa"], false, "{c}");
    let c = cli_json(&cli(
        &db,
        &[
            "client",
            "update",
            "--tenant",
            "acme",
            id,
            "--require-mfa=true",
            "--json",
        ],
        None,
    ));
    assert_eq!(c["require_mfa"], true, "{c}");
    let plain = cli_json(&cli(
        &db,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "Shop",
            "--redirect-uri",
            "https://shop.example/cb",
            "--json",
        ],
        None,
    ));
    assert_eq!(plain["require_mfa"], false);

    // A user with an authenticator app (enrolled as the account page would), reset.
    ok(&cli(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "ann@example.com",
        ],
        None,
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, t) = rt.block_on(async {
        let url = DatabaseUrl::Sqlite(dir.path().join("cli.db"));
        let store = Store::connect(&url, 2).await.unwrap();
        let app = stores::app(store, &[("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)]);
        let t = admin::tenant(&app, "acme").await.unwrap();
        assert_eq!(t.mfa, MfaPolicy::Optional);
        let ann = admin::users_list(&app, &t).await.unwrap().remove(0);
        crate::api::factors::enrol(&app, &t, &ann, "Phone").await;
        assert!(factors::enrolled(&app, &t, ann.id).await.unwrap());
        (app, t)
    });
    let r = cli_json(&cli(
        &db,
        &[
            "user",
            "reset-mfa",
            "--tenant",
            "acme",
            "--email",
            "ann@example.com",
            "--json",
        ],
        None,
    ));
    assert_eq!(r["factors_removed"], 1, "{r}");
    assert_eq!(r["email"], "ann@example.com");
    let text = ok(&cli(
        &db,
        &[
            "user",
            "reset-mfa",
            "--tenant",
            "acme",
            "--email",
            "ann@example.com",
        ],
        None,
    ));
    assert!(
        text.contains("second factors of ann@example.com reset: 0 factor(s)"),
        "{text}"
    );
    assert!(
        err(&cli(
            &db,
            &[
                "user",
                "reset-mfa",
                "--tenant",
                "acme",
                "--email",
                "nobody@example.com"
            ],
            None
        ))
        .contains("not found")
    );
    rt.block_on(async {
        let ann = admin::users_list(&app, &t).await.unwrap().remove(0);
        assert!(!factors::enrolled(&app, &t, ann.id).await.unwrap());
    });

    // Every change in the trail, by the operator at this host.
    let rows = cli_json(&cli(
        &db,
        &["audit", "--tenant", "acme", "--json", "--limit", "50"],
        None,
    ));
    let rows = rows.as_array().unwrap();
    let kinds: Vec<&str> = rows
        .iter()
        .map(|r| r["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "mfa.reset").count(),
        2,
        "{kinds:?}"
    );
    let policy: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            r["event_type"] == "tenant.updated"
                && r["metadata"].as_str().unwrap().contains("\"mfa\"")
        })
        .collect();
    assert_eq!(policy.len(), 2, "{rows:?}");
    assert!(
        policy
            .iter()
            .all(|r| r["actor"].as_str().unwrap().starts_with("local:")),
        "{policy:?}"
    );
}
