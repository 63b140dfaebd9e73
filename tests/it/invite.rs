//! Invitations (issue 13) through the management API and the invitation page, on both
//! backends: `POST /api/v1/tenants/{slug}/invitations` with the users' permission creates the
//! user without a password and queues a mail with a link valid for 7 days; inviting again
//! replaces the link; a user with a password is a 409, and so is a server without mail (the
//! message names OPENTRUSTY_SMTP_URL). The link opens the set-your-password page, which sets
//! the password once, marks the address verified and is audited; then the user signs in.

use opentrusty::domain::role::Role;
use opentrusty::service::{Context, api_tokens};
use serde_json::{Value, json};

use crate::common::http::{self, Response, Target};
use crate::password_reset_fixture::{NEW_PW, PW, Served, choose, forgot, mail_on, serve, signs_in};

fn token(s: &Served, t: &opentrusty::domain::tenant::Tenant, role: Role) -> String {
    s.rt.block_on(api_tokens::create(
        &s.app,
        t,
        &format!("{}-{role}", t.slug.as_str()),
        role,
        std::time::Duration::from_secs(3600),
        None,
        &Context::default(),
    ))
    .unwrap()
    .token
}

fn invite(s: &Served, slug: &str, bearer: &str, body: Value) -> Response {
    let target = Target::tcp(([127, 0, 0, 1], s.port).into());
    let path = format!("/api/v1/tenants/{slug}/invitations");
    http::send_json(&target, "POST", &path, bearer, Some(&body)).unwrap()
}

fn invitations(s: Served) {
    s.user(&s.acme, "alice@example.com", Some(PW));
    let admin = token(&s, &s.acme, Role::Admin);
    let viewer = token(&s, &s.acme, Role::Viewer);
    let other = token(&s, &s.beta, Role::Owner);
    let bob = json!({ "email": "Bob@Example.com", "name": "Bob Builder" });

    // The users' permission, in the caller's own tenant.
    assert_eq!(invite(&s, "acme", &viewer, bob.clone()).status, 403);
    assert_eq!(invite(&s, "acme", &other, bob.clone()).status, 404);
    let res = invite(&s, "acme", &admin, json!({ "email": "not an address" }));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["message"].as_str().unwrap().contains("email"));
    assert!(s.outbox().is_empty());

    let now = s.app.clock.now();
    let res = invite(&s, "acme", &admin, bob.clone());
    assert_eq!(res.status, 201, "{}", res.body);
    let v = res.json();
    assert_eq!(v["created"], true);
    assert_eq!(v["user"]["email"], "bob@example.com");
    assert_eq!(v["user"]["name"], "Bob Builder");
    assert_eq!(v["user"]["email_verified"], false);
    assert_eq!(v["expires_at"], now + 7 * 24 * 3600);
    let user = s.find(&s.acme, "bob@example.com");
    assert!(
        user.password_hash.is_none(),
        "no password until the person sets one"
    );
    let mails = s.outbox();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "bob@example.com");
    assert!(mails[0].subject.contains("Acme"), "{}", mails[0].subject);
    let first = mails[0].link("invite");
    assert!(first.starts_with("/t/acme/invite/"), "{first}");
    assert_eq!(mails[0].token("invite").len(), 43);

    // Invited again (still no password): a new link, the first one stops working.
    let res = invite(&s, "acme", &admin, bob.clone());
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.json()["created"], false);
    let link = s.outbox().last().unwrap().link("invite");
    assert_ne!(link, first);
    let mut b = s.browser();
    assert_eq!(b.get(&first).status, 410);
    // A user who has a password is not invited.
    let res = invite(&s, "acme", &admin, json!({ "email": "alice@example.com" }));
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(
        res.json()["message"]
            .as_str()
            .unwrap()
            .contains("already has a password")
    );

    // The link is an invitation only in its own tenant, and not a reset link.
    let raw = link.rsplit('/').next().unwrap();
    assert_eq!(b.get(&format!("/t/beta/invite/{raw}")).status, 410);
    assert_eq!(b.get(&format!("/t/acme/password/reset/{raw}")).status, 410);

    // The page: another wording, the same form.
    let page = b.get(&link);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Welcome</h1>"), "{}", page.body);
    assert!(page.body.contains("bob@example.com"));
    assert!(page.body.contains(">Set password</button>"));
    assert!(page.body.contains("action=\"/t/acme/invite\""));
    let res = choose(&mut b, &link, NEW_PW);
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("Your password is set"), "{}", res.body);
    assert!(signs_in(&s, "acme", "bob@example.com", NEW_PW));
    assert!(s.find(&s.acme, "bob@example.com").email_verified);
    assert_eq!(b.get(&link).status, 410, "once only");
    let target = format!("user:{}", user.id);
    let invited = s.events(&s.acme, "user.invited");
    assert_eq!(invited.len(), 2);
    assert!(invited.iter().all(|e| e["target"] == target.as_str()));
    assert_eq!(s.events(&s.acme, "user.created").len(), 2, "alice and bob");
    let accepted = s.events(&s.acme, "user.invitation_accepted");
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["target"], target.as_str());
    assert_eq!(
        accepted[0]["via"],
        Value::Null,
        "the person, not an operator"
    );
    // Now that Bob has a password, inviting him again is a conflict.
    assert_eq!(invite(&s, "acme", &admin, bob).status, 409);

    // An invited person who asks for a reset link instead may use it, and the invitation
    // then stops working.
    let res = invite(&s, "acme", &admin, json!({ "email": "dave@example.com" }));
    assert_eq!(res.status, 201);
    let invitation = s.outbox().last().unwrap().link("invite");
    assert_eq!(forgot(&mut b, "acme", "dave@example.com").status, 200);
    let reset = s.outbox().last().unwrap().link("password/reset");
    assert_eq!(choose(&mut b, &reset, NEW_PW).status, 200);
    assert_eq!(b.get(&invitation).status, 410);
    let ev = s.events(&s.acme, "password.reset");
    assert_eq!(ev.last().unwrap()["links_retired"], 1, "{ev:?}");

    // Seven days.
    let res = invite(&s, "acme", &admin, json!({ "email": "carol@example.com" }));
    assert_eq!(res.status, 201);
    let carol = s.outbox().last().unwrap().link("invite");
    s.app.clock.advance(7 * 24 * 3600 - 60);
    assert_eq!(b.get(&carol).status, 200);
    s.app.clock.advance(120);
    assert_eq!(b.get(&carol).status, 410);
}

