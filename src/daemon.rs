//! The `serve` lifecycle, in start-up order: sockets (before privileges are dropped and before
//! any thread exists), process hardening, runtime, database and migrations, `READY=1`, serving,
//! signals (SIGTERM/SIGINT drain, SIGHUP reload) and the watchdog.

use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::app::{self, App, AppState, Drained};
use crate::clock::Clock;
use crate::config::Config;
use crate::logging::LogHandle;
use crate::store::Store;
use crate::systemd::{self, Listener, Plane};
use crate::{envfile, process};

pub fn run(config: Config, log: LogHandle) -> ExitCode {
    let listeners = match take_listeners(&config) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up listening sockets");
            return ExitCode::FAILURE;
        }
    };
    match process::harden(&config) {
        Ok(process::Outcome::Dropped { uid, gid }) => {
            tracing::info!(uid, gid, "dropped root privileges")
        }
        Ok(process::Outcome::RootAllowed) => {
            tracing::warn!("running as root because OPENTRUSTY_ALLOW_ROOT=true")
        }
        Ok(process::Outcome::Unprivileged) => {}
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(77); // EX_NOPERM
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config, listeners, log))
}

/// Sockets passed by systemd win; without any, bind what the configuration says.
fn take_listeners(config: &Config) -> std::io::Result<Vec<Listener>> {
    let activated = systemd::activated_listeners()?;
    if !activated.is_empty() {
        return Ok(activated);
    }
    Ok(match &config.admin_listen {
        Some(admin) => vec![
            systemd::bind(&config.listen, Some(Plane::Auth))?,
            systemd::bind(admin, Some(Plane::Admin))?,
        ],
        None => vec![systemd::bind(&config.listen, None)?],
    })
}

/// One line when no listener serves the admin plane, naming where to put it.
fn warn_without_admin_plane(listeners: &[Listener]) {
    if listeners
        .iter()
        .any(|l| matches!(l.plane, Plane::All | Plane::Admin))
    {
        return;
    }
    tracing::warn!(
        "the admin plane (/metrics, management) is not served: a listener named `auth`, or one the network can reach, serves the auth plane only; to serve it, set OPENTRUSTY_ADMIN_LISTEN or pass a socket named `admin` (FileDescriptorName=admin)"
    );
}

/// The console's start-up lines: how to turn it on when a separate admin listener has no
/// public URL; while there is no platform user, the `bootstrap` command; then where it is.
async fn console_lines(app: &AppState, listeners: &[Listener]) {
    let console = &app.config.console;
    let url = listeners
        .iter()
        .filter(|l| matches!(l.plane, Plane::All | Plane::Admin))
        .find_map(|l| console.served_at(&app.config.public_url, l.plane == Plane::All));
    let admin_plane = listeners
        .iter()
        .any(|l| matches!(l.plane, Plane::All | Plane::Admin));
    if console.enabled && url.is_none() && admin_plane {
        tracing::info!(
            "the admin console is off: the admin plane has a listener of its own and OPENTRUSTY_ADMIN_URL is unset; to turn it on, expose the admin plane behind an https reverse proxy and set OPENTRUSTY_ADMIN_URL to its public URL (README, \"Console\")"
        );
    }
    match crate::service::console::platform_has_user(app).await {
        Ok(false) => {
            let then = url
                .as_ref()
                .map(|u| {
                    format!(
                        ", then sign in at {}/console/",
                        u.as_str().trim_end_matches('/')
                    )
                })
                .unwrap_or_default();
            tracing::info!(
                "no platform administrator yet: run `{} bootstrap --email you@example.com` in another terminal to create the first one (it prints a password once){then}",
                invocation()
            )
        }
        Ok(true) => {
            if let Some(url) = url {
                tracing::info!(
                    "admin console: {}/console/",
                    url.as_str().trim_end_matches('/')
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot tell whether a platform administrator exists"),
    }
}

/// How an operator at this host runs this very binary, as a command to copy: `opentrusty`
/// when that name on `PATH` is this file (an installed package), else the path it was started
/// by (`target/release/opentrusty` under `make run`, relative to the directory it ran in).
/// Run as root, the CLI refuses to start without `OPENTRUSTY_ALLOW_ROOT=true` (as the daemon
/// does), so the command carries it then.
fn invocation() -> String {
    let exe = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| std::fs::canonicalize(dir.join("opentrusty")).ok() == exe && exe.is_some())
    });
    let started_as = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a.contains('/'))
        .or_else(|| exe.as_ref().map(|e| e.display().to_string()));
    let command = match started_as {
        Some(path) if !on_path => shell_word(&path),
        _ => "opentrusty".to_owned(),
    };
    if nix::unistd::geteuid().is_root() {
        format!("OPENTRUSTY_ALLOW_ROOT=true {command}")
    } else {
        command
    }
}

/// `s` as one shell word: as is when it has only characters a shell leaves alone.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

