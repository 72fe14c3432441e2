//! Retention deletes exactly the old records, in batches, and leaves rollups that still agree
//! with the records that remain; export jobs go once last changed before the cutoff.

use portcullis_logs::{
    ExportJob, ExportStatus, Feedback, GroupBy, LogFilter, LogStore, PageRequest,
};

use crate::fixtures::{DAY, HOUR, MIN, T0, assert_aggregates, expect, insert, records};
use crate::harness::Ctx;

async fn check_consistent(
    store: &dyn LogStore,
    remaining: &[portcullis_logs::LogRecord],
    label: &str,
) {
    let d = LogFilter::default;
    // Whole range (rollups for everything but nothing raw), a ragged range, per hour, per model.
    for f in [
        d(),
        LogFilter {
            from: Some(T0 + 13 * MIN + 5),
            to: Some(T0 + 3 * DAY - 7),
            ..d()
        },
        LogFilter {
            from: Some(T0 + DAY),
            to: Some(T0 + 2 * DAY),
            ..d()
        },
    ] {
        let want = expect(remaining.iter().filter(|r| crate::fixtures::matches(&f, r)));
        assert_aggregates(
            &format!("{label}: summary {f:?}"),
            &store.summary(&f).await.unwrap(),
            &want,
        );
    }
    let f = LogFilter {
        from: Some(T0),
        to: Some(T0 + 3 * DAY),
        ..d()
    };
    for b in store.series(&f, HOUR).await.unwrap() {
        let want = expect(
            remaining
                .iter()
                .filter(|r| r.created_at >= b.start && r.created_at < b.start + HOUR),
        );
        assert_aggregates(&format!("{label}: hour {}", b.start), &b.values, &want);
    }
    for b in store.series(&f, DAY).await.unwrap() {
        let want = expect(
            remaining
                .iter()
                .filter(|r| r.created_at >= b.start && r.created_at < b.start + DAY),
        );
        assert_aggregates(&format!("{label}: day {}", b.start), &b.values, &want);
    }
    for g in store.group_by(&d(), &GroupBy::Model, 0).await.unwrap() {
        let want = expect(
            remaining
                .iter()
                .filter(|r| r.model.as_deref() == g.key.as_str()),
        );
        assert_aggregates(&format!("{label}: model {}", g.key), &g.values, &want);
    }
}

pub async fn retention_deletes_only_old_rows_and_keeps_rollups_exact(ctx: Ctx) {
    let store = &ctx.store;
    let mut all = records(21, 3_000, T0, 3 * DAY);
    all.sort_by_key(|r| r.created_at);
    insert(store, &all, 500).await;
    for (i, at) in [T0 + 10 * HOUR, T0 + 2 * DAY].into_iter().enumerate() {
        store
            .add_feedback(&Feedback {
                id: format!("fb-{i}"),
                trace_id: "trace-1".into(),
                value: 1,
                weight: 1.0,
                created_at: at,
                updated_at: at,
                ..Feedback::default()
            })
            .await
            .unwrap();
    }
    // Export jobs by when they last changed: an old draft started later outlives its creation
    // date; one job per status, as retention does not look at it.
    let statuses = [
        ExportStatus::Draft,
        ExportStatus::InProgress,
        ExportStatus::Success,
        ExportStatus::Failed,
        ExportStatus::Stopped,
    ];
    let mut jobs = Vec::new();
    for (i, touched) in [
        T0 + HOUR,
        T0 + 7 * HOUR + 13 * MIN + 5_017,
        T0 + DAY,
        T0 + 2 * DAY,
    ]
    .into_iter()
    .enumerate()
    {
        for (k, status) in statuses.into_iter().enumerate() {
            let j = ExportJob {
                status,
                updated_at: touched,
                ..crate::exports::job(&format!("exp-{i}-{k}"), Some("ws-a"), T0)
            };
            store.create_export(&j).await.unwrap();
            jobs.push(j);
        }
    }
    let mut remaining = all.clone();
    // Cutoffs off every grain boundary, then on one; batches smaller than the work.
    for cutoff in [
        T0 + 7 * HOUR + 13 * MIN + 5_017,
        T0 + DAY + 23 * HOUR + 59 * MIN + 59_999,
        T0 + 2 * DAY,
    ] {
        let before = remaining.len();
        remaining.retain(|r| r.created_at >= cutoff);
        let deleted = store.delete_older_than(cutoff, 97).await.unwrap();
        assert_eq!(
            deleted as usize,
            before - remaining.len(),
            "deleted before {cutoff}"
        );
        let mut ids: Vec<String> = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list(
                    &LogFilter::default(),
                    &PageRequest {
                        limit: 1_000,
                        cursor,
                    },
                )
                .await
                .unwrap();
            ids.extend(page.items.into_iter().map(|r| r.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        ids.sort();
        let mut want: Vec<String> = remaining.iter().map(|r| r.id.clone()).collect();
        want.sort();
        assert_eq!(ids, want, "records left after cutoff {cutoff}");
        // Deleted records are gone with their payloads and metadata.
        for r in all.iter().filter(|r| r.created_at < cutoff).take(20) {
            assert!(store.get(&r.id).await.unwrap().is_none());
        }
        let meta = LogFilter {
            metadata: vec![("team".into(), "red".into())],
            to: Some(cutoff),
            ..LogFilter::default()
        };
        assert_eq!(store.summary(&meta).await.unwrap().requests, 0);
        check_consistent(store, &remaining, &format!("cutoff {cutoff}")).await;
        let mut left: Vec<String> = store
            .list_exports(None)
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        left.sort();
        let mut want: Vec<String> = jobs
            .iter()
            .filter(|j| j.updated_at >= cutoff)
            .map(|j| j.id.clone())
            .collect();
        want.sort();
        assert_eq!(left, want, "export jobs left after cutoff {cutoff}");
    }
    // Old feedback went too; the newer one stays.
    assert!(store.get_feedback("fb-0").await.unwrap().is_none());
    assert!(store.get_feedback("fb-1").await.unwrap().is_some());
    // Nothing left to delete: a no-op.
    assert_eq!(
        store.delete_older_than(T0 + 2 * DAY, 1_000).await.unwrap(),
        0
    );
    // Everything.
    assert_eq!(
        store.delete_older_than(i64::MAX, 0).await.unwrap() as usize,
        remaining.len()
    );
    assert!(store.list_exports(None).await.unwrap().is_empty());
    assert_eq!(
        store.summary(&LogFilter::default()).await.unwrap().requests,
        0
    );
    assert!(
        store
            .series(&LogFilter::default(), HOUR)
            .await
            .unwrap()
            .is_empty()
    );
}
