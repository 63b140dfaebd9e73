//! A tenant's self-registration setting (issue 13): closed by default; opened and closed by
//! `tenant update --registration` on the database directly and through the daemon's admin
//! socket (where it becomes a management API request), and by `PATCH /api/v1/tenants/{slug}`
//! (its owners only); a bad value refused naming the field; the same value again is no
//! change; each change audited as `tenant.updated` naming the field; the console's tenants
//! list shows it. Both backends for the API and the console.

use opentrusty::domain::role::Role;
use opentrusty::domain::tenant::Registration;
use opentrusty::service::{admin, audit};
use opentrusty::store::Store;
use serde_json::{Value, json};

use crate::api::harness::Api;
use crate::both_backends;
use crate::cli::ok;
use crate::common::{BIN, Daemon, Launch, eventually, free_port, http, tempdir};
use crate::login_pages::cli;

fn cli_json(out: &std::process::Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[test]
fn the_cli_opens_and_closes_registration_offline() {
    let dir = tempdir();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    ok(&cli(&db, &["tenant", "create", "acme"], None));
    let t = cli_json(&cli(&db, &["tenant", "list", "--json"], None));
    assert_eq!(t[0]["registration"], "closed", "closed by default: {t}");

    let t = cli_json(&cli(
        &db,
        &[
            "tenant",
            "update",
            "acme",
            "--registration",
            "open",
            "--json",
        ],
        None,
    ));
    assert_eq!(t["registration"], "open", "{t}");
    let text = ok(&cli(
        &db,
        &["tenant", "update", "acme", "--registration", "open"],
        None,
    ));
    assert!(text.contains("self-registration open"), "{text}");
    let out = cli(
        &db,
        &["tenant", "update", "acme", "--registration", "maybe"],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--registration"));
    let text = ok(&cli(
        &db,
        &["tenant", "update", "acme", "--registration", "closed"],
        None,
    ));
    assert_eq!(text.trim(), "tenant acme: self-registration closed");

    // Two changes, two events (the repeated "open" was none), each naming the field.
    let rows = cli_json(&cli(&db, &["audit", "--tenant", "acme", "--json"], None));
    let changes: Vec<Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event_type"] == "tenant.updated")
        .map(|r| serde_json::from_str::<Value>(r["metadata"].as_str().unwrap()).unwrap())
        .map(|m| m["registration"].clone())
        .collect();
    assert_eq!(
        changes,
        [
            json!({ "from": "open", "to": "closed" }),
            json!({ "from": "closed", "to": "open" })
        ],
        "newest first"
    );
}

#[test]
fn the_cli_sends_the_setting_to_the_daemon() {
    let dir = tempdir();
    let socket = dir.path().join("admin.sock");
    let _daemon: Daemon = Launch::new(dir.path())
        .env("OPENTRUSTY_LISTEN", &format!("127.0.0.1:{}", free_port()))
        .env(
            "OPENTRUSTY_ADMIN_LISTEN",
            &format!("unix:{}", socket.display()),
        )
        .spawn();
    let target = http::Target::unix(&socket);
    assert!(eventually(std::time::Duration::from_secs(20), || {
        http::get(&target, "/health/live").is_ok_and(|r| r.status == 200)
    }));
    let cwd = tempdir();
    let remote = |args: &[&str]| {
        std::process::Command::new(BIN)
            .args(args)
            .current_dir(cwd.path())
            .env_clear()
            .env("OPENTRUSTY_ADMIN_SOCKET", &socket)
            .output()
            .unwrap()
    };
    ok(&remote(&["tenant", "create", "acme"]));
    let t = cli_json(&remote(&[
        "tenant",
        "update",
        "acme",
        "--registration",
        "open",
        "--json",
    ]));
    assert_eq!(t["registration"], "open", "{t}");
    let text = ok(&remote(&[
        "tenant",
        "update",
        "acme",
        "--registration",
        "closed",
    ]));
    assert_eq!(text.trim(), "tenant acme: self-registration closed");
    let t = cli_json(&remote(&["tenant", "list", "--json"]));
    assert_eq!(t[0]["registration"], "closed", "{t}");
}

async fn the_api_reads_and_sets_registration(store: Store) {
    let api = Api::new(store).await;
    let owner = api.token(&api.a, Role::Owner).await;
    let admin_token = api.token(&api.a, Role::Admin).await;
    let t = api
        .call("GET", "/api/v1/tenants/acme", Some(&owner), None)
        .await;
    assert_eq!(t.json["registration"], "closed", "{}", t.json);

    let open = || Some(json!({ "registration": "open" }));
    let r = api
        .call("PATCH", "/api/v1/tenants/acme", Some(&admin_token), open())
        .await;
    assert_eq!(r.status, 403, "an admin does not change tenant settings");
    let r = api
        .call("PATCH", "/api/v1/tenants/acme", Some(&owner), open())
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["registration"], "open");
    // What the sign-up page reads: the tenant through the cache.
    let cached = api.app.tenants.get(&api.app.store, "acme").await.unwrap();
    assert_eq!(cached.unwrap().registration, Registration::Open);

    // A bad value names the field and changes nothing, not even the name sent with it.
    let bad = Some(json!({ "registration": "maybe", "display_name": "Other" }));
    let r = api
        .call("PATCH", "/api/v1/tenants/acme", Some(&owner), bad)
        .await;
    assert_eq!(r.status, 422, "{}", r.json);
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .starts_with("registration"),
        "{}",
        r.json
    );
    let t = admin::tenant(&api.app, "acme").await.unwrap();
    assert_eq!(
        (t.registration, t.display_name.as_str()),
        (Registration::Open, "acme")
    );
    // The same value again is no change; the other tenant is untouched.
    api.call("PATCH", "/api/v1/tenants/acme", Some(&owner), open())
        .await;
    let events: Vec<Value> = audit::list(&api.app, Some(&api.a), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "tenant.updated")
        .map(|e| serde_json::from_str::<Value>(&e.metadata).unwrap()["registration"].clone())
        .collect();
    assert_eq!(events, [json!({ "from": "closed", "to": "open" })]);
    let b = admin::tenant(&api.app, "beta").await.unwrap();
    assert_eq!(b.registration, Registration::Closed);
}
both_backends!(the_api_reads_and_sets_registration);

