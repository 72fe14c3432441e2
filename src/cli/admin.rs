//! Admin commands run straight against the store `serve` uses (SQLite in the data directory, or
//! `--database-url`): gateway keys, workspaces, providers, configs, and applying a settings
//! file's `catalog:` section. Every write goes through the repository as actor `cli` (or `file`
//! for `config apply`), so it lands in the audit log; a running gateway sees it within about a
//! second (SQLite: version polling; PostgreSQL: NOTIFY).
//!
//! Bad input fails with a message naming the flag and exit code 2; store failures with 1.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use portcullis_control::apikey;
use portcullis_control::crypto::Sealer;
use portcullis_control::model::{ApiKey, Integration, KeyType, Provider, Status, Workspace};
use portcullis_control::repo::{IntegrationScope, ListQuery, Repository};
use portcullis_core::limits::{
    PeriodicReset, RateKind, RateLimit, RateUnit, UsageKind, UsageLimit,
};
use portcullis_server::declarative::{
    self, ApplyError, ApplyOptions, ApplySummary, Catalog, ConfigSpec, DefaultsSpec, KeySpec, Mode,
    ProviderSpec, RateLimitSpec, UsageLimitSpec, WorkspaceSpec,
};
use portcullis_server::{Settings, startup};
use portcullis_store::Store;
use serde_json::{Value, json};

/// How an admin command failed: bad input (exit 2) or a failing store (exit 1).
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Runtime(String),
}

type Res<T = ()> = Result<T, Failure>;

fn usage(m: impl Into<String>) -> Failure {
    Failure::Usage(m.into())
}

fn runtime(m: impl std::fmt::Display) -> Failure {
    Failure::Runtime(m.to_string())
}

