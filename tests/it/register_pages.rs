//! Self-registration over real HTTP (issue 13), in-process with mail on, both backends:
//! closed by default (the page and the POST are 404 "registration is closed", and the login
//! page offers no link); open, the sign-up form checks CSRF and its fields (422 naming the
//! field); a new address gets a verification mail and cannot sign in before the link is
//! used; a taken address gets the very same answer while its owner gets a notice instead;
//! after the link, sign-in works and a tenant requiring a second factor still sends the new
//! user to enrolment; sign-ups are throttled per client IP and per address; a sign-up never
//! proven is erased after a week.

use opentrusty::domain::tenant::{MfaPolicy, Registration};
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::{Context, admin, register};

use crate::console::browser::{Browser, field};
use crate::login_pages::urlencode;
use crate::verify_pages::{PW, Site, confirm, on_both, sign_in, verify_link};

fn sign_up_form(b: &mut Browser, email: &str, pw: &str, again: &str) -> String {
    let page = b.get("/t/acme/register");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = field(&page.body, "csrf").unwrap();
    format!(
        "csrf={csrf}&email={}&password={}&password_again={}&name={}",
        urlencode(email),
        urlencode(pw),
        urlencode(again),
        urlencode("Dan Doe")
    )
}

fn sign_up(b: &mut Browser, email: &str) -> crate::common::http::Response {
    let form = sign_up_form(b, email, PW, PW);
    b.request("POST", "/t/acme/register", Some(&form))
}

