-- The last usage reset of each budget (Portkey's `reset_usage`), by limiter scope. A new table
-- only: budgets' spend counts from `reset_at` (unix ms) in ledgers of their own.
-- Keep equivalent to the other backend's 0002_usage_resets.sql.
CREATE TABLE usage_resets (
    scope_kind TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    reset_at BIGINT NOT NULL,
    PRIMARY KEY (scope_kind, scope_id)
);
