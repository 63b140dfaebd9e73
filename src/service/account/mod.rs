//! The signed-in user's own account (issue 13): profile claims (`profile`), a password change
//! (`password`), the live sessions (`sessions`) and the applications consented to (`apps`).
//! Every use case acts on the user of the caller's session only: an id read from a form is
//! looked up among that user's rows in that tenant, so another user's or tenant's id is
//! "not found". Every change is audited with the user as actor and `via: account`.

pub mod apps;
pub mod password;
pub mod profile;
pub mod sessions;

use crate::domain::user::User;
use crate::service::Context;

/// The audit context of a change the user makes on their own account page.
fn own(ctx: &Context, user: &User) -> Context {
    Context {
        actor: Some(format!("user:{}", user.id)),
        via: Some("account"),
        ..ctx.clone()
    }
}
