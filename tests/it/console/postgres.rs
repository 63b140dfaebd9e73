//! The console on PostgreSQL: sign-in (the tenant made by the offline CLI while the daemon
//! runs, so its built-in client's URIs are corrected at sign-in), pages and sign-out.

use super::browser::{Browser, field};
use super::ok;
use crate::cluster::Node;
use crate::common::http::Target;
use crate::login_pages::cli_env;
use crate::oauth_world::KEK;

#[test]
fn sign_in_pages_and_sign_out_on_postgresql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(crate::common::pg::fresh_database("console_on_postgresql")) else {
        return;
    };
    let node = Node::start(&db);
    let env = [("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)];
    ok(cli_env(&db, &env, &["tenant", "create", "acme"], None));
    ok(cli_env(
        &db,
        &env,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--password-file",
            "-",
        ],
        Some("password-acme\n"),
    ));
    ok(cli_env(
        &db,
        &env,
        &[
            "user",
            "role",
            "--tenant",
            "acme",
            "--email",
            "alice@example.com",
            "--role",
            "admin",
        ],
        None,
    ));
    let Target::Tcp(addr) = node.target else {
        unreachable!()
    };
    let mut alice = Browser::new(&[addr.port()]);
    let page = alice.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(">admin<"), "{}", page.body);
    assert!(page.body.contains("id=\"count-users\">1<"), "{}", page.body);
    let (who, _) = alice.open("/console/t/acme/whoami");
    assert!(
        who.body.contains("id=\"whoami-role\">admin<"),
        "{}",
        who.body
    );
    assert_eq!(alice.open("/console/t/platform/").0.status, 404);
    let csrf = field(&page.body, "csrf").unwrap();
    let res = alice.request(
        "POST",
        "/console/t/acme/signout",
        Some(&format!("csrf={csrf}")),
    );
    let (done, at) = alice.follow(res, "/console/t/acme/signout".into());
    assert!(at.contains("/signed-out"), "{at}: {}", done.body);
    let (_, at) = alice.open("/console/t/acme/");
    assert!(at.contains("/t/acme/login"), "{at}");
}
