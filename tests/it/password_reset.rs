//! Forgot password over real HTTP (issue 13), served in-process on both backends with a
//! settable clock: the login page's link, the request (a mail in the outbox for an active
//! user, nothing for an unknown or disabled one, the same answer for all), the link opened
//! any number of times without being used up, CSRF and the password rules refused without
//! using it, then the new password: sessions, refresh tokens and lockout gone, the address
//! verified, audited; the link works once, for 30 minutes, and only in its own tenant.

use opentrusty::domain::user::User;
use opentrusty::protocol::token::TokenRequest;
use opentrusty::service::authorize::{self, Outcome};
use opentrusty::service::client_auth::Presented;
use opentrusty::service::{Context, admin, sessions, token};

use crate::console::browser::{Browser, field};
use crate::login_pages::urlencode;
use crate::oauth_world::CB;
use crate::password_reset_fixture::{NEW_PW, PW, Served, choose, forgot, mail_on, serve, signs_in};

/// A login session and a refresh token of `user` (through a first-party client).
fn credentials(s: &Served, user: &User) -> (String, String, Presented) {
    s.rt.block_on(async {
        let t = &s.acme;
        let (client, secret) =
            crate::oauth_world::client(&s.app, t, &["authorization_code", "refresh_token"], true)
                .await;
        let mut tx = s.app.store.begin().await.unwrap();
        let ctx = Context::default();
        let now = s.app.clock.now();
        let (session, _) = sessions::create(&mut tx.scope(t), user, &["pwd"], &ctx, now, 3600)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let params = [
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", CB),
            ("scope", "openid offline_access"),
            ("state", "s"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let out = authorize::authorize(&s.app, t, params, Some(&session), None, &ctx)
            .await
            .unwrap();
        let Outcome::Redirect(to) = out else {
            panic!("no code")
        };
        let code = url::Url::parse(&to)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let who = Presented {
            client_id: client.client_id.clone(),
            secret: Some(secret),
            method: opentrusty::domain::client::AuthMethod::ClientSecretBasic,
        };
        let req = TokenRequest::AuthorizationCode {
            code,
            redirect_uri: Some(CB.into()),
            code_verifier: None,
        };
        let issued = token::exchange(&s.app, t, &who, req, &ctx).await.unwrap();
        (session, issued.refresh_token.unwrap(), who)
    })
}

fn the_reset_flow(s: Served) {
    let alice = s.user(&s.acme, "alice@example.com", Some(PW));
    s.user(&s.acme, "dora@example.com", Some(PW));
    s.user(&s.beta, "alice@example.com", Some(PW));
    s.rt.block_on(admin::user_disable(
        &s.app,
        &s.acme,
        "dora@example.com",
        &Context::cli(),
    ))
    .unwrap();
    let mut b = s.browser();

    // The login page offers the way, and the page asks for the address.
    let login = b.get("/t/acme/login");
    assert!(
        login.body.contains("href=\"/t/acme/password/forgot\"")
            && login.body.contains("Forgot your password?"),
        "{}",
        login.body
    );
    let page = b.get("/t/acme/password/forgot");
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<label for=\"email\">Email address</label>")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));

    // A forged form sends nothing.
    let forged = format!("csrf=nope&email={}", urlencode("alice@example.com"));
    let res = b.request("POST", "/t/acme/password/forgot", Some(&forged));
    assert_eq!(res.status, 403);
    assert!(s.outbox().is_empty());

    // Known, unknown and disabled addresses: one answer; one mail, to the active user.
    let known = forgot(&mut b, "acme", "Alice@Example.com");
    let unknown = forgot(&mut b, "acme", "nobody@example.com");
    let disabled = forgot(&mut b, "acme", "dora@example.com");
    assert_eq!(known.status, 200, "{}", known.body);
    assert!(known.body.contains("Check your mail"), "{}", known.body);
    for other in [&unknown, &disabled] {
        assert_eq!((other.status, &other.body), (known.status, &known.body));
    }
    let mails = s.outbox();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.to, "alice@example.com");
    assert!(mail.subject.contains("Acme"), "{}", mail.subject);
    let link = mail.link("password/reset");
    let raw = mail.token("password/reset");
    assert_eq!(raw.len(), 43, "256 bits in base64url: {link}");
    assert!(link.starts_with("/t/acme/password/reset/"), "{link}");
    assert!(mail.html.contains(&raw), "the HTML part has the link too");

    // Opening the link (as a mail scanner would, twice) uses nothing up; the query form works.
    for at in [
        link.clone(),
        link.clone(),
        format!("/t/acme/password/reset?token={raw}"),
    ] {
        let page = b.get(&at);
        assert_eq!(page.status, 200, "{at}: {}", page.body);
        assert!(page.body.contains("Choose a new password"));
        assert!(page.body.contains("alice@example.com"));
        assert!(page.body.contains("autocomplete=\"new-password\""));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    }
    // Another tenant knows nothing of it, and an invitation page neither.
    for at in [
        format!("/t/beta/password/reset/{raw}"),
        format!("/t/acme/invite/{raw}"),
    ] {
        let page = b.get(&at);
        assert_eq!(page.status, 410, "{at}");
        assert!(page.body.contains("This link is no longer valid"));
        assert!(
            page.body.contains("/password/forgot\">Ask for a new link"),
            "{}",
            page.body
        );
    }

    // What the reset must end: a session, a refresh token, a lockout.
    let (session, refresh, client) = credentials(&s, &alice);
    for _ in 0..5 {
        assert!(!signs_in(&s, "acme", "alice@example.com", "wrong password"));
    }
    assert!(
        s.find(&s.acme, "alice@example.com").locked_until.is_some(),
        "locked"
    );

    // Refused forms use nothing up: another tenant's POST, CSRF, two different passwords, a
    // short one.
    let page = b.get(&link);
    let csrf = field(&page.body, "csrf").unwrap();
    let post = |b: &mut Browser, at: &str, csrf: &str, pw: &str, confirm: &str| {
        let form = format!(
            "csrf={csrf}&token={raw}&password={}&confirm={}",
            urlencode(pw),
            urlencode(confirm)
        );
        b.request("POST", at, Some(&form))
    };
    assert_eq!(
        post(&mut b, "/t/beta/password/reset", &csrf, NEW_PW, NEW_PW).status,
        403
    );
    let beta_page = b.get("/t/beta/password/forgot");
    let beta_csrf = field(&beta_page.body, "csrf").unwrap();
    let res = post(&mut b, "/t/beta/password/reset", &beta_csrf, NEW_PW, NEW_PW);
    assert_eq!(res.status, 410, "a token of acme is nothing in beta");
    assert_eq!(
        post(&mut b, "/t/acme/password/reset", "x", NEW_PW, NEW_PW).status,
        403
    );
    let res = post(
        &mut b,
        "/t/acme/password/reset",
        &csrf,
        NEW_PW,
        "something else",
    );
    assert_eq!(res.status, 422);
    assert!(res.body.contains("not the same"), "{}", res.body);
    let res = post(&mut b, "/t/acme/password/reset", &csrf, "short", "short");
    assert_eq!(res.status, 422);
    assert!(res.body.contains("at least 8 characters"), "{}", res.body);
    assert!(s.events(&s.acme, "password.reset").is_empty());

    // The new password.
    let res = post(&mut b, "/t/acme/password/reset", &csrf, NEW_PW, NEW_PW);
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        res.body.contains("Your password was changed"),
        "{}",
        res.body
    );
    assert!(
        res.body
            .contains("href=\"/t/acme/login?login_hint=alice%40example.com\""),
        "{}",
        res.body
    );
    let now = s.app.clock.now();
    let user = s.find(&s.acme, "alice@example.com");
    assert_eq!(
        (user.failed_attempts, user.locked_until),
        (0, None),
        "lockout cleared"
    );
    assert!(user.email_verified, "the mail proved the address");
    assert!(!user.is_locked(now));
    let current =
        s.rt.block_on(sessions::current(&s.app, &s.acme, &session))
            .unwrap();
    assert!(current.is_none(), "the old session ended");
    let again = s.rt.block_on(token::exchange(
        &s.app,
        &s.acme,
        &client,
        TokenRequest::RefreshToken {
            refresh_token: refresh,
            scope: None,
        },
        &Context::default(),
    ));
    assert!(again.is_err(), "the refresh-token family ended");
    let ev = s.events(&s.acme, "password.reset");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["target"], format!("user:{}", alice.id));
    assert_eq!(ev[0]["sessions_ended"], 1);
    assert_eq!(ev[0]["lockout_cleared"], true);
    assert!(!ev[0].to_string().contains(&raw), "no token in the trail");

    // Once only; the new password signs in, the old one does not.
    let res = post(
        &mut b,
        "/t/acme/password/reset",
        &csrf,
        "yet another one",
        "yet another one",
    );
    assert_eq!(res.status, 410);
    assert_eq!(b.get(&link).status, 410);
    assert!(signs_in(&s, "acme", "alice@example.com", NEW_PW));
    assert!(!signs_in(&s, "acme", "alice@example.com", PW));

    // A reset in acme is nothing to the same address in beta.
    assert!(signs_in(&s, "beta", "alice@example.com", PW));

    // 30 minutes: a link works at 29 minutes, not at 31.
    forgot(&mut b, "acme", "alice@example.com");
    let second = s.outbox().last().unwrap().link("password/reset");
    s.app.clock.advance(29 * 60);
    let res = choose(&mut b, &second, "the third passphrase");
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(signs_in(
        &s,
        "acme",
        "alice@example.com",
        "the third passphrase"
    ));
    forgot(&mut b, "acme", "alice@example.com");
    let third = s.outbox().last().unwrap().link("password/reset");
    assert_ne!(third, second);
    s.app.clock.advance(31 * 60);
    assert_eq!(b.get(&third).status, 410);
    assert_eq!(choose_status(&mut b, &third), 410);
}

