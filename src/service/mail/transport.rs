//! Getting one message out: the MIME message (multipart/alternative, text then HTML, RFC 2046
//! §5.1.4) built with lettre, and the two transports of `OPENTRUSTY_SMTP_URL` — SMTP through
//! lettre (STARTTLS required, implicit TLS, or plain on loopback for tests) and `file:/dir`,
//! one `<id>.eml` per message written atomically. Errors carry a class and the SMTP code,
//! never the message, the recipient or the password.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport, Message, Tokio1Executor};

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

/// How a send failed: `class` and `code` are what operators see (journal, `last_error`,
/// metrics label); `permanent` ends the retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// `smtp` (a negative reply), `connect`, `tls`, `starttls`, `timeout`, `protocol`,
    /// `address`, `message` or `file`.
    pub class: &'static str,
    /// The SMTP reply code of a negative reply (RFC 5321 §4.2.1).
    pub code: Option<u16>,
    /// A 5xx reply, or a message that can never be built: retrying cannot help.
    pub permanent: bool,
    /// Whether the failure is the server's or the connection's rather than this message's:
    /// the sender stops its round then, since the next message would fail the same way.
    pub connection: bool,
    /// A short description without personal data (io error kind, TLS alert, no reply text).
    pub detail: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.class)?;
        if let Some(code) = self.code {
            write!(f, " {code}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
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
                tokio::task::spawn_blocking(move || write_eml(&dir, &id, &bytes))
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

/// Maps lettre's error to a class and code. A negative reply keeps only its code: the reply
/// text may quote the recipient.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(u16::from);
    let (class, permanent, connection, detail) = if e.is_permanent() {
        ("smtp", true, false, String::new())
    } else if e.is_transient() {
        ("smtp", false, false, String::new())
    } else if e.is_timeout() {
        ("timeout", false, true, String::new())
    } else if e.is_tls() || tls_failure(e) {
        ("tls", false, true, root_cause(e))
    } else if e.is_client() && e.to_string().contains("STARTTLS") {
        // lettre refuses to go on in clear text when Tls::Required and the server offers no
        // STARTTLS: nothing was sent (RFC 3207 §4: the client decides).
        (
            "starttls",
            false,
            true,
            "the server does not offer STARTTLS".into(),
        )
    } else if e.is_response() || e.is_client() {
        ("protocol", false, true, root_cause(e))
    } else {
        ("connect", false, true, root_cause(e))
    };
    SendError {
        class,
        code,
        permanent,
        connection,
        detail,
    }
}

/// lettre reports a failed TLS handshake as a connection error whose cause is an io error
/// wrapping rustls' error (tokio-rustls); found by walking the chain.
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && inner.is::<rustls::Error>()
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// The innermost error's text (an io error, a TLS alert), which holds no message content.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

fn file_error(e: std::io::Error) -> SendError {
    SendError {
        class: "file",
        code: None,
        permanent: false,
        connection: true,
        detail: e.to_string(),
    }
}

/// Writes `dir/<id>.eml` as a temporary file (mode 0600, created new), flushed to disk, then
/// renamed into place: a reader never sees half a message, and a message sent again after a
/// crash replaces the first copy instead of adding a second.
fn write_eml(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "outbox id is not a file name",
        ));
    }
    let tmp = dir.join(format!(".{id}.eml.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(format!("{id}.eml")))?;
    std::fs::File::open(dir)?.sync_all()
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

    #[test]
    fn eml_is_atomic_and_private() {
        let dir = tempfile::tempdir().unwrap();
        write_eml(dir.path(), "abc-1", b"Subject: x\r\n\r\nbody").unwrap();
        write_eml(dir.path(), "abc-1", b"Subject: y\r\n\r\nbody").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["abc-1.eml"]);
        let meta = std::fs::metadata(dir.path().join("abc-1.eml")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(write_eml(dir.path(), "../x", b"").is_err());
    }
}
