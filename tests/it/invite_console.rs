//! The console's "Invite by mail" button (issue 13) on the create-user page: offered only when
//! the daemon sends mail; pressed, it creates the user without a password, queues the
//! invitation and grants the chosen role, like the API's invitation.

use crate::common::http::Target;
use crate::console::browser::{Browser, field};
use crate::login_pages::{Site, cli, site, urlencode};

const NEW: &str = "/console/t/acme/users/new";

/// The login site with alice as acme's owner, signed in to acme's console.
fn owner(extra: &[(&str, &str)]) -> (Site, Browser) {
    let s = site(extra);
    let args = [
        "user",
        "role",
        "--tenant",
        "acme",
        "--email",
        "alice@example.com",
        "--role",
        "owner",
    ];
    let out = cli(&s.db, &args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Target::Tcp(addr) = s.target else {
        unreachable!()
    };
    let mut b = Browser::new(&[addr.port()]);
    let home = b.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(home.status, 200, "{}", home.body);
    (s, b)
}

#[test]
fn the_console_invites_when_mail_is_on() {
    let dir = crate::common::tempdir();
    let url = format!("file:{}", dir.path().display());
    let mail = [
        ("OPENTRUSTY_SMTP_URL", url.as_str()),
        ("OPENTRUSTY_MAIL_FROM", "OpenTrusty <no-reply@example.test>"),
    ];
    let (s, mut b) = owner(&mail);
    let (page, _) = b.open(NEW);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<button type=\"submit\" name=\"invite\" value=\"1\""),
        "{}",
        page.body
    );
    let form = format!(
        "csrf={}&email={}&password=typed-but-unused&name=Carol&role=viewer&invite=1",
        field(&page.body, "csrf").unwrap(),
        urlencode("carol@example.com")
    );
    let res = b.request("POST", NEW, Some(&form));
    assert_eq!(res.status, 303, "{}", res.body);
    let (user, _) = b.open(res.header("location").unwrap());
    assert_eq!(user.status, 200);
    assert!(user.body.contains("carol@example.com"), "{}", user.body);

    let out = cli(&s.db, &["user", "list", "--tenant", "acme", "--json"], None);
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "carol@example.com")
    );
    let out = cli(&s.db, &["audit", "--tenant", "acme", "--json"], None);
    let trail = String::from_utf8_lossy(&out.stdout);
    assert!(trail.contains("user.invited"), "{trail}");
    assert!(
        trail.contains("user.role_changed"),
        "the role was granted too: {trail}"
    );
    // The password is the person's to choose: none was set (the typed one is not used).
    assert!(trail.contains(r#"\"has_password\":false"#), "{trail}");
}

#[test]
fn no_invite_button_without_mail() {
    let (_s, mut b) = owner(&[]);
    let (page, _) = b.open(NEW);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(">Create user</button>"));
    assert!(!page.body.contains("Invite by mail"), "{}", page.body);
}