/// The platform's tenants list in the console shows each tenant's setting.
fn the_console_lists_the_setting(site: crate::verify_pages::Site) {
    use crate::console::browser::Browser;
    use opentrusty::service::Context;
    site.rt
        .block_on(admin::bootstrap(
            &site.app,
            "root@example.com",
            crate::verify_pages::PW,
            &Context::cli(),
        ))
        .unwrap();
    site.tenant("acme");
    site.tenant("beta");
    site.rt
        .block_on(admin::tenant_set_registration(
            &site.app,
            "acme",
            Registration::Open,
            &Context::cli(),
        ))
        .unwrap();
    let mut root = Browser::new(&[site.port]);
    let page = root.sign_in(
        "/console/t/platform/tenants",
        "root@example.com",
        crate::verify_pages::PW,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<th scope=\"col\">Sign-up</th>"),
        "{}",
        page.body
    );
    for (slug, setting) in [("acme", "open"), ("beta", "closed"), ("platform", "closed")] {
        let row = page
            .body
            .split("<tr>")
            .find(|r| r.contains(&format!("<td class=\"tenant-slug\">{slug}</td>")))
            .unwrap_or_else(|| panic!("{slug}: {}", page.body));
        let cell = format!("<td class=\"tenant-registration\">{setting}</td>");
        assert!(row.contains(&cell), "{slug}: {row}");
    }
}
crate::verify_pages::on_both!(the_console_lists_the_setting);
