//! Portkey's scope names (doc §7) and which key types may hold each.

use portcullis_control::model::KeyType;

/// Which key types may hold a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// Organisation (admin) keys only.
    Organisation,
    /// Workspace keys only (the data plane).
    Workspace,
    /// Workspace service keys and organisation keys (not user keys).
    ServiceKeys,
    /// Every key type.
    All,
}

const ACTIONS: &[&str] = &["create", "read", "update", "delete", "list"];
const KEY_ACTIONS: &[&str] = &["create", "read", "update", "delete", "list", "rotate"];
const NO_LIST: &[&str] = &["create", "read", "update", "delete"];

/// `(resource, actions, holder)`; expanded, these are the 130 documented names.
const FAMILIES: &[(&str, &[&str], Holder)] = &[
    ("organisation_users", ACTIONS, Holder::Organisation),
    (
        "organisation_service_api_keys",
        KEY_ACTIONS,
        Holder::Organisation,
    ),
    ("audit_logs", &["list"], Holder::Organisation),
    (
        "plugins",
        &["create", "update", "list"],
        Holder::Organisation,
    ),
    ("workspaces", &["delete"], Holder::Organisation),
    ("organisation_integrations", NO_LIST, Holder::Organisation),
    (
        "organisation_mcp_integrations",
        NO_LIST,
        Holder::Organisation,
    ),
    (
        "organisation_agent_integrations",
        NO_LIST,
        Holder::Organisation,
    ),
    ("deployments", ACTIONS, Holder::Organisation),
    ("secret_references", ACTIONS, Holder::Organisation),
    ("completions", &["write"], Holder::Workspace),
    ("logs", &["write"], Holder::Workspace),
    ("prompts", &["render"], Holder::Workspace),
    ("mcp", &["invoke"], Holder::Workspace),
    ("agents", &["invoke"], Holder::Workspace),
    ("guardrails", &["invoke"], Holder::Workspace),
    (
        "workspace_service_api_keys",
        KEY_ACTIONS,
        Holder::ServiceKeys,
    ),
    ("workspace_user_api_keys", KEY_ACTIONS, Holder::ServiceKeys),
    (
        "workspaces",
        &["create", "read", "update", "list"],
        Holder::All,
    ),
    ("workspace_users", ACTIONS, Holder::All),
    (
        "prompts",
        &["create", "read", "update", "delete", "list", "publish"],
        Holder::All,
    ),
    ("configs", ACTIONS, Holder::All),
    ("guardrails", ACTIONS, Holder::All),
    (
        "virtual_keys",
        &[
            "create",
            "read",
            "update",
            "delete",
            "list",
            "duplicate",
            "copy",
        ],
        Holder::All,
    ),
    ("providers", ACTIONS, Holder::All),
    ("policies", ACTIONS, Holder::All),
    ("workspace_integrations", ACTIONS, Holder::All),
    ("workspace_mcp_integrations", ACTIONS, Holder::All),
    ("workspace_agent_integrations", ACTIONS, Holder::All),
    ("organisation_integrations", &["list"], Holder::All),
    ("organisation_mcp_integrations", &["list"], Holder::All),
    ("organisation_agent_integrations", &["list"], Holder::All),
    ("agent_servers", ACTIONS, Holder::All),
    ("mcp_servers", ACTIONS, Holder::All),
    ("analytics", &["view"], Holder::All),
    ("logs", &["export", "list", "view"], Holder::All),
];

/// The 2.0 gateway's internal route scopes: accepted, not advertised (doc §7).
const INTERNAL: &[&str] = &[
    "completions.read",
    "logs.read",
    "feedbacks.read",
    "feedbacks.write",
];

/// Who may hold `scope`; `None` for a name Portkey does not define.
pub fn holder(scope: &str) -> Option<Holder> {
    if INTERNAL.contains(&scope) {
        return Some(Holder::All);
    }
    let (resource, action) = scope.split_once('.')?;
    FAMILIES
        .iter()
        .find(|(r, actions, _)| *r == resource && actions.contains(&action))
        .map(|(_, _, h)| *h)
}

/// Whether a key of `key_type` may hold `scope` at all.
pub fn allowed_for(key_type: KeyType, scope: &str) -> bool {
    match (holder(scope), key_type) {
        (None, _) => false,
        (Some(Holder::All), _) => true,
        (Some(Holder::Organisation), t) => t == KeyType::OrganisationService,
        (Some(Holder::Workspace), t) => t != KeyType::OrganisationService,
        (Some(Holder::ServiceKeys), t) => t != KeyType::WorkspaceUser,
    }
}

/// Every documented scope name (130), in the doc's order.
pub fn all() -> Vec<String> {
    FAMILIES
        .iter()
        .flat_map(|(r, actions, _)| actions.iter().map(move |a| format!("{r}.{a}")))
        .collect()
}

/// The scope family that governs API keys of `key_type`.
pub fn api_key_family(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::OrganisationService => "organisation_service_api_keys",
        KeyType::WorkspaceService => "workspace_service_api_keys",
        KeyType::WorkspaceUser => "workspace_user_api_keys",
    }
}

/// Every API-key family, for routes that act on keys of any type (list).
pub const API_KEY_FAMILIES: [KeyType; 3] = [
    KeyType::OrganisationService,
    KeyType::WorkspaceService,
    KeyType::WorkspaceUser,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_list_has_130_unique_names() {
        let all = all();
        assert_eq!(all.len(), 130);
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), 130);
        for s in &all {
            assert!(holder(s).is_some(), "{s}");
        }
    }

    #[test]
    fn holders_follow_the_doc() {
        use KeyType::*;
        assert!(allowed_for(OrganisationService, "audit_logs.list"));
        assert!(!allowed_for(WorkspaceService, "audit_logs.list"));
        assert!(!allowed_for(OrganisationService, "completions.write"));
        assert!(allowed_for(WorkspaceUser, "completions.write"));
        assert!(!allowed_for(
            WorkspaceUser,
            "workspace_user_api_keys.create"
        ));
        assert!(allowed_for(
            WorkspaceService,
            "workspace_user_api_keys.create"
        ));
        assert!(allowed_for(WorkspaceService, "workspaces.read"));
        assert!(!allowed_for(WorkspaceService, "workspaces.delete"));
        assert!(allowed_for(
            WorkspaceService,
            "organisation_integrations.list"
        ));
        assert!(!allowed_for(
            WorkspaceService,
            "organisation_integrations.read"
        ));
        assert!(
            allowed_for(WorkspaceService, "logs.read"),
            "internal names are accepted"
        );
        assert!(holder("configs.explode").is_none());
        assert!(holder("nonsense").is_none());
    }
}
