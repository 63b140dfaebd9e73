//! Outgoing mail: `OPENTRUSTY_SMTP_URL` (where mail goes), `OPENTRUSTY_SMTP_PASSWORD` (secret;
//! also `_FILE` and the credential `smtp-password`) and `OPENTRUSTY_MAIL_FROM`. Without
//! `SMTP_URL` mail is off, and the features that need it (password reset, verification,
//! invitations, sign-up) are not offered.

use std::net::IpAddr;
use std::path::PathBuf;

use url::Url;

use super::ConfigError;

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    /// The `From:` mailbox, `addr@example.com` or `Name <addr@example.com>`.
    pub from: String,
}

#[derive(Clone)]
pub enum MailTransport {
    /// `smtp://host[:port]` (STARTTLS required; `?tls=none` allowed on a loopback host only)
    /// or `smtps://host[:port]` (TLS from the first byte). The user name may be in the URL.
    Smtp {
        url: Url,
        user: Option<String>,
        password: Option<String>,
    },
    /// `file:/dir`: every message is written there as one `.eml` file (development, tests).
    File(PathBuf),
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailTransport::Smtp { url, user, .. } => f
                .debug_struct("Smtp")
                .field("url", &url.as_str())
                .field("user", user)
                .field("password", &"<secret>")
                .finish(),
            MailTransport::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

impl MailTransport {
    /// Whether an `smtp://` URL asked for a plain connection (`?tls=none`).
    pub fn plain(&self) -> bool {
        match self {
            MailTransport::Smtp { url, .. } => tls_query(url) == Some("none"),
            MailTransport::File(_) => false,
        }
    }
}

fn tls_query(url: &Url) -> Option<&str> {
    url.query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| match v.as_ref() {
            "none" => "none",
            "required" => "required",
            _ => "other",
        })
}

const URL_EXPECTED: &str = "smtp://[user@]host[:port] (STARTTLS; `?tls=none` on a loopback host only), \
     smtps://[user@]host[:port], or file:/absolute/directory";

pub(super) fn parse(
    url: Option<&str>,
    password: Option<&str>,
    from: Option<&str>,
) -> Result<Option<MailConfig>, ConfigError> {
    let Some(raw) = url.filter(|s| !s.is_empty()) else {
        if from.is_some_and(|s| !s.is_empty()) {
            return Err(ConfigError::new(
                "SMTP_URL",
                None,
                format!("a mail URL when {}MAIL_FROM is set", super::PREFIX),
            ));
        }
        return Ok(None);
    };
    let transport = parse_url(raw, password)?;
    let from = match from.filter(|s| !s.is_empty()) {
        Some(f) => parse_from(f)?,
        None => {
            return Err(ConfigError::new(
                "MAIL_FROM",
                None,
                format!(
                    "the sender address, e.g. `Example <login@example.com>`, when {}SMTP_URL is set",
                    super::PREFIX
                ),
            ));
        }
    };
    Ok(Some(MailConfig { transport, from }))
}

fn parse_url(raw: &str, password: Option<&str>) -> Result<MailTransport, ConfigError> {
    // The URL may carry a password; never echo it back.
    let bad = |why: &str| ConfigError::new("SMTP_URL", None, format!("{URL_EXPECTED} ({why})"));
    let url = Url::parse(raw).map_err(|_| bad("not a URL"))?;
    match url.scheme() {
        "file" => {
            if !raw.starts_with("file:/") {
                return Err(bad("file: needs an absolute path"));
            }
            let path = url
                .to_file_path()
                .map_err(|()| bad("file: needs an absolute path"))?;
            if url.query().is_some() || url.host_str().is_some_and(|h| !h.is_empty()) {
                return Err(bad("file: takes only a path"));
            }
            Ok(MailTransport::File(path))
        }
        "smtp" | "smtps" => {
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| bad("no host"))?;
            if url.path() != "" && url.path() != "/" || url.fragment().is_some() {
                return Err(bad("no path or fragment allowed"));
            }
            for (k, _) in url.query_pairs() {
                if k != "tls" {
                    return Err(bad("the only query parameter is `tls`"));
                }
            }
            match (url.scheme(), tls_query(&url)) {
                (_, None) => {}
                ("smtp", Some("none")) => {
                    let loopback = host == "localhost"
                        || host
                            .trim_start_matches('[')
                            .trim_end_matches(']')
                            .parse::<IpAddr>()
                            .is_ok_and(|ip| ip.is_loopback());
                    if !loopback {
                        return Err(bad(
                            "`tls=none` sends mail in the clear: loopback hosts only",
                        ));
                    }
                }
                ("smtp", Some("required")) => {}
                _ => return Err(bad("`tls` is `required` or, on loopback, `none`")),
            }
            if url.password().is_some() {
                return Err(bad(&format!(
                    "put the password in {}SMTP_PASSWORD, not in the URL",
                    super::PREFIX
                )));
            }
            let user = match url.username() {
                "" => None,
                u => Some(
                    percent_encoding::percent_decode_str(u)
                        .decode_utf8()
                        .map_err(|_| bad("the user name is not UTF-8"))?
                        .into_owned(),
                ),
            };
            if password.is_some() && user.is_none() {
                return Err(bad(&format!(
                    "{}SMTP_PASSWORD is set but the URL names no user (smtp://user@host)",
                    super::PREFIX
                )));
            }
            Ok(MailTransport::Smtp {
                url,
                user,
                password: password.map(str::to_owned),
            })
        }
        _ => Err(bad("unknown scheme")),
    }
}

