//! Where the clients pages reach: paging, the built-in console client out of reach, one
//! tenant's client from another tenant's console, and the recent-authentication round trip
//! before a credential change.

use super::super::browser::{Browser, field};
use super::super::{ROOT_PW, console_site, port_of};
use super::{alice, client_form, code, names, register, token};
use crate::common::http::Response;
use crate::login_pages::Site;

#[test]
fn clients_stay_in_their_tenant_the_builtin_one_is_out_of_reach_and_lists_page() {
    let s = console_site(&[]);
    let mut b = alice(&s);
    let mut ids = Vec::new();
    for n in ["One", "Two", "Three"] {
        let res = register(&mut b, n, "https://app.example/cb", &[]);
        assert_eq!(res.status, 200, "{}", res.body);
        ids.push(code(&res.body, "client-id").unwrap());
    }
    // Paging: one a page, each exactly once (oldest first; the same second orders by id).
    let mut seen = Vec::new();
    let mut at = "/console/t/acme/clients?limit=1".to_owned();
    loop {
        let (p, _) = b.open(&at);
        assert_eq!(p.status, 200, "{at}: {}", p.body);
        let these = names(&p.body);
        assert_eq!(these.len(), 1, "{at}: {}", p.body);
        seen.extend(these);
        let Some(n) = p.body.split("id=\"next-page\" href=\"").nth(1) else {
            break;
        };
        let n = n
            .split('"')
            .next()
            .unwrap()
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        at = format!("/console/t/acme/clients{n}");
        assert!(seen.len() <= 3, "{seen:?}");
    }
    seen.sort();
    assert_eq!(seen, ["One", "Three", "Two"]);
    let (bad, _) = b.open("/console/t/acme/clients?limit=x");
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("limit must be a number"), "{}", bad.body);

    // The built-in console client: never listed, every page about it is the not-found page.
    let (all, _) = b.open("/console/t/acme/clients");
    assert!(!all.body.contains("opentrusty-console"), "{}", all.body);
    let builtin = "/console/t/acme/clients/opentrusty-console";
    assert_eq!(b.open(builtin).0.status, 404);
    assert_eq!(b.open(&format!("{builtin}/delete")).0.status, 404);
    let csrf = field(&all.body, "csrf").unwrap();
    for action in ["disable", "secret", "delete"] {
        let res = b.request(
            "POST",
            &format!("{builtin}/{action}"),
            Some(&format!("csrf={csrf}")),
        );
        assert_eq!(res.status, 404, "{action}: {}", res.body);
    }
    let res = b.request(
        "POST",
        builtin,
        Some(&client_form(&csrf, "Mine", "https://x.example/cb", &[])),
    );
    assert_eq!(res.status, 404);
    // ... and the console still signs in.
    assert_eq!(b.open("/console/t/acme/").0.status, 200);

    // Acme's client seen from beta's console: not found, for the platform owner too, who
    // reaches it at acme.
    let mut root = Browser::new(&[port_of(&s)]);
    assert_eq!(
        root.sign_in("/console/", "root@example.com", ROOT_PW)
            .status,
        200
    );
    let (at_acme, _) = root.open(&format!("/console/t/acme/clients/{}", ids[0]));
    assert_eq!(at_acme.status, 200, "{}", at_acme.body);
    let (at_beta, _) = root.open(&format!("/console/t/beta/clients/{}", ids[0]));
    assert_eq!(at_beta.status, 404, "{}", at_beta.body);
    assert!(at_beta.body.contains("Not found"));
    let (beta, _) = root.open("/console/t/beta/");
    let csrf = field(&beta.body, "csrf").unwrap();
    let res = root.request(
        "POST",
        &format!("/console/t/beta/clients/{}/delete", ids[0]),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 404, "{}", res.body);
    // Alice's session on beta's pages: not found.
    assert_eq!(
        b.open(&format!("/console/t/beta/clients/{}", ids[0]))
            .0
            .status,
        404
    );
    assert_eq!(b.open("/console/t/beta/clients").0.status, 404);
    let (still, _) = b.open("/console/t/acme/clients");
    assert_eq!(names(&still.body).len(), 3);
}

/// Makes every console session's authentication `secs` older (the daemon's clock is real).
fn age_console_sessions(s: &Site, secs: i64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&s.db).await.unwrap();
        sqlx::query("UPDATE console_sessions SET auth_time = auth_time - $1")
            .bind(secs)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
}

#[test]
fn rotating_and_deleting_need_a_recent_sign_in() {
    let s = console_site(&[]);
    let mut b = alice(&s);
    let res = register(&mut b, "Old", "https://app.example/cb", &[]);
    let id = code(&res.body, "client-id").unwrap();
    let secret = code(&res.body, "secret").unwrap();
    let detail = format!("/console/t/acme/clients/{id}");
    let (page, _) = b.open(&detail);
    let csrf = field(&page.body, "csrf").unwrap();
    age_console_sessions(&s, 600);
    let round_trip = |res: &Response| {
        assert_eq!(res.status, 303, "{}", res.body);
        let to = res.header("location").unwrap();
        assert!(
            to.contains("/t/acme/authorize?") && to.contains("max_age=300"),
            "{to}"
        );
    };
    // Reading and editing need no fresh sign-in.
    assert_eq!(b.open(&detail).0.status, 200);
    // Stale: the POSTs go through /authorize with max_age and do nothing.
    let res = b.request(
        "POST",
        &format!("{detail}/secret"),
        Some(&format!("csrf={csrf}")),
    );
    round_trip(&res);
    let res = b.request(
        "POST",
        &format!("{detail}/delete"),
        Some(&format!("csrf={csrf}")),
    );
    round_trip(&res);
    assert_eq!(token(&s.target, &id, &secret).status, 200);
    // The confirmation page too; the round trip (the OP's session is recent) comes back to it.
    let res = b.get(&format!("{detail}/delete"));
    round_trip(&res);
    let (confirm, at) = b.follow(res, format!("{detail}/delete"));
    assert_eq!(confirm.status, 200, "{at}: {}", confirm.body);
    assert!(at.ends_with(&format!("{detail}/delete")), "{at}");
    assert!(confirm.body.contains("<h1>Delete client</h1>"));
    // Fresh again: the rotation works (back on the client's page), then the deletion.
    let csrf = field(&confirm.body, "csrf").unwrap();
    let res = b.request(
        "POST",
        &format!("{detail}/secret"),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(token(&s.target, &id, &secret).status, 401);
    let res = b.request(
        "POST",
        &format!("{detail}/delete"),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(b.open(&detail).0.status, 404);
}
