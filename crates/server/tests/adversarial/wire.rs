//! Raw sockets: hand-written HTTP/1.1 requests, a minimal response parser, and a sentinel
//! listener that counts every connection made to it (to prove the gateway never dialled it).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A listener that records connections and answers each with a plausible chat completion, so
/// an unexpected connection is visible both in `hits` and in the gateway's answer.
pub struct Sentinel {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

pub const SENTINEL_BODY: &str = r#"{"id":"sentinel","object":"chat.completion","created":1,"model":"sentinel","choices":[{"index":0,"message":{"role":"assistant","content":"SENTINEL-REACHED"},"finish_reason":"stop"}]}"#;

impl Sentinel {
    /// Binds `ip:0`; `None` when the address cannot be bound here (e.g. no 127.0.0.2).
    pub async fn bind(ip: IpAddr) -> Option<Sentinel> {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.ok()?;
        let addr = listener.local_addr().ok()?;
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let _ =
                        tokio::time::timeout(Duration::from_millis(300), sock.read(&mut buf)).await;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{SENTINEL_BODY}",
                        SENTINEL_BODY.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Some(Sentinel { addr, hits, task })
    }

    /// A sentinel only there to notice connections: on 127.0.0.2 where that exists (Linux),
    /// else on 127.0.0.1.
    pub async fn detector() -> Sentinel {
        for ip in [[127, 0, 0, 2], [127, 0, 0, 1]] {
            if let Some(s) = Sentinel::bind(IpAddr::from(ip)).await {
                return s;
            }
        }
        panic!("cannot bind a loopback listener")
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What came back on a raw connection.
pub struct Raw {
    pub bytes: Vec<u8>,
    /// The server closed the connection (EOF) rather than us giving up waiting.
    pub closed: bool,
    pub elapsed: Duration,
}

impl Raw {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Writes `request` (optionally half-closing the write side), then reads until the server
/// closes or stays silent for `idle`. Never waits longer than 5 s in total.
pub async fn exchange(addr: SocketAddr, request: &[u8], half_close: bool, idle: Duration) -> Raw {
    let started = Instant::now();
    let mut sock = TcpStream::connect(addr)
        .await
        .expect("connect to the gateway");
    sock.write_all(request).await.expect("write the request");
    if half_close {
        let _ = sock.shutdown().await;
    }
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut closed = false;
    let deadline = started + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(idle.min(left), sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    Raw {
        bytes,
        closed,
        elapsed: started.elapsed(),
    }
}

/// One parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits a byte stream into responses (content-length and chunked framing); stops at the
/// first thing that does not parse.
pub fn parse_responses(mut bytes: &[u8]) -> Vec<RawResponse> {
    let mut out = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let Some(status) = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse::<u16>().ok())
        else {
            break;
        };
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut rest = &bytes[end + 4..];
        let mut resp = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = resp
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            let len = len.min(rest.len());
            resp.body = rest[..len].to_vec();
            rest = &rest[len..];
        } else if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            loop {
                let Some(eol) = find(rest, b"\r\n") else {
                    rest = &[];
                    break;
                };
                let size = String::from_utf8_lossy(&rest[..eol]);
                let Ok(size) =
                    usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                else {
                    rest = &[];
                    break;
                };
                rest = &rest[eol + 2..];
                if size == 0 {
                    rest = rest.get(2..).unwrap_or(&[]);
                    break;
                }
                let take = size.min(rest.len());
                resp.body.extend_from_slice(&rest[..take]);
                rest = rest.get(take + 2..).unwrap_or(&[]);
            }
        } else if !(100..200).contains(&status) && status != 204 && status != 304 {
            resp.body = rest.to_vec();
            rest = &[];
        }
        out.push(resp);
        bytes = rest;
    }
    out
}

/// A complete HTTP/1.1 request with the given extra header lines and body.
pub fn request(method: &str, path: &str, headers: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: gateway\r\n").into_bytes();
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
