//! The management API (issue 10), driven through the admin plane's router the way a script
//! or the console would call it: harness, per-resource suites and the authorization matrix.

mod api_tokens;
mod audit;
mod callers;
mod clients;
mod console_client;
pub(crate) mod factors;
pub(crate) mod harness;
mod keys;
mod matrix;
mod relying_party;
mod tenants;
mod user_sessions;
mod users;
