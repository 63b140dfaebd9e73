//! The whole systemd surface: listening sockets from `LISTEN_FDS`/`LISTEN_FDNAMES` (socket
//! activation), `sd_notify` messages and the watchdog, and the native journald layer.
//! Everything here is a no-op when the process does not run under systemd.

use std::io;
use std::net::TcpListener as StdTcpListener;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::time::Duration;

use sd_notify::NotifyState;

use crate::config::ListenAddr;

/// Which endpoints a listener serves (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// A lone unnamed listener on loopback or a unix socket (development): every plane.
    All,
    /// `auth`: the per-tenant OpenID Provider endpoints and login pages.
    Auth,
    /// `admin`: the management API and `/metrics`.
    Admin,
}

impl Plane {
    /// `None` for systemd's default names (`stream`, `unknown`, the unit's name) and empty ones.
    fn from_fd_name(name: &str) -> Option<Plane> {
        match name {
            "auth" => Some(Plane::Auth),
            "admin" => Some(Plane::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Plane::All => "all",
            Plane::Auth => "auth",
            Plane::Admin => "admin",
        }
    }

    /// The plane of a listener nobody named: the admin plane is served only where the operator
    /// put it, so only a lone listener that the network cannot reach (loopback or a unix
    /// socket, i.e. development) serves it as well; any other serves the auth plane only.
    pub fn unnamed(socket: &Socket, lone: bool) -> Plane {
        if lone && socket.is_local() {
            Plane::All
        } else {
            Plane::Auth
        }
    }
}

/// A listening socket taken from systemd or bound from configuration, still a std socket so it
/// can be taken before the tokio runtime exists (and before privileges are dropped).
#[derive(Debug)]
pub enum Socket {
    Tcp(StdTcpListener),
    Unix(StdUnixListener),
}

#[derive(Debug)]
pub struct Listener {
    pub plane: Plane,
    pub socket: Socket,
    /// Human-readable description for logs.
    pub describe: String,
}

/// Takes every socket systemd passed (`LISTEN_FDS`, checked against `LISTEN_PID` by listenfd).
/// Returns an empty list when the process was not socket activated. Must run before any thread
/// is spawned: it reads the environment.
pub fn activated_listeners() -> io::Result<Vec<Listener>> {
    let mut fds = listenfd::ListenFd::from_env();
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|s| s.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut found = Vec::with_capacity(fds.len());
    for idx in 0..fds.len() {
        let name = names.get(idx).map(String::as_str).unwrap_or("");
        // listenfd leaves the fd in place when the type does not match, so try TCP then unix.
        let socket = match fds.take_tcp_listener(idx) {
            Ok(Some(l)) => Socket::Tcp(l),
            Ok(None) => continue,
            Err(_) => match fds.take_unix_listener(idx)? {
                Some(l) => Socket::Unix(l),
                None => continue,
            },
        };
        found.push((idx, name, socket));
    }
    let lone = found.len() == 1;
    let mut out = Vec::with_capacity(found.len());
    for (idx, name, socket) in found {
        let plane = Plane::from_fd_name(name).unwrap_or_else(|| Plane::unnamed(&socket, lone));
        let describe = format!(
            "fd {} ({}) {} ({} plane)",
            idx + 3,
            if name.is_empty() { "unnamed" } else { name },
            local(&socket),
            plane.as_str()
        );
        out.push(Listener {
            plane,
            socket: nonblocking(socket)?,
            describe,
        });
    }
    Ok(out)
}

/// Binds a configured address when systemd passed nothing; `plane: None` is `OPENTRUSTY_LISTEN`
/// without `OPENTRUSTY_ADMIN_LISTEN` (see [`Plane::unnamed`]).
pub fn bind(addr: &ListenAddr, plane: Option<Plane>) -> io::Result<Listener> {
    let socket = match addr {
        ListenAddr::Tcp(a) => Socket::Tcp(StdTcpListener::bind(a)?),
        ListenAddr::Unix(path) => {
            // Remove a stale socket left by an earlier run, but never a regular file.
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                use std::os::unix::fs::FileTypeExt;
                if meta.file_type().is_socket() {
                    std::fs::remove_file(path)?;
                }
            }
            Socket::Unix(StdUnixListener::bind(path)?)
        }
    };
    let plane = plane.unwrap_or_else(|| Plane::unnamed(&socket, true));
    let describe = format!("{addr} (bound, {} plane)", plane.as_str());
    Ok(Listener {
        plane,
        socket: nonblocking(socket)?,
        describe,
    })
}

