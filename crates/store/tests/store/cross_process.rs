//! PostgreSQL only: NOTIFY reaches another store; killing its LISTEN connection loses nothing.

use std::time::{Duration, Instant};

use portcullis_control::repo::Repository;
use portcullis_store::Backend;
use sqlx::PgConnection;

use crate::fixtures::{self, actor};
use crate::harness::Ctx;
use crate::notify::until;

async fn listener_pid(admin: &mut PgConnection, app: &str) -> Option<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(format!("{app}-listen"))
    .fetch_optional(admin)
    .await
    .unwrap()
}

async fn wait_for_listener(admin: &mut PgConnection, app: &str, not: Option<i32>) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(pid) = listener_pid(admin, app).await
            && Some(pid) != not
        {
            return pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "listener did not (re)connect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn notify_reaches_other_store_and_survives_a_killed_listener(ctx: Ctx) {
    if ctx.backend() != Backend::Postgres {
        return;
    }
    let app = format!("pcl-{}", &ctx.tag[ctx.tag.len() - 12..]);
    let replica = ctx.open_named(&app).await;
    let mut rx = replica.subscribe();
    let mut admin = ctx.admin().await;
    let pid = wait_for_listener(&mut admin, &app, None).await;

    let change = |n: usize| {
        let s = ctx.store.clone();
        async move {
            let start = Instant::now();
            s.create_workspace(fixtures::workspace(&format!("x{n}")), &actor())
                .await
                .unwrap();
            (s.version().await.unwrap(), start)
        }
    };
    // Through NOTIFY: well under the polling interval.
    let (v, start) = change(0).await;
    let took = until(&mut rx, v, start, Duration::from_secs(1)).await;
    eprintln!("postgres: NOTIFY delivered in {took:?}");

    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(killed);
    // Right after the kill: delivered by the reconnected listener or the 1 s poll.
    let (v, start) = change(1).await;
    let took = until(&mut rx, v, start, Duration::from_secs(2)).await;
    eprintln!("postgres: change after killing the listener delivered in {took:?}");

    let new_pid = wait_for_listener(&mut admin, &app, Some(pid)).await;
    assert_ne!(new_pid, pid);
    let (v, start) = change(2).await;
    let took = until(&mut rx, v, start, Duration::from_secs(1)).await;
    eprintln!("postgres: change after the listener reconnected delivered in {took:?}");
}
