//! The component schemas of the OpenAPI document: every request and response shape by name.

use serde_json::{Map, Value, json};

pub(super) fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn s() -> Value {
    json!({ "type": "string" })
}

fn ts() -> Value {
    json!({ "type": ["string", "null"], "format": "date-time", "example": "2026-03-02T16:36:52.000Z" })
}

fn ns() -> Value {
    json!({ "type": ["string", "null"] })
}

fn int() -> Value {
    json!({ "type": "integer" })
}

fn b() -> Value {
    json!({ "type": "boolean" })
}

fn arr(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn nullable(v: Value) -> Value {
    json!({ "anyOf": [v, { "type": "null" }] })
}

fn obj(props: &[(&str, Value)], required: &[&str]) -> Value {
    let p: Map<String, Value> = props
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    json!({ "type": "object", "properties": p, "required": required, "additionalProperties": true })
}

fn list_of(item: &str) -> Value {
    obj(
        &[
            ("object", json!({"const": "list"})),
            ("total", int()),
            ("data", arr(r(item))),
        ],
        &["object", "total", "data"],
    )
}

fn any_obj() -> Value {
    json!({ "type": "object", "additionalProperties": true })
}

/// Every schema the route table names, plus the shared ones.
pub(super) fn schemas() -> Map<String, Value> {
    let limits = [
        ("usage_limits", nullable(r("UsageLimits"))),
        ("rate_limits", nullable(arr(r("RateLimit")))),
    ];
    let limit_arrays = [
        ("usage_limits", nullable(arr(r("UsageLimits")))),
        ("rate_limits", nullable(arr(r("RateLimit")))),
    ];
    let api_key_body = |extra: &[(&'static str, Value)]| -> Vec<(&'static str, Value)> {
        let mut p = vec![
            ("name", s()),
            ("description", ns()),
            ("scopes", arr(s())),
            ("defaults", r("Defaults")),
            ("alert_emails", nullable(arr(s()))),
            ("expires_at", ts()),
        ];
        p.extend(limits.iter().cloned());
        p.extend(extra.iter().cloned());
        p
    };
    let provider_common = vec![
        ("id", s()),
        ("name", s()),
        ("slug", s()),
        ("integration_id", ns()),
        ("workspace_id", s()),
        ("ai_provider_name", ns()),
        ("note", ns()),
        ("status", s()),
        ("usage_limits", nullable(r("UsageLimits"))),
        ("rate_limits", nullable(arr(r("RateLimit")))),
        ("model_config", nullable(any_obj())),
        ("expires_at", ts()),
        ("created_at", ts()),
        ("last_updated_at", ts()),
    ];
    let workspace_item = vec![
        ("id", s()),
        ("slug", s()),
        ("name", s()),
        ("description", ns()),
        ("icon", ns()),
        ("created_at", ts()),
        ("last_updated_at", ts()),
        ("defaults", nullable(r("Defaults"))),
        ("is_default", int()),
        ("status", s()),
        ("object", json!({"const": "workspace"})),
        limit_arrays[0].clone(),
        limit_arrays[1].clone(),
    ];
    let config_item = vec![
        ("id", s()),
        ("name", s()),
        ("workspace_id", ns()),
        ("slug", s()),
        ("organisation_id", s()),
        ("is_default", int()),
        ("status", s()),
        ("owner_id", ns()),
        ("updated_by", ns()),
        ("created_at", ts()),
        ("last_updated_at", ts()),
        ("object", json!({"const": "config"})),
    ];
    let with = |base: &Vec<(&'static str, Value)>, extra: &[(&'static str, Value)]| {
        let mut p = base.clone();
        p.extend(extra.iter().cloned());
        p
    };
    let integration_item = vec![
        ("id", s()),
        ("organisation_id", s()),
        ("ai_provider_id", s()),
        ("name", s()),
        ("status", s()),
        ("created_at", ts()),
        ("last_updated_at", ts()),
        ("slug", s()),
        ("description", ns()),
        ("type", json!({"enum": ["organisation", "workspace"]})),
        ("workspace_id", ns()),
        ("object", json!({"const": "integration"})),
    ];
    let global = obj(
        &[
            ("enabled", b()),
            limit_arrays[0].clone(),
            limit_arrays[1].clone(),
        ],
        &[],
    );
    let model = obj(
        &[
            ("slug", s()),
            ("enabled", b()),
            ("is_custom", b()),
            ("is_finetune", b()),
            ("base_model_slug", ns()),
            ("pricing_config", nullable(any_obj())),
        ],
        &["slug"],
    );
    let member = obj(
        &[
            ("object", s()),
            ("id", s()),
            ("first_name", ns()),
            ("last_name", ns()),
            ("org_role", s()),
            ("role", s()),
            ("status", s()),
            ("workspace_id", s()),
            ("created_at", ts()),
            ("last_updated_at", ts()),
        ],
        &[],
    );
    let entries: Vec<(&str, Value)> = vec![
        (
            "Empty",
            json!({ "type": "object", "description": "`{}`", "additionalProperties": true }),
        ),
        (
            "Error",
            obj(
                &[
                    ("success", json!({"const": false})),
                    ("status_code", int()),
                    (
                        "error",
                        obj(
                            &[
                                ("message", s()),
                                ("type", s()),
                                ("code", json!({"type": "string", "example": "AB01"})),
                                ("param", ns()),
                            ],
                            &["message", "code"],
                        ),
                    ),
                    ("data", obj(&[("message", s())], &[])),
                ],
                &["success", "error"],
            ),
        ),
        (
            "UsageLimits",
            obj(
                &[
                    (
                        "type",
                        json!({"enum": ["cost", "tokens"], "default": "cost"}),
                    ),
                    (
                        "credit_limit",
                        json!({"type": "number", "exclusiveMinimum": 0}),
                    ),
                    ("alert_threshold", json!({"type": "number"})),
                    (
                        "periodic_reset",
                        json!({"enum": ["daily", "weekly", "monthly"]}),
                    ),
                ],
                &["credit_limit"],
            ),
        ),
        (
            "RateLimit",
            obj(
                &[
                    (
                        "type",
                        json!({"enum": ["requests", "tokens"], "default": "requests"}),
                    ),
                    ("unit", json!({"enum": ["rps", "rpm", "rph", "rpd"]})),
                    ("value", int()),
                ],
                &["unit", "value"],
            ),
        ),
        (
            "Defaults",
            obj(
                &[
                    ("config_id", ns()),
                    (
                        "metadata",
                        nullable(
                            json!({"type": "object", "additionalProperties": {"type": "string"}}),
                        ),
                    ),
                    ("allow_config_override", nullable(b())),
                    ("user_rate_limits", nullable(arr(r("RateLimit")))),
                    ("user_usage_limits", nullable(r("UsageLimits"))),
                ],
                &[],
            ),
        ),
        (
            "CreateApiKey",
            obj(
                &api_key_body(&[("workspace_id", s()), ("user_id", s())]),
                &["name"],
            ),
        ),
        ("UpdateApiKey", obj(&api_key_body(&[]), &[])),
        (
            "ApiKeyCreated",
            obj(
                &[
                    ("id", s()),
                    ("key", s()),
                    ("object", json!({"const": "api-key"})),
                ],
                &["id", "key"],
            ),
        ),
        (
            "ApiKeyRotated",
            obj(
                &[
                    ("id", s()),
                    ("key", s()),
                    ("key_transition_expires_at", ts()),
                ],
                &["id", "key"],
            ),
        ),
        (
            "ApiKey",
            obj(
                &[
                    ("id", s()),
                    ("key", json!({"type": "string", "example": "pc*****xYz"})),
                    ("name", s()),
                    ("description", ns()),
                    (
                        "type",
                        json!({"enum": ["organisation-service", "workspace-service", "workspace-user"]}),
                    ),
                    ("organisation_id", s()),
                    ("workspace_id", ns()),
                    ("user_id", ns()),
                    (
                        "status",
                        json!({"enum": ["active", "exhausted", "expired", "archived", "revoked"]}),
                    ),
                    ("created_at", ts()),
                    ("last_updated_at", ts()),
                    ("creation_mode", s()),
                    ("rate_limits", arr(r("RateLimit"))),
                    ("usage_limits", nullable(r("UsageLimits"))),
                    ("reset_usage", nullable(json!({"type": "number"}))),
                    ("expires_at", ts()),
                    ("last_reset_at", ts()),
                    ("alert_emails", nullable(arr(s()))),
                    ("expiry_enforced", int()),
                    ("next_usage_reset_at", ts()),
                    ("allow_config_override", nullable(b())),
                    ("api_key_defaults_id", ns()),
                    ("scopes", arr(s())),
                    ("defaults", r("Defaults")),
                    ("object", json!({"const": "api-key"})),
                ],
                &["id", "key", "type", "scopes", "object"],
            ),
        ),
        ("ApiKeyList", list_of("ApiKey")),
        (
            "CreateConfig",
            obj(
                &[
                    ("name", s()),
                    (
                        "config",
                        json!({"type": ["object", "string"], "description": "a gateway config"}),
                    ),
                    ("is_default", json!({"type": ["integer", "boolean"]})),
                    ("isDefault", json!({"type": ["integer", "boolean"]})),
                    ("workspace_id", s()),
                ],
                &["name", "config"],
            ),
        ),
        (
            "UpdateConfig",
            obj(
                &[
                    ("name", s()),
                    ("config", json!({"type": ["object", "string"]})),
                    ("status", json!({"enum": ["active", "archived"]})),
                    ("is_default", json!({"type": ["integer", "boolean"]})),
                ],
                &[],
            ),
        ),
        (
            "ConfigCreated",
            obj(
                &[
                    ("id", s()),
                    ("version_id", s()),
                    ("slug", s()),
                    ("object", json!({"const": "config"})),
                ],
                &["id", "slug"],
            ),
        ),
        (
            "ConfigUpdated",
            obj(
                &[("version_id", s()), ("object", json!({"const": "config"}))],
                &["version_id"],
            ),
        ),
        ("ConfigSummary", obj(&config_item, &["id", "slug"])),
        ("ConfigList", list_of("ConfigSummary")),
        (
            "Config",
            obj(
                &with(
                    &config_item,
                    &[
                        (
                            "config",
                            json!({"type": "string", "description": "JSON-encoded config body"}),
                        ),
                        ("format", s()),
                        ("type", s()),
                        ("version_id", s()),
                    ],
                ),
                &["id", "slug", "config"],
            ),
        ),
        ("ConfigVersionList", list_of("Config")),
        (
            "CreateIntegration",
            obj(
                &[
                    ("name", s()),
                    ("ai_provider_id", s()),
                    (
                        "slug",
                        json!({"type": "string", "pattern": "^[a-zA-Z0-9_-]+$"}),
                    ),
                    ("key", json!({"type": "string", "writeOnly": true})),
                    ("description", s()),
                    ("workspace_id", s()),
                    ("configurations", any_obj()),
                    ("create_default_provider", b()),
                    ("default_provider_slug", s()),
                ],
                &["name", "ai_provider_id"],
            ),
        ),
        (
            "UpdateIntegration",
            obj(
                &[
                    ("name", s()),
                    ("description", ns()),
                    (
                        "key",
                        json!({"type": ["string", "null"], "writeOnly": true}),
                    ),
                    ("configurations", any_obj()),
                ],
                &[],
            ),
        ),
        (
            "IntegrationCreated",
            obj(&[("id", s()), ("slug", s())], &["id", "slug"]),
        ),
        (
            "IntegrationSummary",
            obj(&integration_item, &["id", "slug"]),
        ),
        ("IntegrationList", list_of("IntegrationSummary")),
        (
            "Integration",
            obj(
                &with(
                    &integration_item,
                    &[
                        ("masked_key", ns()),
                        ("configurations", any_obj()),
                        ("global_workspace_access_settings", global.clone()),
                        ("global_workspace_access", global.clone()),
                        ("allow_all_models", b()),
                        ("workspace_count", int()),
                        ("owner_id", ns()),
                        ("secret_mappings", arr(any_obj())),
                    ],
                ),
                &["id", "slug"],
            ),
        ),
        (
            "IntegrationWorkspaces",
            obj(
                &[
                    ("object", json!({"const": "list"})),
                    ("total", int()),
                    (
                        "workspaces",
                        arr(obj(
                            &[
                                ("id", s()),
                                ("workspace_id", s()),
                                ("enabled", b()),
                                limit_arrays[0].clone(),
                                limit_arrays[1].clone(),
                            ],
                            &["id", "enabled"],
                        )),
                    ),
                    ("global_workspace_access", global.clone()),
                ],
                &["total", "workspaces"],
            ),
        ),
        (
            "UpdateIntegrationWorkspaces",
            obj(
                &[
                    (
                        "workspaces",
                        arr(obj(
                            &[
                                ("id", s()),
                                ("enabled", b()),
                                limit_arrays[0].clone(),
                                limit_arrays[1].clone(),
                                ("reset_usage", b()),
                                ("create_default_provider", b()),
                                ("default_provider_slug", s()),
                            ],
                            &["id"],
                        )),
                    ),
                    ("global_workspace_access", global.clone()),
                    ("override_existing_workspace_access", b()),
                    ("override_existing_workspaces_access", b()),
                    ("create_default_provider", b()),
                ],
                &[],
            ),
        ),
        (
            "IntegrationModels",
            obj(
                &[
                    ("object", json!({"const": "list"})),
                    ("total", int()),
                    ("allow_all_models", b()),
                    ("models", arr(model.clone())),
                ],
                &["allow_all_models", "models"],
            ),
        ),
        (
            "UpdateIntegrationModels",
            obj(&[("allow_all_models", b()), ("models", arr(model))], &[]),
        ),
        ("DeleteIntegrationModels", obj(&[("models", arr(s()))], &[])),
        (
            "CreateProvider",
            obj(
                &with(
                    &vec![
                        ("name", s()),
                        ("integration_id", s()),
                        ("workspace_id", s()),
                        ("slug", s()),
                        ("note", ns()),
                        ("expires_at", ts()),
                        ("model_config", any_obj()),
                    ],
                    &limits,
                ),
                &["name", "integration_id"],
            ),
        ),
        (
            "UpdateProvider",
            obj(
                &with(
                    &vec![
                        ("name", s()),
                        ("note", ns()),
                        ("expires_at", ts()),
                        ("reset_usage", b()),
                        ("model_config", any_obj()),
                    ],
                    &limits,
                ),
                &[],
            ),
        ),
        (
            "ProviderCreated",
            obj(
                &[("id", s()), ("slug", s()), ("object", s())],
                &["id", "slug"],
            ),
        ),
        (
            "Provider",
            obj(
                &with(
                    &provider_common,
                    &[
                        ("reset_usage", ns()),
                        ("object", json!({"const": "provider"})),
                    ],
                ),
                &["id", "slug"],
            ),
        ),
        ("ProviderList", list_of("Provider")),
        (
            "CreateVirtualKey",
            obj(
                &with(
                    &vec![
                        ("name", s()),
                        ("provider", s()),
                        ("key", json!({"type": "string", "writeOnly": true})),
                        ("note", ns()),
                        ("workspace_id", s()),
                        ("expires_at", ts()),
                        ("model_config", any_obj()),
                        ("resourceName", s()),
                        ("deploymentConfig", arr(any_obj())),
                        ("apiVersion", s()),
                        ("deploymentName", s()),
                        ("awsRegion", s()),
                        ("awsAccessKeyId", s()),
                        ("awsSecretAccessKey", s()),
                        ("vertexProjectId", s()),
                        ("vertexRegion", s()),
                    ],
                    &limits,
                ),
                &["name", "provider"],
            ),
        ),
        (
            "UpdateVirtualKey",
            obj(
                &with(
                    &vec![
                        ("name", s()),
                        ("key", json!({"type": "string", "writeOnly": true})),
                        ("note", ns()),
                        ("expires_at", ts()),
                        ("reset_usage", b()),
                        ("deploymentConfig", arr(any_obj())),
                        ("model_config", any_obj()),
                    ],
                    &limits,
                ),
                &[],
            ),
        ),
        (
            "VirtualKeyCreated",
            obj(
                &[
                    ("success", b()),
                    ("data", obj(&[("slug", s()), ("id", s())], &[])),
                    ("id", s()),
                    ("slug", s()),
                    ("object", json!({"const": "virtual-key"})),
                ],
                &["id", "slug"],
            ),
        ),
        (
            "VirtualKeyUpdated",
            obj(
                &[
                    ("id", s()),
                    ("slug", s()),
                    ("object", json!({"const": "virtual-key"})),
                ],
                &["id", "slug"],
            ),
        ),
        (
            "VirtualKey",
            obj(
                &with(
                    &provider_common,
                    &[
                        ("organisation_id", s()),
                        ("provider", ns()),
                        ("key", json!({"const": ""})),
                        ("masked_api_key", ns()),
                        ("last_reset_at", ts()),
                        ("tags", nullable(arr(s()))),
                        ("workspace_name", ns()),
                        ("object", json!({"const": "virtual-key"})),
                    ],
                ),
                &["id", "slug"],
            ),
        ),
        ("VirtualKeyList", list_of("VirtualKey")),
        (
            "CreateWorkspace",
            obj(
                &[
                    ("name", s()),
                    ("description", s()),
                    ("slug", s()),
                    ("defaults", r("Defaults")),
                    ("users", arr(s())),
                    limit_arrays[0].clone(),
                    limit_arrays[1].clone(),
                ],
                &["name"],
            ),
        ),
        (
            "UpdateWorkspace",
            obj(
                &[
                    ("name", s()),
                    ("description", ns()),
                    ("defaults", nullable(r("Defaults"))),
                    limit_arrays[0].clone(),
                    limit_arrays[1].clone(),
                ],
                &[],
            ),
        ),
        (
            "DeleteWorkspace",
            obj(&[("name", s()), ("workspace_id", s())], &[]),
        ),
        ("Workspace", obj(&workspace_item, &["id", "slug", "name"])),
        ("WorkspaceList", list_of("Workspace")),
        (
            "WorkspaceDetail",
            obj(
                &with(
                    &workspace_item,
                    &[
                        ("organisation_id", s()),
                        ("settings", nullable(any_obj())),
                        ("last_reset_at", ts()),
                        ("created_by", ns()),
                        ("creation_source", ns()),
                        ("users", arr(r("Member"))),
                    ],
                ),
                &["id", "slug", "name", "users"],
            ),
        ),
        (
            "AddWorkspaceMembers",
            obj(
                &[(
                    "users",
                    arr(obj(
                        &[
                            ("id", s()),
                            ("role", json!({"enum": ["admin", "manager", "member"]})),
                        ],
                        &["id"],
                    )),
                )],
                &["users"],
            ),
        ),
        ("UpdateMember", obj(&[("role", s())], &["role"])),
        ("Member", member.clone()),
        ("MemberList", list_of("Member")),
        ("User", member),
        ("UserList", list_of("User")),
        (
            "InviteUser",
            obj(
                &[
                    ("email", s()),
                    ("role", s()),
                    ("workspaces", arr(any_obj())),
                    ("workspace_api_key_details", any_obj()),
                ],
                &["email"],
            ),
        ),
        (
            "AuditLog",
            obj(
                &[
                    ("id", s()),
                    ("created_at", ts()),
                    ("timestamp", ts()),
                    ("actor", obj(&[("id", s()), ("name", s())], &[])),
                    ("action", s()),
                    ("resource_type", s()),
                    ("resource_id", s()),
                    ("workspace_id", ns()),
                    ("details", any_obj()),
                    ("object", json!({"const": "audit-log"})),
                ],
                &["id", "action"],
            ),
        ),
        ("AuditLogList", list_of("AuditLog")),
        (
            "OpenApi",
            json!({ "type": "object", "description": "this document", "additionalProperties": true }),
        ),
    ];
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}
