//! Summary, series and group-by against a brute-force computation over the same records, on
//! the rollup path (dimension filters, aligned and ragged ranges) and the raw path (metadata,
//! trace and cost filters; metadata group-bys).

use std::collections::BTreeMap;

use portcullis_logs::{GroupBy, LogError, LogFilter, LogRecord, LogStore};
use serde_json::Value;

use crate::fixtures::{DAY, HOUR, MIN, T0, assert_aggregates, expect, insert, matches, records};
use crate::harness::Ctx;
use crate::records::filters;

/// Three days of records, written as the writer would (batches in time order).
async fn load(store: &dyn LogStore, seed: u64) -> Vec<LogRecord> {
    let mut all = records(seed, 4_000, T0, 3 * DAY);
    all.sort_by_key(|r| r.created_at);
    insert(store, &all, 333).await;
    all
}

pub async fn summary_matches_brute_force(ctx: Ctx) {
    let all = load(&ctx.store, 11).await;
    let mut cases = filters();
    // Ranges on and off every grain boundary.
    for (from, to) in [
        (T0, T0 + DAY),
        (T0 + HOUR, T0 + 2 * DAY + 5 * MIN),
        (T0 + 59 * MIN + 59_999, T0 + 49 * HOUR + 1),
        (T0 + 3 * MIN, T0 + 4 * MIN),
        (T0 + 17, T0 + 17 + 5 * MIN),
        (T0 - DAY, T0 + 10 * DAY),
    ] {
        cases.push((
            "range",
            LogFilter {
                from: Some(from),
                to: Some(to),
                ..LogFilter::default()
            },
        ));
        cases.push((
            "range + dims",
            LogFilter {
                from: Some(from),
                to: Some(to),
                workspace_ids: Some(vec!["ws-b".into()]),
                status_class: Some(4),
                ..LogFilter::default()
            },
        ));
    }
    for (name, f) in cases {
        let got = ctx.store.summary(&f).await.unwrap();
        let want = expect(all.iter().filter(|r| matches(&f, r)));
        assert_aggregates(&format!("summary {name} {f:?}"), &got, &want);
    }
}

pub async fn series_match_brute_force(ctx: Ctx) {
    let all = load(&ctx.store, 12).await;
    let d = LogFilter::default;
    let cases = [
        // Rollups per hour and per day, over a ragged range.
        (
            HOUR,
            LogFilter {
                from: Some(T0 + 13 * MIN + 7),
                to: Some(T0 + DAY + 5),
                ..d()
            },
        ),
        (
            DAY,
            LogFilter {
                from: Some(T0 + 1),
                to: Some(T0 + 3 * DAY),
                ..d()
            },
        ),
        // 5- and 15-minute buckets use the 5-minute rollups.
        (
            5 * MIN,
            LogFilter {
                from: Some(T0 + 2 * HOUR + 1),
                to: Some(T0 + 4 * HOUR),
                ..d()
            },
        ),
        (
            15 * MIN,
            LogFilter {
                from: Some(T0),
                to: Some(T0 + 6 * HOUR),
                ..d()
            },
        ),
        // 90 s buckets fit no grain: raw.
        (
            90_000,
            LogFilter {
                from: Some(T0 + HOUR),
                to: Some(T0 + 2 * HOUR + 7),
                ..d()
            },
        ),
        // Unbounded: only non-empty buckets.
        (6 * HOUR, d()),
        // Raw path by filter.
        (
            HOUR,
            LogFilter {
                from: Some(T0),
                to: Some(T0 + DAY),
                metadata: vec![("team".into(), "red".into())],
                ..d()
            },
        ),
        (
            HOUR,
            LogFilter {
                from: Some(T0 + 30 * MIN),
                to: Some(T0 + 12 * HOUR),
                model: Some("gpt-4o".into()),
                ..d()
            },
        ),
    ];
    for (ms, f) in cases {
        let got = ctx.store.series(&f, ms).await.unwrap();
        let mut want: BTreeMap<i64, Vec<&LogRecord>> = BTreeMap::new();
        for r in all.iter().filter(|r| matches(&f, r)) {
            want.entry(r.created_at - r.created_at.rem_euclid(ms))
                .or_default()
                .push(r);
        }
        if let (Some(from), Some(to)) = (f.from, f.to) {
            let mut t = from - from.rem_euclid(ms);
            while t < to {
                want.entry(t).or_default();
                t += ms;
            }
        }
        let got_starts: Vec<i64> = got.iter().map(|b| b.start).collect();
        let want_starts: Vec<i64> = want.keys().copied().collect();
        assert_eq!(got_starts, want_starts, "series {ms} {f:?}: buckets");
        for b in &got {
            assert_aggregates(
                &format!("series {ms} {f:?} bucket {}", b.start),
                &b.values,
                &expect(want[&b.start].iter().copied()),
            );
        }
    }
}

