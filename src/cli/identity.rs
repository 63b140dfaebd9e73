//! Operator commands for tenants, bootstrap and the audit trail (users are in `users.rs`),
//! and how every operator command runs. They work on the same database as the daemon (SQLite
//! in WAL mode allows both at once). Every command accepts `--json`; errors print one line
//! and exit non-zero.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use super::users::user_json;
use crate::app::{App, AppState};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::tenant::Tenant;
use crate::service::authz::{self, Principal, grant};
use crate::service::manage::{self, PageRequest, tenants};
use crate::service::{self, Context, admin};
use crate::store::Store;

#[derive(Args, Debug)]
pub struct Output {
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BootstrapArgs {
    /// Email address of the first platform administrator.
    #[arg(long)]
    pub email: String,
    /// Read the password from this file (`-` for standard input); without it a strong
    /// password is generated and printed once.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    #[command(flatten)]
    pub out: Output,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only this tenant's events (without it: installation-wide events).
    #[arg(long)]
    pub tenant: Option<String>,
    /// How many of the newest events to show.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub limit: i64,
    #[command(flatten)]
    pub out: Output,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant; its issuer is {OPENTRUSTY_PUBLIC_URL}/t/SLUG.
    Create {
        /// Lowercase letters, digits and hyphens, 2 to 63 characters.
        slug: String,
        /// Display name shown on the login page (defaults to the slug).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Change a tenant's display name, second-factor policy or self-registration.
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args(["name", "mfa", "registration"])))]
    Update {
        slug: String,
        /// The display name shown on the login page.
        #[arg(long)]
        name: Option<String>,
        /// Second factors: `required` (a user without one enrols at the next login, before
        /// any code is issued) or `optional` (users who enrolled one are asked for it).
        #[arg(long, value_parser = ["optional", "required"])]
        mfa: Option<String>,
        /// Self-registration at `{issuer}/register`: `open` (anyone may sign up; the account
        /// works once its address is proven; needs mail) or `closed` (the default).
        #[arg(long, value_parser = ["open", "closed"])]
        registration: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Disable a tenant: its endpoints answer 404 from then on, and every session and token
    /// of it ends.
    Disable {
        slug: String,
        #[command(flatten)]
        out: Output,
    },
    /// Enable a disabled tenant again (its ended sessions and tokens stay ended).
    Enable {
        slug: String,
        #[command(flatten)]
        out: Output,
    },
}

/// Runs one operator command on a one-shot runtime against the configured database.
pub fn run(config: Config, command: super::Command) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    rt.block_on(async move {
        let app = match open(config).await {
            Ok(app) => app,
            Err(e) => return fail(&e),
        };
        let result = match command {
            super::Command::Bootstrap(args) => bootstrap(&app, args).await,
            super::Command::Tenant(cmd) => tenant(&app, cmd).await,
            super::Command::User(cmd) => super::users::user(&app, cmd).await,
            super::Command::Client(cmd) => super::oauth::client(&app, cmd).await,
            super::Command::Keys(cmd) => super::oauth::keys(&app, cmd).await,
            super::Command::Audit(args) => audit(&app, args).await,
            super::Command::ApiToken(cmd) => super::api_tokens::api_token(&app, cmd).await,
            _ => Err(service::Error::Internal("not an operator command".into())),
        };
        app.store.close().await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&describe(&e)),
        }
    })
}

async fn open(config: Config) -> Result<AppState, String> {
    let store = Store::connect(&config.database_url, 2).await.map_err(|e| {
        format!(
            "cannot open the database {}: {e}",
            config.database_url.redacted()
        )
    })?;
    store
        .migrate()
        .await
        .map_err(|e| format!("database migration failed: {e}"))?;
    App::new(config, store, Clock::System, None).map_err(|e| describe(&e))
}

fn describe(e: &service::Error) -> String {
    match e {
        service::Error::NotFound(what) => format!("{what} not found"),
        service::Error::Internal(detail) => format!("internal error: {detail}"),
        other => other.to_string(),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("opentrusty: error: {msg}");
    ExitCode::FAILURE
}

pub(super) fn read_password(path: &PathBuf) -> service::Result<String> {
    let mut s = String::new();
    let res = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut s).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|v| s = v)
    };
    res.map_err(|e| {
        service::Error::Invalid(format!("cannot read password file {}: {e}", path.display()))
    })?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

fn tenant_json(t: &Tenant, app: &App) -> serde_json::Value {
    json!({
        "id": t.id, "slug": t.slug, "name": t.display_name, "status": t.status,
        "mfa": t.mfa.as_str(), "registration": t.registration.as_str(), "issuer": t.issuer(&app.config.public_url), "created_at": t.created_at,
    })
}

pub(super) fn print(out: &Output, value: serde_json::Value, text: String) {
    if out.json {
        println!("{value}")
    } else {
        println!("{text}")
    }
}

async fn bootstrap(app: &App, args: BootstrapArgs) -> service::Result<()> {
    let (password, generated) = match &args.password_file {
        Some(p) => (read_password(p)?, false),
        None => (crate::service::sessions::random_token(), true),
    };
    let (tenant, user) = admin::bootstrap(app, &args.email, &password, &Context::cli()).await?;
    // The generated password goes to the terminal only, never to a log.
    let mut value =
        json!({ "tenant": tenant_json(&tenant, app), "user": user_json(&user, app.clock.now()) });
    let mut text = format!(
        "created platform administrator {} in tenant {}",
        user.email, tenant.slug
    );
    if generated {
        value["password"] = json!(password);
        text.push_str(&format!("\npassword (shown once): {password}"));
    }
    print(&args.out, value, text);
    Ok(())
}

