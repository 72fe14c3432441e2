//! SQLite records' request and response payloads, kept out of the database's pages.
//!
//! Payloads are most of a record's bytes, and inside SQLite each byte is copied into a page,
//! written to the WAL, checksummed, and copied again by the checkpoint — and the writer's page
//! cache fills with pages it never reads again. Here each batch appends its records' payloads to
//! a segment file in one write, and each row keeps where they are (`payload_seg`,
//! `payload_off`, `request_len`, `response_len`). Rows without a location keep their payloads
//! inline (files written before schema 4, or a batch whose append failed).
//!
//! Segments are per writer and per hour of writing: `<hex seg>.seg` in a directory beside the
//! database, where `seg` is the hour since the epoch in the high 32 bits and the writer's random
//! id in the low 32 (two writers never share a file). A record is written after it is created,
//! so every row referencing a segment was created before the segment's hour ended: retention
//! deletes a segment once its hour ends before the cutoff and the rows before it are gone.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::record::LogRecord;

const HOUR_MS: i64 = 3_600_000;
/// Appended bytes reach the disk at least this often (the database's own commits are not
/// synced either: `synchronous=NORMAL`).
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The segment directory of a log database: `logs.db` → `logs.db-payloads`.
pub(crate) fn dir_of(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_owned();
    name.push("-payloads");
    db.with_file_name(name)
}

/// Where one record's payloads are: `request_len` bytes of request then `response_len` of
/// response from `off` (a missing payload has no length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub seg: i64,
    pub off: i64,
    pub request_len: Option<i64>,
    pub response_len: Option<i64>,
}

impl Loc {
    /// The location a row's columns describe, if any.
    pub fn of_row(
        seg: Option<i64>,
        off: Option<i64>,
        request_len: Option<i64>,
        response_len: Option<i64>,
    ) -> Option<Loc> {
        Some(Loc {
            seg: seg?,
            off: off?,
            request_len,
            response_len,
        })
    }
}

fn file_name(seg: i64) -> String {
    format!("{seg:016x}.seg")
}

fn hour_of_seg(seg: i64) -> i64 {
    seg >> 32
}

/// The writer's side: the open segment and when it was last synced.
pub(crate) struct Segments {
    dir: PathBuf,
    writer_id: u32,
    open: Option<(i64, File, u64)>,
    synced_at: Instant,
    dirty: bool,
    /// A batch's payloads on their way to the file, kept between batches: a fresh buffer of a
    /// batch's size (hundreds of KiB at load) is likely made of pages the allocator had given
    /// back to the OS, faulted in and zeroed again every batch.
    buf: Vec<u8>,
}

/// Room [`Segments::buf`] keeps between batches.
const KEEP_BUF: usize = 4 << 20;

impl Segments {
    pub fn new(dir: PathBuf) -> io::Result<Segments> {
        std::fs::create_dir_all(&dir)?;
        Ok(Segments {
            dir,
            writer_id: rand_u32(),
            open: None,
            synced_at: Instant::now(),
            dirty: false,
            buf: Vec::new(),
        })
    }

