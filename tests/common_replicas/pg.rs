//! Just enough of the PostgreSQL wire protocol (v3, trust authentication, simple queries) to
//! create and drop a test schema and read a few rows, without a client library.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Where the server is, parsed from `postgres://user[:ignored]@host[:port]/db`.
#[derive(Debug, Clone)]
pub struct PgTarget {
    /// The URL as given (the gateway gets it, plus `options=-c search_path=…`).
    pub url: String,
    pub user: String,
    pub host: String,
    pub port: u16,
    pub database: String,
}

impl PgTarget {
    pub fn parse(url: &str) -> Option<PgTarget> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))?;
        let rest = rest.split('?').next().unwrap_or(rest);
        let (auth, rest) = rest.rsplit_once('@')?;
        let user = auth.split(':').next().unwrap_or(auth).to_owned();
        let (hostport, database) = rest.split_once('/')?;
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (hostport.to_owned(), 5432),
        };
        Some(PgTarget {
            url: url.to_owned(),
            user,
            host,
            port,
            database: database.to_owned(),
        })
    }

    /// The URL with every connection's `search_path` set to `schema`.
    pub fn url_with_schema(&self, schema: &str) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{schema}", self.url)
    }
}

/// One connection.
pub struct Pg {
    s: TcpStream,
}

type Rows = Vec<Vec<Option<String>>>;

impl Pg {
    pub fn connect(t: &PgTarget) -> Result<Pg, String> {
        let sock = TcpStream::connect((t.host.as_str(), t.port))
            .map_err(|e| format!("{}:{}: {e}", t.host, t.port))?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let mut pg = Pg { s: sock };
        let mut body = Vec::new();
        body.extend_from_slice(&196_608i32.to_be_bytes());
        for (k, v) in [("user", &t.user), ("database", &t.database)] {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        pg.s.write_all(&msg).map_err(|e| e.to_string())?;
        loop {
            let (kind, payload) = pg.read_msg()?;
            match kind {
                b'R' => {
                    let code = i32::from_be_bytes(payload[..4].try_into().unwrap_or([0; 4]));
                    if code != 0 {
                        return Err(format!(
                            "{} asks for a password (auth method {code}); these tests need trust auth",
                            t.url
                        ));
                    }
                }
                b'E' => return Err(format!("{}: {}", t.url, error_text(&payload))),
                b'Z' => return Ok(pg),
                _ => {}
            }
        }
    }

    fn read_msg(&mut self) -> Result<(u8, Vec<u8>), String> {
        let mut head = [0u8; 5];
        self.s.read_exact(&mut head).map_err(|e| e.to_string())?;
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut payload = vec![0u8; len.saturating_sub(4)];
        self.s.read_exact(&mut payload).map_err(|e| e.to_string())?;
        Ok((head[0], payload))
    }

    /// Runs `sql` (one or more statements); returns the rows of the last result, as text.
    pub fn query(&mut self, sql: &str) -> Result<Rows, String> {
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&((sql.len() + 5) as i32).to_be_bytes());
        msg.extend_from_slice(sql.as_bytes());
        msg.push(0);
        self.s.write_all(&msg).map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let (kind, payload) = self.read_msg()?;
            match kind {
                b'T' => rows.clear(),
                b'D' => rows.push(data_row(&payload)),
                b'E' => error = Some(error_text(&payload)),
                b'Z' => break,
                _ => {}
            }
        }
        match error {
            Some(e) => Err(format!("{sql}: {e}")),
            None => Ok(rows),
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self.s.write_all(&[b'X', 0, 0, 0, 4]);
    }
}

fn data_row(p: &[u8]) -> Vec<Option<String>> {
    let n = u16::from_be_bytes([p[0], p[1]]) as usize;
    let mut at = 2;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = i32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        at += 4;
        if len < 0 {
            out.push(None);
        } else {
            let len = len as usize;
            out.push(Some(String::from_utf8_lossy(&p[at..at + len]).into_owned()));
            at += len;
        }
    }
    out
}

fn error_text(p: &[u8]) -> String {
    let mut fields = p.split(|b| *b == 0);
    let mut message = String::new();
    for f in fields.by_ref() {
        if f.is_empty() {
            break;
        }
        if f[0] == b'M' {
            message = String::from_utf8_lossy(&f[1..]).into_owned();
        }
    }
    message
}

/// The local server: `PORTCULLIS_TEST_POSTGRES_URL`, else `test` on 127.0.0.1 as `postgres`,
/// then as `root`.
pub fn find_server() -> Result<PgTarget, String> {
    let candidates = match std::env::var("PORTCULLIS_TEST_POSTGRES_URL") {
        Ok(url) => vec![url],
        Err(_) => vec![
            "postgres://postgres@127.0.0.1:5432/test".to_owned(),
            "postgres://root@127.0.0.1:5432/test".to_owned(),
        ],
    };
    let mut reasons = Vec::new();
    for url in candidates {
        let Some(t) = PgTarget::parse(&url) else {
            reasons.push(format!("{url}: not a postgres://user@host:port/db URL"));
            continue;
        };
        match Pg::connect(&t).and_then(|mut c| c.query("SELECT 1")) {
            Ok(_) => return Ok(t),
            Err(e) => reasons.push(e),
        }
    }
    Err(format!("PostgreSQL unreachable: {}", reasons.join("; ")))
}
