//! `GET/POST {issuer}/login`: the password form. After a successful login the browser goes to
//! `return_to`, which must be this tenant's own authorize endpoint (no open redirect).

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::app::{App, AppState};
use crate::config::Config;
use crate::domain::tenant::{MfaPolicy, Tenant};
use crate::service::login::{self, Attempt, BAD_CREDENTIALS, Failed};
use crate::service::{Error, sessions};
use crate::web::extract::{RequestContext, TenantCtx};
use crate::web::middleware::RequestId;

use super::{cookies, csrf, page_error, render};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf: &'a str,
    return_to: Option<&'a str>,
    email: &'a str,
    error: Option<&'a str>,
    signed_in_as: Option<String>,
    logout_action: String,
    /// `{issuer}/password/forgot`, offered only when this server sends mail.
    forgot_link: Option<String>,
    /// The sign-up page, where the tenant takes sign-ups (issue 13).
    register_link: Option<String>,
    request_id: &'a str,
    /// "Sign in with a passkey" (issue 12), shown by the page's script.
    passkey: Option<super::passkey::Block>,
}

impl<'a> LoginPage<'a> {
    fn new(app: &App, tenant: &'a Tenant, csrf: &'a str, request_id: &'a str) -> LoginPage<'a> {
        LoginPage {
            tenant_name: &tenant.display_name,
            action: tenant_path(&app.config, tenant, "login"),
            csrf,
            return_to: None,
            email: "",
            error: None,
            signed_in_as: None,
            logout_action: tenant_path(&app.config, tenant, "logout"),
            forgot_link: crate::service::mail::enabled(app)
                .then(|| tenant_path(&app.config, tenant, "password/forgot")),
            register_link: crate::service::register::open(app, tenant)
                .then(|| tenant_path(&app.config, tenant, "register")),
            request_id,
            passkey: super::passkey::block(app, tenant, "login/passkey"),
        }
    }

    /// Renders the page; with the passkey block it may run the pages' script.
    fn respond(&self, status: StatusCode) -> Response {
        let res = render(status, self);
        if self.passkey.is_some() {
            super::with_script(res)
        } else {
            res
        }
    }
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    return_to: Option<String>,
    login_hint: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    return_to: Option<String>,
}

/// Path of a tenant page, under the public URL's path prefix.
pub fn tenant_path(config: &Config, tenant: &Tenant, page: &str) -> String {
    format!(
        "{}/t/{}/{page}",
        config.public_url.path().trim_end_matches('/'),
        tenant.slug
    )
}

/// The longest `return_to`: an authorization request with every parameter at its bound
/// (`protocol::limits`), percent-encoded, fits.
const RETURN_TO_MAX: usize = 16 * 1024;

/// Accepts `return_to` only when it is this tenant's authorize endpoint or one of its account
/// pages (`{issuer}/account`, `{issuer}/account/...`, no dot segments), as a path (optionally
/// with a query) or as an absolute URL on our own origin. Anything else is refused.
pub fn valid_return_to(config: &Config, tenant: &Tenant, value: &str) -> Option<String> {
    if value.len() > RETURN_TO_MAX {
        return None;
    }
    let allowed = tenant_path(config, tenant, "authorize");
    let relative =
        match value.strip_prefix(config.public_url.origin().ascii_serialization().as_str()) {
            Some(rest) => rest,
            None => value,
        };
    if relative.contains(['\\', '#'])
        || relative.starts_with("//")
        || relative.chars().any(char::is_control)
    {
        return None;
    }
    let path = relative.split('?').next().unwrap_or_default();
    let account = tenant_path(config, tenant, "account");
    let in_account = (path == account
        || path
            .strip_prefix(account.as_str())
            .is_some_and(|rest| rest.starts_with('/')))
        && !path
            .split('/')
            .any(|seg| seg == ".." || seg == "." || seg.contains('%'));
    (path == allowed || in_account).then(|| relative.to_owned())
}

fn no_return(req: &str) -> Response {
    page_error(
        StatusCode::BAD_REQUEST,
        "Invalid request",
        "The page to return to after signing in is not allowed.",
        req,
    )
}

pub async fn show(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Response {
    let return_to = match q.return_to.as_deref() {
        Some(r) => match valid_return_to(&app.config, &tenant, r) {
            Some(v) => Some(v),
            None => return no_return(&req.0),
        },
        None => None,
    };
    let signed_in_as = match cookies::session(&jar, &app.config, &tenant) {
        Some(token) => sessions::current(&app, &tenant, &token)
            .await
            .ok()
            .flatten()
            .map(|c| c.user.email.to_string()),
        None => None,
    };
    let (jar, token) = csrf::issue(jar, &app.config, &tenant);
    let email = q
        .login_hint
        .filter(|h| h.len() <= crate::protocol::limits::LOGIN_HINT)
        .unwrap_or_default();
    let page = LoginPage {
        return_to: return_to.as_deref(),
        email: email.trim(),
        signed_in_as,
        ..LoginPage::new(&app, &tenant, &token, &req.0)
    };
    (jar, page.respond(StatusCode::OK)).into_response()
}

pub async fn submit(
    State(app): State<AppState>,
    TenantCtx(tenant): TenantCtx,
    Extension(req): Extension<RequestId>,
    RequestContext(ctx, ip): RequestContext,
    jar: CookieJar,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return page_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Invalid request",
                "The sign-in form was too large.",
                &req.0,
            );
        }
        Err(_) => {
            return page_error(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The sign-in form could not be read.",
                &req.0,
            );
        }
    };
    if !csrf::verify(&jar, &app.config, &tenant, form.csrf.as_deref()) {
        return csrf::rejected(&req.0);
    }
    let return_to = match form.return_to.as_deref().filter(|s| !s.is_empty()) {
        Some(r) => match valid_return_to(&app.config, &tenant, r) {
            Some(v) => Some(v),
            None => return no_return(&req.0),
        },
        None => None,
    };
    let email = form.email.unwrap_or_default();
    let attempt = Attempt {
        email: &email,
        password: form.password.unwrap_or_default(),
        ip,
    };
    match login::login(&app, &tenant, attempt, &ctx).await {
        Ok(done) => {
            if let Some(previous) = cookies::session(&jar, &app.config, &tenant)
                && let Err(e) = sessions::discard(&app, &tenant, &previous).await
            {
                tracing::warn!(error = %e, "could not drop the replaced session");
            }
            let max_age = app.config.identity.session_lifetime.as_secs() as i64;
            // A new id on every login: this tenant's old cookie (if any) is simply replaced;
            // other tenants' session cookies are left alone.
            let jar = jar.add(cookies::session_cookie(
                &app.config,
                &tenant,
                done.token,
                max_age,
            ));
            // The second step comes now, not when the next page finds the session short of
            // it: a user with a factor is asked for it, and a tenant that requires one has a
            // user without any enrol first (`/authorize` decides the same way on its own).
            let next = if done.factor_due {
                Some("login/factor")
            } else if tenant.mfa == MfaPolicy::Required {
                Some("account/totp")
            } else {
                None
            };
            let to = match (next, return_to) {
                (Some(step), Some(back)) => super::factor::with_return(&app, &tenant, step, &back),
                (Some(step), None) => tenant_path(&app.config, &tenant, step),
                (None, Some(back)) => back,
                (None, None) => tenant_path(&app.config, &tenant, "login"),
            };
            (jar, super::secure(Redirect::to(&to).into_response())).into_response()
        }
        Err(Failed::BadCredentials) => {
            let (jar, token) = csrf::issue(jar, &app.config, &tenant);
            let page = LoginPage {
                return_to: return_to.as_deref(),
                email: email.trim(),
                error: Some(BAD_CREDENTIALS),
                ..LoginPage::new(&app, &tenant, &token, &req.0)
            };
            (jar, page.respond(StatusCode::UNAUTHORIZED)).into_response()
        }
        Err(Failed::Service(e)) => service_error(e, &req.0),
    }
}

