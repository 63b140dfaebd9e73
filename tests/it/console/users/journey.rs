//! An owner's whole journey with a user in the console: create with a role (errors next to
//! their fields, values kept, never the password), edit the profile, end sessions one by one
//! and all, set a password (the old sessions die, the new password works), disable and enable
//! (the login fails, then works), unlock after failed logins, revoke a consent, change and
//! remove the role, and delete through the confirmation page.

use opentrusty::config::DatabaseUrl;
use opentrusty::store::Store;

use super::super::browser::Browser;
use super::super::{cli, console_site, port_of};
use super::{created_id, csrf, form, hidden};
use crate::common::http;
use crate::login_pages::{Site, login_form, post_login, session_cookie};

const USERS: &str = "/console/t/acme/users";

/// A login of `email` at acme's login page: the status and the session cookie it set.
fn login(s: &Site, email: &str, password: &str) -> (u16, Option<String>) {
    let (cookie, token, _) = login_form(s, "acme", "");
    let body = form(&[("csrf", &token), ("email", email), ("password", password)]);
    let res = post_login(s, "acme", &cookie, &body);
    (res.status, session_cookie(&res))
}

/// Whether the login session behind `cookie` is still alive (the login page knows it).
fn alive(s: &Site, cookie: &str) -> bool {
    let page = http::send(
        &s.target,
        "GET",
        "/t/acme/login",
        &[format!("Cookie: {cookie}")],
        None,
    )
    .unwrap();
    page.body.contains("signed in as")
}

fn audit(s: &Site) -> String {
    let out = cli(&s.db, &["audit", "--tenant", "acme", "--json"], None);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The user's consent to `client`, as the consent page would have stored it.
fn remember_consent(s: &Site, user: &str, client: &str) {
    let path = s.db.strip_prefix("sqlite://").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::connect(&DatabaseUrl::Sqlite(path.into()), 1)
            .await
            .unwrap();
        let mut tx = store.begin().await.unwrap();
        let acme = tx.tenant_by_slug("acme").await.unwrap().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        tx.scope(&acme)
            .consent_put(user, client, "openid profile", now, now + 86_400)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    });
}

