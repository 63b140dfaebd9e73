//! Configuration: `OPENTRUSTY_*` environment variables read with envy into one flat struct,
//! secrets resolved from `*_FILE` files or systemd credentials, then validated into [`Config`].
//!
//! Every problem is reported as a [`ConfigError`] that names the variable, the bad value (unless
//! it is secret) and what was expected; `main` turns it into exit code 78 (EX_CONFIG).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

mod console;
mod describe;
mod http;
mod identity;
mod known;
mod mail;
mod oauth;
mod parse;

pub use console::ConsoleConfig;
pub use http::{AccessLog, HttpConfig};
pub use identity::{IdentityConfig, IpNet};
pub use known::{KNOWN, Known, PREFIX};
pub use mail::{MailConfig, MailTransport};
pub use oauth::{KeyEncryptionKey, OauthConfig};
use parse::*;
use url::Url;

/// The raw, flat view of the environment (strings only; parsing happens in [`Config::from_vars`]
/// so that each error can name its variable).
#[derive(Deserialize, Default, Debug)]
struct Raw {
    database_url: Option<String>,
    database_password: Option<String>,
    public_url: Option<String>,
    listen: Option<String>,
    admin_listen: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    migrate_on_start: Option<String>,
    shutdown_timeout: Option<String>,
    allow_root: Option<String>,
    user: Option<String>,
    env_file: Option<String>,
    database_max_connections: Option<String>,
    argon2_memory_kib: Option<String>,
    argon2_iterations: Option<String>,
    argon2_parallelism: Option<String>,
    hash_concurrency: Option<String>,
    hash_queue_timeout_ms: Option<String>,
    lockout_threshold: Option<String>,
    lockout_duration: Option<String>,
    session_idle_timeout: Option<String>,
    session_lifetime: Option<String>,
    trusted_proxies: Option<String>,
    login_rate_per_ip: Option<String>,
    login_rate_per_account: Option<String>,
    api_auth_failures_per_ip: Option<String>,
    key_encryption_key: Option<String>,
    key_rotation_days: Option<String>,
    refresh_reuse_grace: Option<String>,
    audit_retention_days: Option<String>,
    http_header_timeout: Option<String>,
    http_idle_timeout: Option<String>,
    http_max_connections: Option<String>,
    access_log: Option<String>,
    access_log_slow_ms: Option<String>,
    admin_url: Option<String>,
    console: Option<String>,
    smtp_url: Option<String>,
    smtp_password: Option<String>,
    mail_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Full variable name, e.g. `OPENTRUSTY_LISTEN`.
    pub var: String,
    /// The offending value; `None` when the variable is secret or absent.
    pub value: Option<String>,
    pub expected: String,
}

