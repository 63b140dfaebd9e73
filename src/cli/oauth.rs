//! Operator commands for OAuth clients and signing keys: `client create|list|update|
//! rotate-secret|disable|enable|delete` and `keys rotate|list`. Secrets are printed once, to
//! standard output only.

use clap::{Args, Subcommand};
use serde_json::json;

use super::identity::Output;
use crate::app::App;
use crate::domain::client::{Client, SigningAlg};
use crate::protocol::keyring;
use crate::service::{self, Context, admin, clients, keys};

#[derive(Args, Debug)]
pub struct ClientSpec {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// A human name shown on the consent page.
    #[arg(long)]
    pub name: String,
    /// A registered redirect URI (exact match); repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// A registered post-logout redirect URI; repeat for several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (SPA, native app): no secret, PKCE required.
    #[arg(long)]
    pub public: bool,
    /// An allowed grant type; repeat (default: authorization_code and refresh_token).
    #[arg(long = "grant", value_name = "GRANT")]
    pub grants: Vec<String>,
    /// An allowed scope; repeat (default: openid profile email offline_access).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// client_secret_basic (default) or client_secret_post.
    #[arg(long)]
    pub auth_method: Option<String>,
    /// id_token signing algorithm: RS256 (default), ES256 or EdDSA.
    #[arg(long)]
    pub id_token_alg: Option<String>,
    /// A first-party client: no consent page.
    #[arg(long)]
    pub first_party: bool,
    /// Require PKCE even though the client is confidential.
    #[arg(long)]
    pub require_pkce: bool,
    /// Accept code_challenge_method=plain (off by default).
    #[arg(long)]
    pub allow_plain_pkce: bool,
    /// Copy profile and email claims into the id_token too.
    #[arg(long)]
    pub claims_in_id_token: bool,
    /// May introspect access tokens of the tenant's other clients (a resource server);
    /// every client may introspect its own.
    #[arg(long)]
    pub introspection: bool,
    /// Every login for this client needs a second factor, whatever the tenant's policy
    /// (`--require-mfa` is `--require-mfa=true`).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub require_mfa: Option<bool>,
    #[arg(long, value_name = "SECONDS")]
    pub access_token_ttl: Option<i64>,
    #[arg(long, value_name = "SECONDS")]
    pub refresh_token_ttl: Option<i64>,
    #[arg(long, value_name = "SECONDS")]
    pub id_token_ttl: Option<i64>,
    #[command(flatten)]
    pub out: Output,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a client; prints its client_id and, for confidential clients, the secret once.
    Create(Box<ClientSpec>),
    /// List a tenant's clients.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        out: Output,
    },
    /// Change a client's settings.
    Update {
        #[arg(long)]
        tenant: String,
        /// The client's id (one that begins with `-` is taken as an id, not an option).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// Allow (true) or withdraw (false) introspecting other clients' access tokens.
        #[arg(long, value_name = "BOOL")]
        introspection: Option<bool>,
        /// Every login for this client needs a second factor (`--require-mfa` or
        /// `--require-mfa=true`; `--require-mfa=false` withdraws it).
        #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        require_mfa: Option<bool>,
        #[command(flatten)]
        out: Output,
    },
    /// Disable a client: it can no longer authenticate or start a flow, and its tokens are
    /// revoked.
    Disable {
        #[arg(long)]
        tenant: String,
        /// The client's id (one that begins with `-` is taken as an id, not an option).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Enable a disabled client again (its revoked tokens stay revoked).
    Enable {
        #[arg(long)]
        tenant: String,
        /// The client's id (one that begins with `-` is taken as an id, not an option).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Replace a confidential client's secret; the old one stops working at once.
    RotateSecret {
        #[arg(long)]
        tenant: String,
        /// The client's id (one that begins with `-` is taken as an id, not an option).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[command(flatten)]
        out: Output,
    },
    /// Delete a client with its codes, tokens and consents.
    Delete {
        #[arg(long)]
        tenant: String,
        /// The client's id (one that begins with `-` is taken as an id, not an option).
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add the next signing key: published now, signing after --activate-in seconds.
    Rotate {
        #[arg(long)]
        tenant: String,
        /// RS256 (default), ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
        /// Seconds until the new key signs (default: one hour, so caches see it first).
        #[arg(long, default_value_t = keyring::PUBLISH_LEAD)]
        activate_in: i64,
        #[command(flatten)]
        out: Output,
    },
    /// List a tenant's signing keys and their state.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        out: Output,
    },
}

fn print(out: &Output, value: serde_json::Value, text: String) {
    if out.json {
        println!("{value}")
    } else {
        println!("{text}")
    }
}

fn client_json(c: &Client) -> serde_json::Value {
    json!(c)
}

pub async fn client(app: &App, cmd: ClientCommand) -> service::Result<()> {
    let ctx = Context::cli();
    match cmd {
        ClientCommand::Create(spec) => {
            let tenant = admin::tenant(app, &spec.tenant).await?;
            let input = clients::NewClient {
                name: spec.name,
                redirect_uris: spec.redirect_uris,
                post_logout_redirect_uris: spec.post_logout_redirect_uris,
                public: spec.public,
                grant_types: spec.grants,
                scopes: (!spec.scopes.is_empty()).then(|| spec.scopes.join(" ")),
                id_token_alg: spec.id_token_alg,
                auth_method: spec.auth_method,
                first_party: spec.first_party,
                allow_plain_pkce: spec.allow_plain_pkce,
                require_pkce: spec.require_pkce,
                claims_in_id_token: spec.claims_in_id_token,
                introspection: spec.introspection,
                require_mfa: spec.require_mfa.unwrap_or(false),
                access_token_ttl: spec.access_token_ttl,
                refresh_token_ttl: spec.refresh_token_ttl,
                id_token_ttl: spec.id_token_ttl,
            };
            let created = clients::create(app, &tenant, &input, &ctx).await?;
            let mut value = client_json(&created.client);
            let mut text = format!("client_id: {}", created.client.client_id);
            if let Some(s) = &created.secret {
                value["client_secret"] = json!(s);
                text.push_str(&format!("\nclient_secret (shown once): {s}"));
            }
            print(&spec.out, value, text);
        }
        ClientCommand::List { tenant, out } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let all = clients::list(app, &tenant).await?;
            let text = all
                .iter()
                .map(|c| {
                    format!(
                        "{}\t{:?}\t{}\t{}",
                        c.client_id,
                        c.kind,
                        c.status.as_str(),
                        c.name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(&out, json!(all), text);
        }
        ClientCommand::Update {
            tenant,
            client_id,
            introspection,
            require_mfa,
            out,
        } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let changes = clients::ClientChanges {
                introspection,
                require_mfa,
                ..clients::ClientChanges::default()
            };
            let c = clients::change(app, &tenant, &client_id, &changes, &ctx).await?;
            print(
                &out,
                client_json(&c),
                format!("updated client {}", c.client_id),
            );
        }
        ClientCommand::Disable {
            tenant,
            client_id,
            out,
        } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let c = clients::disable(app, &tenant, &client_id, &ctx).await?;
            print(
                &out,
                client_json(&c),
                format!("disabled client {}; its tokens were revoked", c.client_id),
            );
        }
        ClientCommand::Enable {
            tenant,
            client_id,
            out,
        } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let c = clients::enable(app, &tenant, &client_id, &ctx).await?;
            print(
                &out,
                client_json(&c),
                format!("enabled client {}", c.client_id),
            );
        }
        ClientCommand::RotateSecret {
            tenant,
            client_id,
            out,
        } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let s = clients::rotate_secret(app, &tenant, &client_id, &ctx).await?;
            print(
                &out,
                json!({ "client_id": client_id, "client_secret": s }),
                format!("client_secret (shown once): {s}"),
            );
        }
        ClientCommand::Delete {
            tenant,
            client_id,
            out,
        } => {
            let tenant = admin::tenant(app, &tenant).await?;
            clients::delete(app, &tenant, &client_id, &ctx).await?;
            print(
                &out,
                json!({ "deleted": client_id }),
                format!("deleted client {client_id}"),
            );
        }
    }
    Ok(())
}