/// `addr` or `Display Name <addr>`; one line, a plausible address, bounded.
fn parse_from(s: &str) -> Result<String, ConfigError> {
    let bad = || {
        ConfigError::new(
            "MAIL_FROM",
            Some(s),
            "`login@example.com` or `Example <login@example.com>` on one line",
        )
    };
    if s.len() > 320 || s.chars().any(char::is_control) {
        return Err(bad());
    }
    let addr = match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(i), Some(_)) => &s[i + 1..s.len() - 1],
        (None, None) => s,
        _ => return Err(bad()),
    };
    crate::domain::user::Email::parse(addr).map_err(|_| bad())?;
    Ok(s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_without_a_url() {
        assert!(parse(None, None, None).unwrap().is_none());
        assert_eq!(
            parse(None, None, Some("a@example.com")).unwrap_err().var,
            "OPENTRUSTY_SMTP_URL"
        );
    }

    #[test]
    fn smtp_urls() {
        let c = parse(
            Some("smtp://mailer@mail.example.com:587"),
            Some("pw"),
            Some("Example <login@example.com>"),
        )
        .unwrap()
        .unwrap();
        match &c.transport {
            MailTransport::Smtp { user, password, .. } => {
                assert_eq!(user.as_deref(), Some("mailer"));
                assert_eq!(password.as_deref(), Some("pw"));
            }
            other => panic!("{other:?}"),
        }
        assert!(!c.transport.plain());
        assert!(!format!("{c:?}").contains("pw\""));
        let plain = parse(
            Some("smtp://127.0.0.1:2525?tls=none"),
            None,
            Some("a@b.example"),
        )
        .unwrap()
        .unwrap();
        assert!(plain.transport.plain());
        assert!(parse(Some("smtps://mail.example.com"), None, Some("a@b.example")).is_ok());
        for bad in [
            "smtp://mail.example.com?tls=none",
            "smtp://mail.example.com?tls=opportunistic",
            "smtp://u:secret@mail.example.com",
            "smtp://mail.example.com/path",
            "smtp://mail.example.com?x=1",
            "http://mail.example.com",
            "smtp://",
            "file:relative",
        ] {
            let e = parse(Some(bad), None, Some("a@b.example")).unwrap_err();
            assert_eq!(e.var, "OPENTRUSTY_SMTP_URL", "{bad}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
        assert!(
            parse(
                Some("smtp://mail.example.com"),
                Some("pw"),
                Some("a@b.example")
            )
            .is_err()
        );
    }

    #[test]
    fn file_and_from() {
        let c = parse(Some("file:/var/tmp/mail"), None, Some("a@b.example"))
            .unwrap()
            .unwrap();
        assert!(
            matches!(c.transport, MailTransport::File(ref p) if p == &PathBuf::from("/var/tmp/mail"))
        );
        assert_eq!(
            parse(Some("file:/tmp/m"), None, None).unwrap_err().var,
            "OPENTRUSTY_MAIL_FROM"
        );
        for bad in ["not an address", "A <b@c.example", "x\n@b.example", "A <>"] {
            assert!(
                parse(Some("file:/tmp/m"), None, Some(bad)).is_err(),
                "{bad}"
            );
        }
    }
}
