//! The console's clients pages over real HTTP through the real login: register (the secret
//! shown once, then usable at the tenant's token endpoint), edit (enforced at `/authorize`
//! and the token endpoint), rotate, disable, delete through a confirmation page, errors next
//! to their fields, a viewer without write controls whose forged POSTs are refused, tenant
//! isolation, the built-in client out of reach, and the recent-authentication round trip.

mod checks;
mod postgres;
mod scope;

use base64::Engine;

use super::browser::{Browser, field};
use super::{cli, console_site, port_of};
use crate::common::http::{self, Response, Target};
use crate::login_pages::Site;

pub(super) const NEW: &str = "/console/t/acme/clients/new";

/// The text of `<code id="{id}">…</code>`.
pub(super) fn code(body: &str, id: &str) -> Option<String> {
    body.split(&format!("<code id=\"{id}\">"))
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(str::to_owned)
}

pub(super) fn names(body: &str) -> Vec<String> {
    body.split("class=\"client-name\"")
        .skip(1)
        .filter_map(|s| s.split('>').nth(1)?.split('<').next())
        .map(str::to_owned)
        .collect()
}

pub(super) fn encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The registration (or edit) form as a browser sends it: every field, `extra` last.
pub(super) fn client_form(csrf: &str, name: &str, uris: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("csrf", csrf),
        ("client_name", name),
        ("client_type", "confidential"),
        ("redirect_uris", uris),
        ("post_logout_redirect_uris", ""),
        ("grant_types", "authorization_code"),
        ("grant_types", "refresh_token"),
        ("grant_types", "client_credentials"),
        ("scope", "openid profile email"),
        ("token_endpoint_auth_method", ""),
        ("id_token_signed_response_alg", "RS256"),
        ("access_token_ttl", ""),
        ("refresh_token_ttl", ""),
        ("id_token_ttl", ""),
    ];
    for (k, v) in extra {
        match pairs.iter_mut().find(|(pk, _)| pk == k) {
            Some(p) if *k != "grant_types" => p.1 = v,
            _ => pairs.push((k, v)),
        }
    }
    encode(&pairs)
}

/// Opens the registration form and submits it; the answer of the POST.
pub(super) fn register(
    b: &mut Browser,
    name: &str,
    uris: &str,
    extra: &[(&str, &str)],
) -> Response {
    let (page, _) = b.open(NEW);
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = field(&page.body, "csrf").expect("the form token");
    b.request("POST", NEW, Some(&client_form(&csrf, name, uris, extra)))
}

pub(super) fn token(target: &Target, id: &str, secret: &str) -> Response {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    http::send(
        target,
        "POST",
        "/t/acme/token",
        &[format!("Authorization: Basic {basic}")],
        Some("grant_type=client_credentials"),
    )
    .unwrap()
}

