//! Integration tests: one binary (fast linking), one module per concern.

mod common;

mod access_log;
mod browser;
mod cli;

mod config_errors;
mod connections;
mod daemon;
mod group_commit;
mod identity;
mod journald;
mod login_pages;
mod oauth_authorize;
mod oauth_lifecycle;
mod oauth_suite;
mod oauth_world;
mod oidc_authlib;
mod oidc_browser;
mod oidc_rp;
mod restart_load;
mod storage;
