//! The authorization endpoint's use case (RFC 6749 §4.1, OIDC Core §3.1.2): check the client
//! and redirect URI first (failures are shown, never redirected), then decide between the
//! login page, the second factor, the consent page and issuing a code; errors go back to
//! the client's URI.

use std::collections::HashMap;

use serde_json::json;

use super::Context;
use super::audit::{self, Event, Kind};
use super::client_auth::internal;
use super::factors::{self, policy};
use super::sessions::{self, Current};
use crate::app::App;
use crate::domain::client::{AuthMethod, Client};
use crate::domain::scope::Scope;
use crate::domain::tenant::Tenant;
use crate::protocol::authorize::{self as rules, SessionFacts, Step};
use crate::protocol::{Error, jose, secret};
use crate::store::{CodeRow, WriteSet};

/// Lifetime of an authorization code (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL: i64 = 60;
/// How long a remembered consent lasts.
pub const CONSENT_TTL: i64 = 365 * 86_400;

#[derive(Debug)]
pub enum Outcome {
    /// The client or redirect URI is not valid: show this, never redirect.
    ErrorPage(String),
    /// Send the browser to the client (a code or an error).
    Redirect(String),
    /// Show the login page, then come back with these parameters.
    Login {
        params: Vec<(String, String)>,
        login_hint: Option<String>,
    },
    /// The user signed in with a password but this request needs a second factor: the
    /// factor page (`enrol: false`) or, for a user without any factor, the enrolment page;
    /// then back to `/authorize` with these parameters.
    SecondFactor {
        params: Vec<(String, String)>,
        enrol: bool,
    },
    /// Ask the user; the page posts these parameters back with the answer.
    Consent {
        client_name: String,
        scope: Scope,
        params: Vec<(String, String)>,
    },
}

/// The client's redirect URI with `params` appended to its query (RFC 6749 §4.1.2).
fn redirect_with(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(params);
            u.to_string()
        }
        Err(_) => uri.to_owned(),
    }
}

/// Answer with an error at the validated redirect URI, with `state` and `iss` (RFC 9207).
fn error_redirect(uri: &str, e: &Error, state: Option<&str>, issuer: &str) -> Outcome {
    let mut p = vec![
        ("error", e.code.as_str()),
        ("error_description", &*e.description),
    ];
    if let Some(s) = state {
        p.push(("state", s));
    }
    p.push(("iss", issuer));
    Outcome::Redirect(redirect_with(uri, &p))
}

/// `consent`: `None` for a plain request, `Some(answer)` when the consent form was submitted.
pub async fn authorize(
    app: &App,
    tenant: &Tenant,
    params: HashMap<String, String>,
    session_token: Option<&str>,
    consent: Option<bool>,
    ctx: &Context,
) -> Result<Outcome, Error> {
    let now = app.clock.now();
    let issuer = tenant.issuer(&app.config.public_url);
    let Some(client_id) = params.get("client_id") else {
        return Ok(Outcome::ErrorPage(
            "The request does not name a client (client_id is missing).".into(),
        ));
    };
    let client = {
        let mut tx = app.store.read().await.map_err(internal)?;
        tx.scope(tenant)
            .client_get(client_id)
            .await
            .map_err(internal)?
    };
    let Some((client, _)) = client else {
        return Ok(Outcome::ErrorPage(
            "The application that sent you here is not registered.".into(),
        ));
    };
    // OIDC Core §3.1.2.1: redirect_uri is required, and must match a registered one exactly.
    let Some(redirect) = params
        .get("redirect_uri")
        .and_then(|r| client.redirect_uri(r))
        .cloned()
    else {
        return Ok(Outcome::ErrorPage(
            "The address to return to is not registered for this application.".into(),
        ));
    };
    let state = params.get("state").cloned();
    let fail = |e: Error| error_redirect(redirect.as_str(), &e, state.as_deref(), &issuer);
    let req = match rules::parse(&params, &client) {
        Ok(r) => r,
        Err(e) => return Ok(fail(e)),
    };
    let current = match session_token {
        Some(t) => sessions::current(app, tenant, t).await.map_err(internal)?,
        None => None,
    };
    let hint_sub = match &req.id_token_hint {
        None => None,
        Some(h) => match hint_subject(app, tenant, &client, &issuer, h).await? {
            Some(sub) => Some(sub),
            None => {
                return Ok(fail(Error::invalid_request(
                    "id_token_hint is not an id_token this issuer gave this client",
                )));
            }
        },
    };
    // The second factor: only a session that has shown none needs the enrolment lookup.
    let mut must_enrol = false;
    let second_factor_missing = match &current {
        Some(c) if !sessions::has_second_factor(&c.session) => {
            let policy = policy::Facts {
                enrolled: factors::enrolled(app, tenant, c.user.id)
                    .await
                    .map_err(internal)?,
                tenant,
                client: &client,
                acr_mfa: req.asks_mfa(),
            };
            must_enrol = policy::must_enrol(policy);
            policy::second_factor_needed(policy)
        }
        _ => false,
    };
    let facts = current.as_ref().map(|c| SessionFacts {
        auth_time: c.session.auth_time,
        hint_matches: hint_sub.as_ref().map(|s| *s == c.user.id.to_string()),
        second_factor_missing,
    });
    // RFC 8252 §8.6: a public client's identity is proven only by a redirect URI no other app
    // can receive (claimed https or loopback); with a private-use scheme any app could be
    // asking, so neither a remembered consent nor first-party status skips the question (and
    // prompt=none then fails with consent_required).
    let identity_assured =
        client.auth_method != AuthMethod::None || redirect.assures_client_identity();
    let first_party = client.first_party && identity_assured;
    // First-party clients never ask, so their requests skip the consent lookup.
    let remembered = match &current {
        _ if !identity_assured => false,
        Some(_) if first_party => false,
        Some(c) => {
            let mut tx = app.store.read().await.map_err(internal)?;
            let stored = tx
                .scope(tenant)
                .consent_get(&c.user.id.to_string(), &client.client_id, now)
                .await
                .map_err(internal)?;
            stored
                .and_then(|s| Scope::parse(&s).ok())
                .is_some_and(|s| req.scope.is_subset(&s))
        }
        None => false,
    };
    let step = match rules::decide(&req, facts, remembered, first_party, now) {
        Ok(s) => s,
        Err(e) => return Ok(fail(e)),
    };
    let (step, current) = match (step, current, consent) {
        (Step::Login, _, _) | (_, None, _) => {
            // Coming back from the login page must not loop: the fresh login satisfies
            // prompt=login, max_age and a hint for another user.
            let params = params
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "max_age" | "id_token_hint"))
                .filter_map(|(k, v)| {
                    if k == "prompt" {
                        let rest: Vec<&str> = v
                            .split(' ')
                            .filter(|p| *p != "login" && !p.is_empty())
                            .collect();
                        (!rest.is_empty()).then(|| (k.clone(), rest.join(" ")))
                    } else {
                        Some((k.clone(), v.clone()))
                    }
                })
                .collect();
            return Ok(Outcome::Login {
                params,
                login_hint: req.login_hint.clone(),
            });
        }
        (Step::SecondFactor, Some(_), _) => {
            return Ok(Outcome::SecondFactor {
                params: params.into_iter().collect(),
                enrol: must_enrol,
            });
        }
        (_, Some(c), Some(false)) => {
            let _ = c;
            return Ok(fail(Error::new(
                crate::protocol::Code::AccessDenied,
                "the user denied the request",
            )));
        }
        (_, Some(c), Some(true)) => (Step::Issue, c),
        (s, Some(c), None) => (s, c),
    };
    if step == Step::Consent {
        let params = params.into_iter().collect();
        return Ok(Outcome::Consent {
            client_name: client.name.clone(),
            scope: req.scope,
            params,
        });
    }
    let code = issue_code(
        app,
        tenant,
        &client,
        &current,
        &req,
        redirect.as_str(),
        consent == Some(true),
        ctx,
    )
    .await?;
    let mut p = vec![("code", code.as_str())];
    if let Some(s) = &state {
        p.push(("state", s));
    }
    p.push(("iss", &issuer));
    Ok(Outcome::Redirect(redirect_with(redirect.as_str(), &p)))
}

