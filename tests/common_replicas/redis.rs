//! Just enough RESP to ping Redis and delete a test's keys, without a client library.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A reply, as far as these tests care.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    fn text(&self) -> String {
        match self {
            Reply::Simple(s) | Reply::Error(s) => s.clone(),
            Reply::Int(i) => i.to_string(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Bulk(None) => String::new(),
            Reply::Array(_) => String::new(),
        }
    }
}

/// `redis://host:port[/db]`: `PORTCULLIS_TEST_REDIS_URL`, else `redis://127.0.0.1:6379`.
pub fn url() -> String {
    std::env::var("PORTCULLIS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub struct Redis {
    r: BufReader<TcpStream>,
}

impl Redis {
    pub fn connect(url: &str) -> Result<Redis, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("{url}: not a redis:// URL"))?;
        let hostport = rest.split(['/', '?']).next().unwrap_or(rest);
        let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
        let s = TcpStream::connect(hostport).map_err(|e| format!("Redis at {url}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut r = Redis {
            r: BufReader::new(s),
        };
        match r.cmd(&["PING"])? {
            Reply::Simple(p) if p == "PONG" => Ok(r),
            other => Err(format!("Redis at {url} answered PING with {other:?}")),
        }
    }

    pub fn cmd(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.r
            .get_mut()
            .write_all(out.as_bytes())
            .map_err(|e| e.to_string())?;
        self.read()
    }

    fn read(&mut self) -> Result<Reply, String> {
        let mut line = String::new();
        self.r.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end_matches(['\r', '\n']);
        let (kind, rest) = line.split_at(1.min(line.len()));
        let int = || rest.parse::<i64>().map_err(|e| format!("{line:?}: {e}"));
        Ok(match kind {
            "+" => Reply::Simple(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Int(int()?),
            "$" => {
                let n = int()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut buf = vec![0u8; n as usize + 2];
                    self.r.read_exact(&mut buf).map_err(|e| e.to_string())?;
                    buf.truncate(n as usize);
                    Reply::Bulk(Some(buf))
                }
            }
            "*" => {
                let n = int()?;
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    items.push(self.read()?);
                }
                Reply::Array(items)
            }
            _ => return Err(format!("unexpected Redis reply {line:?}")),
        })
    }

    /// Every key starting with `prefix` (which must hold no glob characters).
    pub fn keys_with_prefix(&mut self, prefix: &str) -> Result<Vec<String>, String> {
        let pattern = format!("{prefix}*");
        let mut cursor = "0".to_owned();
        let mut keys = Vec::new();
        loop {
            let reply = self.cmd(&["SCAN", &cursor, "MATCH", &pattern, "COUNT", "1000"])?;
            let Reply::Array(parts) = reply else {
                return Err(format!("SCAN answered {reply:?}"));
            };
            cursor = parts.first().map(Reply::text).unwrap_or_default();
            if let Some(Reply::Array(found)) = parts.get(1) {
                keys.extend(found.iter().map(Reply::text));
            }
            if cursor == "0" || cursor.is_empty() {
                return Ok(keys);
            }
        }
    }

    /// Deletes every key starting with `prefix`; returns how many there were.
    pub fn delete_prefix(&mut self, prefix: &str) -> Result<usize, String> {
        let keys = self.keys_with_prefix(prefix)?;
        for k in &keys {
            self.cmd(&["DEL", k])?;
        }
        Ok(keys.len())
    }
}
