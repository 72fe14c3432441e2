//! The log writer's insert statement, its parameters bound in place and only when they change.
//!
//! rusqlite binds every non-empty text `SQLITE_TRANSIENT`: SQLite allocates and copies it. A
//! record binds 53 parameters, 15 of them texts, and through rusqlite that cost 10.8k
//! instructions per record (callgrind), against 15.5k for executing the insert, for copies of
//! strings that outlive the statement's step anyway. Here texts are bound `SQLITE_STATIC`, read
//! where they are (164.3k → 158.0k instructions per logged request, whole gateway); and since
//! a binding stays until replaced, a parameter whose value is the previous row's (the endpoint,
//! the model, an absent field) is not bound again (→ 156.3k).
//!
//! SQLite reads a static binding only when the statement steps, so that is sound while every
//! string bound outlives the steps that may read it. [`Batch`] and [`Row`] make it so: a batch
//! borrows the values its rows may keep bound (`'a`) for its whole life and clears every
//! binding when it ends; a row borrows the values only it binds (`'r`), which the next row
//! always binds anew; and a row steps only once each of its parameters is bound or kept.
#![allow(unsafe_code)]

use std::borrow::Cow;
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

    /// Starts a batch of rows; what its rows bind with lifetime `'a` may stay bound until the
    /// batch ends.
    pub fn batch<'a>(&mut self) -> Batch<'_, 'a> {
        let n = usize::try_from(self.params).unwrap_or(0);
        Batch {
            insert: self,
            kept: vec![Kept::Unknown; n],
        }
    }
}

impl Drop for Insert {
    fn drop(&mut self) {
        // SAFETY: the statement is valid and not used after this.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// What a parameter is bound to, as far as the next row may rely on it.
#[derive(Clone, Copy, PartialEq)]
enum Kept<'a> {
    /// Bound to something that may be gone, or never bound: bind it again.
    Unknown,
    Null,
    Int(i64),
    Text(&'a str),
}

/// Rows bound and inserted one after the other. Ending it (dropping it) clears every binding,
/// so none outlives the values it borrowed.
pub(crate) struct Batch<'s, 'a> {
    insert: &'s mut Insert,
    kept: Vec<Kept<'a>>,
}

impl<'a> Batch<'_, 'a> {
    /// Starts binding one row; parameters are bound in order, from the first.
    pub fn row<'r>(&mut self) -> Row<'_, 'a, 'r> {
        Row {
            insert: self.insert,
            kept: &mut self.kept,
            next: 0,
            failed: None,
            _own: PhantomData,
        }
    }
}

impl Drop for Batch<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: a valid statement; afterwards it holds no pointer into the batch's values.
        unsafe { ffi::sqlite3_clear_bindings(self.insert.stmt.as_ptr()) };
    }
}

/// One execution's bindings (a row of each record the statement inserts), made in parameter
/// order: values of the batch (`'a`, kept bound when the next execution has the same) or of
/// this execution alone (`'r`, bound every time). It steps only with every parameter set, and
/// resets the statement when it ends.
pub(crate) struct Row<'b, 'a, 'r> {
    insert: &'b Insert,
    kept: &'b mut [Kept<'a>],
    next: usize,
    /// The first binding SQLite refused.
    failed: Option<c_int>,
    _own: PhantomData<&'r str>,
}