/// `/authorize` for `id` with `redirect_uri`: 400 (the error page) when it is not registered.
pub(super) fn authorize(target: &Target, id: &str, redirect_uri: &str) -> u16 {
    let q = encode(&[
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", redirect_uri),
        ("scope", "openid"),
        ("state", "s1"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ]);
    let path = format!("/t/acme/authorize?{q}");
    http::send(target, "GET", &path, &["Accept: text/html".into()], None)
        .unwrap()
        .status
}

pub(super) fn alice(s: &Site) -> Browser {
    let mut b = Browser::new(&[port_of(s)]);
    let home = b.sign_in("/console/t/acme/", "alice@example.com", "password-acme");
    assert_eq!(home.status, 200, "{}", home.body);
    b
}

#[test]
fn an_owner_registers_edits_rotates_disables_and_deletes_a_client() {
    let s = console_site(&[]);
    let mut b = alice(&s);
    let (list, _) = b.open("/console/t/acme/clients");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("<h1>Clients</h1>"));
    assert!(
        list.body
            .contains("href=\"/console/t/acme/clients/new\">Register client<"),
        "{}",
        list.body
    );
    let (form, _) = b.open(NEW);
    assert!(
        form.body.contains("<h1>Register client</h1>"),
        "{}",
        form.body
    );
    for label in [
        "Client name",
        "Client type",
        "Redirect URIs",
        "Post-logout redirect URIs",
        "Scope",
        "Token endpoint authentication method",
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "Access token lifetime (seconds)",
    ] {
        assert!(
            form.body.contains(&format!("\">{label}</label>")),
            "{label}"
        );
    }

    // Registered: the secret is in the 200 answer of the POST, not cached, and only there.
    let cb = "https://app.example/cb";
    let res = register(&mut b, "Billing app", cb, &[]);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(
        res.body.contains("<h1>Client registered</h1>"),
        "{}",
        res.body
    );
    let id = code(&res.body, "client-id").expect("the client id");
    let secret = code(&res.body, "secret").expect("the secret");
    assert!(
        res.body
            .contains(&format!("class=\"copy\" data-copy=\"{secret}\" hidden>"))
    );
    assert!(
        field(&res.body, "csrf").is_some(),
        "the page keeps the form token"
    );
    let detail = format!("/console/t/acme/clients/{id}");
    assert!(
        res.body
            .contains(&format!("href=\"{detail}\">Go to client<")),
        "{}",
        res.body
    );
    let (page, _) = b.open(&detail);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Billing app</h1>"));
    assert!(
        !page.body.contains(&secret),
        "the secret is shown once only"
    );
    assert!(page.body.contains(">Save client</button>"), "{}", page.body);
    assert!(
        page.body.contains(&format!(">{cb}</textarea>")),
        "{}",
        page.body
    );
    let (list, _) = b.open("/console/t/acme/clients");
    assert_eq!(names(&list.body), ["Billing app"]);
    assert!(!list.body.contains(&secret));
    // The client authenticates with it at the tenant's token endpoint.
    let t = token(&s.target, &id, &secret);
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.json()["expires_in"], 3600);
    assert_eq!(authorize(&s.target, &id, cb), 302);

    // Edited: the new redirect URI replaces the old one at /authorize, the lifetime applies.
    let csrf = field(&page.body, "csrf").unwrap();
    let moved = "https://app.example/new-cb";
    let form = client_form(&csrf, "Billing", moved, &[("access_token_ttl", "600")]);
    let res = b.request("POST", &detail, Some(&form));
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some(detail.as_str()));
    let (page, _) = b.open(&detail);
    assert!(page.body.contains("<h1>Billing</h1>"), "{}", page.body);
    assert!(
        page.body.contains(&format!(">{moved}</textarea>")),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"600\""), "{}", page.body);
    assert_eq!(authorize(&s.target, &id, cb), 400);
    assert_eq!(authorize(&s.target, &id, moved), 302);
    assert_eq!(token(&s.target, &id, &secret).json()["expires_in"], 600);
    // The audit event names what changed, not the whole form.
    let audit = cli(&s.db, &["audit", "--tenant", "acme", "--json"], None);
    let audit = String::from_utf8_lossy(&audit.stdout).into_owned();
    let updated = audit
        .lines()
        .find(|l| l.contains("client.updated"))
        .expect(&audit);
    assert!(
        updated.contains("access_token_ttl") && !updated.contains("id_token_ttl"),
        "{updated}"
    );

    // Rotated: a new secret shown once; the old one is refused at once.
    let csrf = field(&page.body, "csrf").unwrap();
    let res = b.request(
        "POST",
        &format!("{detail}/secret"),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(
        res.body.contains("<h1>New client secret</h1>"),
        "{}",
        res.body
    );
    let fresh = code(&res.body, "secret").expect("the new secret");
    assert_ne!(fresh, secret);
    assert_eq!(token(&s.target, &id, &secret).status, 401);
    assert_eq!(token(&s.target, &id, &fresh).status, 200);

    // Disabled: no token; enabled again: tokens again.
    let res = b.request(
        "POST",
        &format!("{detail}/disable"),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let (page, _) = b.open(&detail);
    assert!(
        page.body.contains("id=\"client-status\">disabled<"),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Enable client</button>"));
    assert_eq!(token(&s.target, &id, &fresh).status, 401);
    let res = b.request(
        "POST",
        &format!("{detail}/enable"),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(token(&s.target, &id, &fresh).status, 200);

    // Deleted through the confirmation page.
    let (page, _) = b.open(&detail);
    assert!(
        page.body
            .contains(&format!("href=\"{detail}/delete\">Delete client<"))
    );
    let (confirm, _) = b.open(&format!("{detail}/delete"));
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("<h1>Delete client</h1>"));
    assert!(
        confirm
            .body
            .contains("data-confirm=\"Delete the client Billing?")
    );
    let csrf = field(&confirm.body, "csrf").unwrap();
    let res = b.request(
        "POST",
        &format!("{detail}/delete"),
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some("/console/t/acme/clients"));
    let (list, _) = b.open("/console/t/acme/clients");
    assert!(names(&list.body).is_empty(), "{}", list.body);
    assert_eq!(b.open(&detail).0.status, 404);
    assert_eq!(token(&s.target, &id, &fresh).status, 401);

    // A public client gets no secret, and its page offers no rotation.
    let res = register(
        &mut b,
        "Spa",
        "https://spa.example/cb",
        &[("client_type", "public")],
    );
    assert_eq!(
        res.status, 422,
        "client_credentials needs a confidential client"
    );
    assert!(
        res.body.contains("id=\"grant_types-error\""),
        "{}",
        res.body
    );
    let csrf = field(&res.body, "csrf").unwrap();
    let form = encode(&[
        ("csrf", &csrf),
        ("client_name", "Spa"),
        ("client_type", "public"),
        ("redirect_uris", "https://spa.example/cb"),
    ]);
    let res = b.request("POST", NEW, Some(&form));
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(code(&res.body, "secret").is_none(), "{}", res.body);
    let spa = code(&res.body, "client-id").unwrap();
    let (page, _) = b.open(&format!("/console/t/acme/clients/{spa}"));
    assert!(page.body.contains("id=\"client-type\">public<"));
    assert!(!page.body.contains("Rotate secret"), "{}", page.body);
}