    /// Appends the payloads of `records` (written at `now_ms`) in one write; returns each
    /// record's location, `None` for records without payloads.
    pub fn append(&mut self, records: &[LogRecord], now_ms: i64) -> io::Result<Vec<Option<Loc>>> {
        let total: usize = records.iter().map(LogRecord::payload_bytes).sum();
        if total == 0 {
            return Ok(vec![None; records.len()]);
        }
        let seg = (now_ms.div_euclid(HOUR_MS) << 32) | i64::from(self.writer_id);
        self.open_segment(seg)?;
        let Some((_, file, len)) = self.open.as_mut() else {
            return Err(io::Error::other("no open payload segment"));
        };
        let buf = &mut self.buf;
        buf.clear();
        buf.reserve(total);
        let start = *len;
        let mut locs = Vec::with_capacity(records.len());
        for r in records {
            if r.request_body.is_none() && r.response_body.is_none() {
                locs.push(None);
                continue;
            }
            let off = start + buf.len() as u64;
            let req = r.request_body.as_deref().map(|b| {
                buf.extend_from_slice(b.as_bytes());
                b.len() as i64
            });
            let resp = r.response_body.as_deref().map(|b| {
                buf.extend_from_slice(b.as_bytes());
                b.len() as i64
            });
            locs.push(Some(Loc {
                seg,
                off: off as i64,
                request_len: req,
                response_len: resp,
            }));
        }
        let written = file.write_all(buf);
        let n = buf.len() as u64;
        buf.clear();
        buf.shrink_to(KEEP_BUF);
        if let Err(e) = written {
            // Whatever part was written is never referenced; start the next append after it.
            *len = file.seek(SeekFrom::End(0)).unwrap_or(*len);
            return Err(e);
        }
        *len += n;
        self.dirty = true;
        self.sync_if_due();
        Ok(locs)
    }

    /// Makes `seg` the open segment.
    fn open_segment(&mut self, seg: i64) -> io::Result<()> {
        if self.open.as_ref().is_none_or(|(s, _, _)| *s != seg) {
            self.sync();
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(file_name(seg)))?;
            let len = f.seek(SeekFrom::End(0))?;
            self.open = Some((seg, f, len));
        }
        Ok(())
    }

    fn sync_if_due(&mut self) {
        if self.synced_at.elapsed() >= SYNC_EVERY {
            self.sync();
        }
    }

    /// Flushes what was appended to the disk (at rotation, once a second, and at close).
    pub fn sync(&mut self) {
        if self.dirty
            && let Some((_, f, _)) = &self.open
            && let Err(e) = f.sync_data()
        {
            tracing::warn!(error = %e, "syncing a log payload segment failed");
        }
        self.dirty = false;
        self.synced_at = Instant::now();
    }
}

/// A writer id that differs between processes and opens (the high bits of a v4 UUID).
fn rand_u32() -> u32 {
    (uuid::Uuid::new_v4().as_u128() >> 96) as u32
}

/// Reads payloads back, keeping each segment open while the caller reads.
pub(crate) struct Reader<'a> {
    dir: &'a Path,
    files: HashMap<i64, Option<File>>,
}

impl<'a> Reader<'a> {
    pub fn new(dir: &'a Path) -> Reader<'a> {
        Reader {
            dir,
            files: HashMap::new(),
        }
    }

    /// The request and response payloads at `loc`; `None` for either when it was not kept or
    /// can no longer be read (a segment lost to a crash before it reached the disk).
    pub fn read(&mut self, loc: Loc) -> (Option<String>, Option<String>) {
        match self.try_read(loc) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(seg = loc.seg, off = loc.off, error = %e, "log payload unreadable");
                (None, None)
            }
        }
    }

    fn try_read(&mut self, loc: Loc) -> io::Result<(Option<String>, Option<String>)> {
        let req = usize::try_from(loc.request_len.unwrap_or(0)).map_err(io::Error::other)?;
        let resp = usize::try_from(loc.response_len.unwrap_or(0)).map_err(io::Error::other)?;
        let off = u64::try_from(loc.off).map_err(io::Error::other)?;
        let dir = self.dir;
        let file = self
            .files
            .entry(loc.seg)
            .or_insert_with(|| File::open(dir.join(file_name(loc.seg))).ok())
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "segment missing"))?;
        // A row's lengths are checked against the file before anything is allocated for them.
        let want = req as u64 + resp as u64;
        if off.saturating_add(want) > file.metadata()?.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "payload past the segment's end",
            ));
        }
        let mut buf = vec![0u8; req + resp];
        file.seek(SeekFrom::Start(off))?;
        file.read_exact(&mut buf)?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok((
            loc.request_len.map(|_| text(&buf[..req])),
            loc.response_len.map(|_| text(&buf[req..])),
        ))
    }
}