impl<'a, 'r> Row<'_, 'a, 'r> {
    /// Binds the next parameter to `v` unless it already holds it; `keep` is `v` again when it
    /// lives as long as the batch (and so may stay bound for the next row).
    fn set(&mut self, v: Kept<'_>, keep: Option<Kept<'a>>) -> &mut Self {
        let at = self.next;
        self.next += 1;
        let st = self.insert.stmt.as_ptr();
        let Some(slot) = self.kept.get_mut(at) else {
            self.failed.get_or_insert(ffi::SQLITE_RANGE);
            return self;
        };
        if keep.is_some_and(|k| *slot == k) {
            return self;
        }
        let i = c_int::try_from(at + 1).unwrap_or(c_int::MAX);
        // SAFETY: a valid statement and parameter index; a text lives for `'a` or `'r`, so at
        // least until this row steps, and until the batch ends if it is kept (see the module).
        let rc = unsafe {
            match v {
                Kept::Unknown | Kept::Null => ffi::sqlite3_bind_null(st, i),
                Kept::Int(n) => ffi::sqlite3_bind_int64(st, i, n),
                Kept::Text(t) => {
                    // An empty slice's pointer may dangle: give SQLite a real one.
                    let t = if t.is_empty() { "" } else { t };
                    ffi::sqlite3_bind_text64(
                        st,
                        i,
                        t.as_ptr().cast(),
                        t.len() as ffi::sqlite3_uint64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    )
                }
            }
        };
        if rc == ffi::SQLITE_OK {
            *slot = keep.unwrap_or(Kept::Unknown);
        } else {
            *slot = Kept::Unknown;
            self.failed.get_or_insert(rc);
        }
        self
    }

    /// A text of the batch's.
    pub fn text(&mut self, s: &'a str) -> &mut Self {
        self.set(Kept::Text(s), Some(Kept::Text(s)))
    }

    pub fn opt_text(&mut self, s: Option<&'a str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// A text of this row's alone.
    pub fn own_text(&mut self, s: &'r str) -> &mut Self {
        self.set(Kept::Text(s), None)
    }

    pub fn opt_own_text(&mut self, s: Option<&'r str>) -> &mut Self {
        match s {
            Some(s) => self.own_text(s),
            None => self.null(),
        }
    }

    /// A text of this row's, or of the program's (kept then).
    #[allow(clippy::ptr_arg)] // Which of the two it is decides whether it may be kept.
    pub fn cow_text(&mut self, s: &'r Cow<'static, str>) -> &mut Self {
        match s {
            Cow::Borrowed(s) => self.text(s),
            Cow::Owned(s) => self.own_text(s),
        }
    }

    pub fn int(&mut self, v: i64) -> &mut Self {
        self.set(Kept::Int(v), Some(Kept::Int(v)))
    }

    pub fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    pub fn null(&mut self) -> &mut Self {
        self.set(Kept::Null, Some(Kept::Null))
    }

    /// Runs the statement with every parameter set; returns the rows it changed. Running
    /// consumes the row: it steps once.
    pub fn execute(self) -> rusqlite::Result<usize> {
        let insert = self.insert;
        if let Some(rc) = self.failed {
            return Err(error(insert.db, rc));
        }
        if self.next != self.kept.len() {
            return Err(rusqlite::Error::InvalidParameterCount(
                self.next,
                self.kept.len(),
            ));
        }
        // SAFETY: a valid statement whose parameters are all bound to live values.
        let rc = unsafe { ffi::sqlite3_step(insert.stmt.as_ptr()) };
        match rc {
            // SAFETY: the live connection.
            ffi::SQLITE_DONE => Ok(unsafe { ffi::sqlite3_changes64(insert.db) } as usize),
            ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
            rc => Err(error(insert.db, rc)),
        }
    }
}

