//! The operator commands, sent to the running daemon: when its admin socket exists
//! (`/run/opentrusty/admin.sock`, or `OPENTRUSTY_ADMIN_SOCKET`), `tenant`, `user`, `client`,
//! `keys`, `audit` and `api-token` become requests to the management API (`/api/v1`) over that
//! socket. The daemon authenticates the caller by its peer credentials (root, its own user and
//! members of group `opentrusty` act as a `platform` owner, audited as `local:<user>`) and does
//! the work with its own configuration, database and key-encryption key: the caller's
//! environment and working directory play no part. `--offline` (or no socket) keeps the old
//! path, straight to the database. Answers are printed like the offline commands print theirs.

mod api_tokens;
mod http;
mod identity;
mod oauth;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

pub use http::Socket;

use super::Command;

/// Where the packaged daemon's admin socket is (systemd `opentrusty.socket`).
pub const DEFAULT_SOCKET: &str = "/run/opentrusty/admin.sock";
/// Overrides [`DEFAULT_SOCKET`].
pub const SOCKET_ENV: &str = "OPENTRUSTY_ADMIN_SOCKET";
/// Exit code when the daemon cannot be reached (sysexits.h EX_UNAVAILABLE).
pub const EX_UNAVAILABLE: u8 = 69;

/// The most items one API page holds (`limit`); lists are read page by page.
const PAGE: u32 = 500;

/// Whether `command` has a management API counterpart. `migrate`, `serve`, `check-config`
/// and `hash-rate` work on this host's files or database only. `bootstrap` is sent too: once
/// the daemon runs, its database and key-encryption key are the ones that count (before the
/// first start there is no socket, and it works on the database as before).
pub fn forwards(command: &Command) -> bool {
    matches!(
        command,
        Command::Bootstrap(_)
            | Command::Tenant(_)
            | Command::User(_)
            | Command::Client(_)
            | Command::Keys(_)
            | Command::Audit(_)
            | Command::ApiToken(_)
    )
}

/// The admin socket to send operator commands to: `OPENTRUSTY_ADMIN_SOCKET` (which must then
/// be a socket: a typo must not silently fall back to a database in the working directory),
/// else [`DEFAULT_SOCKET`] when it exists, else `None` (work offline).
pub fn socket() -> std::result::Result<Option<Socket>, String> {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = |p: &PathBuf| {
        std::fs::metadata(p)
            .map(|m| m.file_type().is_socket())
            .unwrap_or(false)
    };
    match std::env::var_os(SOCKET_ENV).filter(|v| !v.is_empty()) {
        Some(v) => {
            let p = PathBuf::from(v);
            if is_socket(&p) {
                Ok(Some(Socket(p)))
            } else {
                Err(format!(
                    "{SOCKET_ENV}={}: no socket there (is the daemon running?); unset it, or pass --offline to work on the database directly",
                    p.display()
                ))
            }
        }
        None => {
            let p = PathBuf::from(DEFAULT_SOCKET);
            Ok(is_socket(&p).then_some(Socket(p)))
        }
    }
}

/// Why a forwarded command failed.
#[derive(Debug)]
pub enum Failure {
    /// The daemon answered with an error (`{"error", "message"}`).
    Api { status: u16, message: String },
    /// The daemon could not be reached or answered nonsense.
    Transport(String),
    /// The command itself is wrong before anything is sent (e.g. an unreadable password file).
    Local(String),
}

pub type Result<T> = std::result::Result<T, Failure>;

/// Runs one operator command through the daemon.
pub fn run(socket: &Socket, command: Command) -> ExitCode {
    let r = Remote(socket.clone());
    let result = match command {
        Command::Bootstrap(a) => identity::bootstrap(&r, a),
        Command::Tenant(c) => identity::tenant(&r, c),
        Command::Audit(a) => identity::audit(&r, a),
        Command::User(c) => users::user(&r, c),
        Command::Client(c) => oauth::client(&r, c),
        Command::Keys(c) => oauth::keys(&r, c),
        Command::ApiToken(c) => api_tokens::api_token(&r, c),
        _ => Err(Failure::Local("not an operator command".into())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let (code, msg) = describe(socket, f);
            eprintln!("opentrusty: error: {msg}");
            ExitCode::from(code)
        }
    }
}