/// A page without what differs between two answers by design: the request id.
fn without_reference(body: &str, email: &str) -> String {
    body.lines()
        .filter(|l| !l.contains("Reference:"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(email, "ADDRESS")
}

fn open(site: &Site) {
    site.rt
        .block_on(admin::tenant_set_registration(
            &site.app,
            "acme",
            Registration::Open,
            &Context::cli(),
        ))
        .unwrap();
}

fn registration_is_closed_by_default(site: Site) {
    site.tenant("acme");
    let mut b = Browser::new(&[site.port]);
    let page = b.get("/t/acme/register");
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(
        page.body.contains("Registration is closed"),
        "{}",
        page.body
    );
    let login = b.get("/t/acme/login");
    assert!(!login.body.contains("/t/acme/register"), "{}", login.body);
    let csrf = field(&login.body, "csrf").unwrap();
    let form = format!("csrf={csrf}&email=x%40example.com&password={PW}&password_again={PW}");
    let res = b.request("POST", "/t/acme/register", Some(&form));
    assert_eq!(res.status, 404, "{}", res.body);
    assert!(site.outbox().is_empty());
    // Open, but without mail nobody could prove an address: closed all the same.
    open(&site);
    let acme = site.rt.block_on(admin::tenant(&site.app, "acme")).unwrap();
    let quiet = crate::common::stores::app(site.store.clone(), &[]);
    assert!(register::open(&site.app, &acme));
    assert!(!register::open(&quiet, &acme));
    let login = b.get("/t/acme/login");
    assert!(
        login.body.contains("href=\"/t/acme/register\""),
        "{}",
        login.body
    );
    // Closed again: refused again.
    site.rt
        .block_on(admin::tenant_set_registration(
            &site.app,
            "acme",
            Registration::Closed,
            &Context::cli(),
        ))
        .unwrap();
    assert_eq!(b.get("/t/acme/register").status, 404);
}

fn sign_up_verify_and_sign_in(site: Site) {
    let acme = site.tenant("acme");
    site.user(&acme, "alice@example.com", true, true);
    open(&site);
    let mut b = Browser::new(&[site.port]);

    // The form: CSRF, then each field's rule, named; nothing queued or created.
    let form = sign_up_form(&mut b, "dan@example.com", PW, PW);
    let forged = form.replacen("csrf=", "csrf=x", 1);
    assert_eq!(
        b.request("POST", "/t/acme/register", Some(&forged)).status,
        403
    );
    for (email, pw, again, field_name) in [
        ("not-an-address", PW, PW, "email"),
        ("dan@example.com", "short", "short", "password"),
        ("dan@example.com", PW, "password-other", "password_again"),
    ] {
        let form = sign_up_form(&mut b, email, pw, again);
        let res = b.request("POST", "/t/acme/register", Some(&form));
        assert_eq!(res.status, 422, "{field_name}: {}", res.body);
        let named = format!("id=\"register-error\">{field_name}");
        assert!(res.body.contains(&named), "{field_name}: {}", res.body);
    }
    assert!(site.outbox().is_empty());

    // A new address: the answer page, a verification mail, an audited registration.
    let res = sign_up(&mut b, "Dan@Example.com");
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("Check your inbox"), "{}", res.body);
    let new_answer = without_reference(&res.body, "Dan@Example.com");
    let mails = site.mails_to("dan@example.com");
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].subject.contains("finish signing up"),
        "{:?}",
        mails[0]
    );
    let ev = site.events(&acme, "user.registered");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["email"], "dan@example.com");
    let dan = site.reload(&acme, "dan@example.com");
    assert!(!dan.email_verified);
    assert_eq!(dan.profile.name.as_deref(), Some("Dan Doe"));

    // Before the link: the sign-in fails like a wrong password.
    let mut dans = Browser::new(&[site.port]);
    assert_eq!(sign_in(&mut dans, "acme", "dan@example.com", PW), 401);

    // A taken address: the same page (but for the request id); the owner gets a notice, no
    // verification link, and no account is made or changed.
    let mut other = Browser::new(&[site.port]);
    let res = sign_up(&mut other, "alice@example.com");
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        without_reference(&res.body, "alice@example.com"),
        new_answer
    );
    let notices = site.mails_to("alice@example.com");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].kind, "signup_taken");
    assert!(
        notices[0].subject.contains("Someone tried to sign up"),
        "{:?}",
        notices[0]
    );
    assert!(!notices[0].text.contains("/email/verify/"));
    assert_eq!(site.events(&acme, "user.registered").len(), 1);
    assert_eq!(
        sign_in(
            &mut other,
            "acme",
            "alice@example.com",
            crate::verify_pages::PW
        ),
        303
    );

    // The link: the account is ready, and the password chosen at sign-up opens it.
    let (path, _) = verify_link(&mails[0]);
    let done = confirm(&mut dans, &path);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("you can sign in now"), "{}", done.body);
    assert!(site.reload(&acme, "dan@example.com").email_verified);
    let ev = site.events(&acme, "email.verified");
    assert_eq!(ev[0]["registration_completed"], true);
    assert_eq!(sign_in(&mut dans, "acme", "dan@example.com", PW), 303);
    assert_eq!(
        sign_in(&mut dans, "acme", "dan@example.com", "password-wrong"),
        401
    );

    // A tenant requiring a second factor still asks the new user for one.
    site.rt
        .block_on(admin::tenant_set_mfa(
            &site.app,
            "acme",
            MfaPolicy::Required,
            &Context::cli(),
        ))
        .unwrap();
    let rp = site
        .rt
        .block_on(clients::create(
            &site.app,
            &acme,
            &NewClient {
                name: "RP".into(),
                redirect_uris: vec!["https://rp.example/cb".into()],
                grant_types: vec!["authorization_code".into()],
                first_party: true,
                ..NewClient::default()
            },
            &Context::default(),
        ))
        .unwrap()
        .client;
    let mut fresh = Browser::new(&[site.port]);
    let authorize = format!(
        "/t/acme/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s",
        rp.client_id,
        urlencode("https://rp.example/cb")
    );
    let page = fresh.sign_in(&authorize, "dan@example.com", PW);
    assert!(
        page.body.contains("<h1>Add an authenticator app</h1>"),
        "enrolment expected: {} {}",
        page.status,
        page.body
    );
}

