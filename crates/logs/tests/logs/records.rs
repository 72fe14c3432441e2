//! Records in and out: round trips, idempotence, filters, paging, exports.

use std::sync::Arc;

use portcullis_logs::{
    Export, GroupBy, LogError, LogFilter, LogRecord, LogStore, Outcome, PageRequest, Timings,
    Tokens,
};
use serde_json::json;

use sqlx::Connection;

use crate::fixtures::{DAY, HOUR, Rng, T0, insert, matches, own_trace, record, records, v7_id};
use crate::harness::{Ctx, Target};

fn bare(id: &str, at: i64) -> LogRecord {
    LogRecord {
        id: id.to_owned(),
        created_at: at,
        ..LogRecord::default()
    }
}

pub async fn every_field_round_trips(ctx: Ctx) {
    let store = &ctx.store;
    let mut all = records(1, 300, T0, DAY);
    let full = LogRecord {
        id: "full".into(),
        trace_id: "trace-full".into(),
        w3c_trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        parent_span_id: Some("b7ad6b7169203331".into()),
        sampled: None,
        created_at: T0 + 12_345,
        workspace_id: Some("ws-ü".into()),
        api_key_id: Some("key'; DROP TABLE request_logs; --".into()),
        provider_id: Some("@openai".into()),
        integration_id: Some("int-1".into()),
        provider: Some("openai".into()),
        requested_model: Some("gpt-4o".into()),
        model: Some("gpt-4o-2024-08-06".into()),
        endpoint: "chat.completions".into(),
        method: "POST".into(),
        path: "/v1/chat/completions?x=1".into(),
        stream: true,
        status: 599,
        outcome: Some(Outcome::GuardrailDenied),
        error_code: Some("AB01".into()),
        error_type: Some("guardrail".into()),
        error_message: Some("denied \"quoted\" \n newline".into()),
        timings: Timings {
            total_us: i64::MAX as u64,
            upstream_us: Some(0),
            ttft_us: Some(1),
            overhead_us: 42,
        },
        tokens: Tokens {
            prompt: 1,
            completion: 2,
            cached: 3,
            cache_write: 4,
            reasoning: 5,
        },
        cost_nanos: Some(-7),
        cache_status: "SEMANTIC HIT".into(),
        retry_count: -1,
        fallback_path: vec!["config.targets[0]".into(), "config.targets[1]".into()],
        guardrails: Some(json!({"a": [1, 2, {"b": null}]})),
        metadata: serde_json::from_value(
            json!({"_user": "u", "n": 5, "nested": {"x": true}, "nul": null}),
        )
        .unwrap(),
        request_body: Some("{\"q\": \"ß\"}".into()),
        response_body: Some(String::new()),
        request_bytes: 10,
        response_bytes: 0,
    };
    all.push(full.clone());
    all.push(bare("bare", T0 + 1));
    insert(store, &all, 64).await;
    for r in &all {
        let got = store.get(&r.id).await.unwrap().expect("stored");
        assert_eq!(&got, r, "record {}", r.id);
    }
    assert_eq!(store.get("missing").await.unwrap(), None);
    // Listings carry everything but the payloads.
    let page = store
        .list(
            &LogFilter {
                trace_id: Some("trace-full".into()),
                ..LogFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    let expected = LogRecord {
        request_body: None,
        response_body: None,
        ..full
    };
    assert_eq!(page.items, vec![expected]);
}

pub async fn inserts_are_idempotent_by_id(ctx: Ctx) {
    let store = &ctx.store;
    let batch = records(2, 200, T0, HOUR);
    assert_eq!(store.insert_batch(&batch).await.unwrap(), 200);
    // The same batch again (a retry after a lost acknowledgement): nothing new.
    assert_eq!(store.insert_batch(&batch).await.unwrap(), 0);
    // Duplicates within a batch, of an old record and of a new one, among old and new records
    // (each counted once in the rollups).
    let fresh = records(3, 5, T0, HOUR);
    let mut mixed = batch[..9].to_vec();
    mixed.extend(fresh.clone());
    mixed.push(batch[0].clone());
    mixed.push(fresh[0].clone());
    assert_eq!(store.insert_batch(&mixed).await.unwrap(), 5);
    let mut fresh = records(4, 3, T0, HOUR);
    fresh.push(fresh[1].clone());
    fresh.push(batch[1].clone());
    assert_eq!(store.insert_batch(&fresh).await.unwrap(), 3);
    assert_eq!(store.insert_batch(&[]).await.unwrap(), 0);
    // Old and new records alternating over the SQLite writer's multi-row inserts (16 records
    // each) and the single ones after: a new record twice in one insert, another in two of
    // them; only the new ones count.
    let fresh = records(5, 30, T0, HOUR);
    let mut interleaved: Vec<_> = fresh
        .iter()
        .zip(&batch[20..])
        .flat_map(|(n, o)| [n.clone(), o.clone()])
        .collect();
    interleaved.insert(3, fresh[0].clone());
    interleaved.insert(20, fresh[7].clone());
    assert_eq!(interleaved.len(), 62);
    assert_eq!(store.insert_batch(&interleaved).await.unwrap(), 30);
    let s = store.summary(&LogFilter::default()).await.unwrap();
    assert_eq!(s.requests, 238);
    for r in [&fresh[0], &fresh[7], &fresh[29], &batch[20]] {
        assert!(store.get(&r.id).await.unwrap().is_some(), "{} stored", r.id);
    }
}

/// Records are found by their UUIDv7 id through the creation time it carries, also when an
/// older record's `created_at` is a moment after its id's time; ids of other shapes still work.
pub async fn found_by_id_through_its_time(ctx: Ctx) {
    let store = &ctx.store;
    let mut rng = crate::fixtures::Rng::new(9);
    let (v7, at) = portcullis_logs::record::new_id();
    let (late, _) = portcullis_logs::record::new_id();
    assert_eq!(portcullis_logs::record::id_time(&v7), Some(at));
    let batch = vec![
        record(&mut rng, v7.clone(), at),
        // Minted a moment before it was stamped (records written before ids carried the time).
        record(&mut rng, late, at + 1_500),
        record(&mut rng, "custom-id-1".into(), at),
    ];
    assert_eq!(store.insert_batch(&batch).await.unwrap(), 3);
    for r in &batch {
        let got = store.get(&r.id).await.unwrap().expect("found by id");
        assert_eq!(
            (got.id.as_str(), got.created_at),
            (r.id.as_str(), r.created_at)
        );
    }
    assert!(
        store
            .get(&uuid::Uuid::now_v7().to_string())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.get("not-a-uuid").await.unwrap().is_none());
    // The same records again: nothing new.
    assert_eq!(store.insert_batch(&batch).await.unwrap(), 0);
    // SQLite: ids are unique within their time, and only records with a user are indexed by
    // user (the writer's cost per record is mostly index entries).
    if let Target::Sqlite(dir) = &ctx.target {
        let url = format!("sqlite://{}", dir.join("logs.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let idx: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT name, \"unique\", partial FROM pragma_index_list('request_logs') ORDER BY name",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        assert!(
            idx.iter()
                .all(|(n, _, _)| !n.starts_with("sqlite_autoindex")),
            "{idx:?}"
        );
        assert!(
            idx.contains(&("request_logs_created".into(), 1, 0)),
            "{idx:?}"
        );
        assert!(idx.contains(&("request_logs_user".into(), 0, 1)), "{idx:?}");
        assert!(
            idx.contains(&("request_logs_trace".into(), 0, 1)),
            "{idx:?}"
        );
        assert!(
            idx.contains(&("request_logs_workspace".into(), 0, 1)),
            "{idx:?}"
        );
        // A workspace filter (the only shape there is: `IN (…)`) still reads that index.
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "EXPLAIN QUERY PLAN SELECT id FROM request_logs l WHERE l.workspace_id IN (?1, ?2)",
        )
        .bind("ws-a")
        .bind("ws-b")
        .fetch_all(&mut c)
        .await
        .unwrap();
        assert!(
            plan.iter().any(|p| p.3.contains("request_logs_workspace")),
            "{plan:?}"
        );
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "EXPLAIN QUERY PLAN SELECT * FROM request_logs l WHERE l.id = ?1 \
             AND l.created_at >= ?2 AND l.created_at <= ?3",
        )
        .bind(&v7)
        .bind(at - 2000)
        .bind(at + 2000)
        .fetch_all(&mut c)
        .await
        .unwrap();
        assert!(
            plan.iter().any(|p| p.3.contains("request_logs_created")),
            "{plan:?}"
        );
    }
}

/// Lists every page of a filter (page size `limit`), checking page sizes.
pub async fn list_all(store: &dyn LogStore, f: &LogFilter, limit: u32) -> Vec<LogRecord> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list(f, &PageRequest { limit, cursor })
            .await
            .expect("list");
        assert!(page.items.len() <= limit as usize);
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn newest_first(records: &[LogRecord], f: &LogFilter) -> Vec<String> {
    let mut want: Vec<&LogRecord> = records.iter().filter(|r| matches(f, r)).collect();
    want.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    want.into_iter().map(|r| r.id.clone()).collect()
}

/// Filters covering every field of `LogFilter`, alone and combined.
pub fn filters() -> Vec<(&'static str, LogFilter)> {
    let d = LogFilter::default;
    vec![
        ("none", d()),
        (
            "from",
            LogFilter {
                from: Some(T0 + 7 * HOUR + 13),
                ..d()
            },
        ),
        (
            "to",
            LogFilter {
                to: Some(T0 + 30 * HOUR + 999),
                ..d()
            },
        ),
        (
            "range",
            LogFilter {
                from: Some(T0 + 5 * HOUR + 61_001),
                to: Some(T0 + 2 * DAY + 17),
                ..d()
            },
        ),
        (
            "workspaces",
            LogFilter {
                workspace_ids: Some(vec!["ws-a".into(), "ws-c".into()]),
                ..d()
            },
        ),
        (
            "no workspace visible",
            LogFilter {
                workspace_ids: Some(vec![]),
                ..d()
            },
        ),
        (
            "key",
            LogFilter {
                api_key_id: Some("key-a1".into()),
                ..d()
            },
        ),
        (
            "provider id",
            LogFilter {
                provider_id: Some("@openai-prod".into()),
                ..d()
            },
        ),
        (
            "provider",
            LogFilter {
                provider: Some("anthropic".into()),
                ..d()
            },
        ),
        (
            "model",
            LogFilter {
                model: Some("claude-sonnet".into()),
                ..d()
            },
        ),
        (
            "status",
            LogFilter {
                status: Some(429),
                ..d()
            },
        ),
        (
            "status class 2xx",
            LogFilter {
                status_class: Some(2),
                ..d()
            },
        ),
        (
            "status class 5xx",
            LogFilter {
                status_class: Some(5),
                ..d()
            },
        ),
        (
            "outcome",
            LogFilter {
                outcome: Some(Outcome::ProviderError),
                ..d()
            },
        ),
        (
            "metadata user",
            LogFilter {
                metadata: vec![("_user".into(), "user-3".into())],
                ..d()
            },
        ),
        (
            "metadata number",
            LogFilter {
                metadata: vec![("_user".into(), "7".into())],
                ..d()
            },
        ),
        (
            "metadata object",
            LogFilter {
                metadata: vec![("env".into(), "{\"tier\":1}".into())],
                ..d()
            },
        ),
        (
            "metadata both",
            LogFilter {
                metadata: vec![
                    ("team".into(), "red".into()),
                    ("_user".into(), "user-4".into()),
                ],
                ..d()
            },
        ),
        (
            "trace",
            LogFilter {
                trace_id: Some("trace-42".into()),
                ..d()
            },
        ),
        (
            "min cost",
            LogFilter {
                min_cost_nanos: Some(2_500_000),
                ..d()
            },
        ),
        (
            "max cost",
            LogFilter {
                max_cost_nanos: Some(1_000_000),
                ..d()
            },
        ),
        (
            "cost band",
            LogFilter {
                min_cost_nanos: Some(100_000),
                max_cost_nanos: Some(200_000),
                ..d()
            },
        ),
        (
            "combined",
            LogFilter {
                from: Some(T0 + HOUR + 1),
                to: Some(T0 + 3 * DAY - 1),
                workspace_ids: Some(vec!["ws-a".into(), "ws-b".into()]),
                provider: Some("openai".into()),
                status_class: Some(2),
                metadata: vec![("team".into(), "blue".into())],
                ..d()
            },
        ),
    ]
}

pub async fn every_filter_lists_what_it_should(ctx: Ctx) {
    let store = &ctx.store;
    let mut all = records(4, 2_000, T0, 3 * DAY);
    // Records whose trace id is their own id (the gateway's, for requests without one: on
    // SQLite they are kept out of the trace index), and one whose client chose another
    // record's id as its trace id.
    let mut rng = Rng::new(40);
    let own: Vec<LogRecord> = (0..3)
        .map(|i| own_trace(&mut rng, T0 + i * DAY + 12_345))
        .collect();
    let joined = LogRecord {
        trace_id: own[1].id.clone(),
        ..record(&mut rng, "log-joined".into(), T0 + 2 * DAY)
    };
    all.extend(own.iter().cloned().chain([joined]));
    insert(store, &all, 500).await;
    let by_trace = |t: &str, from: Option<i64>| LogFilter {
        trace_id: Some(t.into()),
        from,
        ..LogFilter::default()
    };
    let own_cases = [
        ("own trace", by_trace(&own[0].id, None)),
        ("own trace joined by another", by_trace(&own[1].id, None)),
        (
            "own trace out of range",
            by_trace(&own[2].id, Some(T0 + 3 * DAY)),
        ),
        // Not a record id, nor anyone's trace id.
        ("unknown trace", by_trace(&v7_id(T0 + DAY, 99), None)),
    ];
    for (name, f) in filters().into_iter().chain(own_cases) {
        let got: Vec<String> = list_all(store, &f, 1_000)
            .await
            .into_iter()
            .map(|r| r.id)
            .collect();
        let want = newest_first(&all, &f);
        assert_eq!(got, want, "filter {name}");
        match name {
            "own trace" => assert_eq!(want.len(), 1),
            "own trace joined by another" => assert_eq!(want.len(), 2),
            "own trace out of range" | "unknown trace" => assert!(want.is_empty()),
            _ => {}
        }
        if name != "no workspace visible" && name != "none" {
            assert!(want.len() < all.len(), "filter {name} filters nothing");
        }
    }
}

pub async fn pages_follow_cursors_newest_first(ctx: Ctx) {
    let store = &ctx.store;
    let mut all = records(5, 300, T0, HOUR);
    // Many records in the same millisecond: the id breaks the tie.
    for i in 0..25 {
        all.push(bare(&format!("same-{i:02}"), T0 + 1_000));
    }
    insert(store, &all, 100).await;
    let f = LogFilter::default();
    for limit in [1, 7, 25, 1_000] {
        let got: Vec<String> = list_all(store, &f, limit)
            .await
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(got, newest_first(&all, &f), "page size {limit}");
    }
    // No limit: the default page; an oversized limit is capped.
    let page = store.list(&f, &PageRequest::default()).await.unwrap();
    assert_eq!(
        page.items.len(),
        portcullis_logs::store::DEFAULT_PAGE as usize
    );
    assert!(page.next_cursor.is_some());
    let page = store
        .list(
            &f,
            &PageRequest {
                limit: u32::MAX,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), all.len());
    assert_eq!(page.next_cursor, None);
}

pub async fn bad_input_is_refused_not_panicked_on(ctx: Ctx) {
    let store = &ctx.store;
    insert(store, &records(6, 50, T0, HOUR), 50).await;
    let f = LogFilter::default();
    for cursor in ["zz", "abc", "", "00", "3a", "ffff"] {
        let r = store
            .list(
                &f,
                &PageRequest {
                    limit: 5,
                    cursor: Some(cursor.into()),
                },
            )
            .await;
        assert!(
            matches!(r, Err(LogError::Invalid(_))),
            "cursor {cursor:?}: {r:?}"
        );
    }
    // Odd but valid input answers normally.
    let odd = LogFilter {
        from: Some(i64::MAX),
        to: Some(i64::MIN),
        status_class: Some(255),
        min_cost_nanos: Some(i64::MAX),
        metadata: vec![("".into(), "".into()), ("'\"%_".into(), "\\".into())],
        ..LogFilter::default()
    };
    assert!(
        store
            .list(&odd, &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.summary(&odd).await.unwrap().requests, 0);
    assert!(store.get("").await.unwrap().is_none());
    // NUL characters (JSON's `\u0000` decodes to one) match nothing, on either backend.
    let nul = LogFilter {
        model: Some("gpt\0".into()),
        trace_id: Some("t\0".into()),
        metadata: vec![("k\0".into(), "v\0".into())],
        ..LogFilter::default()
    };
    assert!(
        store
            .list(&nul, &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.summary(&nul).await.unwrap().requests, 0);
    for by in [GroupBy::Model, GroupBy::Metadata("k\0".into())] {
        assert!(store.group_by(&nul, &by, 0).await.unwrap().is_empty());
    }
    assert!(store.get("id\0").await.unwrap().is_none());
    assert!(store.feedback_for_trace("t\0").await.unwrap().is_empty());
}

pub async fn export_walks_everything_with_payloads(ctx: Ctx) {
    let all = records(7, 777, T0, DAY);
    insert(&ctx.store, &all, 250).await;
    let store: Arc<dyn LogStore> = Arc::new(ctx.store.clone());
    let f = LogFilter {
        provider: Some("openai".into()),
        ..LogFilter::default()
    };
    let mut export = Export::new(store, f.clone(), 50);
    let mut got = Vec::new();
    while let Some(page) = export.next_page().await.unwrap() {
        assert!(page.len() <= 50);
        got.extend(page);
    }
    assert!(export.next_page().await.unwrap().is_none());
    let ids: Vec<String> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, newest_first(&all, &f));
    for r in &got {
        let original = all.iter().find(|o| o.id == r.id).unwrap();
        assert_eq!(r, original, "exported records carry payloads");
    }
}

/// SQLite keeps payloads in segment files beside the database, not in the rows; rows written
/// inline (files from before schema 4) still read back; retention takes the segments with the
/// rows.
pub async fn payloads_live_beside_the_rows(ctx: Ctx) {
    let store = &ctx.store;
    let now = portcullis_logs::record::new_id().1;
    let with = |id: &str, req: Option<&str>, resp: Option<&str>| LogRecord {
        request_body: req.map(str::to_owned),
        response_body: resp.map(str::to_owned),
        ..bare(id, now)
    };
    let batch = vec![
        with("p-both", Some("{\"q\":\"ß\"}"), Some("data: x\n\n")),
        with("p-req", Some(""), None),
        with("p-none", None, None),
    ];
    assert_eq!(store.insert_batch(&batch).await.unwrap(), 3);
    for r in &batch {
        let got = store.get(&r.id).await.unwrap().expect("stored");
        assert_eq!(
            (got.request_body, got.response_body),
            (r.request_body.clone(), r.response_body.clone()),
            "{}",
            r.id
        );
    }
    let Target::Sqlite(dir) = &ctx.target else {
        return;
    };
    let url = format!("sqlite://{}", dir.join("logs.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    // id, inline request payload, segment, request length
    type Row = (String, Option<String>, Option<i64>, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, request_body, payload_seg, request_len FROM request_logs ORDER BY id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    for (id, inline, seg, len) in &rows {
        assert!(inline.is_none(), "{id} kept its payload inline");
        assert_eq!(seg.is_some(), id != "p-none", "{id}");
        if id == "p-both" {
            assert_eq!(*len, Some("{\"q\":\"ß\"}".len() as i64));
        }
    }
    // A row with its payloads inline, as files before schema 4 hold them.
    sqlx::query(
        "UPDATE request_logs SET request_body = 'inline q', response_body = 'inline a', \
         payload_seg = NULL, payload_off = NULL, request_len = NULL, response_len = NULL \
         WHERE id = 'p-none'",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let got = store.get("p-none").await.unwrap().unwrap();
    assert_eq!(
        (got.request_body.as_deref(), got.response_body.as_deref()),
        (Some("inline q"), Some("inline a"))
    );
    let page = store
        .export_page(&LogFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    let both = page.items.iter().find(|r| r.id == "p-both").unwrap();
    assert_eq!(both.response_body.as_deref(), Some("data: x\n\n"));

    // Retention past the segments' hour deletes the rows and then the segments.
    let segs = dir.join("logs.db-payloads");
    assert!(std::fs::read_dir(&segs).unwrap().count() > 0);
    let cutoff = now + 2 * 3_600_000;
    assert_eq!(store.delete_older_than(cutoff, 100).await.unwrap(), 3);
    assert_eq!(std::fs::read_dir(&segs).unwrap().count(), 0);
}

/// A NUL character anywhere a client can put one (a model name or metadata decoded from JSON
/// `\u0000`, a passthrough body, a provider's error text) never fails the batch it is in: the
/// other records of the batch are stored too. PostgreSQL text cannot hold NUL, so there it is
/// stored as U+FFFD (metadata, kept as JSON text, reads back as sent); SQLite keeps it.
pub async fn nul_characters_never_fail_a_batch(ctx: Ctx) {
    let store = &ctx.store;
    let mut batch = records(12, 20, T0, HOUR);
    let mut odd = bare("nul-record", T0 + 5);
    odd.requested_model = Some("gpt\0-4o".into());
    // Dimensions too (their own table).
    odd.model = Some("m\0".into());
    odd.provider = Some("p\0".into());
    odd.workspace_id = Some("ws\0".into());
    odd.error_message = Some("bad \0 byte".into());
    odd.request_body = Some("{\"a\":\"\0\"}".into());
    odd.response_body = Some("\0".into());
    odd.trace_id = "trace\0".into();
    let serde_json::Value::Object(metadata) =
        json!({"k\u{0}": "v\u{0}", "_user": "u\u{0}", "deep": {"x": "\u{0}"}})
    else {
        unreachable!()
    };
    odd.metadata = metadata;
    batch.insert(7, odd.clone());
    assert_eq!(store.insert_batch(&batch).await.unwrap(), 21);
    let got = store.get("nul-record").await.unwrap().expect("stored");
    let nul = match ctx.target {
        Target::Sqlite(_) => "\0",
        Target::Postgres(_) => "\u{FFFD}",
    };
    assert_eq!(got.requested_model, Some(format!("gpt{nul}-4o")));
    assert_eq!(got.error_message, Some(format!("bad {nul} byte")));
    assert_eq!(got.request_body, Some(format!("{{\"a\":\"{nul}\"}}")));
    assert_eq!(got.response_body, Some(nul.to_owned()));
    assert_eq!(got.trace_id, format!("trace{nul}"));
    assert_eq!(got.model, Some(format!("m{nul}")));
    let models = store
        .group_by(&LogFilter::default(), &GroupBy::Model, 0)
        .await
        .unwrap();
    assert!(
        models.iter().any(|g| g.key == format!("m{nul}")),
        "{models:?}"
    );
    // Metadata is stored as JSON text, escapes and all: it reads back as sent.
    assert_eq!(got.metadata, odd.metadata);
    // Found by what the client sent: filters and feedback name it the same way.
    let by = |metadata: Vec<(String, String)>| LogFilter {
        model: None,
        metadata,
        trace_id: Some("trace\0".into()),
        ..LogFilter::default()
    };
    for m in [
        vec![],
        vec![("k\0".into(), "v\0".into())],
        vec![("_user".into(), "u\0".into())],
    ] {
        let page = store
            .list(&by(m.clone()), &PageRequest::default())
            .await
            .unwrap();
        let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["nul-record"], "{m:?}");
    }
    let fb = portcullis_logs::Feedback {
        id: "fb\0".into(),
        trace_id: "trace\0".into(),
        value: 1,
        weight: 1.0,
        metadata: odd.metadata.clone(),
        workspace_id: None,
        created_at: T0,
        updated_at: T0,
    };
    store.add_feedback(&fb).await.unwrap();
    let kept = store.feedback_for_trace("trace\0").await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].metadata, odd.metadata);
    let s = store.summary(&LogFilter::default()).await.unwrap();
    assert_eq!(s.requests, 21);
}
