//! What the users pages refuse: a viewer sees no write controls and its forged writes (with
//! its own valid form token) get a 403 page; a user of another tenant is the not-found page;
//! an admin cannot take over an owner, and the tenant's last owner stays one (409), each
//! refusal a page with the way back to the user.

use super::super::browser::Browser;
use super::super::{ROOT_PW, cli, console_site, ok, port_of};
use super::{csrf, form, id_on_list};

/// A new user of acme with `role`, through the CLI.
fn member(db: &str, email: &str, password: &str, role: &str) {
    ok(cli(
        db,
        &[
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            email,
            "--password-file",
            "-",
        ],
        Some(&format!("{password}\n")),
    ));
    ok(cli(
        db,
        &[
            "user", "role", "--tenant", "acme", "--email", email, "--role", role,
        ],
        None,
    ));
}

#[test]
fn a_viewer_reads_users_but_cannot_change_them_and_tenants_stay_apart() {
    let s = console_site(&[]);
    let port = port_of(&s);
    member(&s.db, "vic@example.com", "password-vic", "viewer");
    let mut vic = Browser::new(&[port]);
    let home = vic.sign_in("/console/t/acme/", "vic@example.com", "password-vic");
    assert_eq!(home.status, 200, "{}", home.body);

    let (list, _) = vic.open("/console/t/acme/users");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(!list.body.contains("Create user"), "{}", list.body);
    let alice = id_on_list(&list.body, "alice@example.com");
    let me = format!("/console/t/acme/users/{alice}");
    let (page, _) = vic.open(&me);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(">alice@example.com</h1>"));
    // The only button is "Sign out"; no form posts anywhere but there.
    assert_eq!(page.body.matches("<button").count(), 1, "{}", page.body);
    assert_eq!(page.body.matches("method=\"post\"").count(), 1);
    assert!(!page.body.contains("Delete user"));
    assert!(
        page.body.contains("id=\"user-role\">owner<"),
        "{}",
        page.body
    );
    assert_eq!(vic.open("/console/t/acme/users/new").0.status, 403);
    assert_eq!(vic.open(&format!("{me}/delete")).0.status, 403);

    // Forged writes with the viewer's own valid token: a 403 page each, nothing changed.
    let token = csrf(&page.body);
    let writes = [
        (
            "/console/t/acme/users/new".to_owned(),
            "&email=new%40example.com",
        ),
        (format!("{me}/profile"), "&name=Mallory"),
        (format!("{me}/disable"), ""),
        (format!("{me}/enable"), ""),
        (format!("{me}/unlock"), ""),
        (format!("{me}/password"), "&password=password-mallory"),
        (format!("{me}/role"), "&role=viewer"),
        (format!("{me}/sessions/end"), "&sid=x"),
        (format!("{me}/sessions/end-all"), ""),
        (format!("{me}/consents/revoke"), "&client_id=x"),
        (format!("{me}/delete"), ""),
    ];
    for (path, rest) in &writes {
        let res = vic.request("POST", path, Some(&format!("csrf={token}{rest}")));
        assert_eq!(res.status, 403, "{path}: {}", res.body);
        assert!(
            res.body.contains("<h1>Not allowed</h1>"),
            "{path}: {}",
            res.body
        );
        assert!(res.header("content-type").unwrap().starts_with("text/html"));
        // Without the token: refused before the permission is even looked at.
        let res = vic.request("POST", path, Some(rest.trim_start_matches('&')));
        assert_eq!(res.status, 403, "{path}");
    }
    let out = cli(&s.db, &["user", "list", "--tenant", "acme"], None);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.contains("new@example.com") && !out.contains("disabled"),
        "{out}"
    );
    let (page, _) = vic.open(&me);
    assert!(!page.body.contains("Mallory") && page.body.contains(">owner<"));

    // Another tenant's console: the not-found page, for its pages and for a user of acme
    // asked for through beta's console by the platform owner.
    let (beta, _) = vic.open("/console/t/beta/users");
    assert_eq!(beta.status, 404);
    let mut root = Browser::new(&[port]);
    assert_eq!(
        root.sign_in("/console/", "root@example.com", ROOT_PW)
            .status,
        200
    );
    let (list, _) = root.open("/console/t/beta/users");
    let beta_alice = id_on_list(&list.body, "alice@example.com");
    assert_ne!(beta_alice, alice);
    assert_eq!(root.open(&me).0.status, 200);
    let (nf, _) = root.open(&format!("/console/t/beta/users/{alice}"));
    assert_eq!(nf.status, 404, "{}", nf.body);
    assert!(nf.body.contains("<h1>Not found</h1>"), "{}", nf.body);
    assert_eq!(
        vic.open(&format!("/console/t/beta/users/{beta_alice}"))
            .0
            .status,
        404
    );
    let token = csrf(&list.body);
    let res = root.request(
        "POST",
        &format!("/console/t/beta/users/{alice}/disable"),
        Some(&form(&[("csrf", &token)])),
    );
    assert_eq!(res.status, 404, "{}", res.body);
    // Ids that are no ids: not found either.
    for bad in ["nope", "%00", &"9".repeat(100)] {
        assert_eq!(
            root.open(&format!("/console/t/acme/users/{bad}")).0.status,
            404,
            "{bad}"
        );
    }
}

