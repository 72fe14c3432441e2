//! Budget spend: additive upserts (`units = units + delta`) per (scope, period), so replicas
//! writing at once never lose an update. Not a catalog change: no audit event, no new version.

use std::collections::BTreeMap;

use portcullis_control::model::Spend;
use portcullis_control::repo::RepoResult;

use crate::db::args;
use crate::errors::ResultExt;
use crate::rows::SpendRow;
use crate::{Store, now_ms};

pub(crate) async fn add(s: &Store, deltas: &[Spend]) -> RepoResult<()> {
    const OP: &str = "add spend";
    // One delta per row, in key order: PostgreSQL transactions then lock rows in the same
    // order and cannot deadlock one another.
    let mut merged: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
    for d in deltas {
        let key = (
            d.scope_kind.as_str(),
            d.scope_id.as_str(),
            d.period.as_str(),
        );
        let units = merged.entry(key).or_insert(0);
        *units = units.saturating_add(d.units);
    }
    merged.retain(|_, units| *units != 0);
    if merged.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut tx = s.db().write().await.or_backend(OP)?;
    for ((kind, id, period), units) in merged {
        tx.execute(
            "INSERT INTO spend (scope_kind, scope_id, period, units, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (scope_kind, scope_id, period) DO UPDATE SET \
             units = spend.units + excluded.units, updated_at = excluded.updated_at",
            args![kind, id, period, units, now],
        )
        .await
        .or_backend(OP)?;
    }
    tx.commit().await.or_backend(OP)
}

pub(crate) async fn load(s: &Store) -> RepoResult<Vec<Spend>> {
    let rows: Vec<SpendRow> = s
        .db()
        .fetch_all(
            "SELECT scope_kind, scope_id, period, units FROM spend \
             ORDER BY scope_kind, scope_id, period",
            args![],
        )
        .await
        .or_backend("load spend")?;
    Ok(rows.into_iter().map(SpendRow::into_model).collect())
}
