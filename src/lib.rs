//! OpenTrusty: a multi-tenant OAuth 2.0 / OpenID Connect identity provider, shipped as one
//! static binary that runs as a systemd-native daemon.
//!
//! Module map (dependencies point one way: `web -> service -> {protocol, store} -> domain`).
//! Additions to the DESIGN §6 layout, on purpose: `daemon`, `logging`, `process` and `envfile`
//! keep `main.rs` and `systemd.rs` small; `cli/` has one file per command group. One exception
//! to "only `service` opens transactions": `store::group` commits the codes and tokens of many
//! requests together (group commit); what each request writes atomically, a `WriteSet`, is
//! still decided in `service`. Outside `src/`:
//! `bench/` holds the benchmarks behind `make bench`, and `askama.toml` points the template
//! engine at `src/web/ui/templates/` (the console's under `console/` there).

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
/// Process hygiene: root refusal or privilege drop, umask, non-dumpable, no huge pages.
pub mod process;
/// OAuth 2.0 / OIDC rules as pure functions taking `now`, and the JOSE helpers (JWS, JWK,
/// thumbprints over aws-lc-rs) in `protocol::jose`; TOTP (RFC 6238) in `protocol::totp`.
pub mod protocol;
/// Use cases: the only place that opens transactions (login, sessions, audit, admin), apart
/// from the batches of `store::group`. `service::authz` authenticates management callers and
/// alone constructs the proofs of permission (`Authorized<G>`) that every management use case
/// in `service::manage` takes, for the API and the CLI alike. Second factors (TOTP, passkeys
/// over webauthn-rs in `factors::webauthn*`, recovery codes, the policy that asks for them) in
/// `service::factors`. Mail (issue 13): rendered and queued in the outbox inside the causing
/// transaction by `service::mail`, delivered by its sender; the single-use links it carries in
/// `service::links`. The self-service use cases: `service::account` (the account page's
/// profile, password, sessions, applications), `service::reset` and `service::invite` (a
/// password set through a mailed link), `service::verify` and `service::register`.
pub mod service;
/// Persistence over SQLite and PostgreSQL; the only module that names sqlx. Group commit for
/// codes and tokens in `store::group`.
pub mod store;
/// The systemd surface: socket activation, sd_notify, watchdog, journald layer.
pub mod systemd;
/// HTTP transport (axum on hyper): the accept loop with connection deadlines and drain
/// (`web::conn`), routers per plane, middleware, error rendering; the management REST API
/// and its generated OpenAPI document in `web::api` (admin plane only); the admin console in
/// `web::console` (admin plane only), with its use cases in `service::console`; the login,
/// second-factor and account pages of each tenant in `web::ui` (with the passkey ceremonies'
/// JSON endpoints in `web::ui::passkey*` and the pages' one script).
pub mod web;