/// The operator at this host, as the use cases know a caller: a `platform` owner, the same
/// principal the daemon makes of a peer on its admin socket (audited as `local:<user>`).
pub(super) fn operator() -> Principal {
    Principal::local_operator(&crate::process::user_name(nix::unistd::Uid::effective()))
}

/// The tenant commands run the management API's use cases (`service::manage::tenants`),
/// authorized like an API request: one rule for both surfaces.
async fn tenant(app: &App, cmd: TenantCommand) -> service::Result<()> {
    let me = operator();
    let ctx = Context::cli();
    match cmd {
        TenantCommand::Create { slug, name, out } => {
            let auth = authz::authorize_platform::<grant::TenantsManage>(&me, &ctx)?;
            let t = tenants::create(app, &auth, &slug, name.as_deref()).await?;
            let issuer = t.issuer(&app.config.public_url);
            print(
                &out,
                tenant_json(&t, app),
                format!("created tenant {} (issuer {issuer})", t.slug),
            );
        }
        TenantCommand::List { out } => {
            let auth = authz::authorize_platform::<grant::TenantsRead>(&me, &ctx)?;
            let mut all = Vec::new();
            let mut page = PageRequest {
                limit: Some(manage::MAX_LIMIT),
                cursor: None,
            };
            loop {
                let p = tenants::list(app, &auth, &page).await?;
                all.extend(p.items);
                match p.next_cursor {
                    Some(c) => page.cursor = Some(c),
                    None => break,
                }
            }
            let value = json!(all.iter().map(|t| tenant_json(t, app)).collect::<Vec<_>>());
            let text = all
                .iter()
                .map(|t| {
                    format!(
                        "{}\t{}\t{}\tmfa={}",
                        t.slug,
                        t.status.as_str(),
                        t.display_name,
                        t.mfa.as_str()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(&out, value, text);
        }
        TenantCommand::Update {
            slug,
            name,
            mfa,
            registration,
            out,
        } => {
            let auth = authz::authorize_slug::<grant::TenantWrite>(app, &me, &slug, &ctx).await?;
            let mut t = auth.tenant().clone();
            let mut lines = Vec::new();
            if let Some(name) = name {
                t = tenants::update(app, &auth, &name).await?;
                lines.push(format!("renamed tenant {} to {:?}", t.slug, t.display_name));
            }
            if let Some(mfa) = mfa {
                t = tenants::set_mfa(app, &auth, &mfa).await?;
                lines.push(mfa_line(&t));
            }
            if let Some(r) = registration {
                t = tenants::set_registration(app, &auth, &r).await?;
                lines.push(registration_text(t.slug.as_str(), t.registration.as_str()));
            }
            print(&out, tenant_json(&t, app), lines.join("\n"));
        }
        TenantCommand::Disable { slug, out } => {
            let auth = authz::authorize_slug::<grant::TenantsManage>(app, &me, &slug, &ctx).await?;
            let t = tenants::disable(app, &auth).await?;
            print(
                &out,
                tenant_json(&t, app),
                format!(
                    "disabled tenant {}; its sessions and tokens were ended",
                    t.slug
                ),
            );
        }
        TenantCommand::Enable { slug, out } => {
            let auth = authz::authorize_slug::<grant::TenantsManage>(app, &me, &slug, &ctx).await?;
            let t = tenants::enable(app, &auth).await?;
            print(
                &out,
                tenant_json(&t, app),
                format!("enabled tenant {}", t.slug),
            );
        }
    }
    Ok(())
}

/// What `tenant update --mfa` says it did (offline and through the daemon alike).
pub(super) fn mfa_line(t: &Tenant) -> String {
    mfa_text(t.slug.as_str(), t.mfa.as_str())
}

pub(super) fn mfa_text(slug: &str, mfa: &str) -> String {
    match mfa {
        "required" => format!(
            "tenant {slug}: second factors required (users without one enrol at their next login)"
        ),
        _ => format!("tenant {slug}: second factors optional"),
    }
}

/// What `tenant update --registration` says it did (offline and through the daemon alike).
pub(super) fn registration_text(slug: &str, registration: &str) -> String {
    match registration {
        "open" => format!(
            "tenant {slug}: self-registration open (when mail is configured; accounts work once their address is verified)"
        ),
        _ => format!("tenant {slug}: self-registration closed"),
    }
}

async fn audit(app: &App, args: AuditArgs) -> service::Result<()> {
    let tenant = match &args.tenant {
        Some(slug) => Some(admin::tenant(app, slug).await?),
        None => None,
    };
    let rows = service::audit::list(app, tenant.as_ref(), args.limit).await?;
    let when = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .ok()
            .and_then(|d| {
                d.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| t.to_string())
    };
    let value = json!(rows);
    let text = rows
        .iter()
        .map(|r| {
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            format!(
                "{}  {:<18} actor={} target={} ip={} {}",
                when(r.created_at),
                r.event_type,
                o(&r.actor),
                o(&r.target),
                o(&r.ip),
                r.metadata
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    print(&args.out, value, text);
    Ok(())
}
