//! API tokens of a tenant, managed by its owners (`api_tokens:write` for listing too: a token
//! list names the automation that can act on the tenant, which viewers have no need to see).
//! Nobody creates a token with a role above their own.

use super::{Page, PageRequest};
use crate::app::App;
use crate::domain::role::Role;
use crate::service::Result;
use crate::service::api_tokens::{self, Created};
use crate::service::authz::Authorized;
use crate::service::authz::grant::ApiTokensWrite;
use crate::store::api_tokens::ApiTokenRow;

pub async fn list(
    app: &App,
    auth: &Authorized<ApiTokensWrite>,
    page: &PageRequest,
) -> Result<Page<ApiTokenRow>> {
    let (limit, after) = page.checked()?;
    let rows = api_tokens::page(app, auth.tenant(), after, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |t| t.id.clone()))
}

/// Creates a token; `expires_in` is seconds or `45s`, `15m`, `12h`, `30d`
/// (`api_tokens::parse_lifetime`). A role above the caller's is `Forbidden`.
pub async fn create(
    app: &App,
    auth: &Authorized<ApiTokensWrite>,
    name: &str,
    role: Role,
    expires_in: &str,
) -> Result<Created> {
    let lifetime = api_tokens::parse_lifetime(expires_in)?;
    let creator = Some(auth.role());
    api_tokens::create(
        app,
        auth.tenant(),
        name,
        role,
        lifetime,
        creator,
        auth.ctx(),
    )
    .await
}

pub async fn revoke(app: &App, auth: &Authorized<ApiTokensWrite>, id: &str) -> Result<()> {
    api_tokens::revoke(app, auth.tenant(), id, auth.ctx()).await
}
