//! Plain types and their invariants: no I/O, no axum, no sqlx. Wire input becomes these types
//! at the edge ("parse, don't validate").

pub mod ids;
pub mod tenant;
pub mod user;
