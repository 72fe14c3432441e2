//! The route table: every admin route with its method, path, scope and schemas. The router and
//! the OpenAPI document are both built from it, so they cannot drift apart.

pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod configs;
pub mod exports;
pub mod feedback;
pub mod grants;
pub mod graphs;
pub mod integrations;
pub mod logs;
pub mod members;
pub mod openapi;
pub mod portkey_groups;
pub mod providers;
pub mod virtual_keys;
pub mod workspaces;

use std::sync::Arc;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::routing::{MethodRouter, delete, get, post, put};
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ctx::AdminCtx;
use crate::error::{ApiError, ApiResult};

pub type Shared = Arc<AdminCtx>;

/// A JSON object response.
pub type Reply = ApiResult<Json<Value>>;

/// `200 {}`.
pub fn empty() -> Reply {
    Ok(Json(Value::Object(Default::default())))
}

/// Path parameters; a malformed one is a 404 in the admin envelope.
pub struct P<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for P<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| P(p.0))
            .map_err(|e| ApiError {
                status: http::StatusCode::NOT_FOUND,
                code: "AB08",
                message: format!("Resource not found: {e}"),
                param: None,
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum M {
    Get,
    Post,
    Put,
    Delete,
}

impl M {
    pub fn as_str(self) -> &'static str {
        match self {
            M::Get => "get",
            M::Post => "post",
            M::Put => "put",
            M::Delete => "delete",
        }
    }
}

/// One admin route.
pub struct Route {
    pub method: M,
    /// The path as axum and OpenAPI both write it (`{param}`).
    pub path: &'static str,
    pub op: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// The scope it requires, as documentation (`api-keys` depend on the key type).
    pub scope: &'static str,
    /// Query parameters it reads.
    pub query: &'static [&'static str],
    /// Request body schema (a component name), if it takes one.
    pub request: Option<&'static str>,
    /// Response schema (a component name).
    pub response: &'static str,
    pub handler: fn() -> MethodRouter<Shared>,
}

const PAGE: &[&str] = &[
    "page_size",
    "current_page",
    "pageSize",
    "currentPage",
    "workspace_id",
];

/// The logs and analytics routes' query parameters: their own, then every filter.
const LOG_FILTERS: &[&str] = crate::logq::FILTER_PARAMS;
const LOG_LIST: &[&str] = crate::logq::with_filters!("limit", "cursor");
const LOG_EXPORT: &[&str] = crate::logq::with_filters!("format", "limit");
const GRAPH_Q: &[&str] = crate::logq::with_filters!("bucket");
const GROUP_Q: &[&str] = crate::logq::with_filters!("limit");
const PORTKEY_GROUP_Q: &[&str] = crate::logq::with_filters!("page_size", "current_page", "limit");

macro_rules! route {
    ($m:ident $path:literal $op:literal $tag:literal $scope:literal $summary:literal,
     query: $q:expr, req: $req:expr, resp: $resp:literal, $f:ident($h:path)) => {
        Route {
            method: M::$m,
            path: $path,
            op: $op,
            tag: $tag,
            summary: $summary,
            scope: $scope,
            query: $q,
            request: $req,
            response: $resp,
            handler: || $f($h),
        }
    };
}