impl Socket {
    /// Reachable from this host only: a unix socket, or TCP bound to a loopback address
    /// (not `0.0.0.0` or `[::]`).
    pub fn is_local(&self) -> bool {
        match self {
            Socket::Tcp(l) => l
                .local_addr()
                .is_ok_and(|a| a.ip().to_canonical().is_loopback()),
            Socket::Unix(_) => true,
        }
    }
}

/// tokio's `from_std` requires non-blocking sockets; neither systemd nor std sets the flag.
fn nonblocking(socket: Socket) -> io::Result<Socket> {
    match &socket {
        Socket::Tcp(l) => l.set_nonblocking(true)?,
        Socket::Unix(l) => l.set_nonblocking(true)?,
    }
    Ok(socket)
}

fn local(socket: &Socket) -> String {
    match socket {
        Socket::Tcp(l) => l.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        Socket::Unix(l) => l
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| format!("unix:{}", p.display())))
            .unwrap_or_else(|| "unix".into()),
    }
}

/// True when systemd started us with a notification socket.
pub fn under_supervisor() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

fn send(states: &[NotifyState]) {
    // No NOTIFY_SOCKET: sd_notify does nothing. A send error is not worth stopping for.
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// `STATUS=...`: what the daemon is doing, shown by `systemctl status`.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// `READY=1` together with a status line, in one datagram as systemd's own clients do.
pub fn ready(text: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(text)]);
}

/// `RELOADING=1` (+ `MONOTONIC_USEC`, required from systemd 253 on) before a SIGHUP reload.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading"),
        ]),
        Err(_) => send(&[NotifyState::Reloading, NotifyState::Status("reloading")]),
    }
}

/// `STOPPING=1` when the drain starts.
pub fn stopping(text: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(text)]);
}

/// `EXTEND_TIMEOUT_USEC=...`: asks for more start-up time (long migrations).
pub fn extend_timeout(by: Duration) {
    let usec = u32::try_from(by.as_micros()).unwrap_or(u32::MAX);
    send(&[NotifyState::ExtendTimeoutUsec(usec)]);
}

/// The watchdog period systemd expects (`WATCHDOG_USEC`, for this PID), if any.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

/// `WATCHDOG=1`.
pub fn watchdog_ping() {
    send(&[NotifyState::Watchdog]);
}

/// The native journald layer, only when systemd connected our stderr to the journal
/// (`JOURNAL_STREAM`): interactive runs keep readable stderr even where a journal exists.
/// INFO maps to priority 6 (informational) rather than the crate's default 5 (notice), and
/// custom fields carry the `OPENTRUSTY_` prefix so `journalctl OPENTRUSTY_REQUEST_ID=...` works.
pub fn journald_layer() -> Option<tracing_journald::Layer> {
    std::env::var_os("JOURNAL_STREAM")?;
    let mappings = tracing_journald::PriorityMappings {
        info: tracing_journald::Priority::Informational,
        debug: tracing_journald::Priority::Debug,
        ..tracing_journald::PriorityMappings::new()
    };
    tracing_journald::layer().ok().map(|l| {
        l.with_syslog_identifier("opentrusty".to_owned())
            .with_field_prefix(Some("OPENTRUSTY".to_owned()))
            .with_priority_mappings(mappings)
    })
}

/// Sends one entry to journald over the native protocol, with fields named exactly as given
/// (tracing-journald prefixes every field, but `MESSAGE_ID` must stay unprefixed for
/// `journalctl MESSAGE_ID=`). Returns false when not under journald or the send failed.
pub fn journal_send(priority: u8, message: &str, fields: &[(&str, String)]) -> bool {
    if std::env::var_os("JOURNAL_STREAM").is_none() {
        return false;
    }
    let mut buf = Vec::with_capacity(256);
    let mut put = |key: &str, value: &str| {
        if value.contains('\n') {
            // Binary-safe form: KEY\n<u64 little-endian length><value>\n
            buf.extend_from_slice(key.as_bytes());
            buf.push(b'\n');
            buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
            buf.extend_from_slice(value.as_bytes());
        } else {
            buf.extend_from_slice(key.as_bytes());
            buf.push(b'=');
            buf.extend_from_slice(value.as_bytes());
        }
        buf.push(b'\n');
    };
    put("MESSAGE", message);
    put("PRIORITY", &priority.to_string());
    put("SYSLOG_IDENTIFIER", "opentrusty");
    for (k, v) in fields {
        put(k, v);
    }
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return false;
    };
    sock.send_to(&buf, "/run/systemd/journal/socket").is_ok()
}