async fn serve(config: Config, listeners: Vec<Listener>, log: LogHandle) -> ExitCode {
    systemd::status("opening the database");
    let store = match Store::connect(&config.database_url, config.database_max_connections).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, database = %config.database_url.redacted(), "cannot open the database");
            return ExitCode::FAILURE;
        }
    };
    if config.migrate_on_start {
        systemd::status("migrating the database");
        if let Err(e) = migrate_with_extension(&store).await {
            tracing::error!(error = %e, "database migration failed");
            return ExitCode::FAILURE;
        }
    }
    let drain = config.shutdown_timeout;
    let app = match App::new(config, store, Clock::System, Some(log)) {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "invalid identity settings");
            return ExitCode::from(crate::cli::EX_CONFIG);
        }
    };
    // Mail: what only the transport can check (TLS set-up for the host, the `file:` directory)
    // is a start-up error; the server being unreachable is not (see `mail::sender::run`).
    let mail = match crate::service::mail::sender::transport(&app.config) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("invalid mail settings: {e}");
            return ExitCode::from(crate::cli::EX_CONFIG);
        }
    };
    systemd::status("loading signing keys");
    match crate::service::housekeeping::prepare(&app).await {
        Ok(n) => tracing::info!(tenants = n, "signing keys loaded"),
        Err(e) => {
            tracing::error!(error = %e, "cannot load signing keys");
            return ExitCode::FAILURE;
        }
    }
    // The built-in console clients' URIs follow this configuration (service::console).
    match crate::service::console::reconcile(&app).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(tenants = n, "console client redirect URIs updated"),
        Err(e) => tracing::warn!(error = %e, "cannot update the console clients' redirect URIs"),
    }
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return ExitCode::FAILURE;
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(crate::service::housekeeping::run(
        app.clone(),
        stop_rx.clone(),
    ));
    // PostgreSQL: other nodes' (and the CLI's) changes drop this node's cached tenants,
    // clients and keys as they commit. SQLite: nothing to listen to; the caches' TTLs apply.
    tokio::spawn(crate::service::invalidate::listen(
        app.clone(),
        stop_rx.clone(),
    ));
    let mail_task = match mail {
        Some(transport) => {
            tracing::info!(transport = %transport.describe(), "mail delivery on");
            Some(tokio::spawn(crate::service::mail::sender::run(
                app.clone(),
                transport,
                stop_rx.clone(),
            )))
        }
        None => {
            tracing::info!(
                "mail is off (OPENTRUSTY_SMTP_URL is unset): password reset, verification and invitation mails are not offered"
            );
            None
        }
    };
    for l in &listeners {
        tracing::info!(listener = %l.describe, "listening");
    }
    warn_without_admin_plane(&listeners);
    console_lines(&app, &listeners).await;
    let count = listeners.len();
    let server = tokio::spawn(app::run(app.clone(), listeners, stop_rx, drain));
    tokio::spawn(watchdog());
    systemd::ready(&format!("serving on {count} listener(s)"));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), backend = ?app.store.backend(), "ready");

    wait_for_stop(&app, signals).await;
    systemd::stopping("draining in-flight requests");
    tracing::info!(
        timeout_s = drain.as_secs(),
        "shutting down: draining in-flight requests"
    );
    let stopping = std::time::Instant::now();
    let _ = stop_tx.send(true);
    let result = server.await;
    // The sender finishes the message in hand (if any) within what is left of the drain.
    if let Some(task) = mail_task
        && tokio::time::timeout(drain.saturating_sub(stopping.elapsed()), task)
            .await
            .is_err()
    {
        tracing::warn!(
            "mail: a send was still running at the end of the drain; it is retried after the restart"
        );
    }
    app.store.close().await;
    match result {
        Ok(Ok(Drained::Clean)) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Ok(Ok(Drained::TimedOut)) => {
            tracing::warn!("drain timed out; remaining connections were closed");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "serving failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            tracing::error!(error = %e, "server task failed");
            ExitCode::FAILURE
        }
    }
}

/// Runs the migrations while asking systemd for more start-up time every few seconds, so a
/// long migration is not killed by `TimeoutStartSec=`.
pub async fn migrate_with_extension(store: &Store) -> crate::store::Result<()> {
    let ticker = tokio::spawn(async {
        loop {
            systemd::extend_timeout(Duration::from_secs(30));
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    let result = store.migrate().await;
    ticker.abort();
    result
}

/// Returns on SIGTERM or SIGINT; handles SIGHUP (reload) in between.
/// The signals the daemon handles, installed before READY=1 so that a signal arriving right
/// after readiness is never met by the default action (terminate).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

async fn wait_for_stop(app: &AppState, signals: Signals) {
    let Signals {
        mut term,
        mut int,
        mut hup,
    } = signals;
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => reload(app),
        }
    }
}

/// SIGHUP: re-reads the reloadable settings (the log filter from `OPENTRUSTY_ENV_FILE`) and
/// drops the cached signing keys so they are read again from the database.
fn reload(app: &AppState) {
    systemd::reloading();
    app.keys.invalidate_all();
    app.discovery.clear();
    let filter = match &app.config.env_file {
        Some(path) => match envfile::read(path) {
            Ok(vars) => vars
                .get("OPENTRUSTY_LOG")
                .cloned()
                .unwrap_or_else(|| "info".to_owned()),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "reload: cannot read the environment file; keeping the current settings");
                app.config.log_filter.clone()
            }
        },
        None => app.config.log_filter.clone(),
    };
    if let Some(log) = &app.log {
        match log.set_filter(&filter) {
            Ok(()) => tracing::info!(log_filter = %filter, "reloaded"),
            Err(e) => {
                tracing::warn!(log_filter = %filter, error = %e, "reload: invalid OPENTRUSTY_LOG; keeping the current filter")
            }
        }
    }
    systemd::ready("serving (reloaded)");
}

/// Pings the systemd watchdog at half its period, but only after a round trip through the
/// runtime's scheduler succeeds: a wedged runtime stops the pings and systemd restarts us.
async fn watchdog() {
    let Some(period) = systemd::watchdog_interval() else {
        return;
    };
    let mut tick = tokio::time::interval(period / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let probe = tokio::spawn(async {});
        if tokio::time::timeout(period / 4, probe).await.is_ok() {
            systemd::watchdog_ping();
        } else {
            tracing::warn!("watchdog: runtime did not answer in time; not pinging");
        }
    }
}
