-- The control-plane catalog (SQLite). Keep equivalent to ../postgres/0001_catalog.sql.
-- Times are unix milliseconds; JSON values are TEXT; `seq` is the catalog version that created
-- the row (a tie-breaker that keeps newest-first paging stable within one millisecond).

CREATE TABLE catalog_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO catalog_version (id, version) VALUES (1, 0);

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    defaults TEXT,
    usage_limits TEXT,
    rate_limits TEXT NOT NULL,
    is_default BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    CONSTRAINT workspaces_slug_key UNIQUE (slug)
);
CREATE UNIQUE INDEX workspaces_one_default_idx ON workspaces (is_default) WHERE is_default;
CREATE INDEX workspaces_created_idx ON workspaces (created_at, seq);
CREATE INDEX workspaces_name_idx ON workspaces (name);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    key_type TEXT NOT NULL,
    workspace_id TEXT REFERENCES workspaces (id),
    user_id TEXT,
    scopes TEXT NOT NULL,
    defaults TEXT NOT NULL,
    usage_limits TEXT,
    rate_limits TEXT NOT NULL,
    alert_emails TEXT NOT NULL,
    expires_at BIGINT,
    key_hash TEXT NOT NULL,
    key_visible TEXT NOT NULL,
    status TEXT NOT NULL,
    creation_mode TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_created_idx ON api_keys (created_at, seq);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at, seq);

CREATE TABLE integrations (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    ai_provider_id TEXT NOT NULL,
    key_sealed TEXT,
    key_masked TEXT,
    configurations TEXT NOT NULL,
    workspace_id TEXT REFERENCES workspaces (id),
    allow_all_models BOOLEAN NOT NULL,
    models TEXT NOT NULL,
    global_workspace_access BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    CONSTRAINT integrations_slug_key UNIQUE (slug)
);
CREATE INDEX integrations_created_idx ON integrations (created_at, seq);
CREATE INDEX integrations_workspace_idx ON integrations (workspace_id, created_at, seq);

-- Grants belong to their integration (deleted with it) but keep their workspace from being
-- deleted (NO ACTION): access must be withdrawn first.
CREATE TABLE integration_grants (
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    enabled BOOLEAN NOT NULL,
    usage_limits TEXT,
    rate_limits TEXT NOT NULL,
    PRIMARY KEY (integration_id, workspace_id)
);
CREATE INDEX integration_grants_workspace_idx ON integration_grants (workspace_id);

CREATE TABLE providers (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    integration_id TEXT REFERENCES integrations (id),
    ai_provider_id TEXT,
    key_sealed TEXT,
    key_masked TEXT,
    model_config TEXT NOT NULL,
    note TEXT,
    usage_limits TEXT,
    rate_limits TEXT NOT NULL,
    expires_at BIGINT,
    is_virtual_key BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    CONSTRAINT providers_workspace_slug_key UNIQUE (workspace_id, slug)
);
CREATE INDEX providers_created_idx ON providers (created_at, seq);
CREATE INDEX providers_workspace_idx ON providers (workspace_id, created_at, seq);
CREATE INDEX providers_slug_idx ON providers (slug);
CREATE INDEX providers_integration_idx ON providers (integration_id);

CREATE TABLE configs (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    workspace_id TEXT REFERENCES workspaces (id),
    is_default BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    version_id TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    CONSTRAINT configs_slug_key UNIQUE (slug)
);
CREATE INDEX configs_created_idx ON configs (created_at, seq);
CREATE INDEX configs_workspace_idx ON configs (workspace_id, created_at, seq);

CREATE TABLE config_versions (
    version_id TEXT PRIMARY KEY,
    config_id TEXT NOT NULL REFERENCES configs (id) ON DELETE CASCADE,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX config_versions_config_idx ON config_versions (config_id, created_at, seq);

-- Audit events outlive what they describe: no foreign keys. `seq` orders events within one ms.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    workspace_id TEXT,
    details TEXT NOT NULL,
    CONSTRAINT audit_events_id_key UNIQUE (id)
);
CREATE INDEX audit_events_at_idx ON audit_events (at, seq);
CREATE INDEX audit_events_resource_idx ON audit_events (resource_id, at, seq);
CREATE INDEX audit_events_type_idx ON audit_events (resource_type, at, seq);
CREATE INDEX audit_events_workspace_idx ON audit_events (workspace_id, at, seq);

-- Budget spend: additive upserts per (scope, period), so replicas never lose updates.
CREATE TABLE spend (
    scope_kind TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    period TEXT NOT NULL,
    units BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (scope_kind, scope_id, period)
) WITHOUT ROWID;
