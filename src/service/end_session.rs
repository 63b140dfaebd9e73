//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2–3): validate the request,
//! end the session when an `id_token_hint` proves the RP's standing, and say where to go next.

use std::collections::HashMap;

use super::Context;
use super::client_auth::internal;
use super::sessions;
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::protocol::{Error, jose};

#[derive(Debug)]
pub enum Plan {
    /// The request is invalid: show this message, do not redirect (§3: never to an
    /// unregistered URI).
    Refuse(String),
    /// Without a valid hint the user must confirm (§2, to stop drive-by logouts).
    Confirm { client_name: Option<String> },
    /// Go to `target` (the RP's registered URI with `state`), or show the signed-out page when
    /// `None`. `ended`: this request ended the browser's session of this tenant (only then is
    /// its cookie cleared).
    Done { target: Option<String>, ended: bool },
}

/// Verifies an id_token of this issuer (any audience) and returns its claims.
async fn verified_hint(
    app: &App,
    tenant: &Tenant,
    hint: &str,
) -> Result<Option<serde_json::Value>, Error> {
    let keys = app.keys.for_tenant(app, tenant).await.map_err(internal)?;
    let kid = jose::peek_header(hint)
        .ok()
        .and_then(|h| h["kid"].as_str().map(str::to_owned));
    let claims = kid.and_then(|k| keys.by_kid(&k).and_then(|key| key.verify(hint).ok()));
    let issuer = tenant.issuer(&app.config.public_url);
    Ok(claims.filter(|c| c["iss"].as_str() == Some(issuer.as_str())))
}

pub async fn end_session(
    app: &App,
    tenant: &Tenant,
    p: &HashMap<String, String>,
    session_token: Option<&str>,
    ctx: &Context,
) -> Result<Plan, Error> {
    let hint = match p.get("id_token_hint") {
        Some(h) => match verified_hint(app, tenant, h).await? {
            Some(c) => Some(c),
            None => {
                return Ok(Plan::Refuse(
                    "The sign-out request carries a token this site did not issue.".into(),
                ));
            }
        },
        None => None,
    };
    let hint_aud = hint.as_ref().and_then(|c| match &c["aud"] {
        serde_json::Value::String(a) => Some(a.clone()),
        serde_json::Value::Array(v) => v.first().and_then(|a| a.as_str()).map(str::to_owned),
        _ => None,
    });
    let client_id = match (p.get("client_id"), hint_aud) {
        (Some(a), Some(b)) if *a != b => {
            return Ok(Plan::Refuse(
                "The sign-out request names two different applications.".into(),
            ));
        }
        (Some(a), _) => Some(a.clone()),
        (None, b) => b,
    };
    let client = match &client_id {
        Some(id) => {
            let mut tx = app.store.read().await.map_err(internal)?;
            tx.scope(tenant)
                .client_get(id)
                .await
                .map_err(internal)?
                .map(|(c, _)| c)
        }
        None => None,
    };
    if client_id.is_some() && client.is_none() {
        return Ok(Plan::Refuse(
            "The application that sent you here is not registered.".into(),
        ));
    }
    let target = match p.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match client.as_ref().and_then(|c| c.post_logout_redirect_uris.iter().find(|r| r.matches(uri))) {
            Some(r) => {
                let mut u = url::Url::parse(r.as_str()).map_err(internal)?;
                if let Some(s) = p.get("state") {
                    u.query_pairs_mut().append_pair("state", s);
                }
                Some(u.to_string())
            }
            None => return Ok(Plan::Refuse("The address to return to after signing out is not registered for this application.".into())),
        },
    };
    let Some(claims) = hint else {
        return Ok(Plan::Confirm {
            client_name: client.map(|c| c.name),
        });
    };
    let mut ended = false;
    if let Some(token) = session_token
        && let Some(current) = sessions::current(app, tenant, token)
            .await
            .map_err(internal)?
        && claims["sub"].as_str() == Some(current.user.id.to_string().as_str())
    {
        ended = sessions::logout(app, tenant, token, ctx)
            .await
            .map_err(internal)?;
    }
    Ok(Plan::Done { target, ended })
}
