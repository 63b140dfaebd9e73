//! `opentrusty`: parse the command line, load the configuration, start logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use opentrusty::cli::{self, Cli, Command};
use opentrusty::{config::Config, daemon, logging};

#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    match command {
        Command::Version => return cli::version(),
        Command::GenDocs { out } => return cli::gen_docs(&out),
        Command::CheckConfig { json } => return cli::check_config(json),
        Command::Serve | Command::Migrate => {}
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            cli::config_error(&e);
            return ExitCode::from(cli::EX_CONFIG);
        }
    };
    let log = logging::init(&config.log_filter, config.log_format);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    match command {
        Command::Migrate => cli::migrate(config),
        _ => daemon::run(config, log),
    }
}