#[test]
fn an_owner_creates_edits_and_deletes_a_user() {
    let s = console_site(&[("OPENTRUSTY_LOCKOUT_THRESHOLD", "3")]);
    let mut alice = Browser::new(&[port_of(&s)]);
    let home = alice.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(home.status, 200, "{}", home.body);

    // The list links the create page and each user's page.
    let (list, _) = alice.open(USERS);
    assert!(
        list.body
            .contains("href=\"/console/t/acme/users/new\">Create user</a>"),
        "{}",
        list.body
    );
    assert!(
        list.body
            .contains("<a class=\"user-email\" href=\"/console/t/acme/users/")
    );

    // The create form, with the roles an owner may grant.
    let (new, _) = alice.open(&format!("{USERS}/new"));
    assert_eq!(new.status, 200, "{}", new.body);
    assert!(new.body.contains("<h1>Create user</h1>"));
    for label in ["Email", "Password", "Name", "Role"] {
        assert!(new.body.contains(&format!(">{label}</label>")), "{label}");
    }
    for option in [
        "<option value=\"\" selected>No role</option>",
        "<option value=\"viewer\">viewer</option>",
        "<option value=\"admin\">admin</option>",
        "<option value=\"owner\">owner</option>",
    ] {
        assert!(new.body.contains(option), "{option}: {}", new.body);
    }
    assert!(new.body.contains(">Create user</button>"));
    let token = csrf(&new.body);
    let create = |email: &str, password: &str| {
        form(&[
            ("csrf", &token),
            ("email", email),
            ("password", password),
            ("name", "Ada"),
            ("role", "viewer"),
        ])
    };

    // A bad email: next to its field, 422, the values kept, never the password.
    let res = alice.request(
        "POST",
        &format!("{USERS}/new"),
        Some(&create("not-an-email", "password-ada-1")),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("id=\"email-error\""), "{}", res.body);
    assert!(res.body.contains("aria-describedby=\"email-error\""));
    assert!(res.body.contains("value=\"not-an-email\""));
    assert!(res.body.contains("value=\"Ada\""));
    assert!(res.body.contains("<option value=\"viewer\" selected>"));
    assert!(!res.body.contains("password-ada-1"));
    // A short password: the same, next to the password.
    let res = alice.request(
        "POST",
        &format!("{USERS}/new"),
        Some(&create("ada@example.com", "short1")),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("id=\"password-error\""), "{}", res.body);
    assert!(res.body.contains("too short"), "{}", res.body);
    assert!(res.body.contains("value=\"ada@example.com\""));
    assert!(!res.body.contains("short1"));
    // A taken email: 409 next to the email.
    let res = alice.request(
        "POST",
        &format!("{USERS}/new"),
        Some(&create("bob@example.com", "password-bob-2")),
    );
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains("id=\"email-error\""), "{}", res.body);

    // Created with the viewer role: on to the user's page.
    let res = alice.request(
        "POST",
        &format!("{USERS}/new"),
        Some(&create("ada@example.com", "password-ada-1")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let id = created_id(&res);
    let me = format!("{USERS}/{id}");
    assert_eq!(res.header("location"), Some(me.as_str()));
    let (page, _) = alice.open(&me);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(">ada@example.com</h1>"), "{}", page.body);
    assert!(page.body.contains("<option value=\"viewer\" selected>"));
    for h in [
        "Profile", "Status", "Password", "Role", "Sessions", "Consents",
    ] {
        assert!(page.body.contains(&format!(">{h}</h2>")), "{h}");
    }
    assert!(page.body.contains("id=\"user-status\">active<"));
    let events = audit(&s);
    assert!(events.contains("\"user.created\""), "{events}");
    assert!(events.contains("\"user.role_changed\""), "{events}");

    // The profile: saved; a value the rules refuse comes back next to its field, 422, with
    // what was typed.
    let token = csrf(&page.body);
    let profile = |given: &str| {
        form(&[
            ("csrf", &token),
            ("name", "Ada Lovelace"),
            ("given_name", given),
            ("family_name", "Lovelace"),
            ("email_verified", "true"),
        ])
    };
    let res = alice.request("POST", &format!("{me}/profile"), Some(&profile("Ada")));
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = alice.open(&me);
    assert!(
        page.body.contains("value=\"Ada Lovelace\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"Lovelace\""));
    assert!(
        page.body
            .contains("type=\"checkbox\" value=\"true\" checked")
    );
    let long = "x".repeat(501);
    let res = alice.request("POST", &format!("{me}/profile"), Some(&profile(&long)));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("id=\"given_name-error\""), "{}", res.body);
    assert!(res.body.contains("given_name is too long"));
    assert!(res.body.contains(&format!("value=\"{long}\"")));

    // Sessions: two logins, one ended, then all.
    let (_, c1) = login(&s, "ada@example.com", "password-ada-1");
    let (_, c2) = login(&s, "ada@example.com", "password-ada-1");
    let (c1, c2) = (c1.unwrap(), c2.unwrap());
    let (page, _) = alice.open(&me);
    let sids = hidden(&page.body, "sid");
    assert_eq!(sids.len(), 2, "{}", page.body);
    assert_eq!(page.body.matches(">End session<span").count(), 2);
    assert!(page.body.contains(">End all sessions</button>"));
    let res = alice.request(
        "POST",
        &format!("{me}/sessions/end"),
        Some(&form(&[("csrf", &token), ("sid", &sids[0])])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = alice.open(&me);
    assert_eq!(hidden(&page.body, "sid"), vec![sids[1].clone()]);
    assert_eq!(
        [alive(&s, &c1), alive(&s, &c2)]
            .iter()
            .filter(|a| **a)
            .count(),
        1
    );
    let res = alice.request(
        "POST",
        &format!("{me}/sessions/end"),
        Some(&form(&[("csrf", &token), ("sid", &sids[0])])),
    );
    assert_eq!(res.status, 404, "an ended session: {}", res.body);
    assert!(res.body.contains(&format!("href=\"{me}\"")), "{}", res.body);
    let res = alice.request(
        "POST",
        &format!("{me}/sessions/end-all"),
        Some(&form(&[("csrf", &token)])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = alice.open(&me);
    assert!(page.body.contains("No live sessions."), "{}", page.body);
    assert!(!alive(&s, &c1) && !alive(&s, &c2));

    // A new password: a short one is refused next to its field and never shown; a good one
    // ends the sessions of the old and is the one that works.
    let (_, c3) = login(&s, "ada@example.com", "password-ada-1");
    let c3 = c3.unwrap();
    let set = |pw: &str| form(&[("csrf", &token), ("password", pw)]);
    let res = alice.request("POST", &format!("{me}/password"), Some(&set("short2")));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body.contains("id=\"new-password-error\""),
        "{}",
        res.body
    );
    assert!(!res.body.contains("short2"));
    let res = alice.request(
        "POST",
        &format!("{me}/password"),
        Some(&set("password-ada-2")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(!alive(&s, &c3));
    assert_eq!(login(&s, "ada@example.com", "password-ada-1").0, 401);
    assert_eq!(login(&s, "ada@example.com", "password-ada-2").0, 303);

    // Disabled: the login fails; enabled: it works again.
    let res = alice.request(
        "POST",
        &format!("{me}/disable"),
        Some(&form(&[("csrf", &token)])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = alice.open(&me);
    assert!(page.body.contains("id=\"user-status\">disabled<"));
    assert!(page.body.contains(">Enable user</button>"), "{}", page.body);
    let (status, cookie) = login(&s, "ada@example.com", "password-ada-2");
    assert!(status != 303 && cookie.is_none(), "{status}");
    let res = alice.request(
        "POST",
        &format!("{me}/enable"),
        Some(&form(&[("csrf", &token)])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(login(&s, "ada@example.com", "password-ada-2").0, 303);

    // Locked by failed logins: the page says so and offers to unlock.
    for _ in 0..3 {
        assert_eq!(login(&s, "ada@example.com", "wrong-password").0, 401);
    }
    assert_eq!(login(&s, "ada@example.com", "password-ada-2").0, 401);
    let (page, _) = alice.open(&me);
    assert!(
        page.body.contains("id=\"user-locked\">locked until"),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Unlock user</button>"));
    let res = alice.request(
        "POST",
        &format!("{me}/unlock"),
        Some(&form(&[("csrf", &token)])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = alice.open(&me);
    assert!(!page.body.contains("Unlock user"), "{}", page.body);
    assert_eq!(login(&s, "ada@example.com", "password-ada-2").0, 303);

    // A remembered consent, revoked.
    let out = cli(
        &s.db,
        &[
            "client",
            "create",
            "--tenant",
            "acme",
            "--name",
            "rp",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let client = client["client_id"].as_str().unwrap().to_owned();
    remember_consent(&s, &id, &client);
    let (page, _) = alice.open(&me);
    assert!(
        page.body
            .contains(&format!("class=\"consent-client\">{client}<")),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Revoke consent<span"));
    let res = alice.request(
        "POST",
        &format!("{me}/consents/revoke"),
        Some(&form(&[("csrf", &token), ("client_id", &client)])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = alice.open(&me);
    assert!(
        page.body.contains("No remembered consents."),
        "{}",
        page.body
    );
    assert!(audit(&s).contains("\"consent.revoked\""));

    // The role: changed, refused when it is no role, removed.
    let role = |r: &str| form(&[("csrf", &token), ("role", r)]);
    let res = alice.request("POST", &format!("{me}/role"), Some(&role("admin")));
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = alice.open(&me);
    assert!(page.body.contains("<option value=\"admin\" selected>"));
    let res = alice.request("POST", &format!("{me}/role"), Some(&role("emperor")));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("id=\"role-error\""), "{}", res.body);
    let res = alice.request("POST", &format!("{me}/role"), Some(&role("")));
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = alice.open(&me);
    assert!(
        page.body
            .contains("<option value=\"\" selected>No role</option>")
    );

    // Deleted through the confirmation page.
    assert!(
        page.body
            .contains(&format!("href=\"{me}/delete\">Delete user</a>"))
    );
    let (confirm, _) = alice.open(&format!("{me}/delete"));
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("<h1>Delete user</h1>"));
    assert!(
        confirm
            .body
            .contains("data-confirm=\"Delete ada@example.com?")
    );
    assert!(confirm.body.contains(">Delete user</button>"));
    let res = alice.request(
        "POST",
        &format!("{me}/delete"),
        Some(&form(&[("csrf", &csrf(&confirm.body))])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some(USERS));
    let (list, _) = alice.open(USERS);
    assert!(!list.body.contains("ada@example.com"), "{}", list.body);
    assert_eq!(alice.open(&me).0.status, 404);
    assert!(audit(&s).contains("\"user.deleted\""));
}
