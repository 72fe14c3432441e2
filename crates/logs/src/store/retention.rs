//! Retention: deletes records older than a cutoff in bounded batches (one short transaction
//! each, with a pause between, so the writer is never stalled for long), keeping the rollups
//! exact: rows of buckets that straddle the cutoff are subtracted from them; rollup buckets that
//! end before the cutoff are deleted whole afterwards. Feedback older than the cutoff goes too,
//! and so do export jobs last changed before it. Dimension rows are kept (they are few and
//! shared).

use std::time::Duration;

use super::db::{Backend, Db, Q};
use super::write::{Sign, apply, deltas};
use crate::error::{LogError, ResultExt};
use crate::partial::AggInput;
use crate::plan::GRAINS;

/// The pause between two batches: lets a waiting writer take the (SQLite) write lock.
const PAUSE: Duration = Duration::from_millis(10);
const MAX_BATCH: u32 = 100_000;
/// The batch when the caller asks for none.
pub const DEFAULT_BATCH: u32 = 5_000;

#[derive(sqlx::FromRow)]
struct Deleted {
    created_at: i64,
    dim_id: i64,
    flags: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    cache_write_tokens: i64,
    reasoning_tokens: i64,
    cost_nanos: Option<i64>,
    total_us: i64,
    ttft_us: Option<i64>,
    upstream_us: Option<i64>,
    overhead_us: i64,
    user_hash: Option<i64>,
}

impl Deleted {
    fn input(self) -> AggInput {
        use crate::derive::to_u64;
        AggInput {
            created_at: self.created_at,
            dim_id: self.dim_id,
            flags: self.flags,
            prompt: to_u64(self.prompt_tokens),
            completion: to_u64(self.completion_tokens),
            cached: to_u64(self.cached_tokens),
            cache_write: to_u64(self.cache_write_tokens),
            reasoning: to_u64(self.reasoning_tokens),
            cost_nanos: self.cost_nanos,
            total_us: to_u64(self.total_us),
            ttft_us: self.ttft_us.map(to_u64),
            upstream_us: self.upstream_us.map(to_u64),
            overhead_us: to_u64(self.overhead_us),
            user: self.user_hash.map(|h| h as u64),
        }
    }
}

/// Deletes, batch by batch, everything created before `cutoff_ms` (export jobs: last changed
/// before it); returns the number of records deleted.
pub(crate) async fn delete_older_than(
    db: &Db,
    cutoff_ms: i64,
    batch_size: u32,
) -> Result<u64, LogError> {
    let batch = i64::from(match batch_size {
        0 => DEFAULT_BATCH,
        n => n.min(MAX_BATCH),
    });
    let mut total = 0u64;
    loop {
        let mut tx = db.write().await.or_backend("begin retention")?;
        // SQLite addresses rows by rowid (its files need not index `id` alone).
        let key = match db.backend() {
            Backend::Sqlite => "rowid",
            Backend::Postgres => "id",
        };
        let mut q = Q::new(&format!(
            "DELETE FROM request_logs WHERE {key} IN (SELECT {key} FROM request_logs \
             WHERE created_at < "
        ));
        q.bind(cutoff_ms)
            .push(" ORDER BY created_at LIMIT ")
            .bind(batch)
            .push(
                ") RETURNING created_at, dim_id, flags, prompt_tokens, completion_tokens, \
                 cached_tokens, cache_write_tokens, reasoning_tokens, cost_nanos, total_us, \
                 ttft_us, upstream_us, overhead_us, user_hash",
            );
        let rows: Vec<Deleted> = tx.fetch_all(q).await.or_backend("delete old logs")?;
        let n = rows.len();
        if n == 0 {
            tx.commit().await.or_backend("commit retention")?;
            break;
        }
        let inputs: Vec<AggInput> = rows.into_iter().map(Deleted::input).collect();
        // Only buckets that outlive the cutoff are adjusted; older ones are dropped below.
        let rollups = deltas(&inputs, |grain, start| {
            start.saturating_add(grain) > cutoff_ms
        });
        apply(&mut tx, rollups, Sign::Subtract)
            .await
            .or_backend("adjust log rollups")?;
        tx.commit().await.or_backend("commit retention")?;
        total += n as u64;
        if (n as i64) < batch {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    for grain in GRAINS {
        let last = cutoff_ms.saturating_sub(grain);
        delete_batches(
            db,
            &format!(
                "DELETE FROM request_log_rollups WHERE (grain, bucket_start, dim_id) IN \
                 (SELECT grain, bucket_start, dim_id FROM request_log_rollups \
                 WHERE grain = {grain} AND bucket_start <= $1 LIMIT $2)"
            ),
            last,
            batch,
        )
        .await?;
    }
    delete_batches(
        db,
        "DELETE FROM request_log_feedback WHERE id IN \
         (SELECT id FROM request_log_feedback WHERE created_at < $1 LIMIT $2)",
        cutoff_ms,
        batch,
    )
    .await?;
    // By last change, not creation: a job someone started or edited recently stays, however
    // old its draft. Jobs are few, so no index on `updated_at`: the hourly scan is cheap.
    delete_batches(
        db,
        "DELETE FROM request_log_exports WHERE id IN \
         (SELECT id FROM request_log_exports WHERE updated_at < $1 LIMIT $2)",
        cutoff_ms,
        batch,
    )
    .await?;
    Ok(total)
}

/// Runs a `$1 = bound, $2 = limit` delete until it deletes less than a batch.
async fn delete_batches(db: &Db, sql: &str, bound: i64, batch: i64) -> Result<(), LogError> {
    loop {
        let mut q = Q::new(sql);
        q.args.push(bound.into());
        q.args.push(batch.into());
        let n = db.execute(q).await.or_backend("delete old log rows")?;
        if (n as i64) < batch {
            return Ok(());
        }
        tokio::time::sleep(PAUSE).await;
    }
}
