//! The account overview's self-service sections (issue 13), after the factor sections:
//! the profile (with a link to edit it), the password (a link to change it), the live
//! sessions (End each, End all other sessions) and the applications consented to (Revoke).
//! Also the fixed notices the section forms come back with, and the one mapping of their
//! refusals to pages.

use axum::http::StatusCode;
use axum::response::Response;

use super::super::login::{service_error, tenant_path};
use super::super::page_error;
use super::{Signed, when};
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::service::Error;
use crate::service::account::{apps, sessions};

/// A profile claim as the overview lists it.
pub(crate) struct Claim {
    pub label: &'static str,
    pub value: String,
}

/// A live session as the overview lists it.
pub(crate) struct SessionRow {
    pub sid: String,
    pub device: String,
    pub ip: Option<String>,
    pub started: String,
    pub last_seen: String,
    pub expires: String,
    pub this_browser: bool,
}

/// A consented application as the overview lists it.
pub(crate) struct AppRow {
    pub client_id: String,
    pub name: String,
    /// What the application may do, in plain words.
    pub permissions: Vec<String>,
    pub granted: String,
}

/// What the self-service sections of the overview show.
pub(crate) struct Own {
    pub claims: Vec<Claim>,
    pub profile_link: String,
    pub password_link: String,
    pub sessions: Vec<SessionRow>,
    pub others: usize,
    pub end_action: String,
    pub end_others_action: String,
    pub apps: Vec<AppRow>,
    pub revoke_action: String,
}

/// A short, human name for a browser from its `User-Agent` ("Firefox on Linux"); the page
/// shows only what the session stored, this just makes it readable.
pub(crate) fn device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|s| !s.trim().is_empty()) else {
        return "Unknown browser".into();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        // Something else: what it says about itself, cut to a readable length.
        (None, _) => ua.chars().take(60).collect(),
    }
}

/// The sections' data for the signed-in user.
pub(super) async fn build(app: &App, tenant: &Tenant, signed: &Signed) -> Result<Own, Error> {
    let user = &signed.current.user;
    let p = &user.profile;
    let claims = [
        ("Name", &p.name),
        ("Given name", &p.given_name),
        ("Family name", &p.family_name),
        ("Nickname", &p.nickname),
        ("Language", &p.locale),
        ("Time zone", &p.zoneinfo),
    ]
    .into_iter()
    .filter_map(|(label, v)| v.clone().map(|value| Claim { label, value }))
    .collect();
    let live = sessions::list(app, tenant, &signed.current).await?;
    let others = live.iter().filter(|s| !s.this_browser).count();
    let sessions = live
        .into_iter()
        .map(|s| SessionRow {
            device: device(s.info.user_agent.as_deref()),
            ip: s.info.ip,
            started: when(s.info.created_at),
            last_seen: when(s.info.last_seen),
            expires: when(s.info.expires_at),
            sid: s.info.sid,
            this_browser: s.this_browser,
        })
        .collect();
    let apps = apps::list(app, tenant, user)
        .await?
        .into_iter()
        .map(|a| AppRow {
            name: a.client_name.unwrap_or_else(|| a.client_id.clone()),
            permissions: crate::web::ui::permissions(a.scopes.iter().map(String::as_str)),
            granted: when(a.granted_at),
            client_id: a.client_id,
        })
        .collect();
    let at = |page: &str| tenant_path(&app.config, tenant, page);
    Ok(Own {
        claims,
        profile_link: at("account/profile"),
        password_link: at("account/password"),
        sessions,
        others,
        end_action: at("account/sessions/end"),
        end_others_action: at("account/sessions/end-others"),
        apps,
        revoke_action: at("account/apps/revoke"),
    })
}

/// The fixed notice a section's form comes back with (`?notice=`), if it names one.
pub(super) fn notice(name: Option<&str>) -> Option<&'static str> {
    Some(match name? {
        "profile" => "Your profile was saved.",
        "profile-unchanged" => "Nothing in your profile changed.",
        "password" => {
            "Your password was changed. Your other sessions were ended, and applications must sign you in again."
        }
        "session-ended" => "The session was ended.",
        "sessions-ended" => "All your other sessions were ended.",
        "no-other-sessions" => "There were no other sessions to end.",
        "app-revoked" => "The application's access was revoked.",
        _ => return None,
    })
}

/// The page for a refused self-service request: the message names the field; internals and
/// outages go to the login pages' renderer.
pub(super) fn refused(e: Error, request_id: &str) -> Response {
    match e {
        Error::NotFound(what) => page_error(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("{what}: this account has no such {what} (it may have ended already)."),
            request_id,
        ),
        Error::Conflict(m) => page_error(StatusCode::CONFLICT, "Not possible", &m, request_id),
        Error::Invalid(m) => page_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request",
            &m,
            request_id,
        ),
        Error::Forbidden(_) => page_error(
            StatusCode::FORBIDDEN,
            "Account locked",
            "Too many wrong passwords: the account is locked for a while. Try again later.",
            request_id,
        ),
        other => service_error(other, request_id),
    }
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn devices_are_named_from_the_user_agent() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      HeadlessChrome/131.0.0.0 Safari/537.36";
        assert_eq!(device(Some(chrome)), "Chrome on Linux");
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device(Some(firefox)), "Firefox on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
        assert_eq!(device(Some(safari)), "Safari on iOS");
        assert_eq!(device(Some("curl/8.5.0")), "curl");
        assert_eq!(device(None), "Unknown browser");
        assert_eq!(device(Some(&"x".repeat(300))).chars().count(), 60);
    }
}