impl ConfigError {
    fn new(name: &str, value: Option<&str>, expected: impl Into<String>) -> Self {
        let secret = KNOWN.iter().any(|k| k.secret && name.starts_with(k.name));
        ConfigError {
            var: format!("{PREFIX}{name}"),
            value: if secret {
                None
            } else {
                value.map(str::to_owned)
            },
            expected: expected.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(
                f,
                "{}={:?} is invalid: expected {}",
                self.var, v, self.expected
            ),
            None => write!(f, "{} is invalid: expected {}", self.var, self.expected),
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where a plane listens when systemd does not pass sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "{a}"),
            ListenAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// The database to use, parsed from `OPENTRUSTY_DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// Full `postgres://` URL; may hold a password, so it is never printed as is.
    Postgres(Url),
}

impl DatabaseUrl {
    /// The URL with any password replaced, safe for logs and `check-config`.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => {
                let mut u = u.clone();
                if u.password().is_some() {
                    let _ = u.set_password(Some("REDACTED"));
                }
                u.to_string()
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Who to become when started as root outside systemd (`OPENTRUSTY_USER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAs {
    Name(String),
    Ids { uid: u32, gid: u32 },
}

/// The validated configuration of the daemon and the CLI.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub database_max_connections: u32,
    pub public_url: Url,
    pub listen: ListenAddr,
    pub admin_listen: Option<ListenAddr>,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub migrate_on_start: bool,
    pub shutdown_timeout: Duration,
    pub allow_root: bool,
    pub run_as: Option<RunAs>,
    pub env_file: Option<PathBuf>,
    pub identity: IdentityConfig,
    pub oauth: OauthConfig,
    pub http: HttpConfig,
    /// The admin console (`OPENTRUSTY_CONSOLE`, `OPENTRUSTY_ADMIN_URL`).
    pub console: ConsoleConfig,
    /// Outgoing mail (`OPENTRUSTY_SMTP_URL`, `OPENTRUSTY_MAIL_FROM`); `None` turns off what needs it.
    pub mail: Option<MailConfig>,
    /// Audit events older than this are purged by housekeeping.
    pub audit_retention: Duration,
    /// Non-fatal findings (unknown variables, plain-http public URL), logged once logging runs.
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads the process environment (and `$CREDENTIALS_DIRECTORY`, `$STATE_DIRECTORY`).
    pub fn from_env() -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Config::from_vars(&vars)
    }

    /// Builds the configuration from a full environment map (tests pass their own).
    pub fn from_vars(env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let ours = resolve_secrets(env, &mut warnings)?;
        let raw: Raw = envy::prefixed(PREFIX)
            .from_iter(ours.iter().map(|(k, v)| (k.clone(), v.clone())))
            .map_err(|e| ConfigError::new("*", None, format!("readable variables ({e})")))?;

        let state_dir = env
            .get("STATE_DIRECTORY")
            .and_then(|s| s.split(':').next())
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let database_url = match raw.database_url.as_deref() {
            None => DatabaseUrl::Sqlite(
                state_dir
                    .unwrap_or_else(|| PathBuf::from("var"))
                    .join("opentrusty.db"),
            ),
            Some(s) => parse_database_url(s, raw.database_password.as_deref())?,
        };
        let oauth = oauth::parse(
            raw.key_encryption_key.as_deref(),
            raw.key_rotation_days.as_deref(),
            raw.refresh_reuse_grace.as_deref(),
            &database_url,
        )?;

        let public_url = match raw.public_url.as_deref() {
            None => {
                warnings.push(format!(
                    "{PREFIX}PUBLIC_URL is not set; using http://127.0.0.1:8080, which is not https and only fit for development"
                ));
                Url::parse("http://127.0.0.1:8080").expect("static URL")
            }
            Some(s) => parse_public_url(s, &mut warnings)?,
        };

        let listen = match raw.listen.as_deref() {
            None => ListenAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 8080))),
            Some(s) => parse_listen("LISTEN", s)?,
        };
        let admin_listen = raw
            .admin_listen
            .as_deref()
            .map(|s| parse_listen("ADMIN_LISTEN", s))
            .transpose()?;
        if admin_listen.as_ref() == Some(&listen) {
            return Err(ConfigError::new(
                "ADMIN_LISTEN",
                raw.admin_listen.as_deref(),
                format!("an address different from {PREFIX}LISTEN"),
            ));
        }

        let log_filter = raw.log.unwrap_or_else(|| "info".to_owned());
        validate_log_filter("LOG", &log_filter)?;
        let log_format = match raw.log_format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    Some(other),
                    "`text` or `json`",
                ));
            }
        };

        let migrate_on_start =
            parse_bool("MIGRATE_ON_START", raw.migrate_on_start.as_deref(), true)?;
        let allow_root = parse_bool("ALLOW_ROOT", raw.allow_root.as_deref(), false)?;
        let shutdown_timeout = parse_seconds(
            "SHUTDOWN_TIMEOUT",
            raw.shutdown_timeout.as_deref(),
            10,
            1..=3600,
        )?;
        let database_max_connections = parse_u32(
            "DATABASE_MAX_CONNECTIONS",
            raw.database_max_connections.as_deref(),
            10,
            1..=1000,
        )?;
        let run_as = raw.user.as_deref().map(parse_run_as).transpose()?;
        let env_file = raw.env_file.map(PathBuf::from);
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        let identity = IdentityConfig {
            argon2_memory_kib: parse_u32(
                "ARGON2_MEMORY_KIB",
                raw.argon2_memory_kib.as_deref(),
                19_456,
                8_192..=4_194_304,
            )?,
            argon2_iterations: parse_u32(
                "ARGON2_ITERATIONS",
                raw.argon2_iterations.as_deref(),
                2,
                1..=64,
            )?,
            argon2_parallelism: parse_u32(
                "ARGON2_PARALLELISM",
                raw.argon2_parallelism.as_deref(),
                1,
                1..=64,
            )?,
            hash_concurrency: parse_u32(
                "HASH_CONCURRENCY",
                raw.hash_concurrency.as_deref(),
                cpus,
                1..=1024,
            )?,
            hash_queue_timeout: Duration::from_millis(u64::from(parse_u32(
                "HASH_QUEUE_TIMEOUT_MS",
                raw.hash_queue_timeout_ms.as_deref(),
                2_000,
                1..=60_000,
            )?)),
            lockout_threshold: parse_u32(
                "LOCKOUT_THRESHOLD",
                raw.lockout_threshold.as_deref(),
                5,
                1..=1000,
            )?,
            lockout_duration: parse_seconds(
                "LOCKOUT_DURATION",
                raw.lockout_duration.as_deref(),
                900,
                1..=604_800,
            )?,
            session_idle_timeout: parse_seconds(
                "SESSION_IDLE_TIMEOUT",
                raw.session_idle_timeout.as_deref(),
                1_800,
                60..=2_592_000,
            )?,
            session_lifetime: parse_seconds(
                "SESSION_LIFETIME",
                raw.session_lifetime.as_deref(),
                43_200,
                60..=31_536_000,
            )?,
            trusted_proxies: match raw.trusted_proxies.as_deref() {
                None | Some("") => Vec::new(),
                Some(list) => list
                    .split(',')
                    .filter(|s| s.trim() != "unix")
                    .map(|s| {
                        IpNet::parse(s).ok_or_else(|| {
                            ConfigError::new(
                                "TRUSTED_PROXIES",
                                Some(list),
                                "a comma-separated list of IP addresses, CIDR networks or `unix`",
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
            },
            trust_unix_proxy: raw
                .trusted_proxies
                .as_deref()
                .is_some_and(|list| list.split(',').any(|s| s.trim() == "unix")),
            login_rate_per_ip: parse_u32(
                "LOGIN_RATE_PER_IP",
                raw.login_rate_per_ip.as_deref(),
                60,
                1..=1_000_000,
            )?,
            api_auth_failures_per_ip: parse_u32(
                "API_AUTH_FAILURES_PER_IP",
                raw.api_auth_failures_per_ip.as_deref(),
                20,
                1..=1_000_000,
            )?,
            login_rate_per_account: parse_u32(
                "LOGIN_RATE_PER_ACCOUNT",
                raw.login_rate_per_account.as_deref(),
                20,
                1..=1_000_000,
            )?,
        };

        let http = http::parse(http::Raw {
            header_timeout: raw.http_header_timeout.as_deref(),
            idle_timeout: raw.http_idle_timeout.as_deref(),
            max_connections: raw.http_max_connections.as_deref(),
            access_log: raw.access_log.as_deref(),
            slow_ms: raw.access_log_slow_ms.as_deref(),
        })?;
        let console = console::parse(
            raw.console.as_deref(),
            raw.admin_url.as_deref(),
            &mut warnings,
        )?;
        let mail = mail::parse(
            raw.smtp_url.as_deref(),
            raw.smtp_password.as_deref(),
            raw.mail_from.as_deref(),
        )?;
        let audit_retention_days = parse_u32(
            "AUDIT_RETENTION_DAYS",
            raw.audit_retention_days.as_deref(),
            365,
            1..=36_500,
        )?;

        Ok(Config {
            database_url,
            database_max_connections,
            public_url,
            listen,
            admin_listen,
            log_filter,
            log_format,
            migrate_on_start,
            shutdown_timeout,
            allow_root,
            run_as,
            env_file,
            identity,
            oauth,
            http,
            console,
            mail,
            audit_retention: Duration::from_secs(u64::from(audit_retention_days) * 86_400),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests;
