//! The account page's Sessions and Applications sections over HTTP (issue 13): End and End
//! all other sessions (another user's or tenant's session id refused, nothing ended), and
//! Revoke (the client's tokens dead at /token and userinfo; the next authorization asks again).

use super::pages::{refresh, relying_party, sign_in_as, tokens, userinfo};
use super::{Browser, field, sql};
use crate::login_pages::{cli, site};

#[test]
fn the_sessions_section_ends_only_the_users_own() {
    let site = site(&[]);
    let out = cli(
        &site.db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--password-file",
            "-",
        ],
        Some("password-bob\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut b, mut second, mut bob, mut beta) = (
        Browser::new(&site),
        Browser::new(&site),
        Browser::new(&site),
        Browser::new(&site),
    );
    b.sign_in("acme");
    second.sign_in("acme");
    assert_eq!(
        sign_in_as(&mut bob, "acme", "bob@example.com", "password-bob"),
        303
    );
    beta.sign_in("beta");
    let sid_of = |who: &str| {
        sql(
            &site,
            &format!(
                "SELECT s.sid FROM sessions s JOIN users u ON u.id = s.user_id JOIN tenants t ON t.id = s.tenant_id \
             WHERE {who}"
            ),
        )
    };
    let bobs = sid_of("u.email = 'bob@example.com'").remove(0);
    let betas = sid_of("t.slug = 'beta'").remove(0);
    let hash = |b: &Browser| opentrusty::service::sessions::hash_token(&b.session("acme"));
    let alices = [
        sid_of(&format!("s.id_hash = '{}'", hash(&b))).remove(0),
        sid_of(&format!("s.id_hash = '{}'", hash(&second))).remove(0),
    ];
    let page = b.get("/t/acme/account");
    assert_eq!(
        field(&page.body, "sid"),
        alices[1],
        "the other browser's End"
    );
    let token = field(&page.body, "csrf");
    // Bob's, beta's, a made-up one: not found; this browser's own: use Sign out. Nothing ends.
    for (sid, status) in [
        (&bobs, 404),
        (&betas, 404),
        (&"f".repeat(32), 404),
        (&alices[0], 409),
    ] {
        let res = b.post(
            "/t/acme/account/sessions/end",
            &format!("csrf={token}&sid={sid}"),
        );
        assert_eq!(res.status, status, "{sid}: {}", res.body);
    }
    assert_eq!(sql(&site, "SELECT sid FROM sessions").len(), 4);
    let res = b.post(
        "/t/acme/account/sessions/end",
        &format!("csrf={token}&sid={}", alices[1]),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=session-ended")
    );
    assert_eq!(second.get("/t/acme/account").status, 303, "signed out");
    for (who, slug) in [(&mut b, "acme"), (&mut bob, "acme"), (&mut beta, "beta")] {
        assert_eq!(who.get(&format!("/t/{slug}/account")).status, 200);
    }
    // End all other sessions: the other browser again, and only it.
    second.sign_in("acme");
    let res = b.post(
        "/t/acme/account/sessions/end-others",
        &format!("csrf={token}"),
    );
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=sessions-ended")
    );
    assert_eq!(second.get("/t/acme/account").status, 303);
    for (who, slug) in [(&mut b, "acme"), (&mut bob, "acme"), (&mut beta, "beta")] {
        assert_eq!(who.get(&format!("/t/{slug}/account")).status, 200);
    }
    let res = b.post(
        "/t/acme/account/sessions/end-others",
        &format!("csrf={token}"),
    );
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=no-other-sessions")
    );
    let audit = sql(
        &site,
        "SELECT metadata FROM audit_events WHERE event_type = 'session.ended'",
    );
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(audit.iter().all(|m| m.contains("\"via\":\"account\"")));
}

#[test]
fn revoking_an_application_ends_its_tokens() {
    let site = site(&[]);
    let rp = relying_party(&site, "acme", "Photo App");
    let beta_rp = relying_party(&site, "beta", "Beta App");
    let mut b = Browser::new(&site);
    b.sign_in("acme");
    let t = tokens(&mut b, &rp);
    let page = b.get("/t/acme/account");
    assert!(
        page.body.contains("<strong>Photo App</strong>"),
        "{}",
        page.body
    );
    // What it was allowed, in the consent page's words.
    for allowed in [
        "<li>Keep access while you are not using it</li>",
        "<li>Know who you are (your account identifier)</li>",
        "<li>See your name and profile details</li>",
    ] {
        assert!(page.body.contains(allowed), "{allowed}: {}", page.body);
    }
    assert!(!page.body.contains("offline_access"), "{}", page.body);
    assert_eq!(field(&page.body, "client"), rp.0);
    let token = field(&page.body, "csrf");
    for client in [beta_rp.0.as_str(), "nope", &"x".repeat(300)] {
        let res = b.post(
            "/t/acme/account/apps/revoke",
            &format!("csrf={token}&client={client}"),
        );
        assert_eq!(res.status, 404, "{client}: {}", res.body);
    }
    assert_eq!(userinfo(&site, &t).status, 200);
    let res = b.post(
        "/t/acme/account/apps/revoke",
        &format!("csrf={token}&client={}", rp.0),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.header("location"),
        Some("/t/acme/account?notice=app-revoked")
    );
    assert_eq!(userinfo(&site, &t).status, 401);
    let res = refresh(&site, &rp, &t);
    assert_eq!(res.json()["error"], "invalid_grant");
    let page = b.get("/t/acme/account?notice=app-revoked");
    assert!(page.body.contains("id=\"no-apps\"") && page.body.contains("access was revoked"));
    let audit = sql(
        &site,
        "SELECT metadata FROM audit_events WHERE event_type = 'consent.revoked'",
    );
    assert!(
        audit.len() == 1 && audit[0].contains("\"via\":\"account\""),
        "{audit:?}"
    );
    // The next authorization asks again (and works).
    let t = tokens(&mut b, &rp);
    assert_eq!(userinfo(&site, &t).status, 200);
}
