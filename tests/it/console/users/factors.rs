//! The console's second-factor settings (issue 12) over real HTTP, signed in through the real
//! login, with a clock that can age the sign-in: a user's page lists the user's factors and
//! an owner resets them ("Reset second factors": a forged form refused, a stale sign-in sent
//! round through `/authorize`, audited); a viewer sees the list without the button; the
//! client form's "Require a second factor" registers and withdraws `require_mfa`; the
//! platform's tenants list shows each tenant's policy. Both backends.

use opentrusty::app::AppState;
use opentrusty::domain::role::Role;
use opentrusty::domain::tenant::MfaPolicy;
use opentrusty::domain::user::Profile;
use opentrusty::service::admin::{self, UserInput};
use opentrusty::service::{Context, audit, clients, factors, roles};
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use opentrusty::web::conn::{self, Limits};
use tokio::runtime::Runtime;

use super::super::browser::Browser;
use super::super::clients::client_form;
use super::{csrf, form};
use crate::common::stores;
use crate::oauth_world::KEK;

const PW: &str = "password-acme";

fn serve(rt: &Runtime, store: Store) -> (AppState, u16, tokio::sync::watch::Sender<bool>) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let app = stores::app(
        store,
        &[
            ("OPENTRUSTY_PUBLIC_URL", &url),
            ("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
        ],
    );
    let router = opentrusty::web::router(app.clone(), Plane::All);
    let limits = Limits::from_config(&app.config.http);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    rt.spawn(conn::serve(listener, router, limits, Plane::All, stopped));
    (app, port, stop)
}

async fn user(
    app: &AppState,
    t: &opentrusty::domain::tenant::Tenant,
    email: &str,
    role: Option<Role>,
) -> opentrusty::domain::user::User {
    let input = UserInput {
        email,
        password: Some(PW),
        profile: Profile::default(),
        email_verified: true,
    };
    let u = admin::user_create(app, t, input, &Context::cli())
        .await
        .unwrap();
    if role.is_some() {
        roles::set_role(app, t, email, role, &Context::cli())
            .await
            .unwrap();
    }
    u
}