#[test]
fn an_admin_cannot_take_over_an_owner_and_the_last_owner_stays() {
    let s = console_site(&[]);
    let port = port_of(&s);
    member(&s.db, "carol@example.com", "password-carol", "admin");
    let mut carol = Browser::new(&[port]);
    let home = carol.sign_in("/console/t/acme/", "carol@example.com", "password-carol");
    assert_eq!(home.status, 200, "{}", home.body);
    // An admin creates users but grants no role: no role select.
    let (new, _) = carol.open("/console/t/acme/users/new");
    assert_eq!(new.status, 200, "{}", new.body);
    assert!(!new.body.contains("name=\"role\""), "{}", new.body);
    // A role forced into the form anyway: refused, and nobody created.
    let res = carol.request(
        "POST",
        "/console/t/acme/users/new",
        Some(&form(&[
            ("csrf", &csrf(&new.body)),
            ("email", "dave@example.com"),
            ("role", "viewer"),
        ])),
    );
    assert_eq!(res.status, 403, "{}", res.body);
    let out = cli(&s.db, &["user", "list", "--tenant", "acme"], None);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("dave@"));
    // An owner's page: the profile may be edited, nothing that would take the account over.
    let (list, _) = carol.open("/console/t/acme/users");
    let alice = id_on_list(&list.body, "alice@example.com");
    let me = format!("/console/t/acme/users/{alice}");
    let (page, _) = carol.open(&me);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(">Save profile</button>"));
    for gone in ["Disable user", "Set password", "Delete user", "Save role"] {
        assert!(!page.body.contains(gone), "{gone}: {}", page.body);
    }
    assert!(page.body.contains("holds a role above yours"));
    // Forced anyway, the use cases refuse: a page with the way back to the user.
    let token = csrf(&page.body);
    for (action, rest) in [
        ("delete", ""),
        ("disable", ""),
        ("password", "&password=password-taken-over"),
    ] {
        let res = carol.request(
            "POST",
            &format!("{me}/{action}"),
            Some(&format!("csrf={token}{rest}")),
        );
        assert_eq!(res.status, 403, "{action}: {}", res.body);
        assert!(res.body.contains("above the caller"), "{}", res.body);
        assert!(
            res.body
                .contains(&format!("href=\"{me}\">Back to the user</a>")),
            "{}",
            res.body
        );
    }
    let (confirm, _) = carol.open(&format!("{me}/delete"));
    let res = carol.request(
        "POST",
        &format!("{me}/delete"),
        Some(&form(&[("csrf", &csrf(&confirm.body))])),
    );
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(carol.open(&me).0.status, 200, "alice is still there");

    // The tenant's only owner can neither drop her role nor disable herself.
    let mut alice_b = Browser::new(&[port]);
    let home = alice_b.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(home.status, 200, "{}", home.body);
    let (page, _) = alice_b.open(&me);
    let token = csrf(&page.body);
    for (action, rest) in [("role", "&role="), ("disable", ""), ("delete", "")] {
        let res = alice_b.request(
            "POST",
            &format!("{me}/{action}"),
            Some(&format!("csrf={token}{rest}")),
        );
        assert_eq!(res.status, 409, "{action}: {}", res.body);
        assert!(res.body.contains("<h1>Not possible</h1>"), "{}", res.body);
        assert!(res.body.contains("last owner"), "{}", res.body);
        assert!(
            res.body
                .contains(&format!("href=\"{me}\">Back to the user</a>"))
        );
    }
    let (page, _) = alice_b.open(&me);
    assert!(page.body.contains("<option value=\"owner\" selected>"));
    assert!(page.body.contains("id=\"user-status\">active<"));
}