/// The exit code and one line for a failure, like the offline commands' (exit 1 with the
/// service's message), except where only the socket can fail: not admitted (77) or no
/// daemon (69).
fn describe(socket: &Socket, f: Failure) -> (u8, String) {
    let path = socket.path().display();
    match f {
        Failure::Api {
            status: 401,
            message,
        } => (
            super::EX_NOPERM,
            format!(
                "the daemon on {path} does not accept this user as an operator ({message}); root, the daemon's user and members of group `opentrusty` are, or pass --offline to work on the database directly"
            ),
        ),
        Failure::Api { message, .. } => (1, message),
        Failure::Transport(e) => (
            EX_UNAVAILABLE,
            format!(
                "cannot reach the daemon on its admin socket {path}: {e} (start it, or pass --offline to work on the database directly)"
            ),
        ),
        Failure::Local(msg) => (1, msg),
    }
}

/// The daemon's management API over its admin socket.
pub struct Remote(Socket);

impl Remote {
    /// One request; a non-2xx answer is a [`Failure::Api`] with the API's message.
    pub fn call(&self, method: &str, target: &str, body: Option<Value>) -> Result<Value> {
        let answer = self
            .0
            .call(method, target, body.as_ref())
            .map_err(transport)?;
        checked(answer).map(|a| a.json())
    }

    /// An NDJSON export, one parsed line at a time (see [`Socket::lines`]).
    pub fn lines(&self, target: &str, mut each: impl FnMut(Value)) -> Result<()> {
        let answer = self
            .0
            .lines(target, |line| {
                if let Ok(v) = serde_json::from_str(line) {
                    each(v)
                }
            })
            .map_err(transport)?;
        checked(answer).map(drop)
    }

    pub fn get(&self, target: &str) -> Result<Value> {
        self.call("GET", target, None)
    }

    /// Every item of a list, following `next_cursor` (at most `max` items).
    pub fn all(&self, target: &str, max: usize) -> Result<Vec<Value>> {
        let sep = if target.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let want = (max - items.len()).min(PAGE as usize);
            let mut url = format!("{target}{sep}limit={want}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={}", query(c)));
            }
            let page = self.get(&url)?;
            if let Some(a) = page["items"].as_array() {
                items.extend(a.iter().cloned());
            }
            cursor = page["next_cursor"].as_str().map(str::to_owned);
            if cursor.is_none() || items.len() >= max {
                items.truncate(max);
                return Ok(items);
            }
        }
    }
}

fn transport(e: std::io::Error) -> Failure {
    match e.kind() {
        // The socket's mode let this user not even connect: not an operator either.
        std::io::ErrorKind::PermissionDenied => Failure::Api {
            status: 401,
            message: "permission denied on the socket".into(),
        },
        _ => Failure::Transport(e.to_string()),
    }
}

/// A 2xx answer, or the API's error as a [`Failure::Api`].
fn checked(answer: http::Answer) -> Result<http::Answer> {
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let v = answer.json();
    let message = v["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("the daemon answered {}", answer.status));
    Err(Failure::Api {
        status: answer.status,
        message,
    })
}

/// A path segment, percent-encoded (RFC 3986 §2.3: only unreserved characters stay).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query value, percent-encoded the same way.
pub fn query(s: &str) -> String {
    seg(s)
}

/// The path of a tenant's resource: `/api/v1/tenants/{slug}/{rest}`.
pub fn tenant_path(slug: &str, rest: &str) -> String {
    if rest.is_empty() {
        format!("/api/v1/tenants/{}", seg(slug))
    } else {
        format!("/api/v1/tenants/{}/{rest}", seg(slug))
    }
}

impl From<crate::service::Error> for Failure {
    fn from(e: crate::service::Error) -> Failure {
        Failure::Local(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(seg("acme"), "acme");
        assert_eq!(seg("a/b c@d"), "a%2Fb%20c%40d");
        assert_eq!(tenant_path("acme", "users"), "/api/v1/tenants/acme/users");
    }
}
