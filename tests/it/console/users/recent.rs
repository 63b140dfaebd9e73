//! Granting a role and deleting a user need an authentication younger than five minutes. The
//! console is served here in-process with a settable clock, so the sign-in can age: past five
//! minutes the form pages and their POSTs send the browser through `/authorize` with
//! `max_age=300` (the POST's change not made, never replayed), while removing a role or
//! creating a user without one go through; signing in again leads back to the page, where
//! the deletion then works. Both backends.

use opentrusty::app::AppState;
use opentrusty::domain::role::Role;
use opentrusty::domain::user::Profile;
use opentrusty::service::admin::{self, UserInput};
use opentrusty::service::{Context, roles};
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use opentrusty::web::conn::{self, Limits};
use tokio::runtime::Runtime;

use super::super::browser::Browser;
use super::{created_id, csrf, form};
use crate::common::stores;

const PW: &str = "password-acme";

/// Serves `store`'s console on a loopback port; returns the app, the port and the switch
/// that stops the server when dropped.
fn serve(rt: &Runtime, store: Store) -> (AppState, u16, tokio::sync::watch::Sender<bool>) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let app = stores::app(store, &[("OPENTRUSTY_PUBLIC_URL", &url)]);
    let router = opentrusty::web::router(app.clone(), Plane::All);
    let limits = Limits::from_config(&app.config.http);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    rt.spawn(conn::serve(listener, router, limits, Plane::All, stopped));
    (app, port, stop)
}

async fn user(app: &AppState, t: &opentrusty::domain::tenant::Tenant, email: &str) -> String {
    let input = UserInput {
        email,
        password: Some(PW),
        profile: Profile::default(),
        email_verified: true,
    };
    let u = admin::user_create(app, t, input, &Context::cli())
        .await
        .unwrap();
    u.id.to_string()
}

fn stale_sign_ins_go_back_through_authorize(rt: Runtime, store: Store) {
    let (app, port, _stop) = serve(&rt, store);
    let ada = rt.block_on(async {
        let t = admin::tenant_create(&app, "acme", None, &Context::cli())
            .await
            .unwrap();
        user(&app, &t, "alice@example.com").await;
        roles::set_role(
            &app,
            &t,
            "alice@example.com",
            Some(Role::Owner),
            &Context::cli(),
        )
        .await
        .unwrap();
        user(&app, &t, "ada@example.com").await
    });
    let role_of = |email: &str| {
        rt.block_on(async {
            let t = admin::tenant(&app, "acme").await?;
            let u = admin::users_list(&app, &t).await?;
            match u.iter().find(|u| u.email.as_str() == email) {
                Some(u) => roles::role_of(&app, &t, u).await.map(Some),
                None => Ok(None),
            }
        })
        .unwrap()
    };
    let mut alice = Browser::new(&[port]);
    let home = alice.sign_in("/console/t/acme/", "alice@example.com", PW);
    assert_eq!(home.status, 200, "{}", home.body);
    let me = format!("/console/t/acme/users/{ada}");
    // Fresh: the create form with its role select opens.
    let (new, _) = alice.open("/console/t/acme/users/new");
    assert_eq!(new.status, 200, "{}", new.body);
    let (page, _) = alice.open(&me);
    let token = csrf(&page.body);

    // Five minutes and a second later.
    app.clock.advance(301);
    let round_trip = |res: &crate::common::http::Response| {
        assert_eq!(res.status, 303, "{}", res.body);
        let to = res.header("location").unwrap();
        assert!(to.contains("/t/acme/authorize?"), "{to}");
        assert!(to.contains("max_age=300"), "{to}");
    };
    // The user's page itself is no sensitive action.
    assert_eq!(alice.get(&me).status, 200);
    // Granting a role: the round trip, and no role granted.
    let res = alice.request(
        "POST",
        &format!("{me}/role"),
        Some(&form(&[("csrf", &token), ("role", "viewer")])),
    );
    round_trip(&res);
    assert_eq!(role_of("ada@example.com"), Some(None));
    // Removing one is not granting: it goes through.
    let res = alice.request(
        "POST",
        &format!("{me}/role"),
        Some(&form(&[("csrf", &token), ("role", "")])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.header("location"), Some(me.as_str()));
    // The create form of a caller who may grant, and a creation with a role: the round trip,
    // nobody created. Without a role: created.
    round_trip(&alice.get("/console/t/acme/users/new"));
    let res = alice.request(
        "POST",
        "/console/t/acme/users/new",
        Some(&form(&[
            ("csrf", &token),
            ("email", "eve@example.com"),
            ("role", "admin"),
        ])),
    );
    round_trip(&res);
    assert_eq!(role_of("eve@example.com"), None);
    let res = alice.request(
        "POST",
        "/console/t/acme/users/new",
        Some(&form(&[("csrf", &token), ("email", "eve@example.com")])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    created_id(&res);
    assert_eq!(role_of("eve@example.com"), Some(None));
    // Deleting: the confirmation page and its POST both go round; ada stays.
    round_trip(&alice.get(&format!("{me}/delete")));
    let res = alice.request(
        "POST",
        &format!("{me}/delete"),
        Some(&form(&[("csrf", &token)])),
    );
    round_trip(&res);
    assert_eq!(role_of("ada@example.com"), Some(None));

    // Signing in again comes back to the confirmation page, where deleting works.
    let page = alice.sign_in(&format!("{me}/delete"), "alice@example.com", PW);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Delete user</h1>"), "{}", page.body);
    let res = alice.request(
        "POST",
        &format!("{me}/delete"),
        Some(&form(&[("csrf", &csrf(&page.body))])),
    );
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(role_of("ada@example.com"), None);
}

#[test]
fn sqlite() {
    let dir = crate::common::tempdir();
    let rt = Runtime::new().unwrap();
    let store = rt.block_on(stores::sqlite(dir.path()));
    stale_sign_ins_go_back_through_authorize(rt, store);
}

#[test]
fn postgres() {
    let rt = Runtime::new().unwrap();
    if let Some(store) = rt.block_on(stores::postgres("console_users_recent")) {
        stale_sign_ins_go_back_through_authorize(rt, store);
    }
}
