//! The admin console's settings: `OPENTRUSTY_CONSOLE` (on by default) and
//! `OPENTRUSTY_ADMIN_URL`, the public base URL of the admin plane, where browsers reach
//! `/console/` and where the built-in client's redirect URIs point.

use url::Url;

use super::{ConfigError, parse_bool};

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// `OPENTRUSTY_CONSOLE=false` turns the console off everywhere.
    pub enabled: bool,
    /// `OPENTRUSTY_ADMIN_URL` as given (no trailing slash); see [`ConsoleConfig::base`].
    pub admin_url: Option<Url>,
}

impl ConsoleConfig {
    /// Where the console is served for a listener: with `ADMIN_URL`, there; without it only a
    /// listener serving every plane can answer (its URL is then `OPENTRUSTY_PUBLIC_URL`). A
    /// separate admin listener (the packaged unit's unix socket) has no public URL to send
    /// browsers back to, so the console is off there until `ADMIN_URL` says where it is.
    pub fn served_at(&self, public_url: &Url, serves_every_plane: bool) -> Option<Url> {
        if !self.enabled {
            return None;
        }
        match &self.admin_url {
            Some(u) => Some(u.clone()),
            None if serves_every_plane => Some(public_url.clone()),
            None => None,
        }
    }

    /// The admin plane's base URL for the built-in client's redirect URIs: `ADMIN_URL`, or
    /// the public URL (the one-socket default). Registering it when the console is off is
    /// harmless: nothing answers there, and no code can be redeemed for it.
    pub fn base(&self, public_url: &Url) -> Url {
        self.admin_url.clone().unwrap_or_else(|| public_url.clone())
    }
}

pub(super) fn parse(
    enabled: Option<&str>,
    admin_url: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<ConsoleConfig, ConfigError> {
    let enabled = parse_bool("CONSOLE", enabled, true)?;
    let admin_url = admin_url
        .filter(|s| !s.is_empty())
        .map(|s| parse_url(s, warnings))
        .transpose()?;
    Ok(ConsoleConfig { enabled, admin_url })
}

fn parse_url(s: &str, warnings: &mut Vec<String>) -> Result<Url, ConfigError> {
    let expected =
        "an absolute http(s) URL without query or fragment, e.g. https://admin.example.com";
    let bad = || ConfigError::new("ADMIN_URL", Some(s), expected);
    let mut url = Url::parse(s).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(bad());
    }
    if url.scheme() == "http" {
        warnings.push(format!(
            "{}ADMIN_URL={s} is not https; the console's cookies are then sent in the clear",
            super::PREFIX
        ));
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_only_where_a_public_url_is_known() {
        let public = Url::parse("https://id.example.com").unwrap();
        let mut w = Vec::new();
        let c = parse(None, None, &mut w).unwrap();
        assert_eq!(c.served_at(&public, true), Some(public.clone()));
        assert_eq!(c.served_at(&public, false), None);
        let c = parse(None, Some("https://admin.example.com/"), &mut w).unwrap();
        assert_eq!(
            c.served_at(&public, false).unwrap().as_str(),
            "https://admin.example.com/"
        );
        assert_eq!(c.base(&public).as_str(), "https://admin.example.com/");
        let c = parse(Some("false"), Some("https://admin.example.com"), &mut w).unwrap();
        assert_eq!(c.served_at(&public, true), None);
        let e = parse(None, Some("admin.example.com"), &mut w).unwrap_err();
        assert_eq!(e.var, "OPENTRUSTY_ADMIN_URL");
        let e = parse(Some("maybe"), None, &mut w).unwrap_err();
        assert_eq!(e.var, "OPENTRUSTY_CONSOLE");
        assert!(w.is_empty());
    }
}
