//! Paged lists: filters assembled from constant SQL fragments with bound values, a total of
//! all matches and one page, newest first, read from one snapshot.

use portcullis_control::repo::{ListQuery, Page, RepoError, RepoResult};

use crate::db::{Arg, BothRow, Db};
use crate::errors::ResultExt;

/// A `WHERE` clause under construction; values are always bound, never spliced.
#[derive(Default)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Filter {
    /// The name, exact-name and workspace filters of a [`ListQuery`].
    pub(crate) fn of(db: &Db, q: &ListQuery) -> Filter {
        let mut f = Filter::default();
        if let Some(name) = &q.name {
            let func = db.contains_fn();
            f.with(name.as_str(), |n| format!("{func}(name, {n}) > 0"));
        }
        if let Some(exact) = &q.exact_name {
            f.eq("name", exact.as_str());
        }
        if let Some(ws) = &q.workspace_id {
            f.eq("workspace_id", ws.as_str());
        }
        f
    }

    /// Adds a clause built around the placeholder of `value`.
    pub(crate) fn with(&mut self, value: impl Into<Arg>, clause: impl FnOnce(&str) -> String) {
        self.args.push(value.into());
        let placeholder = format!("${}", self.args.len());
        self.clauses.push(clause(&placeholder));
    }

    pub(crate) fn eq(&mut self, column: &'static str, value: impl Into<Arg>) {
        self.with(value, |p| format!("{column} = {p}"));
    }

    /// A clause without a value, e.g. `workspace_id IS NULL`.
    pub(crate) fn raw(&mut self, clause: &'static str) {
        self.clauses.push(clause.to_owned());
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// One page of `table` in `order` (newest first), plus the total of all matching rows.
/// `page_size: None` returns every match.
pub(crate) async fn page<R: BothRow, T>(
    db: &Db,
    op: &str,
    table: &'static str,
    order: &'static str,
    filter: Filter,
    (page_size, current_page): (Option<u32>, u32),
    convert: impl Fn(R) -> RepoResult<T>,
) -> RepoResult<Page<T>> {
    if page_size == Some(0) {
        return Err(RepoError::Invalid("page_size must be at least 1".into()));
    }
    let where_sql = filter.sql();
    let mut args = filter.args;
    let mut tx = db.snapshot().await.or_backend(op)?;
    let total = tx
        .scalar(
            format!("SELECT COUNT(*) FROM {table}{where_sql}"),
            args.clone(),
        )
        .await
        .or_backend(op)?;
    let mut sql = format!("SELECT * FROM {table}{where_sql} ORDER BY {order}");
    if let Some(size) = page_size {
        let size = i64::from(size);
        args.push(Arg::from(size));
        args.push(Arg::from(size.saturating_mul(i64::from(current_page))));
        sql.push_str(&format!(
            " LIMIT ${} OFFSET ${}",
            args.len() - 1,
            args.len()
        ));
    }
    let rows: Vec<R> = tx.fetch_all(sql, args).await.or_backend(op)?;
    tx.commit().await.or_backend(op)?;
    Ok(Page {
        total: u64::try_from(total).unwrap_or(0),
        items: rows.into_iter().map(convert).collect::<RepoResult<_>>()?,
    })
}

/// Newest first, stable within one millisecond.
pub(crate) const NEWEST_FIRST: &str = "created_at DESC, seq DESC";

/// For [`page`]: the paging part of a [`ListQuery`].
pub(crate) fn paging(q: &ListQuery) -> (Option<u32>, u32) {
    (q.page_size, q.current_page)
}
