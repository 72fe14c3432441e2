//! The log writer's insert statement, its text parameters bound in place.
//!
//! rusqlite binds every non-empty text `SQLITE_TRANSIENT`: SQLite allocates and copies it. A
//! record binds 53 parameters, 15 of them texts, and through rusqlite that cost 10.8k
//! instructions per record (callgrind) — a third of the writer's SQLite time, for copies of
//! strings that outlive the statement's step anyway. Here texts are bound `SQLITE_STATIC`, read
//! where they are.
//!
//! SQLite reads a static binding only when the statement steps, so that is sound while every
//! string bound outlives the step that reads it. [`Row`] makes it so: it borrows what it binds
//! for its own lifetime, and steps only once every parameter is bound anew in it. A binding
//! left behind by an earlier row may point at freed memory, but nothing reads it before the
//! next row replaces it (clearing the bindings after each row, to be tidy, cost 0.8k
//! instructions a record).
#![allow(unsafe_code)]

use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use rusqlite::{Connection, ffi};

/// A prepared statement of the writer's connection. It must be dropped (finalized) before the
/// connection closes; the writer declares it first so it is.
pub(crate) struct Insert {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    params: c_int,
}

// SAFETY: the statement is used only through `&mut self`, together with its connection, which
// moves between threads with it (both live in the writer's mutex). The connection is opened
// in SQLite's multi-thread mode, which allows a connection and its statements on any one
// thread at a time.
unsafe impl Send for Insert {}

impl Insert {
    pub fn prepare(conn: &Connection, sql: &str) -> rusqlite::Result<Insert> {
        let len = c_int::try_from(sql.len()).map_err(|_| rusqlite::Error::InvalidQuery)?;
        // SAFETY: the handle is the live connection's; `prepare_v3` reads `len` bytes of `sql`
        // and writes the statement pointer or null.
        let (db, stmt, rc) = unsafe {
            let db = conn.handle();
            let mut stmt = ptr::null_mut();
            let rc = ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                ptr::null_mut(),
            );
            (db, stmt, rc)
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let stmt = NonNull::new(stmt).ok_or(rusqlite::Error::InvalidQuery)?;
        // SAFETY: a valid statement.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(stmt.as_ptr()) };
        Ok(Insert { stmt, db, params })
    }

    /// Starts binding one row; parameters are bound in order, from the first.
    pub fn row<'a>(&mut self) -> Row<'_, 'a> {
        Row {
            insert: self,
            bound: 0,
            failed: None,
            _texts: PhantomData,
        }
    }
}

impl Drop for Insert {
    fn drop(&mut self) {
        // SAFETY: the statement is valid and not used after this.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// One row's bindings, made in parameter order. Texts bound here must outlive the row (`'a`);
/// it steps only with every parameter bound, and resets the statement when it ends.
pub(crate) struct Row<'s, 'a> {
    insert: &'s mut Insert,
    bound: c_int,
    /// The first binding SQLite refused.
    failed: Option<c_int>,
    _texts: PhantomData<&'a str>,
}

impl<'a> Row<'_, 'a> {
    fn next(mut self, bind: impl FnOnce(*mut ffi::sqlite3_stmt, c_int) -> c_int) -> Self {
        self.bound = self.bound.saturating_add(1);
        // Past the last parameter SQLite answers SQLITE_RANGE; `execute` reports it.
        let rc = bind(self.insert.stmt.as_ptr(), self.bound);
        if rc != ffi::SQLITE_OK && self.failed.is_none() {
            self.failed = Some(rc);
        }
        self
    }

    pub fn text(self, s: &'a str) -> Self {
        // An empty slice's pointer may dangle: give SQLite a real one.
        let p = if s.is_empty() { "" } else { s };
        self.next(|st, i| {
            // SAFETY: `p` lives for `'a`, longer than this binding (cleared when the row ends);
            // SQLite reads `len` bytes of valid UTF-8.
            unsafe {
                ffi::sqlite3_bind_text64(
                    st,
                    i,
                    p.as_ptr().cast(),
                    p.len() as ffi::sqlite3_uint64,
                    ffi::SQLITE_STATIC(),
                    ffi::SQLITE_UTF8 as u8,
                )
            }
        })
    }

    pub fn opt_text(self, s: Option<&'a str>) -> Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub fn int(self, v: i64) -> Self {
        // SAFETY: a valid statement and parameter index.
        self.next(|st, i| unsafe { ffi::sqlite3_bind_int64(st, i, v) })
    }

    pub fn opt_int(self, v: Option<i64>) -> Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    pub fn null(self) -> Self {
        // SAFETY: a valid statement and parameter index.
        self.next(|st, i| unsafe { ffi::sqlite3_bind_null(st, i) })
    }

    /// Runs the statement with every parameter bound; returns the rows it changed.
    pub fn execute(self) -> rusqlite::Result<usize> {
        if let Some(rc) = self.failed {
            return Err(error(self.insert.db, rc));
        }
        if self.bound != self.insert.params {
            return Err(rusqlite::Error::InvalidParameterCount(
                usize::try_from(self.bound).unwrap_or(0),
                usize::try_from(self.insert.params).unwrap_or(0),
            ));
        }
        // SAFETY: a valid statement whose parameters are all bound to live values.
        let rc = unsafe { ffi::sqlite3_step(self.insert.stmt.as_ptr()) };
        match rc {
            // SAFETY: the live connection.
            ffi::SQLITE_DONE => Ok(unsafe { ffi::sqlite3_changes64(self.insert.db) } as usize),
            ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
            rc => Err(error(self.insert.db, rc)),
        }
    }
}

impl Drop for Row<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: a valid statement. Resetting keeps the bindings; none is read before the next
        // row binds every parameter again.
        unsafe { ffi::sqlite3_reset(self.insert.stmt.as_ptr()) };
    }
}

