//! The persistence contract of the control plane. The `portcullis-store` crate implements it on
//! SQLite and PostgreSQL; the admin API, the CLI and the snapshot loader use only this trait.
//!
//! Every mutation is one transaction that also writes its audit event and bumps the catalog
//! version, then notifies subscribers (other replicas learn of it through the database).

use async_trait::async_trait;

use crate::model::{
    Actor, ApiKey, AuditEvent, CatalogData, Config, ConfigVersion, Integration, IntegrationGrant,
    Provider, Spend, Workspace,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// What was looked for, e.g. `config pc-abc`.
    #[error("{0} not found")]
    NotFound(String),
    /// A unique name or slug is taken; the message names it.
    #[error("{0}")]
    Conflict(String),
    /// The request cannot be stored as given; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The database failed; the message is for operators, not clients.
    #[error("storage error: {0}")]
    Backend(String),
}

pub type RepoResult<T> = Result<T, RepoError>;

/// Portkey's list paging: 0-based pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// `None`: every row.
    pub page_size: Option<u32>,
    pub current_page: u32,
    /// Case-sensitive substring of the name.
    pub name: Option<String>,
    /// Exact name.
    pub exact_name: Option<String>,
    /// Only rows of this workspace (id).
    pub workspace_id: Option<String>,
}

/// One page of a list, with the total of all matching rows. Newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// Filters for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub page_size: Option<u32>,
    pub current_page: u32,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub workspace_id: Option<String>,
    pub since: Option<i64>,
}

/// Which integrations a list returns (Portkey's `type` filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IntegrationScope {
    #[default]
    All,
    Organisation,
    Workspace,
}

#[async_trait]
pub trait Repository: Send + Sync + 'static {
    // Workspaces: addressed by id or slug.
    async fn create_workspace(&self, w: Workspace, actor: &Actor) -> RepoResult<Workspace>;
    async fn get_workspace(&self, id_or_slug: &str) -> RepoResult<Option<Workspace>>;
    async fn list_workspaces(&self, q: &ListQuery) -> RepoResult<Page<Workspace>>;
    /// Replaces the mutable fields of the workspace with this id.
    async fn update_workspace(&self, w: Workspace, actor: &Actor) -> RepoResult<()>;
    /// Refuses (Conflict) while keys, providers or configs still belong to it.
    async fn delete_workspace(&self, id: &str, actor: &Actor) -> RepoResult<()>;

    // Gateway API keys: addressed by id.
    async fn create_api_key(&self, k: ApiKey, actor: &Actor) -> RepoResult<ApiKey>;
    async fn get_api_key(&self, id: &str) -> RepoResult<Option<ApiKey>>;
    async fn list_api_keys(&self, q: &ListQuery) -> RepoResult<Page<ApiKey>>;
    async fn update_api_key(&self, k: ApiKey, actor: &Actor) -> RepoResult<()>;
    async fn delete_api_key(&self, id: &str, actor: &Actor) -> RepoResult<()>;

    // Integrations: addressed by slug or id; slugs are unique.
    async fn create_integration(&self, i: Integration, actor: &Actor) -> RepoResult<Integration>;
    async fn get_integration(&self, slug_or_id: &str) -> RepoResult<Option<Integration>>;
    async fn list_integrations(
        &self,
        q: &ListQuery,
        scope: IntegrationScope,
    ) -> RepoResult<Page<Integration>>;
    async fn update_integration(&self, i: Integration, actor: &Actor) -> RepoResult<()>;
    async fn delete_integration(&self, id: &str, actor: &Actor) -> RepoResult<()>;
    async fn list_grants(&self, integration_id: &str) -> RepoResult<Vec<IntegrationGrant>>;
    /// Upserts these grants; with `replace_all`, grants not listed are removed.
    async fn set_grants(
        &self,
        integration_id: &str,
        grants: Vec<IntegrationGrant>,
        replace_all: bool,
        actor: &Actor,
    ) -> RepoResult<()>;

    // AI providers and virtual keys: slugs are unique per workspace.
    async fn create_provider(&self, p: Provider, actor: &Actor) -> RepoResult<Provider>;
    /// By slug (within `workspace_id` when given) or by id.
    async fn get_provider(
        &self,
        workspace_id: Option<&str>,
        slug_or_id: &str,
    ) -> RepoResult<Option<Provider>>;
    async fn list_providers(
        &self,
        q: &ListQuery,
        virtual_keys_only: bool,
    ) -> RepoResult<Page<Provider>>;
    async fn update_provider(&self, p: Provider, actor: &Actor) -> RepoResult<()>;
    async fn delete_provider(&self, id: &str, actor: &Actor) -> RepoResult<()>;

    // Configs: addressed by slug (`pc-…`) or id; every config change is a new version.
    async fn create_config(&self, c: Config, actor: &Actor) -> RepoResult<Config>;
    async fn get_config(&self, slug_or_id: &str) -> RepoResult<Option<Config>>;
    async fn list_configs(&self, q: &ListQuery) -> RepoResult<Page<Config>>;
    /// Stores the row; when `c.version_id` is new, also a new version with `c.config`.
    async fn update_config(&self, c: Config, actor: &Actor) -> RepoResult<()>;
    async fn delete_config(&self, id: &str, actor: &Actor) -> RepoResult<()>;
    async fn list_config_versions(&self, config_id: &str) -> RepoResult<Vec<ConfigVersion>>;

    // Audit log.
    async fn record_audit(&self, e: AuditEvent) -> RepoResult<()>;
    async fn list_audit(&self, q: &AuditQuery) -> RepoResult<Page<AuditEvent>>;

    // The snapshot's source and change feed.
    async fn load_catalog(&self) -> RepoResult<CatalogData>;
    async fn version(&self) -> RepoResult<i64>;
    /// Fires the new version after every change made by this or any other process sharing the
    /// database (PostgreSQL LISTEN/NOTIFY; in-process for SQLite).
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<i64>;

    // Budget spend, written behind the limiter and read at start.
    async fn add_spend(&self, deltas: &[Spend]) -> RepoResult<()>;
    async fn load_spend(&self) -> RepoResult<Vec<Spend>>;

    /// Starts a budget's usage over now (Portkey's `reset_usage`): a catalog change, so every
    /// replica's limiter counts the budget from zero once its snapshot has it. Returns the
    /// reset's time (unix ms, later than any earlier reset of the same budget).
    async fn reset_usage(
        &self,
        scope_kind: &str,
        scope_id: &str,
        workspace_id: Option<&str>,
        actor: &Actor,
    ) -> RepoResult<i64>;
}