impl Drop for Row<'_, '_, '_> {
    fn drop(&mut self) {
        // SAFETY: a valid statement. Resetting keeps the bindings: kept ones point into the
        // batch's values, and the others are bound again by the next row before it steps.
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
    fn rows_store_their_values_whether_bound_anew_or_kept_from_the_row_before() {
        let c = db();
        let mut ins = Insert::prepare(
            &c,
            "INSERT INTO t (id, n, s) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .unwrap();
        // Values repeat from row to row (kept bound) and change (bound anew), by value and by
        // kind, including the same text in another string.
        let rows_in: Vec<(String, Option<i64>, Option<String>)> = vec![
            ("a".into(), Some(1), Some("é-x".into())),
            ("b".into(), Some(1), Some("é-x".into())),
            ("c".into(), None, Some("é-x".into())),
            ("d".into(), None, None),
            ("e".into(), Some(-3), Some(String::new())),
            ("f".into(), Some(-3), Some("y".into())),
        ];
        {
            let mut batch = ins.batch();
            for (id, n, s) in &rows_in {
                let mut row = batch.row();
                row.text(id).opt_int(*n).opt_text(s.as_deref());
                let changed = row.execute().unwrap();
                assert_eq!(changed, 1);
            }
            let mut row = batch.row();
            row.text("a").null().null();
            let conflict = row.execute().unwrap();
            assert_eq!(conflict, 0, "a conflicting row is skipped");
        }
        let mut expected = rows_in.clone();
        expected.sort();
        assert_eq!(rows(&c), expected);
        // A new batch starts from nothing kept: its first row binds every parameter, even one
        // equal to the last row of the batch before (whose bindings that batch cleared).
        let mut own = String::from("own");
        {
            let mut batch = ins.batch();
            let mut row = batch.row();
            row.text("g").int(1).own_text(&own);
            row.execute().unwrap();
        }
        own.replace_range(.., "two");
        {
            let mut batch = ins.batch();
            let mut row = batch.row();
            row.text("h").int(1).own_text(&own);
            row.execute().unwrap();
            let mut row = batch.row();
            row.text("i").int(1).opt_own_text(None);
            row.execute().unwrap();
        }
        let last: Vec<_> = rows(&c).into_iter().skip(6).collect();
        assert_eq!(
            last,
            vec![
                ("g".into(), Some(1), Some("own".into())),
                ("h".into(), Some(1), Some("two".into())),
                ("i".into(), Some(1), None),
            ]
        );
    }

    #[test]
    fn a_row_missing_or_past_its_parameters_is_refused_and_the_statement_stays_usable() {
        let c = db();
        let mut ins = Insert::prepare(&c, "INSERT INTO t (id, n, s) VALUES (?, ?, ?)").unwrap();
        let mut batch = ins.batch();
        let mut row = batch.row();
        row.text("a").int(1);
        assert!(matches!(
            row.execute(),
            Err(rusqlite::Error::InvalidParameterCount(2, 3))
        ));
        let mut row = batch.row();
        row.text("a").int(1).null().null();
        let Err(rusqlite::Error::SqliteFailure(e, _)) = row.execute() else {
            panic!("a fourth parameter must be refused");
        };
        assert_eq!(e.extended_code, ffi::SQLITE_RANGE);
        // A row dropped unexecuted stores nothing; what it bound is still set right after.
        batch.row().text("dropped").int(7);
        let mut row = batch.row();
        row.text("d").null().null();
        assert_eq!(row.execute().unwrap(), 1);
        drop(batch);
        assert_eq!(rows(&c), vec![("d".into(), None, None)]);
    }

    #[test]
    fn errors_come_from_sqlite_with_its_message() {
        let c = db();
        assert!(Insert::prepare(&c, "INSERT INTO nowhere VALUES (?)").is_err());
        let mut ins = Insert::prepare(&c, "INSERT INTO t (id, n, s) VALUES (?, ?, ?)").unwrap();
        let mut batch = ins.batch();
        let mut row = batch.row();
        row.text("a").int(1).null();
        row.execute().unwrap();
        let mut row = batch.row();
        row.text("a").int(1).null();
        let Err(rusqlite::Error::SqliteFailure(e, Some(msg))) = row.execute() else {
            panic!("a duplicate key must fail");
        };
        assert_eq!(e.code, rusqlite::ErrorCode::ConstraintViolation);
        assert!(msg.contains("UNIQUE"), "{msg}");
        // The statement is usable again after the failure.
        let mut row = batch.row();
        row.text("b").int(2).null();
        assert_eq!(row.execute().unwrap(), 1);
    }
}
