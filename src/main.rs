//! `opentrusty`: parse the command line, load the configuration, start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use opentrusty::cli::{self, Cli, Command};
use opentrusty::{config::Config, daemon, logging};

// The static build uses mimalloc for Rust and, through its `override` feature, for the C
// libraries (SQLite, aws-lc) as well; musl's own malloc is much slower under threads.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    opentrusty::process::no_huge_pages();
    // Before anything can create a file: the database and a generated key-encryption key
    // must never be world-readable, whichever command creates them.
    opentrusty::process::private_umask();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // With the daemon's admin socket there, the operator commands are the daemon's to do,
    // with its own configuration: this process needs neither a configuration nor the database.
    if !cli.offline && cli::remote::forwards(&command) {
        match cli::remote::socket() {
            Ok(Some(socket)) => return cli::remote::run(&socket, command),
            Ok(None) => {}
            Err(e) => {
                eprintln!("opentrusty: error: {e}");
                return ExitCode::from(cli::remote::EX_UNAVAILABLE);
            }
        }
    }
    match command {
        Command::Version => return cli::version(),
        Command::GenDocs { out } => return cli::gen_docs(&out),
        Command::CheckConfig { json } => return cli::check_config(json),
        Command::HashRate { .. }
        | Command::Serve
        | Command::Migrate
        | Command::Bootstrap(_)
        | Command::Tenant(_)
        | Command::User(_)
        | Command::Client(_)
        | Command::Keys(_)
        | Command::Audit(_)
        | Command::ApiToken(_) => {}
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            cli::config_error(&e);
            return ExitCode::from(cli::EX_CONFIG);
        }
    };
    // Every command that opens the database obeys the same root rule as the daemon (refuse,
    // or drop to OPENTRUSTY_USER); `serve` applies it after taking its sockets.
    if !matches!(command, Command::Serve | Command::HashRate { .. }) {
        // And never on a SQLite file of another user (root's WAL files would lock the daemon out).
        match opentrusty::process::harden(&config)
            .and_then(|_| opentrusty::process::check_database_owner(&config))
        {
            Ok(_) => {}
            Err(e) => {
                eprintln!("opentrusty: {e}");
                return ExitCode::from(cli::EX_NOPERM);
            }
        }
    }
    if matches!(
        command,
        Command::Bootstrap(_)
            | Command::Tenant(_)
            | Command::User(_)
            | Command::Client(_)
            | Command::Keys(_)
            | Command::Audit(_)
            | Command::ApiToken(_)
    ) {
        // Operator commands print their own results; only warnings and errors are logged.
        logging::init("warn", config.log_format);
        return cli::identity::run(config, command);
    }
    if let Command::HashRate {
        threads,
        seconds,
        json,
    } = command
    {
        return cli::hash_rate(&config, threads, seconds, json);
    }
    let log = logging::init(&config.log_filter, config.log_format);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    match command {
        Command::Migrate => cli::migrate(config),
        _ => daemon::run(config, log),
    }
}
