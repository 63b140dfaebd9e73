//! How a send failed, in terms an operator can act on and nothing more: a class (`smtp`,
//! `connect`, `tls`, `starttls`, ...), the SMTP reply code, whether retrying can help, and a
//! short detail that holds no personal data (never the recipient, the body or the server's
//! reply text, which may quote the address).

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

/// Maps lettre's error to a class and code. A negative reply keeps only its code: the reply
/// text may quote the recipient.
pub(super) fn classify(e: &lettre::transport::smtp::Error) -> SendError {
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

pub(super) fn file_error(e: std::io::Error) -> SendError {
    SendError {
        class: "file",
        code: None,
        permanent: false,
        connection: true,
        detail: e.to_string(),
    }
}
