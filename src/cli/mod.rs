//! The command line (clap): `serve` (default), `migrate`, `check-config`, `version`, the
//! operator commands (`bootstrap`, `tenant`: see `identity.rs`; `user`: `users.rs`), and the hidden
//! `gen-docs` used by packaging to write the man page and shell completions. With the
//! daemon's admin socket present, the operator commands go to the daemon (`remote.rs`).

pub mod api_tokens;
pub mod identity;
pub mod oauth;
pub mod remote;
pub mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::Config;
use crate::store::Store;

/// Exit code for configuration errors (sysexits.h EX_CONFIG).
pub const EX_CONFIG: u8 = 78;
/// Exit code for a refused user, e.g. root without OPENTRUSTY_ALLOW_ROOT (EX_NOPERM).
pub const EX_NOPERM: u8 = 77;

#[derive(Parser, Debug)]
#[command(
    name = "opentrusty",
    version,
    about = "Multi-tenant OAuth 2.0 / OpenID Connect identity provider",
    long_about = "OpenTrusty is a multi-tenant OAuth 2.0 / OpenID Connect identity provider. Every tenant is \
its own OpenID Provider at {OPENTRUSTY_PUBLIC_URL}/t/{tenant}.\n\nIt is configured with OPENTRUSTY_* \
environment variables (secrets may also come from X_FILE or systemd credentials); run \
`opentrusty check-config` to see the effective configuration.",
    after_help = "Without a subcommand, `serve` runs.\n\nThe operator commands (tenant, user, client, \
keys, audit, api-token) are sent to the running daemon over its admin socket when it exists \
(/run/opentrusty/admin.sock, or OPENTRUSTY_ADMIN_SOCKET): root, the daemon's user and members of \
group opentrusty act as a platform owner, and the daemon does the work with its own configuration. \
Without the socket, or with --offline, they work on the database directly."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Operator commands: work on the database directly even when the daemon's admin socket
    /// (/run/opentrusty/admin.sock or OPENTRUSTY_ADMIN_SOCKET) exists.
    #[arg(long, global = true)]
    pub offline: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: serve HTTP on the sockets systemd passes, or on OPENTRUSTY_LISTEN.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration, print it with secrets redacted, exit 0 (valid) or 1.
    CheckConfig {
        /// Print JSON instead of NAME=value lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the version and exit.
    Version,
    /// Create the `platform` tenant and its first administrator (once).
    Bootstrap(identity::BootstrapArgs),
    /// Manage tenants (each is its own OpenID Provider).
    #[command(subcommand)]
    Tenant(identity::TenantCommand),
    /// Manage the users of a tenant.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manage the OAuth clients of a tenant.
    #[command(subcommand)]
    Client(oauth::ClientCommand),
    /// Rotate and list a tenant's signing keys.
    #[command(subcommand)]
    Keys(oauth::KeysCommand),
    /// Show the newest audit events (security events) of a tenant or of the installation.
    Audit(identity::AuditArgs),
    /// Manage API tokens (automation access to the management API) of a tenant.
    #[command(name = "api-token", subcommand)]
    ApiToken(api_tokens::ApiTokenCommand),
    /// Measure Argon2id hashes per second with the configured parameters (to size
    /// OPENTRUSTY_ARGON2_* and OPENTRUSTY_HASH_CONCURRENCY for this machine).
    HashRate {
        /// Hashing threads (default: OPENTRUSTY_HASH_CONCURRENCY).
        #[arg(long)]
        threads: Option<u32>,
        /// How long to measure.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the man page and shell completions into a directory (used by packaging).
    #[command(hide = true)]
    GenDocs {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Prints a configuration error the way every subcommand reports it.
pub fn config_error(e: &crate::config::ConfigError) {
    eprintln!("opentrusty: configuration error: {e}");
}

pub fn check_config(json: bool) -> ExitCode {
    match Config::from_env() {
        Ok(config) => {
            for w in &config.warnings {
                eprintln!("opentrusty: warning: {w}");
            }
            let pairs = config.describe();
            if json {
                let map: serde_json::Map<_, _> = pairs
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            format!("{}{k}", crate::config::PREFIX),
                            serde_json::Value::String(v),
                        )
                    })
                    .collect();
                println!("{}", serde_json::Value::Object(map));
            } else {
                for (k, v) in pairs {
                    println!("{}{k}={v}", crate::config::PREFIX);
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            config_error(&e);
            ExitCode::FAILURE
        }
    }
}

pub fn version() -> ExitCode {
    println!("opentrusty {}", env!("CARGO_PKG_VERSION"));
    ExitCode::SUCCESS
}

/// `migrate`: a one-shot runtime, the migrations, done.
pub fn migrate(config: Config) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("opentrusty: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let store = match Store::connect(&config.database_url, 2).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "opentrusty: cannot open the database {}: {e}",
                    config.database_url.redacted()
                );
                return ExitCode::FAILURE;
            }
        };
        let result = crate::daemon::migrate_with_extension(&store).await;
        store.close().await;
        match result {
            Ok(()) => {
                println!("database {} is up to date", config.database_url.redacted());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("opentrusty: migration failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// `hash-rate`: the raw Argon2id rate of this machine, the limit a login rate is measured against.
pub fn hash_rate(config: &Config, threads: Option<u32>, seconds: u64, json: bool) -> ExitCode {
    let id = &config.identity;
    let threads = threads.unwrap_or(id.hash_concurrency).max(1);
    match crate::service::password::raw_rate(
        id,
        threads,
        std::time::Duration::from_secs(seconds.clamp(1, 600)),
    ) {
        Ok(rate) => {
            if json {
                let v = serde_json::json!({
                    "hashes_per_second": rate, "threads": threads, "memory_kib": id.argon2_memory_kib,
                    "iterations": id.argon2_iterations, "parallelism": id.argon2_parallelism,
                });
                println!("{v}");
            } else {
                println!(
                    "{rate:.1} Argon2id hashes/s on {threads} thread(s) (m={} KiB, t={}, p={}); {:.1} ms per hash",
                    id.argon2_memory_kib,
                    id.argon2_iterations,
                    id.argon2_parallelism,
                    1000.0 * f64::from(threads) / rate.max(f64::MIN_POSITIVE)
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("opentrusty: error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn gen_docs(out: &Path) -> ExitCode {
    match write_docs(out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opentrusty: gen-docs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_docs(out: &Path) -> std::io::Result<()> {
    use clap_complete::Shell;
    let cmd = Cli::command();
    std::fs::create_dir_all(out.join("completions"))?;
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .render(&mut page)?;
    std::fs::write(out.join("opentrusty.8"), page)?;
    for (shell, file) in [
        (Shell::Bash, "opentrusty.bash"),
        (Shell::Zsh, "_opentrusty"),
        (Shell::Fish, "opentrusty.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "opentrusty", &mut buf);
        std::fs::write(out.join("completions").join(file), buf)?;
    }
    Ok(())
}
