//! Integration tests: one binary (fast linking), one module per concern.

mod common;

mod config_errors;
mod daemon;
mod identity;
mod journald;
mod storage;