pub async fn keys(app: &App, cmd: KeysCommand) -> service::Result<()> {
    let now = app.clock.now();
    match cmd {
        KeysCommand::Rotate {
            tenant,
            alg,
            activate_in,
            out,
        } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let alg = SigningAlg::parse(&alg).ok_or_else(|| {
                service::Error::Invalid("alg must be RS256, ES256 or EdDSA".into())
            })?;
            // The same audited use case as the API's rotation (it creates the first key of an
            // alg active, since a rotation needs one to rotate from).
            let k = keys::rotate_audited(app, &tenant, alg, activate_in, &Context::cli()).await?;
            print(
                &out,
                json!({ "kid": k.kid, "alg": alg.as_str(), "generation": k.generation, "activates_at": k.activates_at }),
                format!(
                    "new {alg} key {} (generation {}) is published now and signs from {}",
                    k.kid, k.generation, k.activates_at
                ),
            );
        }
        KeysCommand::List { tenant, out } => {
            let tenant = admin::tenant(app, &tenant).await?;
            let metas = keys::metas(app, &tenant).await?;
            let state = |m: &keyring::KeyMeta| {
                if m.activates_at > now {
                    "next"
                } else if keyring::active(&metas, m.alg, now).is_some_and(|a| a.kid == m.kid) {
                    "active"
                } else if keyring::is_published(&metas, m, now) {
                    "retired"
                } else {
                    "expired"
                }
            };
            let value = json!(
                metas
                    .iter()
                    .map(|m| json!({
                        "kid": m.kid, "alg": m.alg.as_str(), "generation": m.generation,
                        "activates_at": m.activates_at, "state": state(m),
                    }))
                    .collect::<Vec<_>>()
            );
            let text = metas
                .iter()
                .map(|m| format!("{}\t{}\t{}\t{}", m.alg, m.generation, state(m), m.kid))
                .collect::<Vec<_>>()
                .join("\n");
            print(&out, value, text);
        }
    }
    Ok(())
}
