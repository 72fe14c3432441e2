//! HTTP tests of the admin API against a real SQLite store.

mod api_keys;
mod configs;
mod export_runs;
mod exports;
mod graphs;
mod integrations;
mod logs;
mod misc;
mod providers;
mod support;
mod workspaces;
