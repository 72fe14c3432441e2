//! The sink and writer against real stores: a drained shutdown loses nothing, and several
//! writers on two stores (two replicas, or two processes on one file) add up exactly.

use std::sync::Arc;
use std::time::Duration;

use portcullis_logs::{GroupBy, LogFilter, LogSink, LogStore, SinkConfig};

use crate::fixtures::{HOUR, MIN, T0, assert_aggregates, expect, records};
use crate::harness::Ctx;

pub async fn writer_drains_everything_on_shutdown(ctx: Ctx) {
    let store: Arc<dyn LogStore> = Arc::new(ctx.store.clone());
    let sink = LogSink::start(
        store.clone(),
        SinkConfig {
            batch_size: 250,
            flush_interval: Duration::from_millis(20),
            ..SinkConfig::default()
        },
    );
    let all = records(41, 5_000, T0, HOUR);
    for r in &all {
        assert!(sink.log(r.clone()));
    }
    let report = sink.shutdown(Duration::from_secs(60)).await;
    assert!(!report.timed_out);
    assert_eq!((report.written, report.failed, report.left), (5_000, 0, 0));
    let stats = sink.stats();
    assert_eq!(
        (stats.accepted, stats.dropped, stats.queue_depth),
        (5_000, 0, 0)
    );
    assert!(!sink.log(all[0].clone()), "closed after shutdown");
    assert_eq!(sink.stats().dropped, 1);
    let s = store.summary(&LogFilter::default()).await.unwrap();
    assert_aggregates("drained", &s, &expect(&all));
}

pub async fn concurrent_writers_on_two_stores_lose_nothing(ctx: Ctx) {
    let other = ctx.open_again().await;
    let stores: [Arc<dyn LogStore>; 2] = [Arc::new(ctx.store.clone()), Arc::new(other)];
    let config = SinkConfig {
        batch_size: 200,
        flush_interval: Duration::from_millis(10),
        ..SinkConfig::default()
    };
    let sinks: Vec<LogSink> = stores
        .iter()
        .map(|s| LogSink::start(s.clone(), config.clone()))
        .collect();
    // Every producer writes into the same few minutes: the same rollup rows, concurrently.
    let mut producers = Vec::new();
    let mut all = Vec::new();
    for p in 0..8u64 {
        let batch = records(100 + p, 1_500, T0 + 3 * MIN, 4 * MIN);
        all.extend(batch.clone());
        let sink = sinks[(p % 2) as usize].clone();
        producers.push(tokio::spawn(async move {
            for (i, r) in batch.into_iter().enumerate() {
                assert!(sink.log(r));
                if i % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for p in producers {
        p.await.unwrap();
    }
    for sink in &sinks {
        let report = sink.shutdown(Duration::from_secs(120)).await;
        assert_eq!((report.failed, report.left), (0, 0), "{report:?}");
    }
    let f = LogFilter::default();
    assert_aggregates(
        "two writers",
        &stores[1].summary(&f).await.unwrap(),
        &expect(&all),
    );
    for g in stores[0].group_by(&f, &GroupBy::ApiKey, 0).await.unwrap() {
        let want = expect(
            all.iter()
                .filter(|r| r.api_key_id.as_deref() == g.key.as_str()),
        );
        assert_aggregates(&format!("key {}", g.key), &g.values, &want);
    }
}
