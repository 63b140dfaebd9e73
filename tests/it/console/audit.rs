//! The console's audit page: filters by type, actor and time range, keyset paging, the
//! NDJSON export of the same range; platform callers see every tenant's events on the
//! platform console; a tenant's console sees its own only.

use super::browser::Browser;
use super::{ROOT_PW, console_site, port_of};

fn types(body: &str) -> Vec<String> {
    body.split("class=\"event-type\">")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

fn href(body: &str, id: &str) -> Option<String> {
    body.split(&format!("id=\"{id}\" href=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| s.replace("&#38;", "&").replace("&amp;", "&"))
}

#[test]
fn the_audit_page_filters_pages_and_exports() {
    let s = console_site(&[]);
    let port = port_of(&s);
    let mut alice = Browser::new(&[port]);
    // A failed login first, then the owner's sign-in.
    let mut other = Browser::new(&[port]);
    let failed = other.sign_in("/console/t/acme/", "alice@example.com", "wrong-password");
    assert_ne!(failed.status, 200);
    let home = alice.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains("/console/t/acme/audit\""),
        "{}",
        home.body
    );

    let (page, _) = alice.open("/console/t/acme/audit");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.body.contains("aria-current=\"page\">Audit<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<label for=\"since\">"), "{}", page.body);
    let all = types(&page.body);
    assert!(all.contains(&"login.failed".to_owned()), "{all:?}");
    assert!(all.contains(&"login.succeeded".to_owned()), "{all:?}");
    // No tenant filter on a tenant's console, and no other tenant's events.
    assert!(!page.body.contains("id=\"tenant\""));
    // acme's own creation only, not beta's.
    assert_eq!(
        all.iter().filter(|t| *t == "tenant.created").count(),
        1,
        "{all:?}"
    );

    // By type.
    let (f, _) = alice.open("/console/t/acme/audit?type=login.failed");
    assert_eq!(f.status, 200, "{}", f.body);
    let only = types(&f.body);
    assert!(
        !only.is_empty() && only.iter().all(|t| t == "login.failed"),
        "{only:?}"
    );
    assert!(f.body.contains("value=\"login.failed\""));
    // By actor: nobody of that name.
    let (f, _) = alice.open("/console/t/acme/audit?actor=user%3Anobody");
    assert!(types(&f.body).is_empty(), "{}", f.body);
    // By time: everything is before 2100 and nothing is before 2000.
    let (f, _) =
        alice.open("/console/t/acme/audit?since=2000-01-01T00%3A00&until=2100-01-01T00%3A00");
    assert_eq!(f.status, 200, "{}", f.body);
    assert_eq!(types(&f.body), all);
    let (f, _) = alice.open("/console/t/acme/audit?until=2000-01-01T00%3A00%3A00");
    assert!(types(&f.body).is_empty(), "{}", f.body);
    let (f, _) = alice.open("/console/t/acme/audit?since=946684800");
    assert_eq!(types(&f.body), all);
    // Bad input: 422 with the error in the page naming the field.
    let (bad, _) = alice.open("/console/t/acme/audit?since=yesterday");
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"filter-error\""), "{}", bad.body);
    assert!(bad.body.contains("since must be"), "{}", bad.body);
    let (bad, _) = alice.open("/console/t/acme/audit?limit=0");
    assert_eq!(bad.status, 422, "{}", bad.body);

    // Paging: one a page, all of them, in the same order.
    let mut seen = Vec::new();
    let mut at = "/console/t/acme/audit?limit=1".to_owned();
    while seen.len() <= all.len() + 1 {
        let (p, _) = alice.open(&at);
        assert_eq!(p.status, 200, "{at}: {}", p.body);
        seen.extend(types(&p.body));
        match href(&p.body, "next-page") {
            Some(n) => at = format!("/console/t/acme/audit{n}"),
            None => break,
        }
    }
    // Each page view of the audit page is not itself an event, so the trail is stable.
    assert_eq!(seen, all);

    // The export link keeps the filters and streams the same events as JSON lines.
    let (f, _) = alice.open("/console/t/acme/audit?type=login.succeeded");
    let link = href(&f.body, "export").expect("an export link");
    assert!(
        link.contains("/console/t/acme/audit/export?type=login.succeeded"),
        "{link}"
    );
    let res = alice.get(&link);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let lines: Vec<serde_json::Value> = res
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), types(&f.body).len(), "{}", res.body);
    assert!(
        lines.iter().all(|e| e["type"] == "login.succeeded"),
        "{}",
        res.body
    );
    let res = alice.get("/console/t/acme/audit/export?since=soon");
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));

    // Another tenant's trail: not found.
    assert_eq!(alice.open("/console/t/beta/audit").0.status, 404);
    assert_eq!(alice.get("/console/t/beta/audit/export").status, 404);

    // The platform console: every tenant's events, or one tenant's.
    let mut root = Browser::new(&[port]);
    root.sign_in("/console/", "root@example.com", ROOT_PW);
    let (p, _) = root.open("/console/t/platform/audit?type=login.failed");
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("id=\"tenant\""), "{}", p.body);
    assert!(!types(&p.body).is_empty(), "{}", p.body);
    let (p, _) = root.open("/console/t/platform/audit?type=login.failed&tenant=beta");
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(types(&p.body).is_empty(), "{}", p.body);
    let (p, _) = root.open("/console/t/platform/audit?tenant=nosuch");
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("no tenant with this slug"), "{}", p.body);
}
