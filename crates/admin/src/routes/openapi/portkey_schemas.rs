//! The schemas of Portkey's log export jobs and per-metric analytics paths.

use serde_json::{Value, json};

use super::schemas::{any_obj, arr, int, list_of, nint, ns, num, obj, r, s, ts};

fn job_body() -> Value {
    obj(
        &[
            ("workspace_id", s()),
            (
                "filters",
                json!({
                    "type": "object",
                    "additionalProperties": true,
                    "description": "The logs filters under Portkey's names (time_of_generation_min, \
                        time_of_generation_max, ai_org_model, ai_model, status_code, cost_min, cost_max, \
                        api_key_ids, trace_id, metadata (object), workspace_slug, …), plus page_size (most \
                        rows) and current_page (pages of page_size skipped). Unknown names are refused.",
                }),
            ),
            (
                "requested_data",
                arr(json!({"enum": crate::export_rows::FIELDS})),
            ),
            ("description", s()),
        ],
        &[],
    )
}

pub(super) fn entries() -> Vec<(&'static str, Value)> {
    vec![
        ("CreateLogExport", job_body()),
        ("UpdateLogExport", job_body()),
        (
            "LogExportJob",
            obj(
                &[
                    ("id", s()),
                    ("object", json!({"const": "export"})),
                    ("organisation_id", ns()),
                    ("workspace_id", ns()),
                    ("filters", any_obj()),
                    ("requested_data", arr(s())),
                    (
                        "status",
                        json!({"enum": ["draft", "in_progress", "success", "failed", "stopped"]}),
                    ),
                    ("description", ns()),
                    ("total_records", nint()),
                    ("error", s()),
                    ("created_by", ns()),
                    ("created_at", ts()),
                    ("last_updated_at", ts()),
                ],
                &["id", "object", "status"],
            ),
        ),
        ("LogExportJobList", list_of("LogExportJob")),
        (
            "LogExportCreated",
            obj(
                &[
                    ("id", s()),
                    ("total", int()),
                    ("object", json!({"const": "export"})),
                ],
                &["id", "object"],
            ),
        ),
        (
            "LogExportTask",
            obj(
                &[
                    ("message", s()),
                    ("object", json!({"const": "export"})),
                    ("status", s()),
                ],
                &["message", "object"],
            ),
        ),
        (
            "LogExportLink",
            obj(
                &[
                    ("signed_url", json!({"type": "string", "format": "uri"})),
                    ("expires_at", ts()),
                ],
                &["signed_url"],
            ),
        ),
        (
            "LogExportFile",
            json!({
                "type": "string",
                "description": "A streamed JSONL download (application/x-ndjson): one object per log with the \
                    job's requested_data fields in order, in Portkey's units (cost in US cents, response_time \
                    in ms, is_success 1 or 0).",
            }),
        ),
        (
            "PortkeyGraph",
            obj(
                &[
                    ("object", json!({"const": "analytics-graph"})),
                    ("summary", any_obj()),
                    (
                        "data_points",
                        arr(json!({
                            "type": "object",
                            "additionalProperties": true,
                            "description": "per bucket: timestamp and the metric's values; per status \
                                code, score or model for the status-codes, scores and ai-models graphs",
                        })),
                    ),
                    ("bucket", json!({"enum": ["5m", "1h", "1d"]})),
                    ("range", r("AnalyticsRange")),
                ],
                &["object", "summary", "data_points"],
            ),
        ),
        (
            "PortkeyCacheSummary",
            obj(
                &[
                    ("object", json!({"const": "analytics-summary"})),
                    (
                        "summary",
                        obj(
                            &[
                                ("hits", int()),
                                ("avg_latency", int()),
                                ("total_requests", int()),
                                ("cache_speedup", num()),
                            ],
                            &["hits", "avg_latency", "total_requests", "cache_speedup"],
                        ),
                    ),
                    ("range", r("AnalyticsRange")),
                ],
                &["object", "summary"],
            ),
        ),
        (
            "PortkeyGroups",
            obj(
                &[
                    ("object", json!({"const": "list"})),
                    ("total", int()),
                    ("dimension", s()),
                    ("range", r("AnalyticsRange")),
                    (
                        "data",
                        arr(obj(
                            &[
                                ("object", json!({"const": "analytics-group"})),
                                ("requests", int()),
                                ("cost", json!({"type": "number", "description": "US cents"})),
                                ("key", json!({"description": "the group's value"})),
                                ("metrics", r("AnalyticsMetrics")),
                            ],
                            &["object", "requests", "key", "metrics"],
                        )),
                    ),
                ],
                &["object", "total", "data"],
            ),
        ),
    ]
}
