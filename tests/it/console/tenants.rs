//! The console's tenants page (platform only): the list a page at a time, create with errors
//! shown in the page, disable/enable as CSRF-protected POST forms; a platform viewer sees no
//! write controls and a forged POST from its session is refused with a 403 page; a tenant's
//! own console gets the not-found page.

use super::browser::{Browser, field};
use super::{ROOT_PW, cli, console_site, ok, port_of};

fn slugs(body: &str) -> Vec<String> {
    body.split("class=\"tenant-slug\">")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

fn next_link(body: &str) -> Option<String> {
    body.split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| s.replace("&#38;", "&").replace("&amp;", "&"))
}

#[test]
fn platform_operators_list_create_disable_and_enable_tenants() {
    let s = console_site(&[]);
    let port = port_of(&s);
    let mut root = Browser::new(&[port]);
    let home = root.sign_in("/console/", "root@example.com", ROOT_PW);
    assert_eq!(home.status, 200, "{}", home.body);
    // The platform console links the page; a tenant's does not (below).
    assert!(
        home.body.contains("/console/t/platform/tenants\""),
        "{}",
        home.body
    );
    assert!(
        home.body.contains("/console/t/platform/audit\""),
        "{}",
        home.body
    );

    let (page, _) = root.open("/console/t/platform/tenants");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        !page
            .header("content-security-policy")
            .unwrap()
            .contains("unsafe-inline")
    );
    assert!(
        page.body.contains("aria-current=\"page\">Tenants<"),
        "{}",
        page.body
    );
    let all = slugs(&page.body);
    for t in ["platform", "acme", "beta"] {
        assert!(all.iter().any(|s| s == t), "{t}: {all:?}");
    }
    assert!(page.body.contains("<label for=\"slug\">Slug</label>"));
    let csrf = field(&page.body, "csrf").expect("a CSRF token");

    // Paging with the keyset cursor: one a page, every tenant exactly once.
    let mut seen = Vec::new();
    let mut at = "/console/t/platform/tenants?limit=1".to_owned();
    loop {
        let (p, _) = root.open(&at);
        assert_eq!(p.status, 200, "{at}: {}", p.body);
        let these = slugs(&p.body);
        assert_eq!(these.len(), 1, "{at}: {}", p.body);
        seen.extend(these);
        match next_link(&p.body) {
            Some(n) => at = format!("/console/t/platform/tenants{n}"),
            None => break,
        }
        assert!(seen.len() <= all.len(), "{seen:?}");
    }
    assert_eq!(seen.len(), all.len(), "{seen:?} vs {all:?}");
    let (bad, _) = root.open("/console/t/platform/tenants?limit=0");
    assert_eq!(bad.status, 422, "{}", bad.body);

    // Create: without the CSRF token nothing happens.
    let res = root.request("POST", "/console/t/platform/tenants", Some("slug=gamma"));
    assert_eq!(res.status, 403, "{}", res.body);
    // A bad slug: 422, the error next to the field, the values kept.
    let res = root.request(
        "POST",
        "/console/t/platform/tenants",
        Some(&format!(
            "csrf={csrf}&slug=Not+A+Slug&display_name=Gamma+Inc"
        )),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("id=\"slug-error\""), "{}", res.body);
    assert!(res.body.contains("aria-invalid=\"true\""), "{}", res.body);
    assert!(res.body.contains("value=\"Gamma Inc\""), "{}", res.body);
    assert!(!res.body.contains("{\""), "no JSON body: {}", res.body);
    // A duplicate: a message in the page.
    let res = root.request(
        "POST",
        "/console/t/platform/tenants",
        Some(&format!("csrf={csrf}&slug=acme")),
    );
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains("id=\"create-error\""), "{}", res.body);
    assert!(res.body.contains("already exists"), "{}", res.body);
    // A good one: back to the list, where it is.
    let res = root.request(
        "POST",
        "/console/t/platform/tenants",
        Some(&format!("csrf={csrf}&slug=gamma&display_name=Gamma+Inc")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let (list, _) = root.follow(res, "/console/t/platform/tenants".into());
    assert!(
        slugs(&list.body).contains(&"gamma".to_owned()),
        "{}",
        list.body
    );
    assert!(list.body.contains(">Gamma Inc<"), "{}", list.body);
    let out = cli(&s.db, &["tenant", "list"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("gamma"));

    // Disable and enable, as POST forms with the token.
    let disable = "/console/t/platform/tenants/gamma/disable";
    assert!(
        list.body.contains(&format!("action=\"{disable}\"")),
        "{}",
        list.body
    );
    assert_eq!(
        root.request("POST", disable, Some("csrf=forged")).status,
        403
    );
    let res = root.request("POST", disable, Some(&format!("csrf={csrf}")));
    assert_eq!(res.status, 303, "{}", res.body);
    let (list, _) = root.open("/console/t/platform/tenants");
    let enable = "/console/t/platform/tenants/gamma/enable";
    assert!(
        list.body.contains(&format!("action=\"{enable}\"")),
        "{}",
        list.body
    );
    assert_eq!(
        root.open("/t/gamma/.well-known/openid-configuration")
            .0
            .status,
        404
    );
    let res = root.request("POST", enable, Some(&format!("csrf={csrf}")));
    assert_eq!(res.status, 303, "{}", res.body);
    let (list, _) = root.open("/console/t/platform/tenants");
    assert!(
        list.body.contains(&format!("action=\"{disable}\"")),
        "{}",
        list.body
    );
    // The platform tenant has no button, and cannot be disabled by a forged POST either.
    assert!(!list.body.contains("tenants/platform/disable"));
    let res = root.request(
        "POST",
        "/console/t/platform/tenants/platform/disable",
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 409, "{}", res.body);
    let audit = cli(&s.db, &["audit", "--tenant", "gamma", "--json"], None);
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.contains("\"tenant.disabled\""), "{audit}");

    // A tenant's own console: the page does not exist.
    let mut alice = Browser::new(&[port]);
    let page = alice.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("/tenants\""), "{}", page.body);
    let (nf, _) = alice.open("/console/t/acme/tenants");
    assert_eq!(nf.status, 404, "{}", nf.body);
    assert!(nf.body.contains("Not found"));
    assert_eq!(alice.open("/console/t/platform/tenants").0.status, 404);
    let csrf = field(&page.body, "csrf").unwrap();
    let res = alice.request(
        "POST",
        "/console/t/acme/tenants/beta/disable",
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 404, "{}", res.body);
}

