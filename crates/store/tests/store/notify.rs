//! Versions and the change feed: bumps, in-process delivery, another store's delivery.

use std::time::{Duration, Instant};

use portcullis_control::repo::Repository;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

/// The next version on `rx`, waiting at most `limit`.
pub async fn next(rx: &mut Receiver<i64>, limit: Duration) -> Option<i64> {
    tokio::time::timeout(limit, rx.recv())
        .await
        .ok()
        .and_then(Result::ok)
}

/// Waits until `rx` announces `version` (or later); returns how long after `start` that was.
pub async fn until(
    rx: &mut Receiver<i64>,
    version: i64,
    start: Instant,
    limit: Duration,
) -> Duration {
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match next(rx, left).await {
            Some(v) if v >= version => return start.elapsed(),
            Some(_) => continue,
            None => panic!("version {version} not announced within {limit:?}"),
        }
    }
}

pub async fn version_bumps_and_subscribe(ctx: Ctx) {
    let s = &ctx.store;
    let v0 = s.version().await.unwrap();
    let mut rx = s.subscribe();
    let w = s
        .create_workspace(fixtures::workspace("v"), &actor())
        .await
        .unwrap();
    assert_eq!(s.version().await.unwrap(), v0 + 1);
    assert_eq!(next(&mut rx, Duration::from_secs(1)).await, Some(v0 + 1));

    // A failed change neither bumps nor announces.
    assert!(
        s.create_workspace(fixtures::workspace("v"), &actor())
            .await
            .is_err()
    );
    assert_eq!(s.version().await.unwrap(), v0 + 1);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));

    s.delete_workspace(&w.id, &actor()).await.unwrap();
    assert_eq!(next(&mut rx, Duration::from_secs(1)).await, Some(v0 + 2));
    // Every subscriber hears it.
    let mut late = s.subscribe();
    s.create_workspace(fixtures::workspace("v2"), &actor())
        .await
        .unwrap();
    assert_eq!(next(&mut rx, Duration::from_secs(1)).await, Some(v0 + 3));
    assert_eq!(next(&mut late, Duration::from_secs(1)).await, Some(v0 + 3));
}

/// A second store on the same database (another replica, or the CLI beside a server on one
/// SQLite file) hears of a change made through the first within about a second.
pub async fn other_store_hears_changes(ctx: Ctx) {
    let other = ctx.open_again().await;
    let mut rx = other.subscribe();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for n in 0..3 {
        let start = Instant::now();
        ctx.store
            .create_workspace(fixtures::workspace(&format!("o{n}")), &actor())
            .await
            .unwrap();
        let v = ctx.store.version().await.unwrap();
        let took = until(&mut rx, v, start, Duration::from_secs(2)).await;
        eprintln!(
            "{:?}: change {n} heard by the other store after {took:?}",
            ctx.backend()
        );
    }
    assert_eq!(other.load_catalog().await.unwrap().workspaces.len(), 3);
}