fn sign_ups_are_throttled(site: Site) {
    site.tenant("acme");
    open(&site);
    let mut b = Browser::new(&[site.port]);
    // Per address: the same address again at once is refused (whoever owns it).
    assert_eq!(sign_up(&mut b, "one@example.com").status, 200);
    let res = sign_up(&mut b, "one@example.com");
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(res.header("retry-after").is_some());
    // Per client IP: five sign-ups a minute, then 429.
    for i in 0..3 {
        let res = sign_up(&mut b, &format!("n{i}@example.com"));
        assert_eq!(res.status, 200, "{i}: {}", res.body);
    }
    let res = sign_up(&mut b, "late@example.com");
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(res.header("retry-after").is_some());
    assert_eq!(site.outbox().len(), 4, "no mail for refused sign-ups");
}

/// A sign-up whose address is never proven is erased after a week (housekeeping's round),
/// which frees the address; one proven, or given a password through a reset, stays.
fn abandoned_sign_ups_are_erased_after_a_week(site: Site) {
    let acme = site.tenant("acme");
    open(&site);
    let mut b = Browser::new(&[site.port]);
    for email in ["squat@example.com", "kept@example.com", "reset@example.com"] {
        assert_eq!(sign_up(&mut b, email).status, 200);
    }
    let (link, _) = verify_link(&site.mails_to("kept@example.com")[0]);
    let res = confirm(&mut b, &link);
    assert!(matches!(res.status, 200 | 303), "{}", res.body);
    // A password set meanwhile (as a reset link's last step does) makes the account usable.
    let reset = site.reload(&acme, "reset@example.com");
    site.rt.block_on(async {
        let mut tx = site.app.store.begin().await.unwrap();
        tx.scope(&acme)
            .user_set_password_hash(reset.id, "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", 1)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    });
    let purge = || {
        site.rt.block_on(async {
            let now = site.app.clock.now();
            register::purge_abandoned(&site.app, &acme, now, 500)
                .await
                .unwrap()
        })
    };
    site.app.clock.advance(register::ABANDONED_AFTER - 60);
    assert_eq!(purge(), 0, "not yet a week");
    site.app.clock.advance(120);
    let squatter = site.reload(&acme, "squat@example.com");
    assert_eq!(purge(), 1);
    assert_eq!(purge(), 0, "once");
    let left: Vec<String> = site
        .rt
        .block_on(admin::users_list(&site.app, &acme))
        .unwrap()
        .into_iter()
        .map(|u| u.email.as_str().to_owned())
        .collect();
    assert!(!left.contains(&"squat@example.com".to_owned()), "{left:?}");
    for kept in ["kept@example.com", "reset@example.com"] {
        assert!(left.contains(&kept.to_owned()), "{kept}: {left:?}");
    }
    // Audited as a deletion by the system, naming the user by id only.
    let events = site.rt.block_on(async {
        let mut tx = site.app.store.read().await.unwrap();
        tx.scope(&acme).audit_list(100).await.unwrap()
    });
    let target = format!("user:{}", squatter.id);
    let deleted = events
        .iter()
        .find(|e| e.event_type == "user.deleted" && e.target.as_deref() == Some(&target))
        .expect("a user.deleted event");
    assert_eq!(deleted.actor.as_deref(), Some("system"));
    assert!(
        deleted.metadata.contains("sign_up_abandoned"),
        "{}",
        deleted.metadata
    );
    assert!(
        events
            .iter()
            .filter(|e| e.target.as_deref() == Some(&target))
            .all(|e| !e.metadata.contains("squat@example.com")),
        "the address is gone from the trail"
    );
    // The address is free again: an operator can give it to a new account.
    site.user(&acme, "squat@example.com", true, true);
}

on_both!(
    registration_is_closed_by_default,
    sign_up_verify_and_sign_in,
    sign_ups_are_throttled,
    abandoned_sign_ups_are_erased_after_a_week
);
