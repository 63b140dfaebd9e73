//! Getting one message out: the MIME message (multipart/alternative, text then HTML, RFC 2046
//! §5.1.4) built with lettre, and the two transports of `OPENTRUSTY_SMTP_URL` — SMTP through
//! lettre (STARTTLS required, implicit TLS, or plain on loopback for tests) and `file:/dir`,
//! one `<id>.eml` per message written atomically. Errors carry a class and the SMTP code,
//! never the message, the recipient or the password.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport, Message, Tokio1Executor};

pub use super::failure::SendError;
use super::failure::{classify, file_error};
use crate::clock::UnixTime;

/// One SMTP command may take this long (connect, TLS handshake, each reply). lettre's default is
/// 60 s; a whole send is further bounded by the sender's lease (see `sender`).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// A message taken from the outbox, ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The outbox id (UUIDv7): the `.eml` file name and the local part of the Message-ID, so a
    /// message sent again after a crash carries the same Message-ID (RFC 5322 §3.6.4).
    pub id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// When the message was queued: its `Date:` (RFC 5322 §3.6.1, the origination date).
    pub created_at: UnixTime,
}

/// A problem with the configuration that only the transport can see; names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct SetupError {
    pub var: &'static str,
    pub message: String,
}

fn setup(var: &'static str, message: impl Into<String>) -> SetupError {
    SetupError {
        var,
        message: message.into(),
    }
}

const URL_VAR: &str = "OPENTRUSTY_SMTP_URL";
const PASSWORD_VAR: &str = "OPENTRUSTY_SMTP_PASSWORD";
const FROM_VAR: &str = "OPENTRUSTY_MAIL_FROM";

/// Where messages go. Built once at start-up (the TLS roots are read then: the system store,
/// or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, as rustls-native-certs documents).
pub struct Transport {
    from: Mailbox,
    /// The domain of the From address: the right-hand side of every Message-ID.
    domain: String,
    kind: Kind,
}

enum Kind {
    Smtp {
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        /// `host:port` for log lines (never the user or password).
        server: String,
    },
    File(PathBuf),
}

/// What the SMTP URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the first byte (RFC 8314 §3.3), port 465 by default.
    Implicit,
    /// `smtp://`: STARTTLS, and refusing to go on without it (RFC 3207), port 587 by default.
    StartTls,
    /// `smtp://..?tls=none`: plain text, only to a loopback host (tests, a local relay).
    Plain,
}

