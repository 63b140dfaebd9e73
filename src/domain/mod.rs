//! Plain types and their invariants: no I/O, no axum, no sqlx. Wire input becomes these types
//! at the edge ("parse, don't validate").

pub mod client;
pub mod ids;
pub mod role;
pub mod scope;
pub mod tenant;
pub mod user;
