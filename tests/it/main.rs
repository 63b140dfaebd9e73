//! Integration tests: one binary (fast linking), one module per concern.

mod common;

mod config_errors;
mod daemon;
mod journald;
mod storage;