impl Transport {
    /// An SMTP transport for `url` (`smtp://[user@]host[:port][?tls=none]` or
    /// `smtps://[user@]host[:port]`), logging in as `user` with `password` when given. Call it
    /// inside the tokio runtime: lettre's connection pool starts a task there.
    pub fn smtp(
        from: &str,
        url: &url::Url,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Transport, SetupError> {
        let (from, domain) = parse_from(from)?;
        let security = security(url)?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            _ => return Err(setup(URL_VAR, "names no host")),
        };
        if security == Security::Plain && !is_loopback(&host) {
            return Err(setup(
                URL_VAR,
                format!(
                    "tls=none sends mail and the SMTP password in clear text; it is allowed only to a loopback host, not {host}"
                ),
            ));
        }
        let port = url.port().unwrap_or(match security {
            Security::Implicit => 465,
            Security::StartTls => 587,
            Security::Plain => 25,
        });
        let builder = match security {
            Security::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&host),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host),
            Security::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &host,
            )),
        }
        .map_err(|e| setup(URL_VAR, format!("cannot set up TLS for {host}: {e}")))?;
        let mut builder = builder
            .port(port)
            .timeout(Some(COMMAND_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(4));
        match (user, password) {
            (Some(user), Some(password)) => {
                builder =
                    builder.credentials(Credentials::new(user.to_owned(), password.to_owned()))
            }
            (Some(_), None) => {
                return Err(setup(
                    PASSWORD_VAR,
                    format!(
                        "{URL_VAR} names a user but no password is set ({PASSWORD_VAR}, {PASSWORD_VAR}_FILE or the credential smtp-password)"
                    ),
                ));
            }
            (None, Some(_)) => {
                return Err(setup(
                    URL_VAR,
                    format!(
                        "a password is set ({PASSWORD_VAR}) but the URL names no user (smtp://user@host:port)"
                    ),
                ));
            }
            (None, None) => {}
        }
        Ok(Transport {
            from,
            domain,
            kind: Kind::Smtp {
                mailer: builder.build(),
                server: format!("{host}:{port}"),
            },
        })
    }

    /// A transport that writes each message to `dir/<id>.eml`; creates `dir` (mode 0700) when
    /// it is missing and checks that it can write there.
    pub fn file(from: &str, dir: &Path) -> Result<Transport, SetupError> {
        let (from, domain) = parse_from(from)?;
        if !dir.is_absolute() {
            return Err(setup(
                URL_VAR,
                "file: needs an absolute path (file:/var/lib/opentrusty/mail)",
            ));
        }
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .and_then(|()| {
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                })
                .map_err(|e| setup(URL_VAR, format!("cannot create {}: {e}", dir.display())))?;
        }
        if !dir.is_dir() {
            return Err(setup(
                URL_VAR,
                format!("{} is not a directory", dir.display()),
            ));
        }
        let probe = dir.join(format!(".opentrusty-probe-{}", std::process::id()));
        std::fs::File::create(&probe)
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| setup(URL_VAR, format!("cannot write to {}: {e}", dir.display())))?;
        Ok(Transport {
            from,
            domain,
            kind: Kind::File(dir.to_owned()),
        })
    }

    /// Where messages go, for log lines: `smtp host:port` or `file /dir`.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Smtp { server, .. } => format!("smtp {server}"),
            Kind::File(dir) => format!("file {}", dir.display()),
        }
    }

    /// Whether messages go to a directory (`file:`) rather than a server.
    pub fn is_file(&self) -> bool {
        matches!(self.kind, Kind::File(_))
    }

    /// Opens one connection and says NOOP: a start-up check whose failure is only logged
    /// (an unreachable server must not keep the daemon from serving). `Ok` for `file:`.
    pub async fn probe(&self) -> Result<(), SendError> {
        match &self.kind {
            Kind::Smtp { mailer, .. } => match mailer.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err(SendError {
                    class: "protocol",
                    code: None,
                    permanent: false,
                    connection: true,
                    detail: "the server did not answer NOOP".into(),
                }),
                Err(e) => Err(classify(&e)),
            },
            Kind::File(_) => Ok(()),
        }
    }

    /// Sends `m`. SMTP: lettre's pooled connections; `file:`: one atomic `.eml`.
    pub async fn send(&self, m: &Outgoing) -> Result<(), SendError> {
        let message = self.build(m)?;
        match &self.kind {
            Kind::Smtp { mailer, .. } => mailer
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| classify(&e)),
            Kind::File(dir) => {
                let (dir, id, bytes) = (dir.clone(), m.id.clone(), message.formatted());
                tokio::task::spawn_blocking(move || super::eml::write(&dir, &id, &bytes))
                    .await
                    .map_err(|e| file_error(std::io::Error::other(e.to_string())))?
                    .map_err(file_error)
            }
        }
    }

    /// The MIME message: From, To, Subject, Date, Message-ID, and a multipart/alternative body
    /// with the plain-text part first (RFC 2046 §5.1.4: the last part is the preferred one).
    pub fn build(&self, m: &Outgoing) -> Result<Message, SendError> {
        let to: Mailbox = m.to.parse().map_err(|_| SendError {
            class: "address",
            code: None,
            permanent: true,
            connection: false,
            detail: "the recipient is not a valid address".into(),
        })?;
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(m.created_at.max(0) as u64);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .date(date)
            .message_id(Some(format!("<{}@{}>", m.id, self.domain)))
            .multipart(MultiPart::alternative_plain_html(
                m.text.clone(),
                m.html.clone(),
            ))
            .map_err(|e| SendError {
                class: "message",
                code: None,
                permanent: true,
                connection: false,
                detail: e.to_string(),
            })
    }
}

/// `OPENTRUSTY_MAIL_FROM` as a mailbox, and its domain.
fn parse_from(from: &str) -> Result<(Mailbox, String), SetupError> {
    let mailbox: Mailbox = from.parse().map_err(|e| {
        setup(
            FROM_VAR,
            format!(
                "not a mail address (\"Name <addr@example.com>\" or \"addr@example.com\"): {e}"
            ),
        )
    })?;
    let domain = mailbox.email.domain().to_owned();
    Ok((mailbox, domain))
}