/// Every admin route.
pub static ROUTES: &[Route] = &[
    // API keys (doc §1)
    route!(Post "/v1/api-keys/{type}/{sub_type}" "createApiKey" "API keys" "<family>_api_keys.create" "Create an API key; the secret is returned once",
        query: &[], req: Some("CreateApiKey"), resp: "ApiKeyCreated", post(api_keys::create)),
    route!(Get "/v1/api-keys" "listApiKeys" "API keys" "<family>_api_keys.list" "List API keys (masked)",
        query: PAGE, req: None, resp: "ApiKeyList", get(api_keys::list)),
    route!(Get "/v1/api-keys/{id}" "retrieveApiKey" "API keys" "<family>_api_keys.read" "Retrieve an API key (masked)",
        query: &[], req: None, resp: "ApiKey", get(api_keys::retrieve)),
    route!(Put "/v1/api-keys/{id}" "updateApiKey" "API keys" "<family>_api_keys.update" "Update an API key",
        query: &[], req: Some("UpdateApiKey"), resp: "Empty", put(api_keys::update)),
    route!(Delete "/v1/api-keys/{id}" "deleteApiKey" "API keys" "<family>_api_keys.delete" "Delete an API key",
        query: &[], req: None, resp: "Empty", delete(api_keys::remove)),
    route!(Post "/v1/api-keys/{id}/rotate" "rotateApiKey" "API keys" "<family>_api_keys.rotate" "Replace an API key's secret; the new one is returned once",
        query: &[], req: None, resp: "ApiKeyRotated", post(api_keys::rotate)),
    // Configs (doc §2)
    route!(Post "/v1/configs" "createConfig" "Configs" "configs.create" "Create a config",
        query: &[], req: Some("CreateConfig"), resp: "ConfigCreated", post(configs::create)),
    route!(Get "/v1/configs" "listConfigs" "Configs" "configs.list" "List configs (without their bodies)",
        query: PAGE, req: None, resp: "ConfigList", get(configs::list)),
    route!(Get "/v1/configs/{slug}" "retrieveConfig" "Configs" "configs.read" "Retrieve a config with its current version",
        query: &[], req: None, resp: "Config", get(configs::retrieve)),
    route!(Put "/v1/configs/{slug}" "updateConfig" "Configs" "configs.update" "Update a config; a new body makes a new version",
        query: &[], req: Some("UpdateConfig"), resp: "ConfigUpdated", put(configs::update)),
    route!(Delete "/v1/configs/{slug}" "deleteConfig" "Configs" "configs.delete" "Delete a config",
        query: &[], req: None, resp: "Empty", delete(configs::remove)),
    route!(Get "/v1/configs/{slug}/versions" "listConfigVersions" "Configs" "configs.read" "List a config's versions, newest first",
        query: &["page_size", "current_page"], req: None, resp: "ConfigVersionList", get(configs::versions)),
    // Integrations (doc §3)
    route!(Post "/v1/integrations" "createIntegration" "Integrations" "organisation_integrations.create | workspace_integrations.create" "Create an integration (provider credentials)",
        query: &[], req: Some("CreateIntegration"), resp: "IntegrationCreated", post(integrations::create)),
    route!(Get "/v1/integrations" "listIntegrations" "Integrations" "organisation_integrations.list | workspace_integrations.list" "List integrations",
        query: &["page_size", "current_page", "workspace_id", "type"], req: None, resp: "IntegrationList", get(integrations::list)),
    route!(Get "/v1/integrations/{slug}" "retrieveIntegration" "Integrations" "<level>_integrations.read" "Retrieve an integration (key masked)",
        query: &[], req: None, resp: "Integration", get(integrations::retrieve)),
    route!(Put "/v1/integrations/{slug}" "updateIntegration" "Integrations" "<level>_integrations.update" "Update an integration",
        query: &[], req: Some("UpdateIntegration"), resp: "Empty", put(integrations::update)),
    route!(Delete "/v1/integrations/{slug}" "deleteIntegration" "Integrations" "<level>_integrations.delete" "Delete an integration",
        query: &[], req: None, resp: "Empty", delete(integrations::remove)),
    route!(Get "/v1/integrations/{slug}/workspaces" "listIntegrationWorkspaces" "Integrations" "<level>_integrations.read" "Workspaces an integration is granted to",
        query: &[], req: None, resp: "IntegrationWorkspaces", get(grants::list_workspaces)),
    route!(Put "/v1/integrations/{slug}/workspaces" "updateIntegrationWorkspaces" "Integrations" "<level>_integrations.update" "Grant or revoke workspaces, with per-workspace limits",
        query: &[], req: Some("UpdateIntegrationWorkspaces"), resp: "Empty", put(grants::update_workspaces)),
    route!(Get "/v1/integrations/{slug}/models" "listIntegrationModels" "Integrations" "<level>_integrations.read" "Models an integration allows",
        query: &[], req: None, resp: "IntegrationModels", get(grants::list_models)),
    route!(Put "/v1/integrations/{slug}/models" "updateIntegrationModels" "Integrations" "<level>_integrations.update" "Allow, disable or add models",
        query: &[], req: Some("UpdateIntegrationModels"), resp: "Empty", put(grants::update_models)),
    route!(Delete "/v1/integrations/{slug}/models" "deleteIntegrationModels" "Integrations" "<level>_integrations.update" "Remove models (`?slugs=a,b` or body `models`)",
        query: &["slugs"], req: Some("DeleteIntegrationModels"), resp: "Empty", delete(grants::delete_models)),
    // Providers (doc §4)
    route!(Post "/v1/providers" "createProvider" "Providers" "providers.create" "Create a workspace AI provider from an integration",
        query: &[], req: Some("CreateProvider"), resp: "ProviderCreated", post(providers::create)),
    route!(Get "/v1/providers" "listProviders" "Providers" "providers.list" "List AI providers",
        query: PAGE, req: None, resp: "ProviderList", get(providers::list)),
    route!(Get "/v1/providers/{slug}" "retrieveProvider" "Providers" "providers.read" "Retrieve an AI provider",
        query: &["workspace_id"], req: None, resp: "Provider", get(providers::retrieve)),
    route!(Put "/v1/providers/{slug}" "updateProvider" "Providers" "providers.update" "Update an AI provider",
        query: &["workspace_id"], req: Some("UpdateProvider"), resp: "ProviderCreated", put(providers::update)),
    route!(Delete "/v1/providers/{slug}" "deleteProvider" "Providers" "providers.delete" "Delete an AI provider",
        query: &["workspace_id"], req: None, resp: "Empty", delete(providers::remove)),
    // Virtual keys (doc §5)
    route!(Post "/v1/virtual-keys" "createVirtualKey" "Virtual keys" "virtual_keys.create" "Create a virtual key (provider with its own key)",
        query: &[], req: Some("CreateVirtualKey"), resp: "VirtualKeyCreated", post(virtual_keys::create)),
    route!(Get "/v1/virtual-keys" "listVirtualKeys" "Virtual keys" "virtual_keys.list" "List virtual keys (and Model Catalog providers)",
        query: PAGE, req: None, resp: "VirtualKeyList", get(virtual_keys::list)),
    route!(Get "/v1/virtual-keys/{slug}" "retrieveVirtualKey" "Virtual keys" "virtual_keys.read" "Retrieve a virtual key",
        query: &["workspace_id"], req: None, resp: "VirtualKey", get(virtual_keys::retrieve)),
    route!(Put "/v1/virtual-keys/{slug}" "updateVirtualKey" "Virtual keys" "virtual_keys.update" "Update a virtual key",
        query: &["workspace_id"], req: Some("UpdateVirtualKey"), resp: "VirtualKeyUpdated", put(virtual_keys::update)),
    route!(Delete "/v1/virtual-keys/{slug}" "deleteVirtualKey" "Virtual keys" "virtual_keys.delete" "Delete a virtual key",
        query: &["workspace_id"], req: None, resp: "Empty", delete(virtual_keys::remove)),
    // Workspaces (doc §6)
    route!(Post "/v1/admin/workspaces" "createWorkspace" "Workspaces" "workspaces.create (organisation keys)" "Create a workspace",
        query: &[], req: Some("CreateWorkspace"), resp: "Workspace", post(workspaces::create)),
    route!(Get "/v1/admin/workspaces" "listWorkspaces" "Workspaces" "workspaces.list" "List workspaces",
        query: &["pageSize", "currentPage", "page_size", "current_page", "name", "exact_name"], req: None, resp: "WorkspaceList", get(workspaces::list)),
    route!(Get "/v1/admin/workspaces/{id}" "retrieveWorkspace" "Workspaces" "workspaces.read" "Retrieve a workspace by id or slug",
        query: &[], req: None, resp: "WorkspaceDetail", get(workspaces::retrieve)),
    route!(Put "/v1/admin/workspaces/{id}" "updateWorkspace" "Workspaces" "workspaces.update" "Update a workspace",
        query: &[], req: Some("UpdateWorkspace"), resp: "Empty", put(workspaces::update)),
    route!(Delete "/v1/admin/workspaces/{id}" "deleteWorkspace" "Workspaces" "workspaces.delete" "Delete an empty workspace",
        query: &[], req: Some("DeleteWorkspace"), resp: "Empty", delete(workspaces::remove)),
    // Workspace members and organisation users (doc §6): Portcullis has no user accounts.
    route!(Post "/v1/admin/workspaces/{id}/users" "addWorkspaceMembers" "Users" "workspace_users.create" "Add members (no user accounts: every user is unknown)",
        query: &[], req: Some("AddWorkspaceMembers"), resp: "Empty", post(members::add)),
    route!(Get "/v1/admin/workspaces/{id}/users" "listWorkspaceMembers" "Users" "workspace_users.list" "List members (always empty)",
        query: &["page_size", "current_page", "email", "role"], req: None, resp: "MemberList", get(members::list)),
    route!(Get "/v1/admin/workspaces/{id}/users/{user_id}" "retrieveWorkspaceMember" "Users" "workspace_users.read" "Retrieve a member (always 404)",
        query: &[], req: None, resp: "Member", get(members::retrieve)),
    route!(Put "/v1/admin/workspaces/{id}/users/{user_id}" "updateWorkspaceMember" "Users" "workspace_users.update" "Update a member's role (always 404)",
        query: &[], req: Some("UpdateMember"), resp: "Empty", put(members::update)),
    route!(Delete "/v1/admin/workspaces/{id}/users/{user_id}" "deleteWorkspaceMember" "Users" "workspace_users.delete" "Remove a member (always 404)",
        query: &[], req: None, resp: "Empty", delete(members::remove)),
    route!(Get "/v1/admin/users" "listUsers" "Users" "organisation_users.list" "List users (always empty)",
        query: &["pageSize", "currentPage", "email", "role"], req: None, resp: "UserList", get(members::list_users)),
    route!(Get "/v1/admin/users/{id}" "retrieveUser" "Users" "organisation_users.read" "Retrieve a user (always 404)",
        query: &[], req: None, resp: "User", get(members::retrieve_user)),
    route!(Put "/v1/admin/users/{id}" "updateUser" "Users" "organisation_users.update" "Update a user's role (always 404)",
        query: &[], req: Some("UpdateMember"), resp: "Empty", put(members::update_user)),
    route!(Delete "/v1/admin/users/{id}" "deleteUser" "Users" "organisation_users.delete" "Remove a user (always 404)",
        query: &[], req: None, resp: "Empty", delete(members::remove_user)),
    route!(Post "/v1/admin/users/invites" "inviteUser" "Users" "organisation_users.create" "Invite a user (refused: no user accounts)",
        query: &[], req: Some("InviteUser"), resp: "Empty", post(members::invite)),
    route!(Get "/v1/admin/users/invites" "listInvites" "Users" "organisation_users.list" "List invites (always empty)",
        query: &["pageSize", "currentPage", "email", "role", "status"], req: None, resp: "UserList", get(members::list_invites)),
    route!(Get "/v1/admin/users/invites/{id}" "retrieveInvite" "Users" "organisation_users.read" "Retrieve an invite (always 404)",
        query: &[], req: None, resp: "User", get(members::retrieve_invite)),
    route!(Delete "/v1/admin/users/invites/{id}" "deleteInvite" "Users" "organisation_users.delete" "Delete an invite (always 404)",
        query: &[], req: None, resp: "Empty", delete(members::remove_invite)),
    route!(Post "/v1/admin/users/invites/{id}/resend" "resendInvite" "Users" "organisation_users.create" "Resend an invite (always 404)",
        query: &[], req: None, resp: "Empty", post(members::resend_invite)),
    // Audit log
    route!(Get "/v1/audit-logs" "listAuditLogs" "Audit logs" "audit_logs.list (organisation keys)" "Admin changes, newest first",
        query: &["page_size", "current_page", "resource_type", "resource_id", "workspace_id", "action", "start_time"], req: None, resp: "AuditLogList", get(audit::list)),
    // Request logs (docs/analytics.md)
    route!(Get "/v1/logs" "listLogs" "Logs" "logs.list" "Request logs, newest first, without payloads (cursor paging: pass next_cursor as cursor)",
        query: LOG_LIST, req: None, resp: "LogList", get(logs::list)),
    route!(Get "/v1/logs/export" "exportLogs" "Logs" "logs.export" "Every matching log with payloads, streamed as JSONL or CSV",
        query: LOG_EXPORT, req: None, resp: "LogExport", get(logs::export)),
    route!(Get "/v1/logs/{id}" "retrieveLog" "Logs" "logs.view" "One log with its request and response payloads",
        query: &[], req: None, resp: "Log", get(logs::retrieve)),
    // Log exports (Portkey's asynchronous jobs; docs/analytics.md)
    route!(Post "/v1/logs/exports" "createLogExport" "Log exports" "logs.export" "Create an export job (a draft) from filters and the fields to export",
        query: &[], req: Some("CreateLogExport"), resp: "LogExportCreated", post(exports::create)),
    route!(Get "/v1/logs/exports" "listLogExports" "Log exports" "logs.export | logs.list" "Export jobs, newest first",
        query: &["workspace_id"], req: None, resp: "LogExportJobList", get(exports::list)),
    route!(Get "/v1/logs/exports/{id}" "retrieveLogExport" "Log exports" "logs.export | logs.view" "One export job with its status and record count",
        query: &[], req: None, resp: "LogExportJob", get(exports::retrieve)),
    route!(Put "/v1/logs/exports/{id}" "updateLogExport" "Log exports" "logs.export" "Change a draft's filters, fields or description",
        query: &[], req: Some("UpdateLogExport"), resp: "LogExportCreated", put(exports::update)),
    route!(Post "/v1/logs/exports/{id}/start" "startLogExport" "Log exports" "logs.export" "Start a draft: freeze its time range and count its records",
        query: &[], req: None, resp: "LogExportTask", post(exports::start)),
    route!(Post "/v1/logs/exports/{id}/cancel" "cancelLogExport" "Log exports" "logs.export" "Stop a draft or running export",
        query: &[], req: None, resp: "LogExportTask", post(exports::cancel)),
    route!(Get "/v1/logs/exports/{id}/download" "downloadLogExport" "Log exports" "logs.export" "A signed link (1 hour) to a finished export's JSONL file",
        query: &[], req: None, resp: "LogExportLink", get(exports::download)),
    route!(Get "/v1/logs/exports/{id}/file" "logExportFile" "Log exports" "none: the signed link is the credential" "The export's rows as streamed JSONL (no API key; expires and signature from the download link)",
        query: &["expires", "signature"], req: None, resp: "LogExportFile", get(exports::file)),
    // Feedback (Portkey's data-plane feedback API)
    route!(Post "/v1/feedback" "createFeedback" "Feedback" "feedbacks.write | logs.write | completions.write" "Add feedback to a trace: one object, or a list (bulk)",
        query: &["workspace_id"], req: Some("CreateFeedback"), resp: "FeedbackCreated", post(feedback::create)),
    route!(Get "/v1/feedback" "listFeedback" "Feedback" "feedbacks.read | logs.view" "The feedback on a trace, oldest first",
        query: &["trace_id"], req: None, resp: "FeedbackList", get(feedback::list)),
    route!(Get "/v1/feedback/{id}" "retrieveFeedback" "Feedback" "feedbacks.read | logs.view" "One feedback",
        query: &[], req: None, resp: "Feedback", get(feedback::retrieve)),
    route!(Put "/v1/feedback/{id}" "updateFeedback" "Feedback" "feedbacks.write | logs.write | completions.write" "Change a feedback's value, weight or metadata",
        query: &[], req: Some("UpdateFeedback"), resp: "FeedbackUpdated", put(feedback::update)),
    // Analytics (docs/analytics.md)
    route!(Get "/v1/analytics/summary" "analyticsSummary" "Analytics" "analytics.view" "Every metric over the matching logs",
        query: LOG_FILTERS, req: None, resp: "AnalyticsSummary", get(analytics::summary)),
    route!(Get "/v1/analytics/graphs" "analyticsGraphs" "Analytics" "analytics.view" "Every metric per time bucket (5m, 1h or 1d; empty buckets included)",
        query: GRAPH_Q, req: None, resp: "AnalyticsGraph", get(analytics::graphs)),
    route!(Get "/v1/analytics/summary/cache" "analyticsCacheSummary" "Analytics" "analytics.view" "Portkey's cache summary: hits, their latency (ms), requests, speedup (%)",
        query: LOG_FILTERS, req: None, resp: "PortkeyCacheSummary", get(graphs::cache_summary)),
    route!(Get "/v1/analytics/graphs/requests" "graphRequests" "Analytics" "analytics.view" "Portkey's requests graph",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::requests)),
    route!(Get "/v1/analytics/graphs/cost" "graphCost" "Analytics" "analytics.view" "Portkey's cost graph (US cents: total and per request)",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::cost)),
    route!(Get "/v1/analytics/graphs/latency" "graphLatency" "Analytics" "analytics.view" "Portkey's latency graph (ms: avg, p50, p90, p99)",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::latency)),
    route!(Get "/v1/analytics/graphs/tokens" "graphTokens" "Analytics" "analytics.view" "Portkey's tokens graph (total and per request)",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::tokens)),
    route!(Get "/v1/analytics/graphs/users" "graphUsers" "Analytics" "analytics.view" "Portkey's users graph (distinct metadata._user)",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::users)),
    route!(Get "/v1/analytics/graphs/users/requests" "graphUsersRequests" "Analytics" "analytics.view" "Portkey's requests-per-user graph",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::users_requests)),
    route!(Get "/v1/analytics/graphs/errors" "graphErrors" "Analytics" "analytics.view" "Portkey's errors graph",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::errors)),
    route!(Get "/v1/analytics/graphs/errors/rate" "graphErrorRate" "Analytics" "analytics.view" "Portkey's error-rate graph (%)",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::error_rate)),
    route!(Get "/v1/analytics/graphs/errors/stacks" "graphErrorStacks" "Analytics" "analytics.view" "Portkey's errors per status code per bucket",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::error_stacks)),
    route!(Get "/v1/analytics/graphs/errors/status-codes" "graphErrorStatusCodes" "Analytics" "analytics.view" "Portkey's errors per status code over the range",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::error_status_codes)),
    route!(Get "/v1/analytics/graphs/requests/rescued" "graphRescued" "Analytics" "analytics.view" "Portkey's requests rescued by retries and fallbacks",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::rescued)),
    route!(Get "/v1/analytics/graphs/cache/hit-rate" "graphCacheHitRate" "Analytics" "analytics.view" "Portkey's cache hits, hit rate (%) and cumulative savings (cents)",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::cache_hit_rate)),
    route!(Get "/v1/analytics/graphs/cache/latency" "graphCacheLatency" "Analytics" "analytics.view" "Portkey's cache-hit latency graph (ms)",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::cache_latency)),
    route!(Get "/v1/analytics/graphs/feedbacks" "graphFeedbacks" "Analytics" "analytics.view" "Portkey's feedback count graph",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::feedbacks)),
    route!(Get "/v1/analytics/graphs/feedbacks/scores" "graphFeedbackScores" "Analytics" "analytics.view" "Portkey's feedback per score",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::feedback_scores)),
    route!(Get "/v1/analytics/graphs/feedbacks/weighted" "graphFeedbackWeighted" "Analytics" "analytics.view" "Portkey's average weighted feedback (value × weight) graph",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::feedback_weighted)),
    route!(Get "/v1/analytics/graphs/feedbacks/ai-models" "graphFeedbackModels" "Analytics" "analytics.view" "Portkey's feedback per model",
        query: GRAPH_Q, req: None, resp: "PortkeyGraph", get(graphs::feedback_models)),
    route!(Get "/v1/analytics/groups/users" "analyticsGroupsUsers" "Analytics" "analytics.view" "Portkey's users groups: user, requests, cost (cents), with every metric",
        query: PORTKEY_GROUP_Q, req: None, resp: "PortkeyGroups", get(portkey_groups::users)),
    route!(Get "/v1/analytics/groups/ai-models" "analyticsGroupsModels" "Analytics" "analytics.view" "Portkey's model groups: ai_model, requests, with every metric",
        query: PORTKEY_GROUP_Q, req: None, resp: "PortkeyGroups", get(portkey_groups::models)),
    route!(Get "/v1/analytics/groups/{dimension}" "analyticsGroups" "Analytics" "analytics.view" "Every metric per model, provider, provider_id, api_key, workspace, status, outcome, endpoint or metadata.<key>, largest first",
        query: GROUP_Q, req: None, resp: "AnalyticsGroups", get(analytics::groups)),
    route!(Get "/v1/analytics/groups/metadata/{key}" "analyticsGroupsByMetadata" "Analytics" "analytics.view" "Portkey's metadata groups: metadata_value, requests, cost (cents), avg_tokens, feedback, with every metric",
        query: PORTKEY_GROUP_Q, req: None, resp: "PortkeyGroups", get(analytics::groups_metadata)),
    // This document
    route!(Get "/v1/admin/openapi.json" "openapi" "Meta" "any valid key" "This OpenAPI document",
        query: &[], req: None, resp: "OpenApi", get(openapi::serve)),
];
