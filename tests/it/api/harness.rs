//! A management API caller over the admin plane's router (in process, both backends): JSON in
//! and out, bearer tokens, and fixtures — the platform, two tenants, and API tokens by role.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use opentrusty::app::AppState;
use opentrusty::domain::role::Role;
use opentrusty::domain::tenant::Tenant;
use opentrusty::service::{Context, api_tokens};
use opentrusty::store::Store;
use opentrusty::systemd::Plane;
use serde_json::Value;
use tower::ServiceExt;

use crate::oauth_world::{app, tenant};

/// One answer: status, headers and the JSON body (`Null` when there is none or it is not JSON).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) json: Value,
    pub(crate) bytes: Vec<u8>,
}

pub(crate) struct Api {
    pub(crate) app: AppState,
    pub(crate) platform: Tenant,
    pub(crate) a: Tenant,
    pub(crate) b: Tenant,
}

impl Api {
    /// The platform and tenants `acme` (a) and `beta` (b), on `store`.
    pub(crate) async fn new(store: Store) -> Api {
        Api::with(app(store)).await
    }

    /// The same fixtures on an app built by the caller (e.g. with other settings).
    pub(crate) async fn with(app: AppState) -> Api {
        let platform = tenant(&app, "platform").await;
        let a = tenant(&app, "acme").await;
        let b = tenant(&app, "beta").await;
        Api {
            app,
            platform,
            a,
            b,
        }
    }

    /// A fresh API token of `t` with `role`, valid for a day.
    pub(crate) async fn token(&self, t: &Tenant, role: Role) -> String {
        api_tokens::create(
            &self.app,
            t,
            &format!("{}-{}", t.slug.as_str(), role),
            role,
            Duration::from_secs(86_400),
            None,
            &Context::default(),
        )
        .await
        .unwrap()
        .token
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(b) = bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.raw(req.body(body).unwrap()).await
    }

    pub(crate) async fn raw(&self, req: Request<Body>) -> Answer {
        let router = opentrusty::web::router(self.app.clone(), Plane::Admin);
        let res = router.oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            bytes,
        }
    }
}
