//! The log store's test suite: every case runs on SQLite (a fresh file) and on PostgreSQL (a
//! fresh schema on the local server; skipped with a printed reason when the server is absent,
//! failed instead when `PORTCULLIS_REQUIRE_SERVICES=1`).

mod analytics;
mod exports;
mod feedback;
mod fixtures;
mod harness;
mod perf;
mod records;
mod retention;
mod schema;
mod writer;

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
    records::every_field_round_trips,
    records::inserts_are_idempotent_by_id,
    records::found_by_id_through_its_time,
    records::every_filter_lists_what_it_should,
    records::pages_follow_cursors_newest_first,
    records::bad_input_is_refused_not_panicked_on,
    records::export_walks_everything_with_payloads,
    records::payloads_live_beside_the_rows,
    records::nul_characters_never_fail_a_batch,
    analytics::summary_matches_brute_force,
    analytics::series_match_brute_force,
    analytics::group_by_matches_brute_force,
    analytics::analytics_edge_cases,
    retention::retention_deletes_only_old_rows_and_keeps_rollups_exact,
    feedback::feedback_lifecycle,
    exports::export_jobs_lifecycle,
    exports::feedback_stats_group_and_filter,
    writer::writer_drains_everything_on_shutdown,
    writer::concurrent_writers_on_two_stores_lose_nothing,
    schema::opening_is_idempotent_and_concurrent_opens_are_safe,
    #[ignore = "benchmark: run with --release -- --ignored --nocapture"]
    perf::throughput_and_analytics_at_scale,
}

/// SQLite only: the partial trace index of schema 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_trace_index_migration_keeps_traces_found() {
    harness::sqlite(schema::sqlite_trace_index_migration_keeps_traces_found).await;
}

/// SQLite only: the table without declared types of schema 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_untyped_table_migration_keeps_rows() {
    harness::sqlite(schema::sqlite_untyped_table_migration_keeps_rows).await;
}

/// PostgreSQL only: the log tables live beside the catalog's `sqlx` migrations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_coexists_with_catalog_migrations() {
    harness::with_schema(schema::coexists_with_catalog_migrations).await;
}