#[allow(clippy::too_many_arguments)]
async fn issue_code(
    app: &App,
    tenant: &Tenant,
    client: &Client,
    current: &Current,
    req: &rules::Request,
    redirect_uri: &str,
    remember: bool,
    ctx: &Context,
) -> Result<String, Error> {
    let now = app.clock.now();
    let code = secret::generate();
    let user_id = current.user.id.to_string();
    if remember {
        let mut tx = app.store.begin().await.map_err(internal)?;
        tx.scope(tenant)
            .consent_put(
                &user_id,
                &client.client_id,
                &req.scope.to_string(),
                now,
                now + CONSENT_TTL,
            )
            .await
            .map_err(internal)?;
        audit::commit(
            tx,
            Event {
                kind: Kind::ConsentGranted,
                tenant: Some(tenant.id),
                target: Some(format!("user:{user_id}")),
                metadata: json!({ "client_id": client.client_id, "scope": req.scope.to_string() }),
                ctx,
            },
            now,
        )
        .await
        .map_err(internal)?;
    }
    let row = CodeRow {
        code_hash: secret::hash(&code),
        client_id: client.client_id.clone(),
        user_id,
        redirect_uri: redirect_uri.to_owned(),
        scope: req.scope.to_string(),
        nonce: req.nonce.clone(),
        code_challenge: req.challenge.as_ref().map(|c| c.value.clone()),
        code_challenge_method: req.challenge.as_ref().map(|c| c.method.as_str().to_owned()),
        auth_time: current.session.auth_time,
        sid: Some(current.session.sid.clone()),
        expires_at: now + CODE_TTL,
        used_at: None,
        amr: Some(current.session.amr.join(" ")),
    };
    app.writes
        .write(WriteSet::new(tenant, now).code(row))
        .await
        .map_err(internal)?;
    Ok(code)
}

/// The `sub` of an id_token this tenant signed for this client (expired ones are fine: OIDC
/// Core §3.1.2.1 uses the hint only to identify the user). `None` when it is not one.
pub async fn hint_subject(
    app: &App,
    tenant: &Tenant,
    client: &Client,
    issuer: &str,
    hint: &str,
) -> Result<Option<String>, Error> {
    let keys = app.keys.for_tenant(app, tenant).await.map_err(internal)?;
    let Some(kid) = jose::peek_header(hint)
        .ok()
        .and_then(|h| h["kid"].as_str().map(str::to_owned))
    else {
        return Ok(None);
    };
    let Some(claims) = keys.by_kid(&kid).and_then(|k| k.verify(hint).ok()) else {
        return Ok(None);
    };
    let aud_ok = match &claims["aud"] {
        serde_json::Value::String(a) => *a == client.client_id,
        serde_json::Value::Array(v) => v.iter().any(|a| a.as_str() == Some(&client.client_id)),
        _ => false,
    };
    if claims["iss"].as_str() != Some(issuer) || !aud_ok {
        return Ok(None);
    }
    Ok(claims["sub"].as_str().map(str::to_owned))
}
