//! Starting a full gateway: the store (SQLite by default, PostgreSQL when configured), the master
//! key, the bootstrap admin key, the default workspace, the limiter (in process or Redis), the
//! snapshot and the tasks that keep it and the stored budget spend current.

use std::sync::Arc;
use std::time::Duration;

use portcullis_control::apikey;
use portcullis_control::crypto::Sealer;
use portcullis_control::model::{Actor, ApiKey, Defaults, KeyType, Spend, Status};
use portcullis_control::repo::{ListQuery, RepoError, Repository};
use portcullis_core::limits::UsageKind;
use portcullis_engine::{ClientSettings, HttpTransport, Transport};
use portcullis_limits::{
    InProcessLimiter, Limiter, Period, RedisConfig, RedisLimiter, Scope, ScopeKind, SpendDelta,
    SystemClock,
};
use portcullis_store::Store;

use crate::governance::Snapshot;
use crate::settings::Settings;
use crate::state::AppState;

/// The environment variable whose value becomes an organisation admin key at start.
pub const ADMIN_KEY_ENV: &str = "PORTCULLIS_ADMIN_KEY";

/// Everything a running gateway needs, started.
pub struct Started {
    pub state: AppState,
    pub sealer: Sealer,
    pub store: Arc<Store>,
    /// Request logs (`None` when `logs.enabled` is false): drain them at shutdown.
    pub logs: Option<crate::observe::Logs>,
}

fn system() -> Actor {
    Actor {
        id: "system".into(),
        name: "startup".into(),
    }
}

/// Opens the store named by the settings (`governance.database_url`, else SQLite in the data
/// directory).
pub async fn open_store(settings: &Settings) -> Result<Store, String> {
    match settings
        .governance
        .database_url
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        Some(url) => Store::open(url).await.map_err(|e| e.to_string()),
        None => Store::open_in_data_dir(&settings.server.data_dir)
            .await
            .map_err(|e| e.to_string()),
    }
}

/// The master key: the environment's, else the data directory's key file (created on first
/// start for SQLite; PostgreSQL replicas must share one, so there it must be given).
pub fn sealer(settings: &Settings) -> Result<Sealer, String> {
    let shared_db = settings
        .governance
        .database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"));
    Sealer::load(&settings.server.data_dir, !shared_db).map_err(|e| {
        if shared_db {
            format!(
                "{e}. With PostgreSQL every replica needs the same key: set PORTCULLIS_MASTER_KEY"
            )
        } else {
            e.to_string()
        }
    })
}

/// `PORTCULLIS_ADMIN_KEY`: registered (once) as an organisation admin key with every scope.
async fn bootstrap_admin_key(repo: &dyn Repository) -> Result<(), String> {
    let Ok(secret) = std::env::var(ADMIN_KEY_ENV) else {
        return Ok(());
    };
    if !apikey::strong_enough(&secret) {
        return Err(format!(
            "{ADMIN_KEY_ENV} must be at least 32 visible characters"
        ));
    }
    let key = apikey::from_secret(&secret);
    let hash = key.hash.to_hex();
    let existing = repo
        .list_api_keys(&ListQuery::default())
        .await
        .map_err(|e| e.to_string())?;
    if existing.items.iter().any(|k| k.key_hash == hash) {
        return Ok(());
    }
    let now = crate::pipeline::unix_millis();
    let k = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        name: "bootstrap admin (PORTCULLIS_ADMIN_KEY)".into(),
        description: None,
        key_type: KeyType::OrganisationService,
        workspace_id: None,
        user_id: None,
        scopes: portcullis_admin::scopes::all()
            .into_iter()
            .filter(|s| portcullis_admin::scopes::allowed_for(KeyType::OrganisationService, s))
            .collect(),
        defaults: Defaults::default(),
        usage_limits: None,
        rate_limits: Vec::new(),
        alert_emails: Vec::new(),
        expires_at: None,
        key_hash: hash,
        key_visible: key.visible,
        status: Status::Active,
        creation_mode: "env".into(),
        created_at: now,
        updated_at: now,
    };
    match repo.create_api_key(k, &system()).await {
        Ok(_) => Ok(()),
        // Another replica starting at the same moment registered it first.
        Err(RepoError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Spend rows carry the budget kind in front of the period (`cost:m2026-11`).
fn spend_period(usage: UsageKind, period: &Period) -> String {
    let kind = match usage {
        UsageKind::Cost => "cost",
        UsageKind::Tokens => "tokens",
    };
    format!("{kind}:{period}")
}

fn scope_kind(s: &str) -> Option<ScopeKind> {
    Some(match s {
        "api_key" => ScopeKind::ApiKey,
        "workspace" => ScopeKind::Workspace,
        "integration" => ScopeKind::Integration,
        "provider" => ScopeKind::Provider,
        "virtual_key" => ScopeKind::VirtualKey,
        "user" => ScopeKind::User,
        "policy" => ScopeKind::Policy,
        _ => return None,
    })
}

async fn seed_spend(repo: &dyn Repository, limiter: &dyn Limiter) -> Result<(), String> {
    for row in repo.load_spend().await.map_err(|e| e.to_string())? {
        let Some((kind, period)) = row.period.split_once(':') else {
            continue;
        };
        let usage = match kind {
            "cost" => UsageKind::Cost,
            "tokens" => UsageKind::Tokens,
            _ => continue,
        };
        let (Some(sk), Ok(period)) = (scope_kind(&row.scope_kind), period.parse::<Period>()) else {
            continue;
        };
        limiter.seed(
            &Scope::new(sk, row.scope_id.clone()),
            usage,
            period,
            row.units,
        );
    }
    Ok(())
}

/// Writes the limiter's settled spend to the store (additively, so replicas do not collide).
pub async fn flush_spend(repo: &dyn Repository, limiter: &dyn Limiter) {
    let deltas: Vec<Spend> = limiter
        .drain()
        .into_iter()
        .map(|d: SpendDelta| Spend {
            scope_kind: d.scope.kind.as_str().to_owned(),
            scope_id: d.scope.id,
            period: spend_period(d.usage, &d.period),
            units: d.delta,
        })
        .collect();
    if deltas.is_empty() {
        return;
    }
    if let Err(e) = repo.add_spend(&deltas).await {
        // Not lost: the limiter keeps counting live; only durability lags until it works again.
        tracing::error!("budget spend not written ({} rows): {e}", deltas.len());
    }
}

/// Reloads the snapshot whenever the catalog changes (this or any replica), and at least
/// every few seconds.
fn spawn_refresh(
    repo: Arc<dyn Repository>,
    sealer: Sealer,
    state_snapshots: Arc<crate::governance::SnapshotHolder>,
) {
    let mut changes = repo.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                r = changes.recv() => {
                    if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                }
                _ = tick.tick() => {
                    match repo.version().await {
                        Ok(v) if v == state_snapshots.load().version => continue,
                        Ok(_) => {}
                        Err(_) => continue,
                    }
                }
            }
            match repo.load_catalog().await {
                Ok(data) => state_snapshots.store(Snapshot::build(&data, &sealer)),
                Err(e) => {
                    tracing::error!("catalog reload failed, keeping the previous snapshot: {e}")
                }
            }
        }
    });
}

