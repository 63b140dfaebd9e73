//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): parsing into a typed
//! request once the client and redirect URI are known, and the login/second-factor/consent
//! decision (`prompt`, `max_age`, `acr_values`, remembered consent).

use std::collections::HashMap;

use super::error::{Code, Error};
use super::pkce::{self, Challenge};
use super::token::check_len;
use crate::clock::UnixTime;
use crate::domain::client::{Client, GrantType};
use crate::domain::scope::{self, Scope};

/// `prompt` values (OIDC Core §3.1.2.1). `none` must stand alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

impl Prompt {
    pub fn parse(s: Option<&str>) -> Result<Prompt, Error> {
        let mut p = Prompt::default();
        for v in s.unwrap_or_default().split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => p.select_account = true,
                _ => return Err(Error::invalid_request("prompt has an unknown value")),
            }
        }
        if p.none && (p.login || p.consent || p.select_account) {
            return Err(Error::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(p)
    }
}

/// A validated authorization request (the client and redirect URI were checked before).
#[derive(Clone, Debug)]
pub struct Request {
    pub scope: Scope,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub challenge: Option<Challenge>,
    /// OIDC Core §3.1.2.1: the requested Authentication Context Class References, in order
    /// of preference. Values we do not know are ignored (the claim is voluntary).
    pub acr_values: Vec<String>,
}

impl Request {
    /// Whether the client asked for a second factor (`acr_values` names `urn:opentrusty:mfa`).
    pub fn asks_mfa(&self) -> bool {
        self.acr_values.iter().any(|v| v == super::claims::ACR_MFA)
    }
}

fn one<'a>(p: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    p.get(k).map(String::as_str).filter(|s| !s.is_empty())
}

/// Parses everything after the client and redirect URI; errors here are redirected to the
/// client. Unknown parameters are ignored (RFC 6749 §3.1).
pub fn parse(p: &HashMap<String, String>, client: &Client) -> Result<Request, Error> {
    // OIDC Core §6: we do not process request objects; saying so is a valid answer.
    if p.contains_key("request") {
        return Err(Error::new(
            Code::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.contains_key("request_uri") {
        return Err(Error::new(
            Code::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match one(p, "response_type") {
        None => return Err(Error::invalid_request("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(Error::new(
                Code::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if !matches!(one(p, "response_mode"), None | Some("query")) {
        return Err(Error::invalid_request(
            "only response_mode=query is supported",
        ));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(Error::unauthorized_client(
            "this client may not use the authorization code grant",
        ));
    }
    let scope = Scope::parse(one(p, "scope").unwrap_or_default())
        .map_err(|e| Error::invalid_scope(e.to_string()))?;
    if !scope.contains(scope::OPENID) && scope.is_empty() {
        return Err(Error::invalid_scope("scope is required"));
    }
    if !scope.is_subset(&client.scopes) {
        return Err(Error::invalid_scope(format!(
            "scope not allowed for this client: {}",
            scope.outside(&client.scopes).collect::<Vec<_>>().join(" ")
        )));
    }
    let max_age = match one(p, "max_age") {
        None => None,
        Some(s) => Some(
            s.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| Error::invalid_request("max_age must be a non-negative integer"))?,
        ),
    };
    let challenge = pkce::parse_challenge(
        one(p, "code_challenge"),
        one(p, "code_challenge_method"),
        pkce::Policy {
            required: client.pkce_required(),
            allow_plain: client.allow_plain_pkce,
        },
    )?;
    // Bounded again here (the form parser did it first) so no caller can skip it.
    let bounded = |k: &str| -> Result<Option<String>, Error> {
        match one(p, k) {
            Some(v) => check_len(k, v).map(|()| Some(v.to_owned())),
            None => Ok(None),
        }
    };
    Ok(Request {
        scope,
        state: bounded("state")?,
        nonce: bounded("nonce")?,
        prompt: Prompt::parse(one(p, "prompt"))?,
        max_age,
        login_hint: bounded("login_hint")?,
        id_token_hint: bounded("id_token_hint")?,
        challenge,
        acr_values: bounded("acr_values")?
            .map(|v| {
                v.split(' ')
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// What the browser's session looks like to this request.
#[derive(Clone, Copy, Debug)]
pub struct SessionFacts {
    pub auth_time: UnixTime,
    /// `Some(false)` when an `id_token_hint` names a different user than the session's.
    pub hint_matches: Option<bool>,
    /// This request needs a second factor (the policy of `service::factors::policy`) and the
    /// session has shown none yet.
    pub second_factor_missing: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Login,
    /// The user is signed in with a password; the second factor comes before anything else.
    SecondFactor,
    Consent,
    Issue,
}

/// OIDC Core §3.1.2.3: authenticate unless a usable session exists (with its second factor
/// when one is needed); ask consent unless it is remembered or the client is first-party.
/// `prompt=none` turns any of these needs into an error (§3.1.2.6: `interaction_required`
/// for the second factor, which needs the user at the page).
pub fn decide(
    req: &Request,
    session: Option<SessionFacts>,
    consent_remembered: bool,
    first_party: bool,
    now: UnixTime,
) -> Result<Step, Error> {
    let needs_login = match session {
        None => true,
        Some(s) => {
            req.prompt.login
                || s.hint_matches == Some(false)
                || req.max_age.is_some_and(|m| now - s.auth_time > m)
        }
    };
    if needs_login {
        if req.prompt.none {
            return Err(Error::new(Code::LoginRequired, "the user is not signed in"));
        }
        return Ok(Step::Login);
    }
    if session.is_some_and(|s| s.second_factor_missing) {
        if req.prompt.none {
            return Err(Error::new(
                Code::InteractionRequired,
                "the user must confirm the sign-in with a second factor",
            ));
        }
        return Ok(Step::SecondFactor);
    }
    let needs_consent = req.prompt.consent || !(first_party || consent_remembered);
    if needs_consent {
        if req.prompt.none {
            return Err(Error::new(
                Code::ConsentRequired,
                "the user has not consented to this client",
            ));
        }
        return Ok(Step::Consent);
    }
    Ok(Step::Issue)
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