/// Where the store is, found exactly as `serve` finds it.
#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// Gateway settings file (YAML), read for data_dir, database_url and trusted_custom_hosts.
    #[arg(
        long,
        env = "PORTCULLIS_CONFIG",
        alias = "settings",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// The gateway's data directory [default: ./data].
    #[arg(long, env = "PORTCULLIS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` (or `sqlite://…`) [default: SQLite in the data dir].
    #[arg(long, env = "PORTCULLIS_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a gateway key. The key is printed once, on standard output; only its hash is kept.
    Create(KeyCreateArgs),
    /// List gateway keys (their visible prefix only, never the key).
    List(ListArgs),
    /// Revoke a key: it stops working (within about a second on a running gateway) and is kept.
    Revoke {
        /// The key's id (see `keys list`).
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a key.
    Delete {
        /// The key's id (see `keys list`).
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args, Debug)]
pub struct KeyCreateArgs {
    /// An organisation admin key, with every scope an organisation key may hold (the admin API).
    #[arg(
        long,
        conflicts_with = "workspace",
        required_unless_present = "workspace"
    )]
    pub admin: bool,
    /// A workspace service key of this workspace (slug or id; `default` is the default one).
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: Option<String>,
    /// [default: `admin` for admin keys, `service` for workspace keys]
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Comma-separated scopes [default: completions.write,logs.view; admin keys: every
    /// organisation scope].
    #[arg(long, value_delimiter = ',', value_name = "SCOPE,…")]
    pub scopes: Option<Vec<String>>,
    /// A rate limit, `[requests|tokens:]rps|rpm|rph|rpd:N` (e.g. `requests:rpm:100`); repeatable.
    #[arg(long = "rate-limit", value_name = "LIMIT")]
    pub rate_limits: Vec<String>,
    /// A budget, `[cost|tokens:]LIMIT[:daily|weekly|monthly][:alert=N]` (cost in USD, e.g.
    /// `cost:50:monthly:alert=40`).
    #[arg(long, value_name = "BUDGET")]
    pub budget: Option<String>,
    /// Per end user (`_user` metadata): a rate limit or one budget, same syntax; repeatable.
    #[arg(long = "user-limit", value_name = "LIMIT")]
    pub user_limits: Vec<String>,
    /// A saved config (slug) used when a request sends none.
    #[arg(long, value_name = "CONFIG")]
    pub default_config: Option<String>,
    /// Print `{"id", "key", …}` as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this workspace's (slug or id).
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand, Debug)]
pub enum WorkspacesCommand {
    /// Create a workspace.
    Create {
        /// Its display name.
        name: String,
        /// [default: `ws-<name>-<6 hex>`]
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List workspaces.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProvidersCommand {
    /// Create a provider (`@slug`) in a workspace: its credentials become a workspace
    /// integration (the key sealed with the master key) that the provider draws on.
    Create(ProviderCreateArgs),
    /// List providers.
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct ProviderCreateArgs {
    /// The workspace (slug or id).
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: String,
    /// What requests name: `@<slug>/<model>`.
    #[arg(long)]
    pub slug: String,
    /// The provider kind: `openai`, `anthropic`, `azure-openai`, `google`, …
    #[arg(long, value_name = "KIND")]
    pub provider: String,
    /// The environment variable holding the provider's API key (left out: keyless providers).
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Send this provider's requests to this base URL (subject to trusted_custom_hosts).
    #[arg(long, value_name = "URL")]
    pub custom_host: Option<String>,
    /// Comma-separated models allowed [default: every model].
    #[arg(long, value_delimiter = ',', value_name = "MODEL,…")]
    pub models: Option<Vec<String>>,
    /// [default: the slug]
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand, Debug)]
pub enum ConfigsCommand {
    /// Save a Portkey config; prints its `pc-…` slug (what `x-portkey-config` names).
    Create {
        /// The workspace (slug or id) [default: organisation-wide].
        #[arg(long, value_name = "WORKSPACE")]
        workspace: Option<String>,
        #[arg(long)]
        name: String,
        /// The config JSON (`-` reads standard input).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List saved configs.
    List(ListArgs),
}

// ------------------------------------------------------------------------------------------
// Store access
// ------------------------------------------------------------------------------------------

fn settings(args: &StoreArgs) -> Res<Settings> {
    let mut settings = match &args.config {
        Some(path) => Settings::from_file(path).map_err(|e| usage(format!("--config: {e}")))?,
        None => Settings::default(),
    };
    if let Some(dir) = &args.data_dir {
        settings.server.data_dir = dir.clone();
    }
    if let Some(url) = &args.database_url {
        settings.governance.database_url = Some(url.clone());
    }
    Ok(settings)
}

struct Ctx {
    settings: Settings,
    store: Store,
}

impl Ctx {
    async fn open(args: &StoreArgs) -> Res<Ctx> {
        let settings = settings(args)?;
        let store = startup::open_store(&settings).await.map_err(runtime)?;
        Ok(Ctx { settings, store })
    }

    fn repo(&self) -> &dyn Repository {
        &self.store
    }

    /// The master key, as `serve` loads it (created in the data dir on first use for SQLite).
    fn sealer(&self) -> Res<Sealer> {
        startup::sealer(&self.settings).map_err(runtime)
    }

    fn options(&self) -> Res<ApplyOptions> {
        Ok(ApplyOptions {
            actor: declarative::cli_actor(),
            hosts: portcullis_config::HostPolicy::with_trusted(&self.settings.trusted_custom_hosts)
                .map_err(|e| usage(format!("trusted_custom_hosts: {e}")))?,
            mode: Mode::Cli,
            ..ApplyOptions::default()
        })
    }

    /// Creates through the declarative planner (same checks as the file), in CLI mode.
    async fn create(&self, catalog: Catalog, sealer: &Sealer) -> Res<ApplySummary> {
        declarative::ensure_default_workspace(self.repo(), &declarative::cli_actor())
            .await
            .map_err(runtime)?;
        let opts = self.options()?;
        declarative::apply_detailed(self.repo(), sealer, &catalog, &opts)
            .await
            .map_err(|e| match e {
                ApplyError::Invalid(m) => usage(m),
                ApplyError::Store(m) => runtime(m),
            })
    }

    async fn workspace(&self, flag: &str, r: &str) -> Res<Workspace> {
        self.repo()
            .get_workspace(r)
            .await
            .map_err(runtime)?
            .ok_or_else(|| usage(format!("{flag}: unknown workspace {r:?}")))
    }

    async fn workspaces(&self) -> Res<Vec<Workspace>> {
        Ok(self
            .repo()
            .list_workspaces(&ListQuery::default())
            .await
            .map_err(runtime)?
            .items)
    }

    async fn close(self) {
        self.store.close().await;
    }
}

/// Keys and workspaces never seal anything: no master key is needed (PostgreSQL deployments
/// may run these without PORTCULLIS_MASTER_KEY).
fn unused_sealer() -> Sealer {
    Sealer::from_key(&[0u8; 32])
}

async fn with_ctx<F, T>(args: &StoreArgs, f: F) -> Res<T>
where
    F: AsyncFnOnce(&Ctx) -> Res<T>,
{
    let ctx = Ctx::open(args).await?;
    let out = f(&ctx).await;
    ctx.close().await;
    out
}

// ------------------------------------------------------------------------------------------
// Limits on the command line
// ------------------------------------------------------------------------------------------

fn rate_unit(s: &str) -> Option<RateUnit> {
    Some(match s {
        "rps" => RateUnit::Rps,
        "rpm" => RateUnit::Rpm,
        "rph" => RateUnit::Rph,
        "rpd" => RateUnit::Rpd,
        _ => return None,
    })
}

fn is_rate(s: &str) -> bool {
    s.split(':').any(|p| rate_unit(p.trim()).is_some())
}

/// `[requests|tokens:]rps|rpm|rph|rpd:N`.
pub fn parse_rate(flag: &str, s: &str) -> Result<RateLimitSpec, String> {
    let bad = || {
        format!(
            "{flag}: {s:?} is not a rate limit: use [requests|tokens:]rps|rpm|rph|rpd:N (e.g. requests:rpm:100)"
        )
    };
    let parts: Vec<&str> = s.split(':').map(str::trim).collect();
    let (kind, unit, value) = match parts.as_slice() {
        [unit, value] => (None, *unit, *value),
        [kind, unit, value] => (Some(*kind), *unit, *value),
        _ => return Err(bad()),
    };
    let kind = match kind {
        None | Some("requests") => RateKind::Requests,
        Some("tokens") => RateKind::Tokens,
        Some(_) => return Err(bad()),
    };
    let unit = rate_unit(unit).ok_or_else(bad)?;
    let value: u64 = value.parse().map_err(|_| bad())?;
    Ok(RateLimitSpec {
        kind: Some(kind),
        unit,
        value,
    })
}

/// `[cost|tokens:]LIMIT[:none|daily|weekly|monthly][:alert=N]`.
pub fn parse_budget(flag: &str, s: &str) -> Result<UsageLimitSpec, String> {
    let bad = || {
        format!(
            "{flag}: {s:?} is not a budget: use [cost|tokens:]LIMIT[:daily|weekly|monthly][:alert=N] (e.g. cost:50:monthly:alert=40)"
        )
    };
    let mut parts = s.split(':').map(str::trim).peekable();
    let kind = match parts.peek() {
        Some(&"cost") => {
            parts.next();
            UsageKind::Cost
        }
        Some(&"tokens") => {
            parts.next();
            UsageKind::Tokens
        }
        _ => UsageKind::Cost,
    };
    let limit: f64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let mut reset = None;
    let mut alert = None;
    for p in parts {
        if let Some(a) = p.strip_prefix("alert=") {
            alert = Some(a.parse::<f64>().map_err(|_| bad())?);
        } else if reset.is_none() {
            reset = Some(match p {
                "none" => PeriodicReset::None,
                "daily" => PeriodicReset::Daily,
                "weekly" => PeriodicReset::Weekly,
                "monthly" => PeriodicReset::Monthly,
                _ => return Err(bad()),
            });
        } else {
            return Err(bad());
        }
    }
    Ok(UsageLimitSpec {
        kind: Some(kind),
        credit_limit: limit,
        alert_threshold: alert,
        periodic_reset: reset,
    })
}

fn show_rate(r: &RateLimit) -> String {
    let kind = match r.kind {
        RateKind::Requests => "requests",
        RateKind::Tokens => "tokens",
    };
    let unit = match r.unit {
        RateUnit::Rps => "rps",
        RateUnit::Rpm => "rpm",
        RateUnit::Rph => "rph",
        RateUnit::Rpd => "rpd",
    };
    format!("{kind}:{unit}:{}", r.value)
}

fn show_budget(u: &UsageLimit) -> String {
    let kind = match u.kind {
        UsageKind::Cost => "cost",
        UsageKind::Tokens => "tokens",
    };
    let mut s = format!("{kind}:{}", u.credit_limit);
    match u.periodic_reset {
        PeriodicReset::None => {}
        PeriodicReset::Daily => s.push_str(":daily"),
        PeriodicReset::Weekly => s.push_str(":weekly"),
        PeriodicReset::Monthly => s.push_str(":monthly"),
    }
    if let Some(a) = u.alert_threshold {
        s.push_str(&format!(":alert={a}"));
    }
    s
}

fn show_limits(rates: &[RateLimit], usage: &Option<UsageLimit>) -> String {
    let mut parts: Vec<String> = rates.iter().map(show_rate).collect();
    if let Some(u) = usage {
        parts.push(show_budget(u));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

// ------------------------------------------------------------------------------------------
// Output
// ------------------------------------------------------------------------------------------

fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for r in rows {
        line(r);
    }
}

fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

fn iso(ms: i64) -> String {
    portcullis_admin::time::iso(ms)
}

fn ws_label(workspaces: &[Workspace], id: Option<&str>) -> String {
    match id {
        None => "-".into(),
        Some(id) => workspaces
            .iter()
            .find(|w| w.id == id)
            .map_or_else(|| id.to_owned(), |w| w.slug.clone()),
    }
}

fn key_status(k: &ApiKey) -> &'static str {
    if k.status == Status::Active
        && k.expires_at
            .is_some_and(|t| t <= portcullis_admin::time::now())
    {
        "expired"
    } else {
        k.status.as_str()
    }
}

// ------------------------------------------------------------------------------------------
// keys
// ------------------------------------------------------------------------------------------

pub async fn keys(cmd: KeysCommand) -> Res {
    match cmd {
        KeysCommand::Create(a) => {
            let store = a.store.clone();
            with_ctx(&store, async |ctx| key_create(ctx, a).await).await
        }
        KeysCommand::List(a) => with_ctx(&a.store, async |ctx| key_list(ctx, &a).await).await,
        KeysCommand::Revoke { id, store } => {
            with_ctx(&store, async |ctx| key_revoke(ctx, &id).await).await
        }
        KeysCommand::Delete { id, store } => {
            with_ctx(&store, async |ctx| key_delete(ctx, &id).await).await
        }
    }
}

async fn key_create(ctx: &Ctx, a: KeyCreateArgs) -> Res {
    let rate_limits = a
        .rate_limits
        .iter()
        .map(|s| parse_rate("--rate-limit", s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    let usage_limits = a
        .budget
        .as_deref()
        .map(|s| parse_budget("--budget", s))
        .transpose()
        .map_err(usage)?;
    let mut user_rates = Vec::new();
    let mut user_budget = None;
    for s in &a.user_limits {
        if is_rate(s) {
            user_rates.push(parse_rate("--user-limit", s).map_err(usage)?);
        } else if user_budget.is_some() {
            return Err(usage("--user-limit: at most one budget per end user"));
        } else {
            user_budget = Some(parse_budget("--user-limit", s).map_err(usage)?);
        }
    }
    let defaults = (a.default_config.is_some() || !user_rates.is_empty() || user_budget.is_some())
        .then(|| DefaultsSpec {
            config_id: a.default_config.clone(),
            user_rate_limits: user_rates,
            user_usage_limits: user_budget,
            ..DefaultsSpec::default()
        });
    if let Some(ws) = &a.workspace
        && ws.trim().is_empty()
    {
        return Err(usage("--workspace: must not be empty"));
    }
    let secret = apikey::generate();
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| if a.admin { "admin" } else { "service" }.to_owned());
    let spec = KeySpec {
        name,
        workspace: a.workspace.clone(),
        admin: a.admin,
        key_value: Some(secret.secret.clone()),
        description: a.description.clone(),
        scopes: a.scopes.clone(),
        rate_limits,
        usage_limits,
        defaults,
        ..KeySpec::default()
    };
    let summary = ctx
        .create(
            Catalog {
                keys: vec![spec],
                ..Catalog::default()
            },
            &unused_sealer(),
        )
        .await?;
    let entry = summary
        .entries
        .first()
        .ok_or_else(|| runtime("no key was created"))?;
    let k = ctx
        .repo()
        .get_api_key(&entry.id)
        .await
        .map_err(runtime)?
        .ok_or_else(|| runtime("the new key cannot be read back"))?;
    if a.json {
        print_json(&json!({
            "id": k.id,
            "key": secret.secret,
            "name": k.name,
            "type": k.key_type.as_str(),
            "workspace_id": k.workspace_id,
            "scopes": k.scopes,
        }));
    } else {
        println!("{}", secret.secret);
        let what = match k.key_type {
            KeyType::OrganisationService => "organisation admin key".to_owned(),
            _ => format!(
                "workspace key for {}",
                a.workspace.as_deref().unwrap_or("?")
            ),
        };
        eprintln!(
            "created {what} {:?} (id {}). The key above is shown only this once: store it now.",
            k.name, k.id
        );
    }
    Ok(())
}

async fn list_filter(ctx: &Ctx, r: Option<&str>) -> Res<Option<String>> {
    match r {
        Some(r) => Ok(Some(ctx.workspace("--workspace", r).await?.id)),
        None => Ok(None),
    }
}

async fn key_list(ctx: &Ctx, a: &ListArgs) -> Res {
    let ws = list_filter(ctx, a.workspace.as_deref()).await?;
    let workspaces = ctx.workspaces().await?;
    let q = ListQuery {
        workspace_id: ws.clone(),
        ..ListQuery::default()
    };
    let keys: Vec<ApiKey> = ctx
        .repo()
        .list_api_keys(&q)
        .await
        .map_err(runtime)?
        .items
        .into_iter()
        .filter(|k| ws.is_none() || k.workspace_id == ws)
        .collect();
    if a.json {
        let items: Vec<Value> = keys
            .iter()
            .map(|k| {
                json!({
                    "id": k.id,
                    "name": k.name,
                    "type": k.key_type.as_str(),
                    "workspace_id": k.workspace_id,
                    "workspace": k.workspace_id.as_deref().map(|w| ws_label(&workspaces, Some(w))),
                    "key": k.key_visible,
                    "status": key_status(k),
                    "scopes": k.scopes,
                    "rate_limits": k.rate_limits,
                    "usage_limits": k.usage_limits,
                    "creation_mode": k.creation_mode,
                    "created_at": iso(k.created_at),
                })
            })
            .collect();
        print_json(&Value::Array(items));
        return Ok(());
    }
    let rows = keys
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                k.name.clone(),
                k.key_type.as_str().to_owned(),
                ws_label(&workspaces, k.workspace_id.as_deref()),
                k.key_visible.clone(),
                key_status(k).to_owned(),
                k.creation_mode.clone(),
                show_limits(&k.rate_limits, &k.usage_limits),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "NAME",
            "TYPE",
            "WORKSPACE",
            "KEY",
            "STATUS",
            "CREATED BY",
            "LIMITS",
        ],
        rows,
    );
    Ok(())
}

async fn find_key(ctx: &Ctx, id: &str) -> Res<ApiKey> {
    let id = id.trim();
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(usage(format!(
            "ID: {id:?} is not a key id (a UUID; see `portcullis keys list`)"
        )));
    }
    ctx.repo()
        .get_api_key(id)
        .await
        .map_err(runtime)?
        .ok_or_else(|| usage(format!("ID: no key {id}")))
}

async fn key_revoke(ctx: &Ctx, id: &str) -> Res {
    let mut k = find_key(ctx, id).await?;
    if k.status == Status::Revoked {
        eprintln!("key {} ({:?}) is already revoked", k.id, k.name);
        return Ok(());
    }
    k.status = Status::Revoked;
    k.updated_at = portcullis_admin::time::now();
    let (key_id, name) = (k.id.clone(), k.name.clone());
    // The repository records the change (status active → revoked) in the audit log, in the
    // same transaction, as it does for every other admin write.
    ctx.repo()
        .update_api_key(k, &declarative::cli_actor())
        .await
        .map_err(runtime)?;
    println!("revoked key {key_id} ({name:?})");
    Ok(())
}

async fn key_delete(ctx: &Ctx, id: &str) -> Res {
    let k = find_key(ctx, id).await?;
    ctx.repo()
        .delete_api_key(&k.id, &declarative::cli_actor())
        .await
        .map_err(runtime)?;
    println!("deleted key {} ({:?})", k.id, k.name);
    Ok(())
}

// ------------------------------------------------------------------------------------------
// workspaces
// ------------------------------------------------------------------------------------------

pub async fn workspaces(cmd: WorkspacesCommand) -> Res {
    match cmd {
        WorkspacesCommand::Create {
            name,
            slug,
            description,
            json,
            store,
        } => {
            with_ctx(&store, async |ctx| {
                if name.trim().is_empty() {
                    return Err(usage("NAME: must not be empty"));
                }
                let slug = slug.unwrap_or_else(|| declarative::new_workspace_slug(&name));
                let spec = WorkspaceSpec {
                    slug: slug.clone(),
                    name: Some(name.clone()),
                    description,
                    ..WorkspaceSpec::default()
                };
                let summary = ctx
                    .create(
                        Catalog {
                            workspaces: vec![spec],
                            ..Catalog::default()
                        },
                        &unused_sealer(),
                    )
                    .await?;
                let id = summary
                    .entries
                    .first()
                    .map(|e| e.id.clone())
                    .unwrap_or_default();
                if json {
                    print_json(&json!({ "id": id, "slug": slug, "name": name.trim() }));
                } else {
                    println!("created workspace {slug} (id {id})");
                }
                Ok(())
            })
            .await
        }
        WorkspacesCommand::List { json, store } => {
            with_ctx(&store, async |ctx| {
                let ws = ctx.workspaces().await?;
                if json {
                    let items: Vec<Value> = ws
                        .iter()
                        .map(|w| {
                            json!({
                                "id": w.id, "slug": w.slug, "name": w.name,
                                "is_default": w.is_default, "status": w.status.as_str(),
                                "rate_limits": w.rate_limits, "usage_limits": w.usage_limits,
                                "created_at": iso(w.created_at),
                            })
                        })
                        .collect();
                    print_json(&Value::Array(items));
                    return Ok(());
                }
                let rows = ws
                    .iter()
                    .map(|w| {
                        vec![
                            w.id.clone(),
                            w.slug.clone(),
                            w.name.clone(),
                            if w.is_default { "yes" } else { "" }.to_owned(),
                            w.status.as_str().to_owned(),
                            show_limits(&w.rate_limits, &w.usage_limits),
                        ]
                    })
                    .collect();
                table(&["ID", "SLUG", "NAME", "DEFAULT", "STATUS", "LIMITS"], rows);
                Ok(())
            })
            .await
        }
    }
}

// ------------------------------------------------------------------------------------------
// providers
// ------------------------------------------------------------------------------------------

pub async fn providers(cmd: ProvidersCommand) -> Res {
    match cmd {
        ProvidersCommand::Create(a) => {
            let store = a.store.clone();
            with_ctx(&store, async |ctx| {
                let spec = ProviderSpec {
                    workspace: a.workspace.clone(),
                    slug: a.slug.clone(),
                    provider: a.provider.clone(),
                    name: a.name.clone(),
                    api_key_env: a.api_key_env.clone(),
                    custom_host: a.custom_host.clone(),
                    models: a.models.clone(),
                    ..ProviderSpec::default()
                };
                let sealer = ctx.sealer()?;
                let summary = ctx
                    .create(
                        Catalog {
                            providers: vec![spec],
                            ..Catalog::default()
                        },
                        &sealer,
                    )
                    .await?;
                let id = summary
                    .entries
                    .first()
                    .map(|e| e.id.clone())
                    .unwrap_or_default();
                if a.json {
                    print_json(&json!({ "id": id, "slug": a.slug, "workspace": a.workspace }));
                } else {
                    println!(
                        "created provider @{} in workspace {} (id {id}); call it as \"@{}/<model>\"",
                        a.slug, a.workspace, a.slug
                    );
                }
                Ok(())
            })
            .await
        }
        ProvidersCommand::List(a) => {
            with_ctx(&a.store, async |ctx| provider_list(ctx, &a).await).await
        }
    }
}

async fn provider_list(ctx: &Ctx, a: &ListArgs) -> Res {
    let ws = list_filter(ctx, a.workspace.as_deref()).await?;
    let workspaces = ctx.workspaces().await?;
    let q = ListQuery {
        workspace_id: ws.clone(),
        ..ListQuery::default()
    };
    let providers: Vec<Provider> = ctx
        .repo()
        .list_providers(&q, false)
        .await
        .map_err(runtime)?
        .items
        .into_iter()
        .filter(|p| ws.as_ref().is_none_or(|w| &p.workspace_id == w))
        .collect();
    let integrations: Vec<Integration> = ctx
        .repo()
        .list_integrations(&ListQuery::default(), IntegrationScope::All)
        .await
        .map_err(runtime)?
        .items;
    let integration = |p: &Provider| {
        p.integration_id
            .as_deref()
            .and_then(|id| integrations.iter().find(|i| i.id == id || i.slug == id))
    };
    let kind = |p: &Provider| {
        p.ai_provider_id
            .clone()
            .or_else(|| integration(p).map(|i| i.ai_provider_id.clone()))
            .unwrap_or_else(|| "?".into())
    };
    let host = |p: &Provider| {
        integration(p)
            .and_then(|i| i.configurations.get("custom_host"))
            .or_else(|| p.model_config.get("custom_host"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let models = |p: &Provider| match integration(p) {
        Some(i) if !i.allow_all_models => i
            .models
            .iter()
            .filter(|m| m.enabled)
            .map(|m| m.slug.clone())
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    let masked = |p: &Provider| {
        p.key_masked
            .clone()
            .or_else(|| integration(p).and_then(|i| i.key_masked.clone()))
    };
    if a.json {
        let items: Vec<Value> = providers
            .iter()
            .map(|p| {
                json!({
                    "id": p.id,
                    "slug": p.slug,
                    "name": p.name,
                    "workspace_id": p.workspace_id,
                    "workspace": ws_label(&workspaces, Some(&p.workspace_id)),
                    "provider": kind(p),
                    "integration": integration(p).map(|i| i.slug.clone()),
                    "custom_host": host(p),
                    "models": models(p),
                    "masked_key": masked(p),
                    "status": p.status.as_str(),
                    "rate_limits": p.rate_limits,
                    "usage_limits": p.usage_limits,
                    "virtual_key": p.is_virtual_key,
                })
            })
            .collect();
        print_json(&Value::Array(items));
        return Ok(());
    }
    let rows = providers
        .iter()
        .map(|p| {
            let m = models(p);
            vec![
                format!("@{}", p.slug),
                ws_label(&workspaces, Some(&p.workspace_id)),
                kind(p),
                masked(p).unwrap_or_else(|| "-".into()),
                host(p).unwrap_or_else(|| "-".into()),
                if m.is_empty() {
                    "all".into()
                } else {
                    m.join(",")
                },
                p.status.as_str().to_owned(),
                show_limits(&p.rate_limits, &p.usage_limits),
            ]
        })
        .collect();
    table(
        &[
            "PROVIDER",
            "WORKSPACE",
            "KIND",
            "KEY",
            "CUSTOM HOST",
            "MODELS",
            "STATUS",
            "LIMITS",
        ],
        rows,
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------
// configs
// ------------------------------------------------------------------------------------------

fn read_config(path: &PathBuf) -> Res<Value> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| usage(format!("--file: cannot read standard input: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| usage(format!("--file: cannot read {}: {e}", path.display())))?
    };
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("--file: {} is not valid JSON: {e}", path.display())))?;
    Ok(v)
}

pub async fn configs(cmd: ConfigsCommand) -> Res {
    match cmd {
        ConfigsCommand::Create {
            workspace,
            name,
            file,
            json,
            store,
        } => {
            let config = read_config(&file)?;
            with_ctx(&store, async |ctx| {
                if name.trim().is_empty() {
                    return Err(usage("--name: must not be empty"));
                }
                let slug = declarative::new_config_slug(&name);
                let spec = ConfigSpec {
                    slug: slug.clone(),
                    name: Some(name.clone()),
                    workspace: workspace.clone(),
                    config,
                };
                let sealer = ctx.sealer()?;
                let summary = ctx
                    .create(
                        Catalog {
                            configs: vec![spec],
                            ..Catalog::default()
                        },
                        &sealer,
                    )
                    .await?;
                let id = summary
                    .entries
                    .first()
                    .map(|e| e.id.clone())
                    .unwrap_or_default();
                if json {
                    print_json(&json!({ "id": id, "slug": slug, "name": name.trim() }));
                } else {
                    println!("{slug}");
                    eprintln!("created config {slug} (id {id}); use it with x-portkey-config: {slug}");
                }
                Ok(())
            })
            .await
        }
        ConfigsCommand::List(a) => {
            with_ctx(&a.store, async |ctx| {
                let ws = list_filter(ctx, a.workspace.as_deref()).await?;
                let workspaces = ctx.workspaces().await?;
                let q = ListQuery {
                    workspace_id: ws.clone(),
                    ..ListQuery::default()
                };
                let configs: Vec<_> = ctx
                    .repo()
                    .list_configs(&q)
                    .await
                    .map_err(runtime)?
                    .items
                    .into_iter()
                    .filter(|c| ws.is_none() || c.workspace_id == ws)
                    .collect();
                if a.json {
                    let items: Vec<Value> = configs
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id, "slug": c.slug, "name": c.name,
                                "workspace_id": c.workspace_id,
                                "workspace": c.workspace_id.as_deref().map(|w| ws_label(&workspaces, Some(w))),
                                "status": c.status.as_str(), "version_id": c.version_id,
                                "config": c.config, "updated_at": iso(c.updated_at),
                            })
                        })
                        .collect();
                    print_json(&Value::Array(items));
                    return Ok(());
                }
                let rows = configs
                    .iter()
                    .map(|c| {
                        vec![
                            c.slug.clone(),
                            c.name.clone(),
                            ws_label(&workspaces, c.workspace_id.as_deref()),
                            c.status.as_str().to_owned(),
                            iso(c.updated_at),
                        ]
                    })
                    .collect();
                table(&["SLUG", "NAME", "WORKSPACE", "STATUS", "UPDATED"], rows);
                Ok(())
            })
            .await
        }
    }
}

// ------------------------------------------------------------------------------------------
// config apply
// ------------------------------------------------------------------------------------------

/// `portcullis config apply`: the settings file's `catalog:` section, applied now (as `serve`
/// applies it at start).
pub async fn apply(store: StoreArgs) -> Res {
    if store.config.is_none() {
        return Err(usage(
            "--config: the settings file whose catalog section to apply is required",
        ));
    }
    with_ctx(&store, async |ctx| {
        let Some(catalog) = ctx.settings.catalog.clone() else {
            println!("nothing to apply: the settings file has no catalog section");
            return Ok(());
        };
        declarative::ensure_default_workspace(ctx.repo(), &declarative::cli_actor())
            .await
            .map_err(runtime)?;
        let sealer = ctx.sealer()?;
        let opts = ApplyOptions {
            mode: Mode::File,
            actor: declarative::file_actor(),
            ..ctx.options()?
        };
        let summary = declarative::apply_detailed(ctx.repo(), &sealer, &catalog, &opts)
            .await
            .map_err(|e| match e {
                ApplyError::Invalid(m) => usage(m),
                ApplyError::Store(m) => runtime(m),
            })?;
        println!("catalog applied: {summary}");
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        let r = parse_rate("--rate-limit", "requests:rpm:100").unwrap();
        assert_eq!(
            (r.kind, r.unit, r.value),
            (Some(RateKind::Requests), RateUnit::Rpm, 100)
        );
        let r = parse_rate("--rate-limit", "tokens:rpd:5").unwrap();
        assert_eq!(r.kind, Some(RateKind::Tokens));
        assert!(parse_rate("--rate-limit", "rph:7").is_ok());
        let e = parse_rate("--rate-limit", "requests:rpy:1").unwrap_err();
        assert!(e.starts_with("--rate-limit: "), "{e}");
        assert!(parse_rate("--rate-limit", "100").is_err());
        assert!(parse_rate("--rate-limit", "requests:rpm:-1").is_err());
    }

    #[test]
    fn budgets_parse() {
        let b = parse_budget("--budget", "cost:50:monthly:alert=40").unwrap();
        assert_eq!(b.kind, Some(UsageKind::Cost));
        assert_eq!(b.credit_limit, 50.0);
        assert_eq!(b.alert_threshold, Some(40.0));
        assert_eq!(b.periodic_reset, Some(PeriodicReset::Monthly));
        let b = parse_budget("--budget", "tokens:1000000").unwrap();
        assert_eq!(b.kind, Some(UsageKind::Tokens));
        assert_eq!(b.periodic_reset, None);
        assert_eq!(parse_budget("--budget", "12.5").unwrap().credit_limit, 12.5);
        assert!(parse_budget("--budget", "cost:lots").is_err());
        assert!(parse_budget("--budget", "cost:5:yearly").is_err());
        assert!(is_rate("requests:rpm:10") && !is_rate("cost:5:daily"));
    }

    #[test]
    fn limits_show_in_flag_syntax() {
        let r = RateLimit {
            kind: RateKind::Requests,
            unit: RateUnit::Rpm,
            value: 100,
        };
        let u = UsageLimit {
            kind: UsageKind::Cost,
            credit_limit: 50.0,
            alert_threshold: Some(40.0),
            periodic_reset: PeriodicReset::Monthly,
            reset_at: None,
        };
        assert_eq!(
            show_limits(&[r], &Some(u)),
            "requests:rpm:100 cost:50:monthly:alert=40"
        );
        assert_eq!(show_limits(&[], &None), "-");
    }
}
