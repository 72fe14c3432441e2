//! `pc-bench`: measures what oha and wrk do not — a stream's time to first byte, and the
//! gateway's resident memory while many streams are held open. Loopback only, bounded.

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use futures_util::StreamExt;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Sequential streamed requests: time to first body byte and to the end (µs percentiles).
    Ttfb {
        #[arg(long)]
        url: String,
        /// Request headers, `name: value` (repeatable).
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        #[arg(long)]
        body: String,
        #[arg(long, default_value_t = 300)]
        n: usize,
    },
    /// Holds `n` concurrent streams open and samples the RSS of `pid` meanwhile.
    Hold {
        #[arg(long)]
        url: String,
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        #[arg(long)]
        body: String,
        #[arg(long, default_value_t = 1000)]
        n: usize,
        #[arg(long)]
        pid: u32,
    },
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(2048)
        .tcp_nodelay(true)
        .build()
        .expect("client")
}

fn request(
    c: &reqwest::Client,
    url: &str,
    headers: &[String],
    body: &str,
) -> reqwest::RequestBuilder {
    let mut r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    for h in headers {
        if let Some((k, v)) = h.split_once(':') {
            r = r.header(k.trim(), v.trim());
        }
    }
    r
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Resident set size of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn ttfb(url: String, headers: Vec<String>, body: String, n: usize) {
    let c = client();
    let mut first = Vec::with_capacity(n);
    let mut total = Vec::with_capacity(n);
    let mut errors = 0usize;
    for i in 0..n + 20 {
        let start = Instant::now();
        let Ok(resp) = request(&c, &url, &headers, &body).send().await else {
            errors += 1;
            continue;
        };
        if !resp.status().is_success() {
            errors += 1;
        }
        let mut stream = resp.bytes_stream();
        let mut t_first = None;
        while let Some(chunk) = stream.next().await {
            if t_first.is_none() && chunk.as_ref().is_ok_and(|c| !c.is_empty()) {
                t_first = Some(start.elapsed());
            }
        }
        // The first 20 requests warm connections and caches.
        if i >= 20 {
            first.push(t_first.unwrap_or_default().as_micros());
            total.push(start.elapsed().as_micros());
        }
    }
    first.sort_unstable();
    total.sort_unstable();
    let out = serde_json::json!({
        "n": first.len(), "errors": errors,
        "first_byte_us": {"p50": percentile(&first, 0.5), "p90": percentile(&first, 0.9), "p99": percentile(&first, 0.99)},
        "total_us": {"p50": percentile(&total, 0.5), "p99": percentile(&total, 0.99)},
    });
    println!("{out}");
}

async fn hold(url: String, headers: Vec<String>, body: String, n: usize, pid: u32) {
    let c = client();
    let before = rss_kib(pid);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let req = request(&c, &url, &headers, &body);
        tasks.push(tokio::spawn(async move {
            let resp = req.send().await.ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let mut stream = resp.bytes_stream();
            let mut bytes = 0usize;
            while let Some(Ok(chunk)) = stream.next().await {
                bytes += chunk.len();
            }
            Some(bytes)
        }));
    }
    let mut peak = before;
    let sampler = async {
        loop {
            peak = peak.max(rss_kib(pid));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let all = futures_util::future::join_all(tasks);
    let results = tokio::select! {
        r = all => r,
        () = sampler => unreachable!(),
    };
    let ok = results
        .iter()
        .filter(|r| matches!(r, Ok(Some(b)) if *b > 0))
        .count();
    let out = serde_json::json!({
        "streams": n, "completed": ok,
        "rss_before_kib": before, "rss_peak_kib": peak, "rss_after_kib": rss_kib(pid),
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{out}");
}

#[tokio::main]
async fn main() {
    match Cli::parse().cmd {
        Cmd::Ttfb {
            url,
            headers,
            body,
            n,
        } => ttfb(url, headers, body, n).await,
        Cmd::Hold {
            url,
            headers,
            body,
            n,
            pid,
        } => hold(url, headers, body, n, pid).await,
    }
}