fn key_of(by: &GroupBy, r: &LogRecord) -> Value {
    let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    match by {
        GroupBy::Model => s(&r.model),
        GroupBy::Provider => s(&r.provider),
        GroupBy::ProviderId => s(&r.provider_id),
        GroupBy::ApiKey => s(&r.api_key_id),
        GroupBy::Workspace => s(&r.workspace_id),
        GroupBy::Status => Value::from(r.status),
        GroupBy::Outcome => r
            .outcome
            .map_or(Value::Null, |o| Value::String(o.as_str().into())),
        GroupBy::Endpoint => Value::String(r.endpoint.clone()),
        GroupBy::Metadata(k) => match r.metadata.get(k) {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(v)) => Value::String(v.clone()),
            Some(other) => Value::String(other.to_string()),
        },
    }
}

pub async fn group_by_matches_brute_force(ctx: Ctx) {
    let all = load(&ctx.store, 13).await;
    let bys = [
        GroupBy::Model,
        GroupBy::Provider,
        GroupBy::ProviderId,
        GroupBy::ApiKey,
        GroupBy::Workspace,
        GroupBy::Status,
        GroupBy::Outcome,
        GroupBy::Endpoint,
        GroupBy::Metadata("_user".into()),
        GroupBy::Metadata("team".into()),
        GroupBy::Metadata("env".into()),
    ];
    let d = LogFilter::default;
    let fs = [
        d(),
        LogFilter {
            from: Some(T0 + 7 * MIN + 3),
            to: Some(T0 + 2 * DAY + HOUR + 11),
            ..d()
        },
        LogFilter {
            workspace_ids: Some(vec!["ws-a".into()]),
            status_class: Some(2),
            ..d()
        },
        LogFilter {
            min_cost_nanos: Some(1_000_000),
            ..d()
        },
    ];
    for by in &bys {
        for f in &fs {
            let got = ctx.store.group_by(f, by, 0).await.unwrap();
            let mut want: BTreeMap<String, (Value, Vec<&LogRecord>)> = BTreeMap::new();
            for r in all.iter().filter(|r| matches(f, r)) {
                let k = key_of(by, r);
                want.entry(k.to_string())
                    .or_insert_with(|| (k, Vec::new()))
                    .1
                    .push(r);
            }
            assert_eq!(got.len(), want.len(), "group by {by:?} {f:?}: groups");
            let mut prev = u64::MAX;
            for g in &got {
                assert!(g.values.requests <= prev, "groups sorted by requests");
                prev = g.values.requests;
                let (_, rs) = want
                    .get(&g.key.to_string())
                    .unwrap_or_else(|| panic!("unexpected group {} for {by:?}", g.key));
                assert_aggregates(
                    &format!("group by {by:?} {f:?} key {}", g.key),
                    &g.values,
                    &expect(rs.iter().copied()),
                );
            }
        }
    }
    // Limit keeps the largest groups.
    let top = ctx.store.group_by(&d(), &GroupBy::ApiKey, 3).await.unwrap();
    let full = ctx.store.group_by(&d(), &GroupBy::ApiKey, 0).await.unwrap();
    assert_eq!(top.len(), 3);
    assert_eq!(top[..], full[..3]);
    // Per-user groups count one user each.
    let users = ctx
        .store
        .group_by(&d(), &GroupBy::Metadata("_user".into()), 1_000)
        .await
        .unwrap();
    for g in users {
        assert_eq!(
            g.values.unique_users,
            u64::from(!g.key.is_null()),
            "{}",
            g.key
        );
    }
}

pub async fn analytics_edge_cases(ctx: Ctx) {
    let store = &ctx.store;
    // Empty store.
    let empty = store.summary(&LogFilter::default()).await.unwrap();
    assert_eq!(empty, portcullis_logs::Aggregates::default());
    assert!(
        store
            .series(&LogFilter::default(), HOUR)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .group_by(&LogFilter::default(), &GroupBy::Model, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let all = load(store, 14).await;
    // Bad series requests are refused.
    for ms in [0, -5] {
        let r = store.series(&LogFilter::default(), ms).await;
        assert!(matches!(r, Err(LogError::Invalid(_))), "{ms}: {r:?}");
    }
    let wide = LogFilter {
        from: Some(0),
        to: Some(i64::MAX),
        ..LogFilter::default()
    };
    assert!(matches!(
        store.series(&wide, 1).await,
        Err(LogError::Invalid(_))
    ));
    // Extreme but valid ranges work.
    let huge = LogFilter {
        from: Some(i64::MIN),
        to: Some(i64::MAX),
        ..LogFilter::default()
    };
    assert_eq!(
        store.summary(&huge).await.unwrap().requests,
        all.len() as u64
    );
    let backwards = LogFilter {
        from: Some(T0 + DAY),
        to: Some(T0),
        ..LogFilter::default()
    };
    assert_eq!(store.summary(&backwards).await.unwrap().requests, 0);
    assert!(store.series(&backwards, HOUR).await.unwrap().is_empty());
    let day = LogFilter {
        from: Some(T0),
        to: Some(T0 + DAY),
        ..LogFilter::default()
    };
    assert_eq!(store.series(&day, HOUR).await.unwrap().len(), 24);
    // A metadata key nobody has: one null group.
    let none = store
        .group_by(
            &LogFilter::default(),
            &GroupBy::Metadata("absent".into()),
            10,
        )
        .await
        .unwrap();
    assert_eq!(none.len(), 1);
    assert_eq!(none[0].key, Value::Null);
    assert_eq!(none[0].values.requests, all.len() as u64);
}
