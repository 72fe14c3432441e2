//! The `portcullis` binary as a user runs it: flags and environment, the open-mode guard,
//! `config check`, and graceful shutdown on SIGTERM with a stream in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child on drop so a failing test leaves nothing running.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh data directory, so tests never share (or leave behind) a database.
fn data_dir() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pc-cli-data-{}-{n}", std::process::id()));
    dir.to_string_lossy().into_owned()
}

fn spawn(args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    cmd.env("PORTCULLIS_DATA_DIR", data_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("spawn portcullis"))
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listening on {port}");
}

/// A raw HTTP/1.1 exchange; returns the whole response (headers and body) as text.
fn http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn serve_reads_its_port_from_the_environment() {
    let port = free_port();
    let _gw = spawn(&["serve"], &[("PORTCULLIS_PORT", &port.to_string())]);
    wait_listening(port);
    let resp = http(
        port,
        "GET /v1/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("\"status\":\"success\""), "{resp}");
}

#[test]
fn open_mode_on_a_public_address_must_be_asked_for() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            &free_port().to_string(),
        ])
        .env("PORTCULLIS_DATA_DIR", data_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to serve open mode on 0.0.0.0"),
        "{err}"
    );
    assert!(err.contains("--allow-open-mode"), "{err}");
}

#[test]
fn a_bad_settings_file_names_the_key() {
    let dir = std::env::temp_dir().join(format!("pc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.yaml");
    std::fs::write(&file, "server:\n  prot: 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server") && err.contains("prot"), "{err}");
}

#[test]
fn config_check_reports_every_error_with_its_path() {
    let dir = std::env::temp_dir().join(format!("pc-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(
        &good,
        r#"{"strategy":{"mode":"fallback"},"targets":[{"provider":"openai"},{"provider":"groq"}]}"#,
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "check", "--portkey"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (2 target(s))"));

    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"strategy":{"mode":"roundrobin"},"targets":[{"provider":"openai","retry":{}}]}"#,
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "check", "--portkey"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("path: strategy,mode"), "{err}");
    assert!(
        err.contains("path: targets,0,retry,attempts, message: Required"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_lets_an_in_flight_stream_finish() {
    let mock_port = free_port();
    let gw_port = free_port();
    let _mock = spawn(&["mock-provider", "--port", &mock_port.to_string()], &[]);
    let mut gw = spawn(&["serve", "--port", &gw_port.to_string()], &[]);
    wait_listening(mock_port);
    wait_listening(gw_port);

    // A stream of 6 chunks, 150 ms apart: about a second in flight.
    let body = r#"{"model":"m+chunks=6+chunk_delay_ms=150","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         x-portkey-provider: openai\r\nx-portkey-custom-host: http://127.0.0.1:{mock_port}/v1\r\n\
         authorization: Bearer sk\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(("127.0.0.1", gw_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(s);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    // SIGTERM while the stream is running.
    let pid = gw.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );

    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("data: [DONE]"), "the stream was cut: {rest}");

    // The gateway exits by itself, successfully, and no longer accepts connections.
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(code) = gw.0.try_wait().unwrap() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success(), "exit status {code:?}");
    assert!(TcpStream::connect(("127.0.0.1", gw_port)).is_err());
}