/// The connection's last error, as rusqlite reports one.
fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: the live connection; `errmsg` is a NUL-terminated string it owns until the next
    // call on it, copied at once.
    let (code, msg) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db);
        let msg = ffi::sqlite3_errmsg(db);
        let msg = (!msg.is_null()).then(|| CStr::from_ptr(msg).to_string_lossy().into_owned());
        (if code == ffi::SQLITE_OK { rc } else { code }, msg)
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, s TEXT)")
            .unwrap();
        c
    }

    fn rows(c: &Connection) -> Vec<(String, Option<i64>, Option<String>)> {
        let mut st = c.prepare("SELECT id, n, s FROM t ORDER BY id").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn rows_store_what_was_bound_even_after_the_strings_are_reused() {
        let c = db();
        let mut ins = Insert::prepare(
            &c,
            "INSERT INTO t (id, n, s) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .unwrap();
        let mut buf = String::new();
        for (id, n, s) in [
            ("a", Some(1), Some("é-x")),
            ("b", None, None),
            ("c", Some(-3), Some("")),
        ] {
            buf.clear();
            buf.push_str(id);
            let changed = ins
                .row()
                .text(&buf)
                .opt_int(n)
                .opt_text(s)
                .execute()
                .unwrap();
            assert_eq!(changed, 1);
            // The string's room is overwritten at once: SQLite must have stored the row.
            buf.clear();
            buf.push_str("zz");
        }
        assert_eq!(
            ins.row().text("a").null().null().execute().unwrap(),
            0,
            "conflict"
        );
        assert_eq!(
            rows(&c),
            vec![
                ("a".into(), Some(1), Some("é-x".into())),
                ("b".into(), None, None),
                ("c".into(), Some(-3), Some(String::new())),
            ]
        );
    }

    #[test]
    fn a_row_missing_or_past_its_parameters_is_refused_and_the_statement_stays_usable() {
        let c = db();
        let mut ins = Insert::prepare(&c, "INSERT INTO t (id, n, s) VALUES (?, ?, ?)").unwrap();
        assert!(matches!(
            ins.row().text("a").int(1).execute(),
            Err(rusqlite::Error::InvalidParameterCount(2, 3))
        ));
        let Err(rusqlite::Error::SqliteFailure(e, _)) =
            ins.row().text("a").int(1).null().null().execute()
        else {
            panic!("a fourth parameter must be refused");
        };
        assert_eq!(e.extended_code, ffi::SQLITE_RANGE);
        // A row dropped unexecuted stores nothing and leaves the statement usable.
        drop(ins.row().text("dropped").int(7));
        assert_eq!(ins.row().text("d").null().null().execute().unwrap(), 1);
        assert_eq!(rows(&c), vec![("d".into(), None, None)]);
    }

    #[test]
    fn errors_come_from_sqlite_with_its_message() {
        let c = db();
        assert!(Insert::prepare(&c, "INSERT INTO nowhere VALUES (?)").is_err());
        let mut ins = Insert::prepare(&c, "INSERT INTO t (id, n, s) VALUES (?, ?, ?)").unwrap();
        ins.row().text("a").int(1).null().execute().unwrap();
        let Err(rusqlite::Error::SqliteFailure(e, Some(msg))) =
            ins.row().text("a").int(1).null().execute()
        else {
            panic!("a duplicate key must fail");
        };
        assert_eq!(e.code, rusqlite::ErrorCode::ConstraintViolation);
        assert!(msg.contains("UNIQUE"), "{msg}");
        // The statement is usable again after the failure.
        assert_eq!(ins.row().text("b").int(2).null().execute().unwrap(), 1);
    }
}