/// Renders a service failure as a page: 429/503 with `Retry-After`, 500 with the request id.
pub fn service_error(e: Error, request_id: &str) -> Response {
    let (status, title, message, retry) = match &e {
        Error::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "There were too many sign-in attempts. Wait a moment and try again.",
            Some(retry_after.as_secs().max(1)),
        ),
        Error::Unavailable(_) => return crate::web::error::service_failure(&e, true, request_id),
        Error::Busy { retry_after } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "The server is busy right now. Try again in a moment.",
            Some(retry_after.as_secs().max(1)),
        ),
        other => {
            tracing::error!(error = %other, request_id, "login failed internally");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not complete the request.",
                None,
            )
        }
    };
    let mut res = page_error(status, title, message, request_id);
    if let Some(secs) = retry
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(public: &str) -> (Config, Tenant) {
        let mut env = std::collections::BTreeMap::new();
        env.insert("OPENTRUSTY_PUBLIC_URL".to_string(), public.to_string());
        let config = Config::from_vars(&env).unwrap();
        let tenant = Tenant {
            id: crate::domain::ids::TenantId::new(),
            slug: crate::domain::tenant::Slug::parse("acme").unwrap(),
            display_name: "Acme".into(),
            status: crate::domain::tenant::Status::Active,
            mfa: crate::domain::tenant::MfaPolicy::Optional,
            registration: crate::domain::tenant::Registration::Closed,
            created_at: 0,
            updated_at: 0,
        };
        (config, tenant)
    }

    #[test]
    fn return_to_must_be_this_tenants_authorize_endpoint() {
        let (c, t) = setup("https://id.example.com");
        assert!(valid_return_to(&c, &t, "/t/acme/authorize?client_id=x&state=y").is_some());
        assert!(valid_return_to(&c, &t, "https://id.example.com/t/acme/authorize?x=1").is_some());
        for bad in [
            "https://evil.example/t/acme/authorize",
            "//evil.example/t/acme/authorize",
            "/t/other/authorize",
            "/t/acme/login",
            "/t/acme/authorize/../../x",
            "/\\evil.example",
            "https://id.example.com.evil/t/acme/authorize",
            "javascript:alert(1)",
        ] {
            assert!(valid_return_to(&c, &t, bad).is_none(), "{bad}");
        }
        let (c, t) = setup("https://example.com/idp");
        assert!(valid_return_to(&c, &t, "/idp/t/acme/authorize?a=b").is_some());
        // The tenant's account pages, without dot segments or escapes that could climb out.
        for ok in ["/idp/t/acme/account", "/idp/t/acme/account/totp?x=1"] {
            assert!(valid_return_to(&c, &t, ok).is_some(), "{ok}");
        }
        for bad in [
            "/idp/t/acme/accounts",
            "/idp/t/acme/account/../../beta/account",
            "/idp/t/acme/account/%2e%2e/x",
            "/idp/t/beta/account",
        ] {
            assert!(valid_return_to(&c, &t, bad).is_none(), "{bad}");
        }
        assert!(valid_return_to(&c, &t, "/t/acme/authorize?a=b").is_none());
    }
}
