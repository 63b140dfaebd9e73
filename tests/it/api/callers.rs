//! The twelve callers of the authorization matrix, minted the way real callers get their
//! credentials: users of `platform`, `acme` (A) and `beta` (B) log in (a session) and run the
//! authorization-code flow with a first-party client registered for `opentrusty:admin`; API
//! tokens come from the service; the expired one has really expired on the world's clock.

use std::collections::HashMap;
use std::time::Duration;

use opentrusty::domain::role::Role;
use opentrusty::domain::tenant::Tenant;
use opentrusty::domain::user::{Email, Profile};
use opentrusty::protocol::token::TokenRequest;
use opentrusty::service::authorize::{self, Outcome};
use opentrusty::service::client_auth::Presented;
use opentrusty::service::clients::{self, NewClient};
use opentrusty::service::{Context, admin, api_tokens, roles, sessions, token};

use super::harness::Api;
use crate::oauth_world::CB;

/// Who calls, in the matrix's column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Who {
    /// Users of `platform` with a role there.
    PlatformOwner,
    PlatformViewer,
    /// Users of tenant A with a role in A.
    AOwner,
    AAdmin,
    AViewer,
    /// A user of A without a role (with a token that has the admin scope).
    ANoRole,
    /// The owner of tenant B.
    BOwner,
    /// An API token of A with the admin role.
    AToken,
    ExpiredToken,
    RevokedToken,
    /// A's owner, through an access token without `opentrusty:admin`.
    NoAdminScope,
    Nobody,
}

pub(crate) const ALL: [Who; 12] = [
    Who::PlatformOwner,
    Who::PlatformViewer,
    Who::AOwner,
    Who::AAdmin,
    Who::AViewer,
    Who::ANoRole,
    Who::BOwner,
    Who::AToken,
    Who::ExpiredToken,
    Who::RevokedToken,
    Who::NoAdminScope,
    Who::Nobody,
];

/// A bearer credential per caller (`None` for [`Who::Nobody`]).
pub(crate) struct Callers(HashMap<Who, String>);

impl Callers {
    pub(crate) fn bearer(&self, who: Who) -> Option<&str> {
        self.0.get(&who).map(String::as_str)
    }
}

/// A user of `t` with `role`, logged in, and the access token of a code flow for `scope`.
async fn user_token(api: &Api, t: &Tenant, email: &str, role: Option<Role>, scope: &str) -> String {
    let app = &api.app;
    let ctx = Context::default();
    let known = {
        let mut tx = app.store.read().await.unwrap();
        let email = Email::parse(email).unwrap();
        tx.scope(t).user_by_email(&email).await.unwrap()
    };
    let user = match known {
        Some(u) => u,
        None => admin::user_create(
            app,
            t,
            admin::UserInput {
                email,
                password: None,
                profile: Profile::default(),
                email_verified: true,
            },
            &ctx,
        )
        .await
        .unwrap(),
    };
    if role.is_some() {
        roles::set_role(app, t, email, role, &ctx).await.unwrap();
    }
    let created = clients::create(
        app,
        t,
        &NewClient {
            name: "console".into(),
            redirect_uris: vec![CB.into()],
            grant_types: vec!["authorization_code".into()],
            scopes: Some("openid opentrusty:admin".into()),
            first_party: true,
            ..NewClient::default()
        },
        &ctx,
    )
    .await
    .unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let (session, _) = sessions::create(
        &mut tx.scope(t),
        &user,
        &["pwd"],
        &ctx,
        app.clock.now(),
        86_400,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let params: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", created.client.client_id.as_str()),
        ("redirect_uri", CB),
        ("scope", scope),
        ("state", "s"),
        ("nonce", "n"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = authorize::authorize(app, t, params, Some(&session), None, &ctx)
        .await
        .unwrap();
    let Outcome::Redirect(to) = out else {
        panic!("no redirect: {out:?}")
    };
    let url = url::Url::parse(&to).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code: {to}"));
    let presented = Presented {
        client_id: created.client.client_id.clone(),
        secret: created.secret.clone(),
        method: created.client.auth_method,
    };
    let req = TokenRequest::AuthorizationCode {
        code,
        redirect_uri: Some(CB.into()),
        code_verifier: None,
    };
    let issued = token::exchange(app, t, &presented, req, &ctx)
        .await
        .unwrap();
    assert_eq!(
        issued.scope.contains("opentrusty:admin"),
        scope.contains("opentrusty:admin")
    );
    issued.access_token
}

impl Callers {
    pub(crate) async fn mint(api: &Api) -> Callers {
        let ctx = Context::default();
        let mut m = HashMap::new();
        // First the token that must expire: then the clock moves past it, and everything
        // else is minted after that.
        let day = Duration::from_secs(86_400);
        let exp = api_tokens::create(
            &api.app,
            &api.a,
            "short",
            Role::Admin,
            Duration::from_secs(10),
            None,
            &ctx,
        )
        .await
        .unwrap();
        api.app.clock.advance(11);
        m.insert(Who::ExpiredToken, exp.token);
        let admin_scope = "openid opentrusty:admin";
        let (p, a, b) = (&api.platform, &api.a, &api.b);
        let users: [(Who, &Tenant, &str, Option<Role>); 7] = [
            (
                Who::PlatformOwner,
                p,
                "root@platform.test",
                Some(Role::Owner),
            ),
            (
                Who::PlatformViewer,
                p,
                "audit@platform.test",
                Some(Role::Viewer),
            ),
            (Who::AOwner, a, "owner@acme.test", Some(Role::Owner)),
            (Who::AAdmin, a, "admin@acme.test", Some(Role::Admin)),
            (Who::AViewer, a, "viewer@acme.test", Some(Role::Viewer)),
            (Who::ANoRole, a, "nobody@acme.test", None),
            (Who::BOwner, b, "owner@beta.test", Some(Role::Owner)),
        ];
        for (who, t, email, role) in users {
            m.insert(who, user_token(api, t, email, role, admin_scope).await);
        }
        m.insert(
            Who::NoAdminScope,
            user_token(api, a, "owner@acme.test", None, "openid").await,
        );
        let tok = api_tokens::create(&api.app, a, "ci", Role::Admin, day, None, &ctx)
            .await
            .unwrap();
        m.insert(Who::AToken, tok.token);
        let rev = api_tokens::create(&api.app, a, "old", Role::Admin, day, None, &ctx)
            .await
            .unwrap();
        api_tokens::revoke(&api.app, a, &rev.row.id, &ctx)
            .await
            .unwrap();
        m.insert(Who::RevokedToken, rev.token);
        Callers(m)
    }
}
