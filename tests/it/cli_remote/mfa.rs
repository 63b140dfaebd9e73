//! The second-factor commands through the daemon (issue 12): `tenant update --mfa`,
//! `client create|update --require-mfa`, `user reset-mfa` become management API requests
//! over the admin socket, print what the offline commands print, and are audited as the
//! local operator.

use opentrusty::config::DatabaseUrl;
use opentrusty::service::{admin, factors};
use opentrusty::store::Store;

use super::*;
use crate::common::{Launch, stores, tempdir};
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