#[test]
fn a_platform_viewer_sees_the_list_but_cannot_change_it() {
    let s = console_site(&[]);
    ok(cli(
        &s.db,
        &[
            "user",
            "create",
            "--tenant",
            "platform",
            "--email",
            "viewer@example.com",
            "--password-file",
            "-",
        ],
        Some("password-viewer\n"),
    ));
    ok(cli(
        &s.db,
        &[
            "user",
            "role",
            "--tenant",
            "platform",
            "--email",
            "viewer@example.com",
            "--role",
            "viewer",
        ],
        None,
    ));
    let mut viewer = Browser::new(&[port_of(&s)]);
    let home = viewer.sign_in("/console/", "viewer@example.com", "password-viewer");
    assert_eq!(home.status, 200, "{}", home.body);
    let (page, _) = viewer.open("/console/t/platform/tenants");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        slugs(&page.body).contains(&"acme".to_owned()),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Create a tenant"), "{}", page.body);
    assert!(!page.body.contains("/disable\""), "{}", page.body);
    assert!(!page.body.contains("name=\"slug\""), "{}", page.body);
    // Forged writes with a valid token: a 403 page, nothing changed.
    let csrf = field(&page.body, "csrf").unwrap();
    for (path, form) in [
        (
            "/console/t/platform/tenants",
            format!("csrf={csrf}&slug=delta"),
        ),
        (
            "/console/t/platform/tenants/acme/disable",
            format!("csrf={csrf}"),
        ),
    ] {
        let res = viewer.request("POST", path, Some(&form));
        assert_eq!(res.status, 403, "{path}: {}", res.body);
        assert!(res.body.contains("<h1>Not allowed</h1>"), "{}", res.body);
        assert!(
            res.header("content-type").unwrap().starts_with("text/html"),
            "{path}"
        );
    }
    let out = cli(&s.db, &["tenant", "list"], None);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(!out.contains("delta"), "{out}");
    assert!(!out.contains("disabled"), "{out}");
}
