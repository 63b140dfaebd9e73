//! The tenants and audit pages on PostgreSQL: a platform owner lists, creates, disables and
//! enables a tenant, then finds those changes on the audit page and in its export.

use super::browser::{Browser, field};
use super::{ROOT_PW, ok};
use crate::cluster::Node;
use crate::common::http::Target;
use crate::login_pages::cli_env;
use crate::oauth_world::KEK;

#[test]
fn tenants_and_audit_pages_on_postgresql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(crate::common::pg::fresh_database(
        "console_pages_on_postgresql",
    )) else {
        return;
    };
    let node = Node::start(&db);
    let env = [("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)];
    let pw = format!("{ROOT_PW}\n");
    ok(cli_env(
        &db,
        &env,
        &[
            "bootstrap",
            "--email",
            "root@example.com",
            "--password-file",
            "-",
        ],
        Some(&pw),
    ));
    ok(cli_env(&db, &env, &["tenant", "create", "acme"], None));
    let Target::Tcp(addr) = node.target else {
        unreachable!()
    };
    let mut root = Browser::new(&[addr.port()]);
    let home = root.sign_in("/console/", "root@example.com", ROOT_PW);
    assert_eq!(home.status, 200, "{}", home.body);
    let (page, _) = root.open("/console/t/platform/tenants?limit=1");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body.matches("class=\"tenant-slug\"").count(), 1);
    assert!(page.body.contains("id=\"next-page\""), "{}", page.body);
    let csrf = field(&page.body, "csrf").unwrap();
    let res = root.request(
        "POST",
        "/console/t/platform/tenants",
        Some(&format!("csrf={csrf}&slug=acme")),
    );
    assert_eq!(res.status, 409, "{}", res.body);
    let res = root.request(
        "POST",
        "/console/t/platform/tenants",
        Some(&format!("csrf={csrf}&slug=gamma&display_name=Gamma")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    for action in ["disable", "enable"] {
        let res = root.request(
            "POST",
            &format!("/console/t/platform/tenants/gamma/{action}"),
            Some(&format!("csrf={csrf}")),
        );
        assert_eq!(res.status, 303, "{action}: {}", res.body);
    }
    let (list, _) = root.open("/console/t/platform/tenants");
    assert!(list.body.contains(">gamma<"), "{}", list.body);
    assert!(
        list.body.contains("tenants/gamma/disable\""),
        "{}",
        list.body
    );

    // The platform's audit page, one tenant's events.
    let (audit, _) = root.open("/console/t/platform/audit?tenant=gamma&type=tenant.disabled");
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert_eq!(
        audit
            .body
            .matches("class=\"event-type\">tenant.disabled<")
            .count(),
        1,
        "{}",
        audit.body
    );
    let res = root.get("/console/t/platform/audit/export?tenant=gamma");
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("\"tenant.enabled\""), "{}", res.body);
    assert!(res.body.lines().count() >= 3, "{}", res.body);
}