/// The status of posting a form on a link that no longer opens (the form of a fresh page of
/// another link would be refused for its token, not its CSRF).
fn choose_status(b: &mut Browser, link: &str) -> u16 {
    let raw = link.rsplit('/').next().unwrap();
    let page = b.get("/t/acme/password/forgot");
    let form = format!(
        "csrf={}&token={raw}&password={}&confirm={}",
        field(&page.body, "csrf").unwrap(),
        urlencode(NEW_PW),
        urlencode(NEW_PW)
    );
    b.request("POST", "/t/acme/password/reset", Some(&form))
        .status
}

#[test]
fn reset_flow_sqlite() {
    let dir = crate::common::tempdir();
    the_reset_flow(serve("sqlite", "reset_flow", &mail_on(dir.path())).unwrap());
}

#[test]
fn reset_flow_postgres() {
    let dir = crate::common::tempdir();
    if let Some(s) = serve("postgres", "reset_flow", &mail_on(dir.path())) {
        the_reset_flow(s);
    }
}

/// Mail off: the page says there is no reset here, the login page has no link to it, and a
/// link of earlier days is still only a link (the invitation pages are `invite`'s).
#[test]
fn without_mail_there_is_no_reset() {
    let s = serve("sqlite", "no_mail", &[]).unwrap();
    s.user(&s.acme, "alice@example.com", Some(PW));
    let mut b = s.browser();
    let login = b.get("/t/acme/login");
    assert_eq!(login.status, 200);
    assert!(!login.body.contains("password/forgot"), "{}", login.body);
    assert!(!login.body.contains("Forgot your password?"));
    let page = b.get("/t/acme/password/forgot");
    assert_eq!(page.status, 404);
    assert!(
        page.body.contains("Password reset is not available here"),
        "{}",
        page.body
    );
    let res = b.request(
        "POST",
        "/t/acme/password/forgot",
        Some("email=alice%40example.com"),
    );
    assert_eq!(res.status, 404);
    assert!(s.outbox().is_empty());
    // An unknown tenant is the usual 404, whatever the page.
    assert_eq!(b.get("/t/nope/password/forgot").status, 404);
}
