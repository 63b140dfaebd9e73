//! Integration tests: one binary (fast linking), one module per concern.

mod common;

mod browser;
mod cli;

mod config_errors;
mod daemon;
mod identity;
mod journald;
mod login_pages;
mod storage;