/// Deletes the segments whose hour ended at or before `cutoff_ms` (call once the rows created
/// before the cutoff are deleted); returns how many went.
pub(crate) fn delete_before(dir: &Path, cutoff_ms: i64) -> io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut n = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(seg) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg"))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
        else {
            continue;
        };
        let hour_end = hour_of_seg(seg as i64)
            .saturating_add(1)
            .saturating_mul(HOUR_MS);
        if hour_end <= cutoff_ms {
            std::fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(req: Option<&str>, resp: Option<&str>) -> LogRecord {
        LogRecord {
            request_body: req.map(str::to_owned),
            response_body: resp.map(str::to_owned),
            ..LogRecord::default()
        }
    }

    #[test]
    fn a_large_batch_reads_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = dir_of(&tmp.path().join("logs.db"));
        let mut s = Segments::new(dir.clone()).unwrap();
        let records: Vec<LogRecord> = (0..3_000)
            .map(|i| {
                let req = format!("request {i} {}", "x".repeat(i % 97));
                let resp = (i % 5 != 0).then(|| format!("response {i} é"));
                rec(Some(&req), resp.as_deref())
            })
            .collect();
        let locs = s.append(&records, 7 * HOUR_MS).unwrap();
        let more = s.append(&[rec(Some("after"), None)], 7 * HOUR_MS).unwrap();
        let mut r = Reader::new(&dir);
        for (rec, loc) in records.iter().zip(&locs) {
            assert_eq!(
                r.read(loc.unwrap()),
                (rec.request_body.clone(), rec.response_body.clone())
            );
        }
        assert_eq!(r.read(more[0].unwrap()).0, Some("after".into()));
    }

    #[test]
    fn payloads_read_back_as_written_and_go_with_their_hour() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = dir_of(&tmp.path().join("logs.db"));
        let mut s = Segments::new(dir.clone()).unwrap();
        let hour = 480_000 * HOUR_MS;
        let a = s
            .append(
                &[
                    rec(Some("{\"q\":1}"), Some("ré")),
                    rec(None, None),
                    rec(Some(""), None),
                ],
                hour + 5,
            )
            .unwrap();
        let b = s
            .append(&[rec(None, Some("next hour"))], hour + HOUR_MS)
            .unwrap();
        assert!(a[1].is_none());
        assert_ne!(a[0].unwrap().seg, b[0].unwrap().seg);
        let mut r = Reader::new(&dir);
        assert_eq!(
            r.read(a[0].unwrap()),
            (Some("{\"q\":1}".into()), Some("ré".into()))
        );
        assert_eq!(r.read(a[2].unwrap()), (Some(String::new()), None));
        assert_eq!(r.read(b[0].unwrap()), (None, Some("next hour".into())));
        // A second writer on the same directory writes files of its own.
        let mut other = Segments::new(dir.clone()).unwrap();
        let c = other.append(&[rec(Some("x"), None)], hour + 9).unwrap();
        assert_ne!(c[0].unwrap().seg, a[0].unwrap().seg);
        assert_eq!(r.read(a[0].unwrap()).1, Some("ré".into()));

        // The first hour's segments go once the cutoff passes the hour's end; the next stays.
        assert_eq!(delete_before(&dir, hour + HOUR_MS - 1).unwrap(), 0);
        assert_eq!(delete_before(&dir, hour + HOUR_MS).unwrap(), 2);
        let mut r = Reader::new(&dir);
        assert_eq!(r.read(a[0].unwrap()), (None, None));
        assert_eq!(r.read(b[0].unwrap()).1, Some("next hour".into()));
        // A location past the end (a segment cut short by a crash) reads as nothing.
        let mut past = b[0].unwrap();
        past.off += 1_000;
        assert_eq!(r.read(past), (None, None));
        // So does a length no segment holds (nothing that size is allocated).
        let mut huge = b[0].unwrap();
        huge.response_len = Some(i64::MAX / 2);
        assert_eq!(r.read(huge), (None, None));
    }
}