/// Starts everything `serve` needs.
pub async fn start(settings: Settings) -> Result<Started, String> {
    let store = Arc::new(open_store(&settings).await?);
    let repo: Arc<dyn Repository> = store.clone();
    let sealer = sealer(&settings)?;
    crate::declarative::ensure_default_workspace(repo.as_ref(), &system()).await?;
    bootstrap_admin_key(repo.as_ref()).await?;
    if let Some(summary) =
        crate::declarative::apply_settings(repo.as_ref(), &sealer, &settings).await?
    {
        tracing::info!("catalog applied: {summary}");
    }

    let limiter: Arc<dyn Limiter> = match settings
        .governance
        .redis_url
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        Some(url) => {
            let cfg = RedisConfig {
                prefix: settings.governance.redis_prefix.clone(),
                burst: settings.governance.rate_limit_burst,
                ..RedisConfig::default()
            };
            Arc::new(
                RedisLimiter::connect(url, cfg)
                    .await
                    .map_err(|e| format!("redis: {e}"))?,
            )
        }
        None => Arc::new(InProcessLimiter::new(
            Arc::new(SystemClock),
            settings.governance.rate_limit_burst,
        )),
    };
    seed_spend(repo.as_ref(), limiter.as_ref()).await?;

    let client = ClientSettings {
        connect_timeout: Duration::from_millis(settings.upstream.connect_timeout_ms),
        pool_idle_timeout: Duration::from_secs(settings.upstream.pool_idle_timeout_secs),
        pool_max_idle_per_host: settings.upstream.pool_max_idle_per_host,
    };
    let policy = portcullis_config::HostPolicy::with_trusted(&settings.trusted_custom_hosts)?;
    let transport: Arc<dyn Transport> = Arc::new(HttpTransport::new(&client, policy));
    let flush_every = Duration::from_secs(settings.governance.spend_flush_secs.max(1));
    let logs = crate::observe::Logs::start(&settings).await?;
    let mut state = AppState::assemble(settings, transport, limiter.clone(), Some(repo.clone()))?;
    let telemetry = portcullis_telemetry::Telemetry::start(&state.settings.telemetry)
        .map_err(|e| format!("telemetry: {e}"))?;
    let mut observer = crate::observe::Observer::new(state.settings.logs.max_payload_bytes)
        .with_tap(Arc::new(telemetry.clone()));
    if let Some(l) = &logs {
        observer = observer.with_sink(l.sink.clone());
        let sink = l.sink.clone();
        state.log_stats = Some(Arc::new(move || sink.stats()));
        state.log_store = Some(l.store.clone());
    }
    state.observer = Arc::new(observer);
    state.telemetry = telemetry;
    let data = repo.load_catalog().await.map_err(|e| e.to_string())?;
    state.snapshots.store(Snapshot::build(&data, &sealer));
    spawn_refresh(repo.clone(), sealer.clone(), state.snapshots.clone());
    {
        let (repo, limiter) = (repo.clone(), limiter.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(flush_every);
            loop {
                tick.tick().await;
                flush_spend(repo.as_ref(), limiter.as_ref()).await;
            }
        });
    }
    Ok(Started {
        state,
        sealer,
        store,
        logs,
    })
}
