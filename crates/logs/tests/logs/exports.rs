//! Export jobs (stored, listed, moved by compare-and-set) and feedback analytics (per bucket,
//! score, model and metadata value, with visibility and request filters).

use portcullis_logs::{
    ExportJob, ExportStatus, Feedback, FeedbackBy, FeedbackGroup, LogError, LogFilter, LogRecord,
    LogStore, Outcome,
};
use serde_json::{Value, json};

use crate::fixtures::{HOUR, MIN, T0, v7_id};
use crate::harness::Ctx;

pub fn job(id: &str, ws: Option<&str>, at: i64) -> ExportJob {
    ExportJob {
        id: id.into(),
        workspace_id: ws.map(str::to_owned),
        filters: json!({"time_of_generation_min": "2023-11-14", "metadata": {"team": "red"}}),
        filter: LogFilter {
            from: Some(T0),
            workspace_ids: ws.map(|w| vec![w.to_owned()]),
            outcome: Some(Outcome::RateLimited),
            metadata: vec![("team".into(), "red".into())],
            ..LogFilter::default()
        },
        requested_data: vec!["id".into(), "cost".into()],
        description: Some("nightly".into()),
        status: ExportStatus::Draft,
        total_records: None,
        error: None,
        created_by: Some("key-1".into()),
        created_at: at,
        updated_at: at,
    }
}

pub async fn export_jobs_lifecycle(ctx: Ctx) {
    let store = &ctx.store;
    let a = job("exp-a", Some("ws-a"), 1_000);
    let b = job("exp-b", Some("ws-b"), 2_000);
    let org = job("exp-org", None, 3_000);
    for j in [&a, &b, &org] {
        store.create_export(j).await.unwrap();
    }
    assert_eq!(store.get_export("exp-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_export("nope").await.unwrap(), None);
    assert!(matches!(
        store.create_export(&a).await,
        Err(LogError::Invalid(_))
    ));
    assert!(matches!(
        store.create_export(&job("", None, 1)).await,
        Err(LogError::Invalid(_))
    ));

    let ids = |jobs: Vec<ExportJob>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_exports(None).await.unwrap()),
        ["exp-org", "exp-b", "exp-a"]
    );
    let only_a = ["ws-a".to_owned()];
    assert_eq!(
        ids(store.list_exports(Some(&only_a)).await.unwrap()),
        ["exp-a"]
    );
    assert!(store.list_exports(Some(&[])).await.unwrap().is_empty());

    // Compare-and-set: the first move from draft wins; a stale one changes nothing.
    let running = ExportJob {
        status: ExportStatus::InProgress,
        filter: LogFilter {
            to: Some(T0 + HOUR),
            ..a.filter.clone()
        },
        updated_at: 5_000,
        ..a.clone()
    };
    assert!(
        store
            .replace_export(&running, ExportStatus::Draft)
            .await
            .unwrap()
    );
    let stopped = ExportJob {
        status: ExportStatus::Stopped,
        ..a.clone()
    };
    assert!(
        !store
            .replace_export(&stopped, ExportStatus::Draft)
            .await
            .unwrap()
    );
    let done = ExportJob {
        status: ExportStatus::Success,
        total_records: Some(u64::MAX),
        updated_at: 6_000,
        ..running.clone()
    };
    assert!(
        store
            .replace_export(&done, ExportStatus::InProgress)
            .await
            .unwrap()
    );
    let got = store.get_export("exp-a").await.unwrap().unwrap();
    assert_eq!(got.status, ExportStatus::Success);
    assert_eq!(got.filter.to, Some(T0 + HOUR));
    assert_eq!(
        got.total_records,
        Some(i64::MAX as u64),
        "clamped, not wrapped"
    );
    assert_eq!(got.created_at, 1_000);
    assert_eq!(got.updated_at, 6_000);
    assert!(
        !store
            .replace_export(&job("missing", None, 1), ExportStatus::Draft)
            .await
            .unwrap()
    );

    // Another replica on the same database sees the same jobs.
    let other = ctx.open_again().await;
    assert_eq!(other.get_export("exp-b").await.unwrap(), Some(b));
    other.close().await;
}

fn logged(id: &str, trace: &str, ws: &str, model: &str, meta: &[(&str, &str)]) -> LogRecord {
    LogRecord {
        id: id.into(),
        trace_id: trace.into(),
        created_at: T0 + MIN,
        workspace_id: Some(ws.into()),
        model: Some(model.into()),
        endpoint: "chat.completions".into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        status: 200,
        outcome: Some(Outcome::Success),
        cache_status: "DISABLED".into(),
        metadata: meta
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect(),
        ..LogRecord::default()
    }
}

fn fb(id: &str, trace: &str, ws: &str, value: i64, weight: f64, at: i64) -> Feedback {
    Feedback {
        id: id.into(),
        trace_id: trace.into(),
        value,
        weight,
        metadata: Default::default(),
        workspace_id: Some(ws.into()),
        created_at: at,
        updated_at: at,
    }
}

