//! The sink and writer against a scripted store, under Tokio's paused clock: batching, the
//! flush interval, drops when full, retries with backoff, giving up, and shutdown deadlines.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_logs::{
    Aggregates, Bucket, Feedback, FeedbackUpdate, Group, GroupBy, LogError, LogFilter, LogRecord,
    LogSink, LogStore, Page, PageRequest, SinkConfig,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How the scripted store answers `insert_batch`.
#[derive(Default)]
struct Script {
    /// Fail this many calls first.
    fail_first: AtomicU32,
    /// Panic instead of failing.
    panic: bool,
    /// Each call waits for a permit (tests hold the store).
    gate: Option<Arc<Semaphore>>,
    /// Never answer.
    hang: bool,
}

#[derive(Default)]
struct Fake {
    script: Script,
    /// What `write_depth` answers (0: the default).
    depth: usize,
    calls: Mutex<Vec<(Instant, usize)>>,
    written: Mutex<Vec<LogRecord>>,
}

fn unsupported<T>() -> Result<T, LogError> {
    Err(LogError::Invalid("not supported by the fake".into()))
}

#[async_trait]
impl LogStore for Fake {
    async fn insert_batch(&self, records: &[LogRecord]) -> Result<u64, LogError> {
        self.calls
            .lock()
            .unwrap()
            .push((Instant::now(), records.len()));
        if self.script.hang {
            std::future::pending::<()>().await;
        }
        if let Some(gate) = &self.script.gate {
            gate.acquire().await.unwrap().forget();
        }
        let fail = self
            .script
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            if self.script.panic {
                panic!("scripted panic");
            }
            return Err(LogError::Backend {
                op: "insert",
                reason: "scripted".into(),
            });
        }
        self.written.lock().unwrap().extend_from_slice(records);
        Ok(records.len() as u64)
    }
    fn write_depth(&self) -> usize {
        if self.depth == 0 { 1 } else { self.depth }
    }
    async fn get(&self, _: &str) -> Result<Option<LogRecord>, LogError> {
        unsupported()
    }
    async fn list(&self, _: &LogFilter, _: &PageRequest) -> Result<Page<LogRecord>, LogError> {
        unsupported()
    }
    async fn export_page(
        &self,
        _: &LogFilter,
        _: &PageRequest,
    ) -> Result<Page<LogRecord>, LogError> {
        unsupported()
    }
    async fn summary(&self, _: &LogFilter) -> Result<Aggregates, LogError> {
        unsupported()
    }
    async fn series(&self, _: &LogFilter, _: i64) -> Result<Vec<Bucket>, LogError> {
        unsupported()
    }
    async fn group_by(&self, _: &LogFilter, _: &GroupBy, _: u32) -> Result<Vec<Group>, LogError> {
        unsupported()
    }
    async fn delete_older_than(&self, _: i64, _: u32) -> Result<u64, LogError> {
        unsupported()
    }
    async fn add_feedback(&self, _: &Feedback) -> Result<(), LogError> {
        unsupported()
    }
    async fn update_feedback(
        &self,
        _: &str,
        _: &FeedbackUpdate,
    ) -> Result<Option<Feedback>, LogError> {
        unsupported()
    }
    async fn get_feedback(&self, _: &str) -> Result<Option<Feedback>, LogError> {
        unsupported()
    }
    async fn feedback_for_trace(&self, _: &str) -> Result<Vec<Feedback>, LogError> {
        unsupported()
    }
    async fn close(&self) {}
}

fn rec(i: usize) -> LogRecord {
    LogRecord {
        id: format!("r{i}"),
        ..LogRecord::default()
    }
}

/// A store that answers a write only per permit of the returned gate, and takes `depth` writes
/// at once.
fn gated(depth: usize) -> (Arc<Semaphore>, Arc<Fake>) {
    let gate = Arc::new(Semaphore::new(0));
    let fake = Arc::new(Fake {
        script: Script {
            gate: Some(gate.clone()),
            ..Script::default()
        },
        depth,
        ..Fake::default()
    });
    (gate, fake)
}

fn config() -> SinkConfig {
    SinkConfig {
        capacity: 100,
        max_bytes: portcullis_logs::sink::DEFAULT_MAX_BYTES,
        batch_size: 10,
        flush_interval: Duration::from_millis(50),
        max_attempts: 4,
        retry_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(250),
    }
}

fn start(fake: &Arc<Fake>, config: SinkConfig) -> LogSink {
    LogSink::start(fake.clone(), config)
}

/// Lets the writer task run until it blocks (paused clock: no time passes).
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_waits_for_the_flush_interval() {
    let fake = Arc::new(Fake::default());
    let sink = start(&fake, config());
    let t0 = Instant::now();
    for i in 0..3 {
        assert!(sink.log(rec(i)));
    }
    settle().await;
    tokio::time::sleep(Duration::from_millis(49)).await;
    assert!(
        fake.calls.lock().unwrap().is_empty(),
        "written before the interval"
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    settle().await;
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, 3);
    assert_eq!(calls[0].0 - t0, Duration::from_millis(50));
    assert_eq!(sink.stats().written, 3);
}

