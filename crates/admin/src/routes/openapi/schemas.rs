//! The component schemas of the OpenAPI document: every request and response shape by name.

use serde_json::{Map, Value, json};

pub(super) fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn s() -> Value {
    json!({ "type": "string" })
}

pub(super) fn ts() -> Value {
    json!({ "type": ["string", "null"], "format": "date-time", "example": "2026-03-02T16:36:52.000Z" })
}

pub(super) fn ns() -> Value {
    json!({ "type": ["string", "null"] })
}

pub(super) fn int() -> Value {
    json!({ "type": "integer" })
}

pub(super) fn b() -> Value {
    json!({ "type": "boolean" })
}

pub(super) fn arr(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

pub(super) fn nullable(v: Value) -> Value {
    json!({ "anyOf": [v, { "type": "null" }] })
}

pub(super) fn obj(props: &[(&str, Value)], required: &[&str]) -> Value {
    let p: Map<String, Value> = props
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    json!({ "type": "object", "properties": p, "required": required, "additionalProperties": true })
}

pub(super) fn list_of(item: &str) -> Value {
    obj(
        &[
            ("object", json!({"const": "list"})),
            ("total", int()),
            ("data", arr(r(item))),
        ],
        &["object", "total", "data"],
    )
}

pub(super) fn any_obj() -> Value {
    json!({ "type": "object", "additionalProperties": true })
}

pub(super) fn num() -> Value {
    json!({ "type": "number" })
}

pub(super) fn nint() -> Value {
    json!({ "type": ["integer", "null"] })
}

/// A request log's fields; `bodies` adds the payloads.
fn log_item(bodies: bool) -> Vec<(&'static str, Value)> {
    let mut p = vec![
        ("id", s()),
        ("object", json!({"const": "log"})),
        ("created_at", ts()),
        ("created_at_ms", int()),
        ("trace_id", s()),
        ("w3c_trace_id", s()),
        ("span_id", s()),
        ("parent_span_id", ns()),
        ("workspace_id", ns()),
        ("api_key_id", ns()),
        ("provider_id", ns()),
        ("integration_id", ns()),
        ("provider", ns()),
        ("requested_model", ns()),
        ("model", ns()),
        ("endpoint", s()),
        ("method", s()),
        ("path", s()),
        ("stream", b()),
        ("status", int()),
        ("outcome", ns()),
        (
            "error",
            nullable(obj(
                &[("code", ns()), ("type", ns()), ("message", ns())],
                &[],
            )),
        ),
        (
            "timings",
            obj(
                &[
                    ("total_us", int()),
                    ("upstream_us", nint()),
                    ("ttft_us", nint()),
                    ("overhead_us", int()),
                ],
                &["total_us"],
            ),
        ),
        (
            "tokens",
            obj(
                &[
                    ("prompt", int()),
                    ("completion", int()),
                    ("total", int()),
                    ("cached", int()),
                    ("cache_write", int()),
                    ("reasoning", int()),
                ],
                &[],
            ),
        ),
        ("cost_nanos", nint()),
        (
            "cost",
            json!({ "type": ["number", "null"], "description": "USD" }),
        ),
        ("cache_status", s()),
        ("retry_count", int()),
        ("fallback_path", arr(s())),
        ("guardrails", json!({})),
        ("metadata", any_obj()),
        ("request_bytes", int()),
        ("response_bytes", int()),
    ];
    if bodies {
        p.push(("request_body", ns()));
        p.push(("response_body", ns()));
    }
    p
}

/// The metrics every analytics response carries (`docs/analytics.md`).
fn analytics_metrics() -> Value {
    let counts = [
        "requests",
        "successes",
        "errors",
        "client_errors",
        "server_errors",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "total_tokens",
        "cost_nanos",
        "cost_per_request_nanos",
        "cost_per_1k_tokens_nanos",
        "latency_avg_us",
        "latency_p50_us",
        "latency_p90_us",
        "latency_p95_us",
        "latency_p99_us",
        "ttft_avg_us",
        "ttft_p50_us",
        "ttft_p95_us",
        "upstream_avg_us",
        "overhead_avg_us",
        "overhead_p50_us",
        "overhead_p99_us",
        "cache_hits",
        "cache_misses",
        "cache_savings_estimate_nanos",
        "retried",
        "rescued_by_retry",
        "fell_back",
        "rescued_by_fallback",
        "streams",
        "unique_users",
        "unique_models",
        "unique_keys",
    ];
    let numbers = [
        "success_rate",
        "error_rate",
        "tokens_per_request",
        "prompt_tokens_per_request",
        "completion_tokens_per_request",
        "cached_token_ratio",
        "reasoning_token_ratio",
        "cost",
        "cost_per_request",
        "cost_per_1k_tokens",
        "overhead_share",
        "cache_hit_rate",
        "cache_savings_estimate",
        "retry_rescue_rate",
        "fallback_rescue_rate",
        "stream_rate",
        "requests_per_user",
        "requests_per_minute",
    ];
    let mut props: Vec<(&str, Value)> = counts.iter().map(|c| (*c, int())).collect();
    props.extend(numbers.iter().map(|n| (*n, num())));
    let count_map = json!({ "type": "object", "additionalProperties": { "type": "integer" } });
    props.push(("errors_by_outcome", count_map.clone()));
    props.push(("errors_by_status", count_map));
    obj(&props, &["requests", "errors", "cost_nanos"])
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
    let feedback_in = obj(
        &[
            ("trace_id", s()),
            (
                "value",
                json!({"type": "integer", "minimum": -10, "maximum": 10}),
            ),
            (
                "weight",
                json!({"type": "number", "minimum": 0, "maximum": 1, "default": 1}),
            ),
            ("metadata", any_obj()),
        ],
        &["trace_id", "value"],
    );
    let feedback_reply = obj(
        &[
            ("status", json!({"const": "success"})),
            ("message", s()),
            ("feedback_ids", arr(s())),
        ],
        &["status", "feedback_ids"],
    );
    let mut entries: Vec<(&str, Value)> = vec![
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
        (
            "UpdateApiKey",
            obj(&api_key_body(&[("reset_usage", b())]), &[]),
        ),
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
            "Log",
            obj(&log_item(true), &["id", "trace_id", "created_at", "status"]),
        ),
        (
            "LogList",
            obj(
                &[
                    ("object", json!({"const": "list"})),
                    ("data", arr(obj(&log_item(false), &["id"]))),
                    ("has_more", b()),
                    ("next_cursor", ns()),
                    ("limit", int()),
                ],
                &["object", "data", "has_more", "next_cursor"],
            ),
        ),
        (
            "LogExport",
            json!({
                "type": "string",
                "description": "A streamed (chunked) download, not JSON: `format=jsonl` gives one `Log` object per line \
                    (`application/x-ndjson`); `format=csv` a header row then one row per log (`text/csv`, RFC 4180 quoting, \
                    text a spreadsheet would run as a formula prefixed with '). `content-disposition: attachment`.",
            }),
        ),
        (
            "CreateFeedback",
            json!({ "oneOf": [feedback_in.clone(), arr(feedback_in)] }),
        ),
        (
            "UpdateFeedback",
            obj(
                &[
                    (
                        "value",
                        json!({"type": "integer", "minimum": -10, "maximum": 10}),
                    ),
                    (
                        "weight",
                        json!({"type": "number", "minimum": 0, "maximum": 1}),
                    ),
                    ("metadata", any_obj()),
                ],
                &[],
            ),
        ),
        ("FeedbackCreated", feedback_reply.clone()),
        (
            "FeedbackUpdated",
            json!({ "allOf": [feedback_reply, obj(&[("data", r("Feedback"))], &[])] }),
        ),
        (
            "Feedback",
            obj(
                &[
                    ("id", s()),
                    ("object", json!({"const": "feedback"})),
                    ("trace_id", s()),
                    ("value", int()),
                    ("weight", num()),
                    ("metadata", any_obj()),
                    ("workspace_id", ns()),
                    ("created_at", ts()),
                    ("updated_at", ts()),
                ],
                &["id", "trace_id", "value", "weight"],
            ),
        ),
        ("FeedbackList", list_of("Feedback")),
        ("AnalyticsMetrics", analytics_metrics()),
        (
            "AnalyticsRange",
            obj(
                &[
                    ("from", ts()),
                    ("to", ts()),
                    ("from_ms", nint()),
                    ("to_ms", nint()),
                ],
                &[],
            ),
        ),
        (
            "AnalyticsSummary",
            obj(
                &[
                    ("object", json!({"const": "analytics-summary"})),
                    ("range", r("AnalyticsRange")),
                    ("data", r("AnalyticsMetrics")),
                ],
                &["object", "data"],
            ),
        ),
        (
            "AnalyticsGraph",
            obj(
                &[
                    ("object", json!({"const": "analytics-graph"})),
                    ("bucket", json!({"enum": ["5m", "1h", "1d"]})),
                    ("bucket_ms", int()),
                    ("range", r("AnalyticsRange")),
                    (
                        "data",
                        arr(json!({ "allOf": [
                            obj(&[("timestamp", ts()), ("timestamp_ms", int()), ("requests_per_second", num())], &["timestamp"]),
                            r("AnalyticsMetrics"),
                        ] })),
                    ),
                ],
                &["object", "bucket", "data"],
            ),
        ),
        (
            "AnalyticsGroups",
            obj(
                &[
                    ("object", json!({"const": "list"})),
                    ("dimension", s()),
                    ("range", r("AnalyticsRange")),
                    ("total", int()),
                    (
                        "data",
                        arr(json!({ "allOf": [
                            obj(&[("key", json!({"description": "the group's value; null for records without one"}))], &["key"]),
                            r("AnalyticsMetrics"),
                        ] })),
                    ),
                ],
                &["object", "dimension", "total", "data"],
            ),
        ),
        (
            "OpenApi",
            json!({ "type": "object", "description": "this document", "additionalProperties": true }),
        ),
    ];
    entries.extend(super::portkey_schemas::entries());
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}
