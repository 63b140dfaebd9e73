//! Integration tests: one binary (fast linking), one module per concern.

mod common;

mod access_log;
mod audit_retention;
mod browser;
mod caches;
mod cli;
mod cli_credentials;
mod cli_roles;
mod cli_safety;
mod client_access;
mod config_errors;
mod connections;
mod credentials;
mod daemon;
mod group_commit;
mod hostile;
mod identity;
mod journald;
mod login_limits;
mod login_pages;
mod native_apps;
mod oauth_authorize;
mod oauth_lifecycle;
mod oauth_suite;
mod oauth_world;
mod oidc_authlib;
mod oidc_browser;
mod oidc_rp;
mod oidc_surface;
mod outage;
mod restart_load;
mod roles;
mod storage;
mod tenant_cookies;
mod throttle;
