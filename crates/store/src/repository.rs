//! `Repository` for [`Store`]: each method delegates to the module of its entity.

use async_trait::async_trait;
use portcullis_control::model::{
    Actor, ApiKey, AuditEvent, CatalogData, Config, ConfigVersion, Integration, IntegrationGrant,
    Provider, Spend, Workspace,
};
use portcullis_control::repo::{
    AuditQuery, IntegrationScope, ListQuery, Page, RepoResult, Repository,
};
use tokio::sync::broadcast;

use crate::{
    Store, api_keys, audit, catalog, configs, integrations, providers, spend, usage_resets,
    workspaces,
};

#[async_trait]
impl Repository for Store {
    async fn create_workspace(&self, w: Workspace, actor: &Actor) -> RepoResult<Workspace> {
        workspaces::create(self, w, actor).await
    }
    async fn get_workspace(&self, id_or_slug: &str) -> RepoResult<Option<Workspace>> {
        workspaces::get(self, id_or_slug).await
    }
    async fn list_workspaces(&self, q: &ListQuery) -> RepoResult<Page<Workspace>> {
        workspaces::list(self, q).await
    }
    async fn update_workspace(&self, w: Workspace, actor: &Actor) -> RepoResult<()> {
        workspaces::update(self, w, actor).await
    }
    async fn delete_workspace(&self, id: &str, actor: &Actor) -> RepoResult<()> {
        workspaces::delete(self, id, actor).await
    }

    async fn create_api_key(&self, k: ApiKey, actor: &Actor) -> RepoResult<ApiKey> {
        api_keys::create(self, k, actor).await
    }
    async fn get_api_key(&self, id: &str) -> RepoResult<Option<ApiKey>> {
        api_keys::get(self, id).await
    }
    async fn list_api_keys(&self, q: &ListQuery) -> RepoResult<Page<ApiKey>> {
        api_keys::list(self, q).await
    }
    async fn update_api_key(&self, k: ApiKey, actor: &Actor) -> RepoResult<()> {
        api_keys::update(self, k, actor).await
    }
    async fn delete_api_key(&self, id: &str, actor: &Actor) -> RepoResult<()> {
        api_keys::delete(self, id, actor).await
    }

    async fn create_integration(&self, i: Integration, actor: &Actor) -> RepoResult<Integration> {
        integrations::create(self, i, actor).await
    }
    async fn get_integration(&self, slug_or_id: &str) -> RepoResult<Option<Integration>> {
        integrations::get(self, slug_or_id).await
    }
    async fn list_integrations(
        &self,
        q: &ListQuery,
        scope: IntegrationScope,
    ) -> RepoResult<Page<Integration>> {
        integrations::list(self, q, scope).await
    }
    async fn update_integration(&self, i: Integration, actor: &Actor) -> RepoResult<()> {
        integrations::update(self, i, actor).await
    }
    async fn delete_integration(&self, id: &str, actor: &Actor) -> RepoResult<()> {
        integrations::delete(self, id, actor).await
    }
    async fn list_grants(&self, integration_id: &str) -> RepoResult<Vec<IntegrationGrant>> {
        integrations::list_grants(self, integration_id).await
    }
    async fn set_grants(
        &self,
        integration_id: &str,
        grants: Vec<IntegrationGrant>,
        replace_all: bool,
        actor: &Actor,
    ) -> RepoResult<()> {
        integrations::set_grants(self, integration_id, grants, replace_all, actor).await
    }

    async fn create_provider(&self, p: Provider, actor: &Actor) -> RepoResult<Provider> {
        providers::create(self, p, actor).await
    }
    async fn get_provider(
        &self,
        workspace_id: Option<&str>,
        slug_or_id: &str,
    ) -> RepoResult<Option<Provider>> {
        providers::get(self, workspace_id, slug_or_id).await
    }
    async fn list_providers(
        &self,
        q: &ListQuery,
        virtual_keys_only: bool,
    ) -> RepoResult<Page<Provider>> {
        providers::list(self, q, virtual_keys_only).await
    }
    async fn update_provider(&self, p: Provider, actor: &Actor) -> RepoResult<()> {
        providers::update(self, p, actor).await
    }
    async fn delete_provider(&self, id: &str, actor: &Actor) -> RepoResult<()> {
        providers::delete(self, id, actor).await
    }

    async fn create_config(&self, c: Config, actor: &Actor) -> RepoResult<Config> {
        configs::create(self, c, actor).await
    }
    async fn get_config(&self, slug_or_id: &str) -> RepoResult<Option<Config>> {
        configs::get(self, slug_or_id).await
    }
    async fn list_configs(&self, q: &ListQuery) -> RepoResult<Page<Config>> {
        configs::list(self, q).await
    }
    async fn update_config(&self, c: Config, actor: &Actor) -> RepoResult<()> {
        configs::update(self, c, actor).await
    }
    async fn delete_config(&self, id: &str, actor: &Actor) -> RepoResult<()> {
        configs::delete(self, id, actor).await
    }
    async fn list_config_versions(&self, config_id: &str) -> RepoResult<Vec<ConfigVersion>> {
        configs::versions(self, config_id).await
    }

    async fn record_audit(&self, e: AuditEvent) -> RepoResult<()> {
        audit::record(self, e).await
    }
    async fn list_audit(&self, q: &AuditQuery) -> RepoResult<Page<AuditEvent>> {
        audit::list(self, q).await
    }

    async fn load_catalog(&self) -> RepoResult<CatalogData> {
        catalog::load(self).await
    }
    async fn version(&self) -> RepoResult<i64> {
        catalog::read_version(self.db()).await
    }
    fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.notifier().subscribe()
    }

    async fn add_spend(&self, deltas: &[Spend]) -> RepoResult<()> {
        spend::add(self, deltas).await
    }
    async fn load_spend(&self) -> RepoResult<Vec<Spend>> {
        spend::load(self).await
    }

    async fn reset_usage(
        &self,
        scope_kind: &str,
        scope_id: &str,
        workspace_id: Option<&str>,
        actor: &Actor,
    ) -> RepoResult<i64> {
        usage_resets::reset(self, scope_kind, scope_id, workspace_id, actor).await
    }
}