fn second_factors_in_the_console(rt: Runtime, store: Store) {
    let (app, port, _stop) = serve(&rt, store);
    let (t, ada) = rt.block_on(async {
        admin::bootstrap(&app, "root@example.com", PW, &Context::cli())
            .await
            .unwrap();
        let t = admin::tenant_create(&app, "acme", None, &Context::cli())
            .await
            .unwrap();
        user(&app, &t, "alice@example.com", Some(Role::Owner)).await;
        user(&app, &t, "vic@example.com", Some(Role::Viewer)).await;
        let ada = user(&app, &t, "ada@example.com", None).await;
        crate::api::factors::enrol(&app, &t, &ada, "Ada's phone").await;
        (t, ada)
    });
    let enrolled = || rt.block_on(factors::list(&app, &t, ada.id)).unwrap().len();
    let me = format!("/console/t/acme/users/{}", ada.id);

    // A viewer sees the factor and no reset button; a forged reset is refused.
    let mut vic = Browser::new(&[port]);
    assert_eq!(vic.sign_in(&me, "vic@example.com", PW).status, 200);
    let page = vic.get(&me);
    assert!(
        page.body
            .contains("<h2 id=\"factors-h\">Second factors</h2>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Ada&#x27;s phone") || page.body.contains("Ada&#39;s phone"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Authenticator app"));
    assert!(!page.body.contains("Reset second factors"));
    let res = vic.request(
        "POST",
        &format!("{me}/factors/reset"),
        Some(&form(&[("csrf", &csrf(&page.body))])),
    );
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(enrolled(), 1);

    let mut alice = Browser::new(&[port]);
    assert_eq!(alice.sign_in(&me, "alice@example.com", PW).status, 200);
    let page = alice.get(&me);
    assert!(page.body.contains("Reset second factors"), "{}", page.body);
    let token = csrf(&page.body);
    // Without the form token: refused, nothing removed.
    let res = alice.request(
        "POST",
        &format!("{me}/factors/reset"),
        Some(&form(&[("csrf", "forged")])),
    );
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(enrolled(), 1);
    // A sign-in older than five minutes: round trip through /authorize, nothing removed.
    app.clock.advance(301);
    let res = alice.request(
        "POST",
        &format!("{me}/factors/reset"),
        Some(&form(&[("csrf", &token)])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    let to = res.header("location").unwrap();
    assert!(
        to.contains("/t/acme/authorize?") && to.contains("max_age=300"),
        "{to}"
    );
    assert_eq!(enrolled(), 1);
    // Signed in again: back on the user's page, where the reset works.
    let to = to.to_owned();
    let page = alice.sign_in(&to, "alice@example.com", PW);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("id=\"user-email\">ada@example.com"),
        "{}",
        page.body
    );
    let res = alice.request(
        "POST",
        &format!("{me}/factors/reset"),
        Some(&form(&[("csrf", &csrf(&page.body))])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some(me.as_str()));
    assert_eq!(enrolled(), 0);
    let page = alice.get(&me);
    assert!(page.body.contains("id=\"no-factors\""), "{}", page.body);
    let resets = rt
        .block_on(audit::list(&app, Some(&t), 100))
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "mfa.reset")
        .count();
    assert_eq!(resets, 1);

    // The client form: "Require a second factor" on registration, withdrawn on the edit page.
    let (new, _) = alice.open("/console/t/acme/clients/new");
    assert!(
        new.body
            .contains("<label for=\"require_mfa\">Require a second factor</label>"),
        "{}",
        new.body
    );
    let body = client_form(
        &csrf(&new.body),
        "Bank",
        "https://bank.example/cb",
        &[("require_mfa", "on")],
    );
    let res = alice.request("POST", "/console/t/acme/clients/new", Some(&body));
    assert!(res.status == 200 || res.status == 303, "{}", res.body);
    let bank = rt
        .block_on(clients::list(&app, &t))
        .unwrap()
        .into_iter()
        .find(|c| c.name == "Bank")
        .expect("registered");
    assert!(bank.require_mfa);
    let edit = format!("/console/t/acme/clients/{}", bank.client_id);
    let (page, _) = alice.open(&edit);
    assert!(
        page.body
            .contains("name=\"require_mfa\" type=\"checkbox\" value=\"on\" checked"),
        "{}",
        page.body
    );
    let body = client_form(&csrf(&page.body), "Bank", "https://bank.example/cb", &[]);
    let res = alice.request("POST", &edit, Some(&body));
    assert!(res.status == 200 || res.status == 303, "{}", res.body);
    assert!(
        !rt.block_on(clients::get(&app, &t, &bank.client_id))
            .unwrap()
            .require_mfa
    );

    // The platform's tenants list shows the policy.
    rt.block_on(admin::tenant_set_mfa(
        &app,
        "acme",
        MfaPolicy::Required,
        &Context::cli(),
    ))
    .unwrap();
    let mut root = Browser::new(&[port]);
    let page = root.sign_in("/console/t/platform/tenants", "root@example.com", PW);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<th scope=\"col\">Second factors</th>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<td class=\"tenant-slug\">acme</td><td>acme</td><td class=\"tenant-status\">active</td><td class=\"tenant-mfa\">required</td>"), "{}", page.body);
}

#[test]
fn sqlite() {
    let dir = crate::common::tempdir();
    let rt = Runtime::new().unwrap();
    let store = rt.block_on(stores::sqlite(dir.path()));
    second_factors_in_the_console(rt, store);
}

#[test]
fn postgres() {
    let rt = Runtime::new().unwrap();
    if let Some(store) = rt.block_on(stores::postgres("console_users_factors")) {
        second_factors_in_the_console(rt, store);
    }
}
