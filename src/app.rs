//! Composition root: the shared [`App`] state and `run`, which serves every listener until the
//! shutdown signal and then drains in-flight requests within a bound.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::Config;
use crate::logging::LogHandle;
use crate::service::password::Hasher;
use crate::service::ratelimit::Limiter;
use crate::service::tenants::TenantCache;
use crate::store::{GroupWriter, Store};
use crate::systemd::Listener;
use crate::web;

/// Everything a request handler may need. Shared behind an `Arc`.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub clock: Clock,
    pub metrics: web::metrics::Metrics,
    pub log: Option<LogHandle>,
    pub hasher: Hasher,
    pub login_limits: LoginLimits,
    /// Parsed signing keys per tenant and the key-encryption key (OIDC).
    pub keys: crate::service::keys::Keys,
    /// Clients with their secret hashes, cached for a few seconds (client authentication).
    pub clients: crate::service::client_cache::ClientCache,
    pub tenants: TenantCache,
    /// The discovery document per tenant, rendered once.
    pub discovery: web::oauth::discovery::DiscoveryCache,
    /// Group commit for codes and tokens (see `store::group`).
    pub writes: GroupWriter,
    /// Nudges the mail sender after a message is committed (`service::mail::wake`).
    pub mail_wake: tokio::sync::Notify,
}

/// Login throttles: per client IP and per (tenant, account); and failed management API
/// authentications per client IP.
pub struct LoginLimits {
    pub per_ip: Limiter,
    pub per_account: Limiter,
    pub api_failures: Limiter,
    /// Self-registrations per client IP, and mails a visitor can cause per address
    /// (sign-up, verification on request): `service::register`, `service::verify`.
    pub signups: Limiter,
    pub mails: Limiter,
    /// Forgot-password requests per (tenant, address): `service::reset`.
    pub resets: Limiter,
}

pub type AppState = Arc<App>;

impl App {
    pub fn new(
        config: Config,
        store: Store,
        clock: Clock,
        log: Option<LogHandle>,
    ) -> crate::service::Result<AppState> {
        let hasher = Hasher::new(&config.identity)?;
        let login_limits = LoginLimits {
            per_ip: Limiter::new(config.identity.login_rate_per_ip),
            per_account: Limiter::new(config.identity.login_rate_per_account),
            api_failures: Limiter::new(config.identity.api_auth_failures_per_ip),
            signups: Limiter::new(crate::service::register::SIGNUPS_PER_MINUTE),
            mails: Limiter::new(crate::service::verify::MAILS_PER_MINUTE),
            resets: Limiter::per_hour(crate::service::reset::REQUESTS_PER_ADDRESS_PER_HOUR),
        };
        let metrics = web::metrics::Metrics::install();
        let writes = GroupWriter::new(store.clone());
        Ok(Arc::new(App {
            config,
            store,
            clock,
            metrics,
            log,
            hasher,
            login_limits,
            keys: Default::default(),
            clients: Default::default(),
            tenants: TenantCache::default(),
            discovery: Default::default(),
            writes,
            mail_wake: tokio::sync::Notify::new(),
        }))
    }
}

/// Why `run` returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Drained {
    /// Every connection finished within the bound.
    Clean,
    /// The bound passed with connections still open; they were cut.
    TimedOut,
}

/// Serves `listeners` until `shutdown` turns true; each listener then stops accepting and its
/// connections drain (`web::conn`). The drain is bounded by `drain`: what is still open after it
/// is cut.
pub async fn run(
    app: AppState,
    listeners: Vec<Listener>,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
) -> std::io::Result<Drained> {
    let upkeep = tokio::spawn(app.metrics.clone().upkeep());
    let mut servers = JoinSet::new();
    for listener in listeners {
        web::serve(&mut servers, app.clone(), listener, shutdown.clone())?;
    }
    let _ = shutdown.wait_for(|s| *s).await;
    let drained = tokio::time::timeout(drain, async {
        while let Some(res) = servers.join_next().await {
            if let Ok(Err(e)) = res {
                tracing::warn!(error = %e, "listener ended with an error");
            }
        }
    })
    .await;
    upkeep.abort();
    Ok(match drained {
        Ok(()) => Drained::Clean,
        Err(_) => {
            servers.abort_all();
            Drained::TimedOut
        }
    })
}