#[tokio::test(start_paused = true)]
async fn full_batches_are_written_at_once() {
    let fake = Arc::new(Fake::default());
    let sink = start(&fake, config());
    let t0 = Instant::now();
    for i in 0..35 {
        assert!(sink.log(rec(i)));
    }
    settle().await;
    let calls = fake.calls.lock().unwrap().clone();
    let sizes: Vec<usize> = calls.iter().map(|c| c.1).collect();
    assert_eq!(sizes, vec![10, 10, 10]);
    assert!(
        calls.iter().all(|c| c.0 == t0),
        "no waiting for full batches"
    );
    let report = sink.shutdown(Duration::from_secs(1)).await;
    assert_eq!((report.written, report.left), (35, 0));
    // The last 5 went out at shutdown without waiting for the interval.
    assert_eq!(fake.calls.lock().unwrap().last().unwrap().0, t0);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_drops_and_counts_without_waiting() {
    let (gate, fake) = gated(1);
    let sink = start(&fake, config());
    // The writer takes one batch and blocks in the store; the queue then holds 100.
    for i in 0..10 {
        assert!(sink.log(rec(i)));
    }
    settle().await;
    let mut accepted = 10;
    let mut dropped = 0;
    for i in 10..500 {
        if sink.log(rec(i)) {
            accepted += 1;
        } else {
            dropped += 1;
        }
    }
    assert_eq!(accepted, 110);
    assert_eq!(dropped, 390);
    let s = sink.stats();
    assert_eq!(
        (s.accepted, s.dropped, s.queue_depth, s.written),
        (110, 390, 100, 0)
    );
    gate.add_permits(1_000);
    let report = sink.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.written, report.failed, report.left), (110, 0, 0));
    assert_eq!(fake.written.lock().unwrap().len(), 110);
}

/// A store that takes two writes at once gets two, never a third, and everything arrives.
#[tokio::test(start_paused = true)]
async fn writes_overlap_up_to_the_stores_depth() {
    for depth in [1, 2] {
        let (gate, fake) = gated(depth);
        let sink = start(&fake, config());
        // Five full batches queued; the store answers none of them yet.
        for i in 0..50 {
            assert!(sink.log(rec(i)));
        }
        settle().await;
        assert_eq!(fake.calls.lock().unwrap().len(), depth, "depth {depth}");
        // One answer lets one more write start.
        gate.add_permits(1);
        settle().await;
        assert_eq!(fake.calls.lock().unwrap().len(), depth + 1, "depth {depth}");
        gate.add_permits(1_000);
        let report = sink.shutdown(Duration::from_secs(10)).await;
        assert_eq!((report.written, report.failed, report.left), (50, 0, 0));
        let mut ids: Vec<String> = fake
            .written
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.id.clone())
            .collect();
        ids.sort();
        let mut want: Vec<String> = (0..50).map(|i| rec(i).id).collect();
        want.sort();
        assert_eq!(ids, want, "depth {depth}");
    }
}

fn with_payloads(i: usize, len: usize) -> LogRecord {
    LogRecord {
        request_body: Some("q".repeat(len)),
        response_body: Some("a".repeat(len)),
        ..rec(i)
    }
}

