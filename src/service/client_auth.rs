//! Client authentication at the back-channel endpoints (RFC 6749 §2.3, OIDC Core §9):
//! exactly one method per request, the registered method only, constant-time secret check.

use crate::app::App;
use crate::domain::client::{AuthMethod, Client, ClientKind};
use crate::domain::tenant::Tenant;
use crate::protocol::{Error, secret};

/// What the request presented.
#[derive(Clone)]
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    pub method: AuthMethod,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Presented({} via {})",
            self.client_id,
            self.method.as_str()
        )
    }
}

/// A hash to compare against when the client is unknown, so both paths cost the same.
const NO_SECRET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Logs the detail and returns the opaque RFC `server_error`, or `temporarily_unavailable`
/// for a database outage (see [`super::protocol_failure`]).
pub fn internal(e: impl std::fmt::Display + 'static) -> Error {
    super::protocol_failure(e)
}

/// The authenticated client, or `invalid_client` (RFC 6749 §5.2) for any mismatch. Reads
/// through the node's client cache, outside any write transaction.
pub async fn authenticate(app: &App, tenant: &Tenant, p: &Presented) -> Result<Client, Error> {
    let found = app
        .clients
        .get(app, tenant, &p.client_id)
        .await
        .map_err(internal)?;
    let unknown = || Error::invalid_client("client authentication failed");
    let Some(entry) = found else {
        if let Some(s) = &p.secret {
            let _ = secret::verify(s, NO_SECRET);
        }
        return Err(unknown());
    };
    let (client, hash) = (&entry.0, &entry.1);
    if client.auth_method != p.method {
        return Err(Error::invalid_client(format!(
            "this client authenticates with {}",
            client.auth_method.as_str()
        )));
    }
    match (client.kind, &p.secret, hash) {
        (ClientKind::Public, None, _) => Ok(client.clone()),
        (ClientKind::Confidential, Some(s), Some(h)) if secret::verify(s, h) => Ok(client.clone()),
        _ => Err(unknown()),
    }
}