fn summary(groups: &[FeedbackGroup]) -> Vec<(Value, u64, f64, u64)> {
    groups
        .iter()
        .map(|g| (g.key.clone(), g.count, g.weighted_sum, g.traces))
        .collect()
}

pub async fn feedback_stats_group_and_filter(ctx: Ctx) {
    let store = &ctx.store;
    // r2 came without a trace id: its id is its trace id (on SQLite, found through its id).
    let r2 = v7_id(T0 + MIN, 2);
    store
        .insert_batch(&[
            logged(
                "r1",
                "t1",
                "ws-a",
                "gpt-4o",
                &[("_user", "alice"), ("team", "red")],
            ),
            logged(&r2, &r2, "ws-a", "claude", &[("_user", "bob")]),
            logged("r3", "t3", "ws-b", "gpt-4o", &[("team", "red")]),
        ])
        .await
        .unwrap();
    for f in [
        fb("f1", "t1", "ws-a", 10, 1.0, T0 + 5 * MIN),
        fb("f2", "t1", "ws-a", -2, 0.5, T0 + 70 * MIN),
        fb("f3", &r2, "ws-a", 4, 0.25, T0 + 80 * MIN),
        fb("f4", "t3", "ws-b", 10, 1.0, T0 + 10 * MIN),
        // Feedback on a trace that was never logged.
        fb("f5", "t-unknown", "ws-a", 0, 1.0, T0 + 20 * MIN),
    ] {
        store.add_feedback(&f).await.unwrap();
    }
    let range = LogFilter {
        from: Some(T0),
        to: Some(T0 + 2 * HOUR),
        ..LogFilter::default()
    };
    let ws_a = LogFilter {
        workspace_ids: Some(vec!["ws-a".into()]),
        ..range.clone()
    };

    // Per hour, every bucket of the range, by when the feedback was given.
    let hours = store
        .feedback_stats(&ws_a, &FeedbackBy::Time(HOUR))
        .await
        .unwrap();
    assert_eq!(
        summary(&hours),
        vec![
            (json!(T0), 2, 10.0, 2),
            (json!(T0 + HOUR), 2, -1.0 + 1.0, 2),
        ]
    );
    let scores = store
        .feedback_stats(&range, &FeedbackBy::Score)
        .await
        .unwrap();
    assert_eq!(
        summary(&scores),
        vec![
            (json!(-2), 1, -1.0, 1),
            (json!(0), 1, 0.0, 1),
            (json!(4), 1, 1.0, 1),
            (json!(10), 2, 20.0, 2),
        ]
    );
    let models = store
        .feedback_stats(&range, &FeedbackBy::Model)
        .await
        .unwrap();
    assert_eq!(
        summary(&models),
        vec![
            (json!("gpt-4o"), 3, 19.0, 2),
            (Value::Null, 1, 0.0, 1),
            (json!("claude"), 1, 1.0, 1),
        ]
    );
    let users = store
        .feedback_stats(&ws_a, &FeedbackBy::Metadata("_user".into()))
        .await
        .unwrap();
    assert_eq!(
        summary(&users),
        vec![
            (json!("alice"), 2, 9.0, 1),
            (Value::Null, 1, 0.0, 1),
            (json!("bob"), 1, 1.0, 1),
        ]
    );
    let teams = store
        .feedback_stats(&range, &FeedbackBy::Metadata("team".into()))
        .await
        .unwrap();
    assert_eq!(
        summary(&teams),
        vec![(json!("red"), 3, 19.0, 2), (Value::Null, 2, 1.0, 2)]
    );

    // Filters on the requests apply through the trace; nothing visible is nothing.
    let gpt = LogFilter {
        model: Some("gpt-4o".into()),
        ..range.clone()
    };
    let by_score = store
        .feedback_stats(&gpt, &FeedbackBy::Score)
        .await
        .unwrap();
    assert_eq!(
        summary(&by_score),
        vec![(json!(-2), 1, -1.0, 1), (json!(10), 2, 20.0, 2)]
    );
    let red = LogFilter {
        metadata: vec![("team".into(), "red".into())],
        ..ws_a.clone()
    };
    let n: u64 = store
        .feedback_stats(&red, &FeedbackBy::Score)
        .await
        .unwrap()
        .iter()
        .map(|g| g.count)
        .sum();
    assert_eq!(n, 2);
    let nobody = LogFilter {
        workspace_ids: Some(vec![]),
        ..range.clone()
    };
    assert!(
        store
            .feedback_stats(&nobody, &FeedbackBy::Model)
            .await
            .unwrap()
            .is_empty()
    );
    // A series needs a sane width.
    assert!(matches!(
        store.feedback_stats(&range, &FeedbackBy::Time(0)).await,
        Err(LogError::Invalid(_))
    ));
}