#[tokio::test(start_paused = true)]
async fn past_the_byte_budget_payloads_are_shed_then_records_dropped() {
    let (gate, fake) = gated(1);
    let bare = rec(0).approx_bytes() as u64;
    let big = with_payloads(0, 10_000).approx_bytes() as u64;
    assert_eq!(big, bare + 20_000);
    // Room for three records with payloads, plus a little.
    let budget = 3 * big + bare / 2;
    let sink = start(
        &fake,
        SinkConfig {
            max_bytes: budget as usize,
            ..config()
        },
    );
    for i in 0..3 {
        assert!(sink.log(with_payloads(i, 10_000)));
    }
    assert_eq!(sink.stats().queue_bytes, 3 * big);
    // The fourth does not fit with its payloads, nor without: the slack is half a bare record.
    assert!(!sink.log(with_payloads(3, 10_000)));
    let s = sink.stats();
    assert_eq!((s.accepted, s.dropped, s.payloads_shed), (3, 1, 1));
    // The writer holds the first batch (all three) in the store: their bytes stay counted
    // until the write ends.
    settle().await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    settle().await;
    assert_eq!(fake.calls.lock().unwrap().len(), 1);
    assert_eq!(sink.stats().queue_depth, 0);
    assert_eq!(sink.stats().queue_bytes, 3 * big);
    gate.add_permits(1);
    settle().await;
    assert_eq!(sink.stats().queue_bytes, 0);
    // With room for one record with payloads and a bare one, the second keeps its numbers.
    let sink2 = start(
        &fake,
        SinkConfig {
            max_bytes: (big + bare + bare / 2) as usize,
            ..config()
        },
    );
    assert!(sink2.log(with_payloads(10, 10_000)));
    assert!(sink2.log(with_payloads(11, 10_000)));
    let s = sink2.stats();
    assert_eq!((s.accepted, s.dropped, s.payloads_shed), (2, 0, 1));
    let stripped = rec(11).approx_bytes() as u64;
    assert_eq!(
        s.queue_bytes,
        with_payloads(10, 10_000).approx_bytes() as u64 + stripped
    );
    gate.add_permits(100);
    let report = sink2.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.written, report.left), (2, 0));
    let kept = |id: &str| {
        let written = fake.written.lock().unwrap();
        written.iter().find(|r| r.id == id).unwrap().payload_bytes()
    };
    assert_eq!((kept("r10"), kept("r11")), (20_000, 0));
    let report = sink.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.written, report.left), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn a_failing_batch_is_retried_with_backoff() {
    let fake = Arc::new(Fake {
        script: Script {
            fail_first: AtomicU32::new(2),
            ..Script::default()
        },
        ..Fake::default()
    });
    let sink = start(&fake, config());
    let t0 = Instant::now();
    for i in 0..10 {
        sink.log(rec(i));
    }
    let report = sink.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.written, report.failed), (10, 0));
    let times: Vec<Duration> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.0 - t0)
        .collect();
    assert_eq!(
        times,
        vec![
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_millis(300)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_keeps_failing_is_given_up_and_the_queue_moves_on() {
    let fake = Arc::new(Fake {
        script: Script {
            fail_first: AtomicU32::new(4),
            ..Script::default()
        },
        ..Fake::default()
    });
    let sink = start(&fake, config());
    let t0 = Instant::now();
    for i in 0..20 {
        sink.log(rec(i));
    }
    let report = sink.shutdown(Duration::from_secs(10)).await;
    // The first batch: 4 tries (pauses 100, 200, 250 capped) then failed; the second succeeds.
    assert_eq!((report.written, report.failed, report.left), (10, 10, 0));
    let times: Vec<Duration> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.0 - t0)
        .collect();
    let ms = Duration::from_millis;
    assert_eq!(times, vec![ms(0), ms(100), ms(300), ms(550), ms(550)]);
    let ids: Vec<String> = fake
        .written
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(ids, (10..20).map(|i| format!("r{i}")).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_store_counts_as_a_failure() {
    let fake = Arc::new(Fake {
        script: Script {
            fail_first: AtomicU32::new(100),
            panic: true,
            ..Script::default()
        },
        ..Fake::default()
    });
    let sink = start(
        &fake,
        SinkConfig {
            max_attempts: 2,
            ..config()
        },
    );
    for i in 0..15 {
        sink.log(rec(i));
    }
    let report = sink.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.written, report.failed, report.left), (0, 15, 0));
}

#[tokio::test(start_paused = true)]
async fn shutdown_gives_up_at_the_deadline_and_reports_what_is_left() {
    let fake = Arc::new(Fake {
        script: Script {
            hang: true,
            ..Script::default()
        },
        ..Fake::default()
    });
    let sink = start(&fake, config());
    for i in 0..25 {
        sink.log(rec(i));
    }
    let t0 = Instant::now();
    let report = sink.shutdown(Duration::from_secs(2)).await;
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert!(report.timed_out);
    assert_eq!((report.written, report.failed, report.left), (0, 0, 25));
    // Later calls return at once; logging is refused.
    let again = sink.shutdown(Duration::from_secs(2)).await;
    assert!(!again.timed_out);
    assert!(!sink.log(rec(99)));
    assert_eq!(sink.stats().dropped, 1);
}

#[tokio::test(start_paused = true)]
async fn zero_sizes_are_raised_not_panicked_on() {
    let fake = Arc::new(Fake::default());
    let sink = start(
        &fake,
        SinkConfig {
            capacity: 0,
            batch_size: 0,
            max_attempts: 0,
            ..config()
        },
    );
    assert!(sink.log(rec(0)));
    let report = sink.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.written, 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_producers_lose_nothing() {
    let fake = Arc::new(Fake::default());
    let sink = start(
        &fake,
        SinkConfig {
            capacity: 10_000,
            ..config()
        },
    );
    let tasks: Vec<_> = (0..8)
        .map(|p| {
            let sink = sink.clone();
            tokio::spawn(async move {
                for i in 0..1_000 {
                    assert!(sink.log(rec(p * 1_000 + i)));
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let report = sink.shutdown(Duration::from_secs(10)).await;
    assert_eq!((report.written, report.left), (8_000, 0));
    let mut ids: Vec<String> = fake
        .written
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8_000);
}
