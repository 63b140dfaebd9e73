//! The clients pages' refusals: bad input next to its field (422, typed values kept), a
//! missing form token, and a viewer who sees no write control and whose forged POSTs get 403.

use super::super::browser::{Browser, field};
use super::super::{cli, console_site, ok, port_of};
use super::{NEW, alice, client_form, code, names, register, token};

#[test]
fn bad_input_is_shown_next_to_its_field_with_the_typed_values() {
    let s = console_site(&[]);
    let mut b = alice(&s);
    let typed = "not a uri\nhttps://ok.example/cb";
    let res = register(&mut b, "Typed name", typed, &[("scope", "openid profile")]);
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("<h1>Register client</h1>"));
    assert!(
        res.body.contains("aria-invalid=\"true\" aria-describedby=\"redirect_uris-hint redirect_uris-error\">not a uri\nhttps://ok.example/cb</textarea>"),
        "{}",
        res.body
    );
    let error = res
        .body
        .split("id=\"redirect_uris-error\"")
        .nth(1)
        .expect("the field's error");
    assert!(
        error.starts_with(" class=\"field-error\" role=\"alert\">redirect_uris: "),
        "{error}"
    );
    assert!(res.body.contains("value=\"Typed name\""));
    assert!(res.body.contains("value=\"openid profile\""));
    assert!(res.body.contains("value=\"client_credentials\" checked"));
    assert!(code(&res.body, "secret").is_none());
    assert!(!res.body.contains("\"type\":"), "never a JSON body");
    // A lifetime that is no number, and one the service's range refuses.
    let res = register(
        &mut b,
        "Ttl",
        "https://ok.example/cb",
        &[("access_token_ttl", "ten")],
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body.contains("id=\"access_token_ttl-error\""),
        "{}",
        res.body
    );
    assert!(res.body.contains("value=\"ten\""));
    let res = register(
        &mut b,
        "Ttl",
        "https://ok.example/cb",
        &[("id_token_ttl", "999999999")],
    );
    assert_eq!(res.status, 422);
    assert!(res.body.contains(
        "id=\"id_token_ttl-error\" class=\"field-error\" role=\"alert\">id_token_ttl must be 1 to"
    ));
    // Nothing was registered.
    let (list, _) = b.open("/console/t/acme/clients");
    assert!(names(&list.body).is_empty(), "{}", list.body);

    // The same on the edit form; the stored client stays as it was.
    let res = register(&mut b, "Kept", "https://ok.example/cb", &[]);
    let id = code(&res.body, "client-id").unwrap();
    let detail = format!("/console/t/acme/clients/{id}");
    let (page, _) = b.open(&detail);
    let csrf = field(&page.body, "csrf").unwrap();
    let res = b.request(
        "POST",
        &detail,
        Some(&client_form(&csrf, "Renamed", "ftp://x", &[])),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body.contains("id=\"redirect_uris-error\""),
        "{}",
        res.body
    );
    assert!(res.body.contains(">ftp://x</textarea>"));
    assert!(res.body.contains("value=\"Renamed\""));
    let (page, _) = b.open(&detail);
    assert!(page.body.contains("<h1>Kept</h1>"));
    assert!(page.body.contains(">https://ok.example/cb</textarea>"));
    // A form without its token changes nothing.
    let res = b.request(
        "POST",
        &detail,
        Some(&client_form(
            "forged",
            "Renamed",
            "https://ok.example/cb",
            &[],
        )),
    );
    assert_eq!(res.status, 403);
    assert!(b.open(&detail).0.body.contains("<h1>Kept</h1>"));
}

#[test]
fn a_viewer_sees_no_write_controls_and_a_forged_post_is_refused() {
    let s = console_site(&[]);
    let mut owner = alice(&s);
    let res = register(&mut owner, "Shop", "https://shop.example/cb", &[]);
    let id = code(&res.body, "client-id").unwrap();
    let secret = code(&res.body, "secret").unwrap();
    ok(cli(
        &s.db,
        &[
            "user",
            "role",
            "--tenant",
            "acme",
            "--email",
            "bob@example.com",
            "--role",
            "viewer",
        ],
        None,
    ));
    let mut bob = Browser::new(&[port_of(&s)]);
    let list = bob.sign_in("/console/t/acme/clients", "bob@example.com", "password-bob");
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(names(&list.body), ["Shop"]);
    assert!(!list.body.contains("Register client"), "{}", list.body);
    let detail = format!("/console/t/acme/clients/{id}");
    let (page, _) = bob.open(&detail);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("class=\"redirect-uri\">https://shop.example/cb<"),
        "{}",
        page.body
    );
    // The only form is the sign-out; no write button or link.
    assert_eq!(page.body.matches("<form").count(), 1, "{}", page.body);
    for write in [
        "Save client",
        "Disable client",
        "Rotate secret",
        "Delete client",
    ] {
        assert!(!page.body.contains(write), "{write}: {}", page.body);
    }
    assert_eq!(bob.open(NEW).0.status, 403);
    assert_eq!(bob.open(&format!("{detail}/delete")).0.status, 403);

    // His own valid form token does not make a write his role lacks.
    let csrf = field(&page.body, "csrf").unwrap();
    let res = bob.request(
        "POST",
        NEW,
        Some(&client_form(&csrf, "Evil", "https://evil.example/cb", &[])),
    );
    assert_eq!(res.status, 403, "{}", res.body);
    let res = bob.request(
        "POST",
        &detail,
        Some(&client_form(&csrf, "Evil", "https://evil.example/cb", &[])),
    );
    assert_eq!(res.status, 403, "{}", res.body);
    for action in ["disable", "secret", "delete"] {
        let res = bob.request(
            "POST",
            &format!("{detail}/{action}"),
            Some(&format!("csrf={csrf}")),
        );
        assert_eq!(res.status, 403, "{action}: {}", res.body);
        assert!(!res.body.contains("<code id=\"secret\">"));
    }
    // Nothing changed.
    assert_eq!(token(&s.target, &id, &secret).status, 200);
    let (list, _) = owner.open("/console/t/acme/clients");
    assert_eq!(names(&list.body), ["Shop"]);
    assert!(list.body.contains("class=\"client-status\">active<"));
}