/// The URL's scheme and `tls` parameter.
pub fn security(url: &url::Url) -> Result<Security, SetupError> {
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => Ok(Security::Implicit),
        ("smtp", None | Some("required")) => Ok(Security::StartTls),
        ("smtp", Some("none")) => Ok(Security::Plain),
        ("smtps", Some(_)) => Err(setup(
            URL_VAR,
            "smtps:// is always TLS; drop the tls parameter",
        )),
        ("smtp", Some(other)) => Err(setup(
            URL_VAR,
            format!(
                "tls={other} is not supported (STARTTLS is required by default; tls=none only on loopback)"
            ),
        )),
        (other, _) => Err(setup(
            URL_VAR,
            format!("unsupported scheme {other}: (smtp://, smtps:// or file:/dir)"),
        )),
    }
}

/// `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        s.parse().unwrap()
    }

    #[test]
    fn security_follows_scheme_and_tls() {
        assert_eq!(security(&url("smtps://h")).unwrap(), Security::Implicit);
        assert_eq!(security(&url("smtp://h:587")).unwrap(), Security::StartTls);
        assert_eq!(
            security(&url("smtp://h?tls=required")).unwrap(),
            Security::StartTls
        );
        assert_eq!(
            security(&url("smtp://h?tls=none")).unwrap(),
            Security::Plain
        );
        assert!(security(&url("smtp://h?tls=opportunistic")).is_err());
        assert!(security(&url("smtps://h?tls=none")).is_err());
        assert!(security(&url("http://h")).is_err());
    }

    #[tokio::test]
    async fn plain_only_to_loopback() {
        let from = "OpenTrusty <noreply@example.com>";
        assert!(Transport::smtp(from, &url("smtp://127.0.0.1:2525?tls=none"), None, None).is_ok());
        assert!(Transport::smtp(from, &url("smtp://localhost:2525?tls=none"), None, None).is_ok());
        assert!(Transport::smtp(from, &url("smtp://[::1]:2525?tls=none"), None, None).is_ok());
        let e = Transport::smtp(from, &url("smtp://mail.example.com?tls=none"), None, None)
            .err()
            .unwrap();
        assert_eq!(e.var, URL_VAR);
    }

    #[tokio::test]
    async fn user_and_password_go_together() {
        let from = "noreply@example.com";
        let e = Transport::smtp(from, &url("smtp://bob@mail.example.com"), Some("bob"), None)
            .err()
            .unwrap();
        assert_eq!(e.var, PASSWORD_VAR);
        assert!(Transport::smtp(from, &url("smtp://mail.example.com"), None, Some("pw")).is_err());
        assert!(
            Transport::smtp(
                from,
                &url("smtp://bob@mail.example.com"),
                Some("bob"),
                Some("pw")
            )
            .is_ok()
        );
    }

    #[tokio::test]
    async fn bad_from_names_its_variable() {
        let e = Transport::smtp(
            "not an address",
            &url("smtps://mail.example.com"),
            None,
            None,
        )
        .err()
        .unwrap();
        assert_eq!(e.var, FROM_VAR);
    }

    #[tokio::test]
    async fn message_has_both_parts_and_stable_id() {
        let t = Transport::smtp(
            "Acme Login <noreply@acme.example>",
            &url("smtp://127.0.0.1:1?tls=none"),
            None,
            None,
        )
        .unwrap();
        let m = Outgoing {
            id: "0193-abc".into(),
            to: "alice@example.com".into(),
            subject: "Réinitialiser".into(),
            text: "Hello https://id.example/t/acme/x".into(),
            html: "<p>Hello</p>".into(),
            created_at: 1_800_000_000,
        };
        let raw = String::from_utf8(t.build(&m).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <0193-abc@acme.example>"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        assert!(raw.contains("To: alice@example.com"), "{raw}");
        assert!(raw.contains("Date: Fri, 15 Jan 2027"), "{raw}");
        let bad = Outgoing {
            to: "not an address".into(),
            ..m
        };
        let e = t.build(&bad).unwrap_err();
        assert!(e.permanent && e.class == "address");
    }
}