#[test]
fn invitations_sqlite() {
    let dir = crate::common::tempdir();
    invitations(serve("sqlite", "invitations", &mail_on(dir.path())).unwrap());
}

#[test]
fn invitations_postgres() {
    let dir = crate::common::tempdir();
    if let Some(s) = serve("postgres", "invitations", &mail_on(dir.path())) {
        invitations(s);
    }
}

/// Without mail an invitation could never arrive: 409, naming the setting; nothing created.
#[test]
fn no_invitations_without_mail() {
    let s = serve("sqlite", "invitations_off", &[]).unwrap();
    let admin = token(&s, &s.acme, Role::Admin);
    let res = invite(&s, "acme", &admin, json!({ "email": "bob@example.com" }));
    assert_eq!(res.status, 409, "{}", res.body);
    let message = res.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("OPENTRUSTY_SMTP_URL"), "{message}");
    let found = s.rt.block_on(async {
        let mut tx = s.app.store.read().await.unwrap();
        tx.scope(&s.acme)
            .user_by_email(&opentrusty::domain::user::Email::parse("bob@example.com").unwrap())
            .await
            .unwrap()
    });
    assert!(found.is_none());
    // And the document lists the route.
    let target = Target::tcp(([127, 0, 0, 1], s.port).into());
    let doc = http::get(&target, "/api/v1/openapi.json").unwrap().json();
    let op = &doc["paths"]["/api/v1/tenants/{slug}/invitations"]["post"];
    assert!(op["responses"]["201"].is_object(), "{op}");
    assert!(op["responses"]["409"].is_object(), "{op}");
}
