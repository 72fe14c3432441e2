//! The store's test suite: every case runs on SQLite (a fresh file) and on PostgreSQL (a fresh
//! schema on the local server; skipped with a printed reason when the server is absent, failed
//! instead when `PORTCULLIS_REQUIRE_SERVICES=1`).

mod api_keys;
mod audit;
mod catalog;
mod configs;
mod cross_process;
mod fixtures;
mod harness;
mod integrations;
mod notify;
mod perf;
mod providers;
mod reopen;
mod spend;
mod usage_resets;
mod workspaces;

/// `module::case` on both backends, as `sqlite::case` and `postgres::case`.
macro_rules! on_both_backends {
    ($( $(#[$attr:meta])* $module:ident :: $case:ident ),* $(,)?) => {
        mod sqlite {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::sqlite(crate::$module::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                $(#[$attr])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::postgres(crate::$module::$case).await;
                }
            )*
        }
    };
}

on_both_backends! {
    workspaces::workspaces_crud,
    workspaces::workspace_lookup_prefers_id,
    workspaces::workspace_conflicts_write_nothing,
    workspaces::workspace_delete_refused_while_in_use,
    workspaces::workspace_paging_and_filters,
    workspaces::paging_is_stable_within_a_millisecond,
    api_keys::api_keys_crud,
    api_keys::api_key_rules,
    api_keys::api_key_paging_by_workspace,
    integrations::integrations_crud_and_scope,
    integrations::grants_upsert_and_replace_all,
    integrations::integration_delete_refused_while_used,
    providers::providers_crud_and_lookup,
    providers::provider_references_must_exist,
    configs::configs_crud_and_versions,
    configs::config_paging_by_workspace,
    audit::audit_events_for_every_mutation_without_secrets,
    audit::audit_filters_and_paging,
    audit::audit_prune_deletes_only_older_events,
    spend::spend_upserts_add_up,
    spend::concurrent_spend_adds_sum_correctly,
    usage_resets::usage_resets_are_catalog_changes,
    catalog::load_catalog_returns_everything,
    catalog::load_catalog_is_consistent_under_writes,
    notify::version_bumps_and_subscribe,
    notify::other_store_hears_changes,
    reopen::reopen_keeps_data_and_migrations_are_idempotent,
    #[ignore = "benchmark: run with --release -- --ignored --nocapture"]
    perf::load_catalog_at_scale,
}

/// PostgreSQL only (URL scheme).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_postgresql_scheme_is_accepted() {
    harness::postgres(reopen::postgresql_scheme_is_accepted).await;
}

/// PostgreSQL only (LISTEN/NOTIFY across stores).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_reaches_other_store_and_survives_a_killed_listener() {
    harness::postgres(cross_process::notify_reaches_other_store_and_survives_a_killed_listener)
        .await;
}
