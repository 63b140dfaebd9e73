//! The clients pages on PostgreSQL: the platform owner registers clients in a tenant from the
//! console, pages through them, edits one, rotates its secret and deletes it; the client
//! authenticates at the tenant's token endpoint with each secret it was shown.

use super::super::browser::{Browser, field};
use super::super::{ROOT_PW, ok};
use super::{NEW, client_form, code, names, register, token};
use crate::cluster::Node;
use crate::common::http::Target;
use crate::login_pages::cli_env;
use crate::oauth_world::KEK;

#[test]
fn clients_pages_on_postgresql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(crate::common::pg::fresh_database(
        "console_clients_on_postgresql",
    )) else {
        return;
    };
    let node = Node::start(&db);
    let env = [("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK)];
    let pw = format!("{ROOT_PW}\n");
    let bootstrap = [
        "bootstrap",
        "--email",
        "root@example.com",
        "--password-file",
        "-",
    ];
    ok(cli_env(&db, &env, &bootstrap, Some(&pw)));
    ok(cli_env(&db, &env, &["tenant", "create", "acme"], None));
    let Target::Tcp(addr) = node.target else {
        unreachable!()
    };
    let mut root = Browser::new(&[addr.port()]);
    let home = root.sign_in("/console/", "root@example.com", ROOT_PW);
    assert_eq!(home.status, 200, "{}", home.body);

    let mut ids = Vec::new();
    let mut secrets = Vec::new();
    for name in ["Shop", "Back office"] {
        let res = register(&mut root, name, "https://app.example/cb", &[]);
        assert_eq!(res.status, 200, "{}", res.body);
        ids.push(code(&res.body, "client-id").unwrap());
        secrets.push(code(&res.body, "secret").unwrap());
    }
    let (first, _) = root.open("/console/t/acme/clients?limit=1");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(names(&first.body).len(), 1);
    let next = first
        .body
        .split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a next page")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let (second, _) = root.open(&format!("/console/t/acme/clients{next}"));
    let mut both = [names(&first.body), names(&second.body)].concat();
    both.sort();
    assert_eq!(both, ["Back office", "Shop"]);
    assert_eq!(token(&node.target, &ids[0], &secrets[0]).status, 200);

    let detail = format!("/console/t/acme/clients/{}", ids[0]);
    let (page, _) = root.open(&detail);
    let csrf = field(&page.body, "csrf").unwrap();
    let form = client_form(&csrf, "Shop 2", "https://app.example/cb", &[]);
    assert_eq!(root.request("POST", &detail, Some(&form)).status, 303);
    assert!(root.open(&detail).0.body.contains("<h1>Shop 2</h1>"));
    let bad = client_form(&csrf, "Shop 3", "nope", &[]);
    assert_eq!(root.request("POST", &detail, Some(&bad)).status, 422);

    let res = root.request(
        "POST",
        &format!("{detail}/secret"),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    let fresh = code(&res.body, "secret").unwrap();
    assert_eq!(token(&node.target, &ids[0], &secrets[0]).status, 401);
    assert_eq!(token(&node.target, &ids[0], &fresh).status, 200);

    let (confirm, _) = root.open(&format!("{detail}/delete"));
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let res = root.request(
        "POST",
        &format!("{detail}/delete"),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let (list, _) = root.open("/console/t/acme/clients");
    assert_eq!(names(&list.body), ["Back office"]);
    assert_eq!(root.open(NEW).0.status, 200);
}
