//! OpenTrusty: a multi-tenant OAuth 2.0 / OpenID Connect identity provider, shipped as one
//! static binary that runs as a systemd-native daemon.
//!
//! Module map (dependencies point one way: `web -> service -> {protocol, store} -> domain`):

/// Composition root: shared `App` state, `run(listeners, shutdown)` with a bounded drain.
pub mod app;
/// The command line (clap) and the one-shot subcommands.
pub mod cli;
/// The only place that reads the wall clock.
pub mod clock;
/// Configuration from `OPENTRUSTY_*` variables, `*_FILE` and systemd credentials.
pub mod config;
/// The `serve` lifecycle: start-up order, signals, reload, watchdog.
pub mod daemon;
/// Plain types and invariants: ids, tenants, users, clients, redirect URIs, scopes.
pub mod domain;
/// systemd-style environment files (re-read on SIGHUP).
pub mod envfile;
/// Tracing subscriber: journald, text or JSON; reloadable filter.
pub mod logging;
/// Process hygiene: root refusal or privilege drop, umask, non-dumpable.
pub mod process;
/// Use cases: the only place that opens transactions (login, sessions, audit, admin).
pub mod service;
/// Persistence over SQLite and PostgreSQL; the only module that names sqlx.
pub mod store;
/// The systemd surface: socket activation, sd_notify, watchdog, journald layer.
pub mod systemd;
/// HTTP transport (axum): routers per plane, middleware, error rendering.
pub mod web;
