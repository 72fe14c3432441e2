//! The admin CLI (`portcullis keys|workspaces|providers|configs …`, `portcullis config apply`)
//! and the declarative `catalog:` section of the settings file, as an operator uses them: every
//! command runs the real binary against a store in its own temporary directory, and a real
//! `portcullis serve` (plus `portcullis mock-provider` as the upstream) checks that what was
//! written works.
//!
//! Every test has its own directory and ports; every child process is killed on drop and every
//! wait has a deadline. Nothing leaves the loopback interface. The PostgreSQL test uses a schema
//! of its own on the local server (`PORTCULLIS_TEST_POSTGRES_URL`, else `test` on 127.0.0.1) and
//! prints `skipping: …` without one, unless `PORTCULLIS_REQUIRE_SERVICES=1`.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// The longest any single command may take before the test fails (and kills it).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a server may take to answer its health check.
const START_TIMEOUT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------------------------------
// Helpers: directories, commands, servers, HTTP
// ------------------------------------------------------------------------------------------

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory, removed on drop: each test's store, settings and logs.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "pc-admin-cli-{tag}-{}-{n}-{nanos:x}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The gateway's data directory inside this one.
    fn data(&self) -> String {
        self.join("data").to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed (and reaped) on drop so a failing test leaves nothing running.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with a clean environment: nothing from the caller's `PORTCULLIS_*` (a data dir,
/// a database URL, a master or admin key) may leak into a test.
fn command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("PORTCULLIS_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// What a finished command did.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(self) -> Out {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `portcullis ARGS` to the end (at most [`COMMAND_TIMEOUT`]), `stdin` as its input.
fn run_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Out {
    let mut cmd = command(env);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn portcullis");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).unwrap();
    }
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`portcullis {}` did not finish in time", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    run_with(args, env, None)
}

/// Spawns a long-running `portcullis ARGS --port P` (output to a log file in `dir`) and waits
/// until `health` answers 200. A port taken in between is retried on another one.
fn start(
    dir: &TempDir,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    health: &str,
) -> (Proc, u16) {
    for attempt in 0..3 {
        let port = free_port();
        let log = dir.join(&format!("{name}-{attempt}.log"));
        let file = File::create(&log).unwrap();
        let mut cmd = command(env);
        cmd.args(args)
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file));
        let mut p = Proc {
            child: cmd.spawn().expect("spawn portcullis"),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = p.exited() {
                let log = p.log();
                if log.contains("cannot listen") || log.contains("Address already in use") {
                    break;
                }
                panic!("`portcullis {}` exited ({status}):\n{log}", args.join(" "));
            }
            if let Ok(r) = request(port, "GET", health, &[], None)
                && r.status == 200
            {
                return (p, port);
            }
            assert!(
                Instant::now() < deadline,
                "`portcullis {}` is not answering on {port}:\n{}",
                args.join(" "),
                p.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    panic!("no free port for `portcullis {}`", args.join(" "));
}

fn serve(dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> (Proc, u16) {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    start(dir, "serve", &all, env, "/v1/health")
}

fn mock_provider(dir: &TempDir) -> (Proc, u16) {
    start(dir, "mock", &["mock-provider"], &[], "/__mock/health")
}

/// Runs `portcullis serve ARGS` expecting it to refuse to start; its output.
fn serve_fails(args: &[&str], env: &[(&str, &str)]) -> Out {
    let port = free_port().to_string();
    let mut all = vec!["serve", "--port", port.as_str()];
    all.extend_from_slice(args);
    let out = run(&all, env);
    assert_ne!(out.code, 0, "serve started: {out:#?}");
    out
}

/// One HTTP response, read to the end.
#[derive(Debug)]
struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A blocking HTTP/1.1 exchange with `127.0.0.1:port` (`connection: close`, JSON body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(20)))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if body.is_some() {
        head.push_str("content-type: application/json\r\n");
    }
    head.push_str(&format!(
        "content-length: {}\r\n\r\n{payload}",
        payload.len()
    ));
    s.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let mut rest = &raw[end + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("truncated chunk"))?;
            let size_text = String::from_utf8_lossy(&rest[..nl]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            rest = &rest[nl + 2..];
            if size == 0 || rest.len() < size {
                break out;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[(size + 2).min(rest.len())..];
        }
    } else {
        rest.to_vec()
    };
    Ok(Resp {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn get(port: u16, path: &str, key: &str) -> Resp {
    let auth = format!("Bearer {key}");
    request(port, "GET", path, &[("authorization", &auth)], None).unwrap()
}

/// A chat completion through the gateway with gateway key `key`.
fn chat(port: u16, key: &str, model: &str, extra: &[(&str, &str)]) -> Resp {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    request(port, "POST", "/v1/chat/completions", &headers, Some(&body)).unwrap()
}

/// The `authorization` header of every request the mock provider received, oldest first.
fn upstream_auth(mock: u16) -> Vec<String> {
    let r = request(mock, "GET", "/__mock/requests", &[], None).unwrap();
    r.json()
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|q| {
            q["headers"]["authorization"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// How many audit events the store holds (through the admin API, with an admin key).
fn audit_total(port: u16, admin_key: &str) -> u64 {
    let r = get(port, "/v1/audit-logs?page_size=100", admin_key);
    assert_eq!(r.status, 200, "{r:?}");
    r.json()["total"].as_u64().expect("total")
}

/// Polls `probe` every 25 ms for at most `limit`; how long it took to hold.
fn within(limit: Duration, what: &str, mut probe: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if probe() {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `--data-dir DIR` for the store commands.
fn store_args(dir: &TempDir) -> [String; 2] {
    ["--data-dir".into(), dir.data()]
}

/// Runs a store command against `dir`'s data directory.
fn admin(dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> Out {
    let store = store_args(dir);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(store.iter().map(String::as_str));
    run(&all, env)
}

/// A workspace key value of the right strength for `key_env`.
fn key_value(tag: &str) -> String {
    format!("pcl_test_{tag}_{}", "0123456789abcdefghijklmnopqrstuvwxyz")
}

// ------------------------------------------------------------------------------------------
// The admin CLI
// ------------------------------------------------------------------------------------------

#[test]
fn an_admin_key_from_the_cli_opens_the_admin_api() {
    let dir = TempDir::new("admin-key");
    let out = admin(&dir, &["keys", "create", "--admin"], &[]).ok();
    // The key, and only the key, on standard output; the notice on standard error.
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out:#?}");
    let key = lines[0].trim().to_owned();
    assert!(key.len() >= 32 && !key.contains(' '), "{key:?}");
    assert!(out.stderr.contains("shown only this once"), "{out:#?}");

    // A second one, as JSON.
    let second = admin(
        &dir,
        &["keys", "create", "--admin", "--name", "deploy", "--json"],
        &[],
    )
    .ok()
    .json();
    let second_key = second["key"].as_str().unwrap().to_owned();
    assert_eq!(second["name"], "deploy");
    assert_eq!(second["type"], "organisation-service");
    assert!(
        second["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "workspaces.list"),
        "{second}"
    );
    assert_ne!(key, second_key);

    let (_gw, port) = serve(&dir, &["--data-dir", &dir.data()], &[]);
    for k in [&key, &second_key] {
        let r = get(port, "/v1/admin/workspaces", k);
        assert_eq!(r.status, 200, "{r:?}");
        let body = r.json();
        let slugs: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w["slug"].as_str())
            .collect();
        assert!(slugs.contains(&"default"), "{r:?}");
    }
    let wrong = format!("{key}x");
    assert_eq!(get(port, "/v1/admin/workspaces", &wrong).status, 401);
    let r = request(port, "GET", "/v1/admin/workspaces", &[], None).unwrap();
    assert_eq!(r.status, 401, "{r:?}");

    // The CLI's writes are in the audit log, as the CLI's.
    let r = get(port, "/v1/audit-logs?resource_type=api_key", &key);
    assert_eq!(r.status, 200, "{r:?}");
    let events = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(
        events.iter().all(|e| e["actor"]["id"] == "cli"),
        "{events:#?}"
    );
    assert!(!r.body.contains(&key) && !r.body.contains(&second_key));

    // `keys list` shows both keys, never their values.
    for args in [&["keys", "list"][..], &["keys", "list", "--json"][..]] {
        let out = admin(&dir, args, &[]).ok();
        assert!(out.stdout.contains("deploy"), "{out:#?}");
        assert!(!out.stdout.contains(&key), "a full key is listed: {out:#?}");
        assert!(
            !out.stdout.contains(&second_key),
            "a full key is listed: {out:#?}"
        );
    }
}

/// What the CLI creates shows in its lists and serves traffic; a revoked key stops working on
/// the running gateway within about a second; a deleted key is gone.
#[test]
fn cli_created_catalog_serves_traffic_and_revocation_is_prompt() {
    let dir = TempDir::new("catalog");
    let (_mock, mock) = mock_provider(&dir);
    let upstream_key = "sk-upstream-cli-0001";
    let env = [("PCT_UPSTREAM_KEY", upstream_key)];

    let out = admin(
        &dir,
        &[
            "workspaces",
            "create",
            "Search Team",
            "--slug",
            "search",
            "--description",
            "search people",
        ],
        &[],
    )
    .ok();
    assert!(out.stdout.contains("created workspace search"), "{out:#?}");
    // A generated slug.
    let other = admin(&dir, &["workspaces", "create", "Other Team", "--json"], &[])
        .ok()
        .json();
    let other_slug = other["slug"].as_str().unwrap().to_owned();
    assert!(other_slug.starts_with("ws-other-"), "{other}");

    let host = format!("http://127.0.0.1:{mock}/v1");
    let out = admin(
        &dir,
        &[
            "providers",
            "create",
            "--workspace",
            "search",
            "--slug",
            "mock",
            "--provider",
            "openai",
            "--api-key-env",
            "PCT_UPSTREAM_KEY",
            "--custom-host",
            &host,
            "--models",
            "gpt-4o-mini,gpt-4o-mini-2",
        ],
        &env,
    )
    .ok();
    assert!(out.stdout.contains("@mock"), "{out:#?}");

    let cfg = dir.write(
        "fallback.json",
        r#"{"strategy":{"mode":"fallback"},"targets":[{"provider":"@mock"},{"provider":"@mock"}]}"#,
    );
    let out = admin(
        &dir,
        &[
            "configs",
            "create",
            "--workspace",
            "search",
            "--name",
            "prod fallback",
            "--file",
            &cfg,
        ],
        &[],
    )
    .ok();
    let config_slug = out.stdout.trim().to_owned();
    assert!(config_slug.starts_with("pc-prod-f"), "{out:#?}");
    // From standard input, organisation-wide.
    let out = run_with(
        &[
            "configs",
            "create",
            "--name",
            "org",
            "--json",
            "--file",
            "-",
            "--data-dir",
            &dir.data(),
        ],
        &[],
        Some(r#"{"retry":{"attempts":2}}"#),
    )
    .ok();
    let org_config = out.json()["slug"].as_str().unwrap().to_owned();

    let created = admin(
        &dir,
        &[
            "keys",
            "create",
            "--workspace",
            "search",
            "--name",
            "bot",
            "--rate-limit",
            "requests:rpm:1000",
            "--budget",
            "cost:50:monthly:alert=40",
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["type"], "workspace-service");
    assert_eq!(created["scopes"], json!(["completions.write", "logs.view"]));
    let admin_key = admin(&dir, &["keys", "create", "--admin"], &[])
        .ok()
        .stdout
        .trim()
        .to_owned();
    // A key whose requests use the saved config, at most 2 a minute.
    let limited = admin(
        &dir,
        &[
            "keys",
            "create",
            "--workspace",
            "search",
            "--name",
            "limited",
            "--default-config",
            &config_slug,
            "--rate-limit",
            "requests:rpm:2",
        ],
        &[],
    )
    .ok()
    .stdout
    .trim()
    .to_owned();

    // The lists show what was created.
    let out = admin(&dir, &["workspaces", "list"], &[]).ok();
    for s in ["search", "Search Team", &other_slug, "default"] {
        assert!(out.stdout.contains(s), "{s}: {out:#?}");
    }
    let ws = admin(&dir, &["workspaces", "list", "--json"], &[])
        .ok()
        .json();
    assert_eq!(ws.as_array().unwrap().len(), 3, "{ws:#}");

    let out = admin(&dir, &["providers", "list"], &[]).ok();
    for s in [
        "@mock",
        "search",
        "openai",
        &host,
        "gpt-4o-mini,gpt-4o-mini-2",
    ] {
        assert!(out.stdout.contains(s), "{s}: {out:#?}");
    }
    assert!(!out.stdout.contains(upstream_key), "{out:#?}");
    let providers = admin(
        &dir,
        &["providers", "list", "--workspace", "search", "--json"],
        &[],
    )
    .ok()
    .json();
    let p = &providers.as_array().unwrap()[0];
    assert_eq!(p["slug"], "mock");
    assert_eq!(p["provider"], "openai");
    assert_eq!(p["custom_host"], host.as_str());
    assert_eq!(p["models"], json!(["gpt-4o-mini", "gpt-4o-mini-2"]));
    assert_ne!(p["masked_key"], upstream_key);
    let none = admin(
        &dir,
        &["providers", "list", "--workspace", &other_slug, "--json"],
        &[],
    )
    .ok()
    .json();
    assert_eq!(none, json!([]));

    let out = admin(&dir, &["configs", "list"], &[]).ok();
    assert!(
        out.stdout.contains(&config_slug) && out.stdout.contains(&org_config),
        "{out:#?}"
    );
    let configs = admin(
        &dir,
        &["configs", "list", "--workspace", "search", "--json"],
        &[],
    )
    .ok()
    .json();
    assert_eq!(configs.as_array().unwrap().len(), 1, "{configs:#}");
    assert_eq!(configs[0]["slug"], config_slug.as_str());
    assert_eq!(configs[0]["config"]["strategy"]["mode"], "fallback");

    let out = admin(&dir, &["keys", "list", "--workspace", "search"], &[]).ok();
    assert!(out.stdout.contains(&key_id), "{out:#?}");
    assert!(
        out.stdout
            .contains("requests:rpm:1000 cost:50:monthly:alert=40"),
        "{out:#?}"
    );
    assert!(
        !out.stdout.contains(&admin_key),
        "the admin key is not in search: {out:#?}"
    );
    for args in [&["keys", "list"][..], &["keys", "list", "--json"][..]] {
        let out = admin(&dir, args, &[]).ok();
        assert!(!out.stdout.contains(&key), "a full key is listed: {out:#?}");
        assert!(
            !out.stdout.contains(&admin_key),
            "a full key is listed: {out:#?}"
        );
    }

    // The gateway serves with all of it.
    let (_gw, port) = serve(&dir, &["--data-dir", &dir.data()], &[]);
    let r = chat(port, &key, "@mock/gpt-4o-mini", &[]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        upstream_auth(mock),
        vec![format!("Bearer {upstream_key}")],
        "the provider's key, sealed by the CLI, reaches the upstream"
    );
    let r = chat(
        port,
        &key,
        "gpt-4o-mini",
        &[("x-portkey-config", &config_slug)],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = chat(port, &key, "@mock/gpt-4o", &[]);
    assert_ne!(r.status, 200, "a model outside --models: {r:?}");
    // --default-config routes a request that names no provider; --rate-limit holds.
    for _ in 0..2 {
        let r = chat(port, &limited, "gpt-4o-mini", &[]);
        assert_eq!(r.status, 200, "{r:?}");
    }
    let r = chat(port, &limited, "gpt-4o-mini", &[]);
    assert_eq!(r.status, 429, "{r:?}");

    // Revoked on the command line: the running gateway refuses it within about a second.
    // (Another workspace key stays active: with none left, a loopback gateway serves open mode.)
    admin(
        &dir,
        &[
            "keys",
            "create",
            "--workspace",
            &other_slug,
            "--name",
            "keeper",
        ],
        &[],
    )
    .ok();
    let out = admin(&dir, &["keys", "revoke", &key_id], &[]).ok();
    assert!(out.stdout.contains("revoked key"), "{out:#?}");
    let took = within(
        Duration::from_secs(3),
        "revocation reaches the gateway",
        || chat(port, &key, "@mock/gpt-4o-mini", &[]).status == 401,
    );
    eprintln!("revocation took {took:?}");
    assert_eq!(get(port, "/v1/admin/workspaces", &admin_key).status, 200);
    let out = admin(&dir, &["keys", "revoke", &key_id], &[]).ok();
    assert!(out.stderr.contains("already revoked"), "{out:#?}");
    let keys = admin(&dir, &["keys", "list", "--json"], &[]).ok().json();
    let k = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .unwrap();
    assert_eq!(k["status"], "revoked");
    let r = get(
        port,
        &format!("/v1/audit-logs?resource_id={key_id}"),
        &admin_key,
    );
    // Created, then revoked (once, though asked twice): one audit event per change, by the CLI.
    let events = r.json()["data"].as_array().unwrap().clone();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["update", "create"], "{events:#?}");
    assert_eq!(events[0]["actor"]["id"], "cli");
    assert_eq!(
        events[0]["details"]["changed"],
        json!(["status"]),
        "{events:#?}"
    );
    assert_eq!(events[0]["details"]["after"]["status"], "revoked");

    // Deleted: gone from the list.
    let out = admin(&dir, &["keys", "delete", &key_id], &[]).ok();
    assert!(out.stdout.contains("deleted key"), "{out:#?}");
    let keys = admin(&dir, &["keys", "list", "--json"], &[]).ok().json();
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != key_id.as_str()),
        "{keys:#}"
    );
    assert_eq!(chat(port, &key, "@mock/gpt-4o-mini", &[]).status, 401);
}

/// Every list, as JSON: what a failed command must leave as it was.
fn lists(dir: &TempDir) -> Vec<Value> {
    ["keys", "workspaces", "providers", "configs"]
        .iter()
        .map(|what| admin(dir, &[*what, "list", "--json"], &[]).ok().json())
        .collect()
}

#[test]
fn bad_input_exits_2_with_a_clear_message_and_writes_nothing() {
    let dir = TempDir::new("bad-input");
    let admin_key = admin(&dir, &["keys", "create", "--admin"], &[])
        .ok()
        .stdout
        .trim()
        .to_owned();
    admin(
        &dir,
        &["workspaces", "create", "Search", "--slug", "search"],
        &[],
    )
    .ok();
    admin(
        &dir,
        &[
            "providers",
            "create",
            "--workspace",
            "search",
            "--slug",
            "mock",
            "--provider",
            "openai",
            "--custom-host",
            "http://127.0.0.1:9/v1",
        ],
        &[],
    )
    .ok();
    let cfg = dir.write("ok.json", r#"{"provider":"@mock"}"#);
    admin(
        &dir,
        &[
            "configs",
            "create",
            "--workspace",
            "search",
            "--name",
            "ok",
            "--file",
            &cfg,
        ],
        &[],
    )
    .ok();
    let (_gw, port) = serve(&dir, &["--data-dir", &dir.data()], &[]);
    let audit_before = audit_total(port, &admin_key);
    let lists_before = lists(&dir);

    let not_json = dir.write("broken.json", r#"{"strategy": {"mode": "fallback""#);
    let bad_mode = dir.write(
        "mode.json",
        r#"{"strategy":{"mode":"roundrobin"},"targets":[]}"#,
    );
    let bad_target = dir.write("target.json", r#"{"provider":"@nowhere"}"#);
    let not_object = dir.write("array.json", r#"[1, 2]"#);
    let missing = dir.join("missing.json").to_string_lossy().into_owned();
    let unknown_id = "3f2c9b1e-0000-4000-8000-000000000000";
    // Each case: the command (split on spaces), and what its error must say.
    let cases: Vec<(String, Vec<&str>)> = vec![
        // keys create
        (
            "keys create --workspace search --scopes completions.write,bogus.scope".into(),
            vec!["--scopes: unknown scope \"bogus.scope\""],
        ),
        (
            "keys create --workspace search --scopes audit_logs.list".into(),
            vec!["--scopes: a workspace-service key cannot hold \"audit_logs.list\""],
        ),
        (
            "keys create --admin --scopes completions.write".into(),
            vec!["--scopes: an organisation-service key cannot hold"],
        ),
        (
            "keys create --workspace search --rate-limit requests:rpy:5".into(),
            vec!["--rate-limit: \"requests:rpy:5\" is not a rate limit"],
        ),
        (
            "keys create --workspace search --rate-limit requests:rpm:-1".into(),
            vec!["--rate-limit: \"requests:rpm:-1\" is not a rate limit"],
        ),
        (
            "keys create --workspace search --rate-limit 100".into(),
            vec!["--rate-limit: \"100\" is not a rate limit"],
        ),
        (
            "keys create --workspace search --rate-limit rpm:99999999999999999".into(),
            vec!["--rate-limit: is too large"],
        ),
        (
            "keys create --workspace search --budget cost:0".into(),
            vec!["--budget: must be a number above 0"],
        ),
        (
            "keys create --workspace search --budget cost:5:yearly".into(),
            vec!["--budget: \"cost:5:yearly\" is not a budget"],
        ),
        (
            "keys create --workspace search --budget cost:5:daily:alert=9".into(),
            vec!["--budget: must be above 0 and at most credit_limit"],
        ),
        (
            "keys create --workspace search --user-limit cost:5 --user-limit tokens:9".into(),
            vec!["--user-limit: at most one budget per end user"],
        ),
        (
            "keys create --workspace search --default-config pc-nope".into(),
            vec!["--default-config: no config \"pc-nope\""],
        ),
        (
            "keys create --workspace nowhere".into(),
            vec!["--workspace: unknown workspace \"nowhere\""],
        ),
        // clap's own usage errors
        ("keys create".into(), vec!["--admin"]),
        (
            "keys create --admin --workspace search".into(),
            vec!["--workspace", "cannot be used with"],
        ),
        // keys revoke / delete / list
        (
            "keys revoke not-a-key".into(),
            vec!["ID: \"not-a-key\" is not a key id"],
        ),
        (
            format!("keys revoke {unknown_id}"),
            vec!["ID: no key 3f2c9b1e"],
        ),
        (
            format!("keys delete {unknown_id}"),
            vec!["ID: no key 3f2c9b1e"],
        ),
        (
            "keys list --workspace nowhere".into(),
            vec!["--workspace: unknown workspace \"nowhere\""],
        ),
        // workspaces create
        (
            "workspaces create Again --slug search".into(),
            vec!["--slug: a workspace \"search\" already exists"],
        ),
        (
            "workspaces create Bad --slug bad/slug".into(),
            vec!["--slug: may contain only letters, digits"],
        ),
        // providers create
        (
            "providers create --workspace search --slug typo --provider opnai".into(),
            vec!["--provider: unknown provider \"opnai\""],
        ),
        (
            "providers create --workspace search --slug mock --provider openai".into(),
            vec!["--slug: a provider \"mock\" already exists in workspace search"],
        ),
        (
            "providers create --workspace search --slug nokey --provider openai \
             --api-key-env PCT_SURELY_UNSET_VARIABLE"
                .into(),
            vec!["--api-key-env: environment variable PCT_SURELY_UNSET_VARIABLE is not set"],
        ),
        (
            "providers create --workspace search --slug ext --provider openai \
             --custom-host http://10.1.2.3/v1"
                .into(),
            vec!["--custom-host: ", "trusted_custom_hosts"],
        ),
        (
            "providers create --workspace nowhere --slug p --provider openai".into(),
            vec!["--workspace: unknown workspace \"nowhere\""],
        ),
        (
            "providers create --workspace search --slug a.b --provider openai".into(),
            vec!["--slug: may contain only letters, digits"],
        ),
        (
            "providers create --workspace search --slug m --provider openai --models ,".into(),
            vec!["--models: must not be empty"],
        ),
        // configs create
        (
            format!("configs create --name x --file {not_json}"),
            vec!["--file: ", "is not valid JSON"],
        ),
        (
            format!("configs create --name x --file {bad_mode}"),
            vec!["--file: invalid config: path: strategy,mode"],
        ),
        (
            format!("configs create --workspace search --name x --file {bad_target}"),
            vec!["--file: invalid config: ", "\"@nowhere\""],
        ),
        (
            format!("configs create --name x --file {not_object}"),
            vec!["--file: must be an object"],
        ),
        (
            format!("configs create --name x --file {missing}"),
            vec!["--file: cannot read"],
        ),
        (
            format!("configs create --workspace nowhere --name x --file {cfg}"),
            vec!["--workspace: unknown workspace \"nowhere\""],
        ),
        // config apply
        ("config apply".into(), vec!["--config: the settings file"]),
    ];
    let mut cases: Vec<(Vec<String>, Vec<&str>)> = cases
        .into_iter()
        .map(|(c, e)| (c.split_whitespace().map(str::to_owned).collect(), e))
        .collect();
    // Arguments with spaces in them.
    let blank_name = ["workspaces", "create", "  "];
    cases.push((
        blank_name.map(str::to_owned).to_vec(),
        vec!["NAME: must not be empty"],
    ));
    let blank_config = ["configs", "create", "--name", " ", "--file", &cfg];
    cases.push((
        blank_config.map(str::to_owned).to_vec(),
        vec!["--name: must not be empty"],
    ));
    for (args, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = admin(&dir, &args, &[]);
        let shown = args.join(" ");
        assert_eq!(out.code, 2, "`{shown}` should exit 2: {out:#?}");
        assert!(out.stderr.contains("error:"), "`{shown}`: {out:#?}");
        for e in expected {
            assert!(
                out.stderr.contains(e),
                "`{shown}`: {e:?} not in {:?}",
                out.stderr
            );
        }
        assert!(out.stdout.trim().is_empty(), "`{shown}` printed: {out:#?}");
    }

    // Nothing was written: the same rows, and not one more audit event.
    assert_eq!(lists(&dir), lists_before);
    assert_eq!(audit_total(port, &admin_key), audit_before);
}

// ------------------------------------------------------------------------------------------
// The declarative catalog
// ------------------------------------------------------------------------------------------

/// A settings file whose catalog holds a workspace, a provider pointed at the mock, a service
/// key, an admin key and a config; secrets by environment variable.
fn catalog_yaml(data_dir: &str, mock: u16, workspace_name: &str) -> String {
    format!(
        r#"server:
  data_dir: "{data_dir}"
catalog:
  workspaces:
    - slug: search
      name: {workspace_name}
      rate_limits: [{{unit: rpm, value: 600}}]
  providers:
    - workspace: search
      slug: mock-prov
      provider: openai
      api_key_env: PCT_UPSTREAM_KEY
      custom_host: "http://localhost:{mock}/v1"
      models: [gpt-4o-mini]
  keys:
    - name: ci-bot
      workspace: search
      key_env: PCT_BOT_KEY
      scopes: [completions.write]
    - name: root
      admin: true
      key_env: PCT_ADMIN_KEY
  configs:
    - slug: pc-prod-fallback
      workspace: search
      config: {{strategy: {{mode: fallback}}, targets: [{{provider: "@mock-prov"}}, {{provider: "@mock-prov", override_params: {{temperature: 0.5}}}}]}}
"#
    )
}

struct Secrets {
    upstream: String,
    bot: String,
    admin: String,
}

impl Secrets {
    fn new() -> Secrets {
        Secrets {
            upstream: "sk-upstream-from-env-1".into(),
            bot: key_value("bot"),
            admin: key_value("admin"),
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("PCT_UPSTREAM_KEY", self.upstream.as_str()),
            ("PCT_BOT_KEY", self.bot.as_str()),
            ("PCT_ADMIN_KEY", self.admin.as_str()),
        ]
    }
}

#[test]
fn the_catalog_is_applied_at_start_and_a_restart_writes_nothing() {
    let dir = TempDir::new("decl-start");
    let (_mock, mock) = mock_provider(&dir);
    let settings = dir.write(
        "gateway.yaml",
        &catalog_yaml(&dir.data(), mock, "Search Team"),
    );
    let secrets = Secrets::new();
    let env = secrets.env();

    let (gw, port) = serve(&dir, &["--config", &settings], &env);
    // The key from the environment calls `@slug/model`; the provider's key from the
    // environment reaches the upstream.
    let r = chat(port, &secrets.bot, "@mock-prov/gpt-4o-mini", &[]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["model"], "gpt-4o-mini");
    let r = chat(
        port,
        &secrets.bot,
        "gpt-4o-mini",
        &[("x-portkey-config", "pc-prod-fallback")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        upstream_auth(mock),
        vec![format!("Bearer {}", secrets.upstream); 2]
    );
    let r = chat(port, &secrets.bot, "@mock-prov/gpt-4o", &[]);
    assert_ne!(
        r.status, 200,
        "a model outside the provider's models: {r:?}"
    );
    // The admin key from the file opens the admin API; the service key does not.
    let r = get(port, "/v1/admin/workspaces/search", &secrets.admin);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["name"], "Search Team");
    assert_ne!(get(port, "/v1/audit-logs", &secrets.bot).status, 200);

    let audit = get(port, "/v1/audit-logs?page_size=100", &secrets.admin);
    let events = audit.json()["data"].as_array().unwrap().clone();
    let by_file: Vec<&Value> = events
        .iter()
        .filter(|e| e["actor"]["id"] == "file")
        .collect();
    // workspace, integration, provider, config, two keys.
    assert_eq!(by_file.len(), 6, "{events:#?}");
    assert!(!audit.body.contains(&secrets.upstream) && !audit.body.contains(&secrets.bot));
    let total = audit.json()["total"].as_u64().unwrap();
    let log = gw.stop();
    assert!(log.contains("catalog applied: 5 created"), "{log}");

    // The same file again at the next start: nothing written.
    let (gw, port) = serve(&dir, &["--config", &settings], &env);
    assert_eq!(audit_total(port, &secrets.admin), total);
    assert_eq!(
        chat(port, &secrets.bot, "@mock-prov/gpt-4o-mini", &[]).status,
        200
    );
    let log = gw.stop();
    assert!(
        log.contains("catalog applied: 0 created, 0 updated, 5 unchanged"),
        "{log}"
    );

    // And by `config apply`.
    let out = run(&["config", "apply", "--config", &settings], &env).ok();
    assert!(
        out.stdout
            .contains("catalog applied: 0 created, 0 updated, 5 unchanged"),
        "{out:#?}"
    );
    let (_gw, port) = serve(&dir, &["--config", &settings], &env);
    assert_eq!(audit_total(port, &secrets.admin), total);
}

#[test]
fn config_apply_updates_what_changed_on_a_running_gateway() {
    let dir = TempDir::new("decl-apply");
    let (_mock, mock) = mock_provider(&dir);
    let settings = dir.write(
        "gateway.yaml",
        &catalog_yaml(&dir.data(), mock, "Search Team"),
    );
    let secrets = Secrets::new();

    // Applied by the command first, then served.
    let out = run(&["config", "apply", "--config", &settings], &secrets.env()).ok();
    assert!(
        out.stdout.contains("catalog applied: 5 created"),
        "{out:#?}"
    );
    let (_gw, port) = serve(&dir, &["--config", &settings], &secrets.env());
    assert_eq!(
        chat(port, &secrets.bot, "@mock-prov/gpt-4o-mini", &[]).status,
        200
    );
    let total = audit_total(port, &secrets.admin);

    // A new workspace name, a rotated upstream key and a rotated gateway key.
    dir.write(
        "gateway.yaml",
        &catalog_yaml(&dir.data(), mock, "Search and Ranking"),
    );
    let rotated = Secrets {
        upstream: "sk-upstream-from-env-2".into(),
        bot: key_value("bot2"),
        admin: secrets.admin.clone(),
    };
    let out = run(&["config", "apply", "--config", &settings], &rotated.env()).ok();
    assert!(
        out.stdout.contains(
            "0 created, 3 updated (workspace search, provider search/mock-prov, key search/ci-bot), 2 unchanged"
        ),
        "{out:#?}"
    );
    // The running gateway follows: the old key stops, the new one works with the new upstream key.
    within(Duration::from_secs(5), "the rotated key", || {
        chat(port, &rotated.bot, "@mock-prov/gpt-4o-mini", &[]).status == 200
    });
    assert_eq!(
        chat(port, &secrets.bot, "@mock-prov/gpt-4o-mini", &[]).status,
        401
    );
    let auth = upstream_auth(mock);
    assert_eq!(
        auth.last().unwrap(),
        &format!("Bearer {}", rotated.upstream),
        "{auth:?}"
    );
    let r = get(port, "/v1/admin/workspaces/search", &secrets.admin);
    assert_eq!(r.json()["name"], "Search and Ranking", "{r:?}");
    let after_update = audit_total(port, &secrets.admin);
    assert!(after_update > total);

    // A key an operator revoked stays revoked when the file is applied again.
    let keys = run(&["keys", "list", "--json", "--data-dir", &dir.data()], &[])
        .ok()
        .json();
    let bot = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci-bot")
        .unwrap();
    assert_eq!(bot["creation_mode"], "file");
    let bot_id = bot["id"].as_str().unwrap().to_owned();
    // Another workspace key stays active: with none left, a loopback gateway serves open mode.
    run(
        &[
            "keys",
            "create",
            "--workspace",
            "default",
            "--data-dir",
            &dir.data(),
        ],
        &[],
    )
    .ok();
    run(&["keys", "revoke", &bot_id, "--data-dir", &dir.data()], &[]).ok();
    within(Duration::from_secs(3), "the revocation", || {
        chat(port, &rotated.bot, "@mock-prov/gpt-4o-mini", &[]).status == 401
    });
    let revoked = audit_total(port, &secrets.admin);
    let out = run(&["config", "apply", "--config", &settings], &rotated.env()).ok();
    assert!(
        out.stdout.contains("0 created, 0 updated, 5 unchanged"),
        "{out:#?}"
    );
    assert_eq!(audit_total(port, &secrets.admin), revoked);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        chat(port, &rotated.bot, "@mock-prov/gpt-4o-mini", &[]).status,
        401
    );
}

#[test]
fn a_missing_environment_variable_stops_serve_naming_it_and_its_path() {
    let dir = TempDir::new("decl-env");
    let settings = dir.write("gateway.yaml", &catalog_yaml(&dir.data(), 9, "Search"));
    let secrets = Secrets::new();
    let env: Vec<(&str, &str)> = secrets
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "PCT_UPSTREAM_KEY")
        .collect();
    let out = serve_fails(&["--config", &settings], &env);
    assert!(
        out.stderr.contains(
            "catalog.providers[0].api_key_env: environment variable PCT_UPSTREAM_KEY is not set"
        ),
        "{out:#?}"
    );
    // An empty value is no better.
    let mut empty = env.clone();
    empty.push(("PCT_UPSTREAM_KEY", " "));
    let out = serve_fails(&["--config", &settings], &empty);
    assert!(
        out.stderr.contains(
            "catalog.providers[0].api_key_env: environment variable PCT_UPSTREAM_KEY is empty"
        ),
        "{out:#?}"
    );
    // `config apply` says the same, exit 2.
    let out = run(&["config", "apply", "--config", &settings], &env);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("PCT_UPSTREAM_KEY is not set"),
        "{out:#?}"
    );
    // Nothing of the catalog was written.
    let ws = run(
        &["workspaces", "list", "--json", "--data-dir", &dir.data()],
        &[],
    )
    .ok()
    .json();
    assert!(
        ws.as_array().unwrap().iter().all(|w| w["slug"] != "search"),
        "{ws:#}"
    );
    let keys = run(&["keys", "list", "--json", "--data-dir", &dir.data()], &[])
        .ok()
        .json();
    assert_eq!(keys, json!([]));
}

#[test]
fn invalid_entries_are_named_by_their_yaml_path() {
    let dir = TempDir::new("decl-invalid");
    let secrets = Secrets::new();
    let mut env = secrets.env();
    env.push(("PCT_WEAK_KEY", "short"));
    let settings = dir.write(
        "gateway.yaml",
        &format!(
            r#"server:
  data_dir: "{}"
catalog:
  workspaces:
    - {{slug: search}}
    - {{slug: "bad slug"}}
  providers:
    - {{workspace: search, slug: good, provider: openai, api_key_env: PCT_UPSTREAM_KEY}}
    - {{workspace: search, slug: typo, provider: opnai, api_key_env: PCT_UPSTREAM_KEY}}
    - {{workspace: nowhere, slug: x, provider: openai}}
  keys:
    - {{name: bot, workspace: search, key_env: PCT_BOT_KEY, scopes: [completions.write, bogus.scope]}}
    - {{name: weak, workspace: search, key_env: PCT_WEAK_KEY}}
    - {{name: limited, workspace: search, key_env: PCT_ADMIN_KEY, rate_limits: [{{unit: rpm, value: 99999999999999999}}]}}
  configs:
    - {{slug: pc-bad, workspace: search, config: {{strategy: {{mode: roundrobin}}, targets: [{{provider: "@good"}}]}}}}
    - {{slug: pc-missing, workspace: search, config: {{provider: "@missing"}}}}
"#,
            dir.data()
        ),
    );
    let expected = [
        "catalog.workspaces[1].slug: may contain only letters",
        "catalog.providers[1].provider: unknown provider \"opnai\"",
        "catalog.providers[2].workspace: unknown workspace \"nowhere\"",
        "catalog.keys[0].scopes[1]: unknown scope \"bogus.scope\"",
        "catalog.keys[1].key_env: the value of PCT_WEAK_KEY must be at least 32",
        "catalog.keys[2].rate_limits[0].value: is too large",
        "catalog.configs[0].config: invalid config",
        "catalog.configs[1].config: invalid config",
    ];
    let check = |what: &str, out: &Out| {
        for e in expected {
            assert!(
                out.stderr.contains(e),
                "{what}: {e:?} not in {}",
                out.stderr
            );
        }
        assert!(
            !out.stderr.contains("catalog.providers[0]"),
            "{what}: {out:#?}"
        );
    };
    check("serve", &serve_fails(&["--config", &settings], &env));
    let out = run(&["config", "apply", "--config", &settings], &env);
    assert_eq!(out.code, 2, "{out:#?}");
    check("config apply", &out);
    let out = run(&["config", "check", "--settings", &settings], &env);
    assert_ne!(out.code, 0, "{out:#?}");
    // `config check` reads no variables: the weak key is only found when applying.
    for e in expected.iter().filter(|e| !e.contains("PCT_WEAK_KEY")) {
        assert!(
            out.stderr.contains(e),
            "config check: {e:?} not in {}",
            out.stderr
        );
    }
    // Nothing was written, not even the valid entries.
    let ws = run(
        &["workspaces", "list", "--json", "--data-dir", &dir.data()],
        &[],
    )
    .ok()
    .json();
    assert!(
        ws.as_array().unwrap().iter().all(|w| w["slug"] != "search"),
        "{ws:#}"
    );

    // A misspelt field is named with where it is.
    let typo = dir.write(
        "typo.yaml",
        "catalog:\n  providers:\n    - {workspace: default, slug: o, provider: openai, api_key_envv: K}\n",
    );
    for out in [
        serve_fails(&["--config", &typo, "--data-dir", &dir.data()], &env),
        run(&["config", "check", "--settings", &typo], &env),
    ] {
        assert_ne!(out.code, 0, "{out:#?}");
        assert!(
            out.stderr.contains("api_key_envv") && out.stderr.contains("catalog.providers"),
            "{out:#?}"
        );
    }
}

#[test]
fn config_check_validates_the_catalog() {
    let dir = TempDir::new("decl-check");
    let settings = dir.write("gateway.yaml", &catalog_yaml(&dir.data(), 9, "Search"));
    let secrets = Secrets::new();

    // Valid, variables set: ok, and nothing is written anywhere.
    let out = run(
        &["config", "check", "--settings", &settings],
        &secrets.env(),
    )
    .ok();
    assert!(out.stdout.contains(": ok"), "{out:#?}");
    assert!(!out.stderr.contains("note:"), "{out:#?}");
    assert!(
        !dir.join("data").exists(),
        "config check created the data directory"
    );

    // Valid but a variable is not set here: ok, with a note naming it.
    let out = run(&["config", "check", "--settings", &settings], &[]).ok();
    for var in ["PCT_UPSTREAM_KEY", "PCT_BOT_KEY", "PCT_ADMIN_KEY"] {
        assert!(out.stderr.contains(var), "{var}: {out:#?}");
    }

    // A config naming a provider the catalog does not define.
    let broken =
        catalog_yaml(&dir.data(), 9, "Search").replace("\"@mock-prov\"}, {", "\"@gone\"}, {");
    let bad = dir.write("bad.yaml", &broken);
    let out = run(&["config", "check", "--settings", &bad], &secrets.env());
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr
            .contains("catalog.configs[0].config: invalid config"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("@gone"), "{out:#?}");

    // No catalog at all: `config apply` says there is nothing to apply.
    let plain = dir.write(
        "plain.yaml",
        &format!("server:\n  data_dir: \"{}\"\n", dir.data()),
    );
    let out = run(&["config", "apply", "--config", &plain], &[]).ok();
    assert!(out.stdout.contains("nothing to apply"), "{out:#?}");
}

// ------------------------------------------------------------------------------------------
// PostgreSQL (`--database-url`), when a local server is reachable
// ------------------------------------------------------------------------------------------

#[path = "common_replicas/pg.rs"]
#[allow(dead_code)]
mod pg;

/// A schema of its own on the local PostgreSQL, dropped on drop.
struct Schema {
    target: pg::PgTarget,
    name: String,
}

impl Schema {
    /// `None` (after saying why) without a reachable server, unless
    /// `PORTCULLIS_REQUIRE_SERVICES=1`.
    fn create(tag: &str) -> Option<Schema> {
        let target = match pg::find_server() {
            Ok(t) => t,
            Err(reason) => {
                if std::env::var("PORTCULLIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
                    panic!("PostgreSQL required (PORTCULLIS_REQUIRE_SERVICES=1): {reason}");
                }
                eprintln!("skipping: {reason}");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("pcadmin_{tag}_{}_{nanos:x}", std::process::id());
        pg::Pg::connect(&target)
            .and_then(|mut c| c.query(&format!("CREATE SCHEMA {name}")))
            .expect("create the test schema");
        Some(Schema { target, name })
    }

    fn url(&self) -> String {
        self.target.url_with_schema(&self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(e) = pg::Pg::connect(&self.target).and_then(|mut c| c.query(&drop)) {
            eprintln!("could not drop schema {}: {e}", self.name);
        }
    }
}

/// 32 bytes, base64: every process of a PostgreSQL deployment shares it.
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn the_cli_and_the_catalog_work_on_postgresql() {
    // Declared first, dropped last: after every process holding a connection is gone.
    let Some(schema) = Schema::create("cli") else {
        return;
    };
    let dir = TempDir::new("pg");
    let (_mock, mock) = mock_provider(&dir);
    let url = schema.url();

    // Keys need no master key; provider credentials do, and say so.
    let admin_key = run(&["keys", "create", "--admin", "--database-url", &url], &[])
        .ok()
        .stdout
        .trim()
        .to_owned();
    let out = run(
        &[
            "providers",
            "create",
            "--workspace",
            "default",
            "--slug",
            "p",
            "--provider",
            "openai",
            "--api-key-env",
            "PCT_UPSTREAM_KEY",
            "--database-url",
            &url,
            "--data-dir",
            &dir.data(),
        ],
        &[("PCT_UPSTREAM_KEY", "sk-x")],
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("PORTCULLIS_MASTER_KEY"), "{out:#?}");
    let providers = run(
        &["providers", "list", "--json", "--database-url", &url],
        &[],
    )
    .ok()
    .json();
    assert_eq!(providers, json!([]));

    // The catalog, from a settings file naming the database.
    let yaml = catalog_yaml(&dir.data(), mock, "Search Team").replacen(
        "server:\n",
        &format!("governance:\n  database_url: \"{url}\"\nserver:\n"),
        1,
    );
    let settings = dir.write("gateway.yaml", &yaml);
    let secrets = Secrets::new();
    let mut env = secrets.env();
    env.push(("PORTCULLIS_MASTER_KEY", MASTER_KEY));
    let out = run(&["config", "apply", "--config", &settings], &env).ok();
    assert!(
        out.stdout.contains("catalog applied: 5 created"),
        "{out:#?}"
    );

    let (gw, port) = serve(&dir, &["--config", &settings], &env);
    assert!(
        gw.log().contains("0 created, 0 updated, 5 unchanged"),
        "{}",
        gw.log()
    );
    assert_eq!(get(port, "/v1/admin/workspaces", &admin_key).status, 200);
    let r = chat(port, &secrets.bot, "@mock-prov/gpt-4o-mini", &[]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        upstream_auth(mock),
        vec![format!("Bearer {}", secrets.upstream)]
    );
    let total = audit_total(port, &admin_key);

    // A key created and one revoked on the command line reach the running gateway.
    let created = run(
        &[
            "keys",
            "create",
            "--workspace",
            "search",
            "--json",
            "--database-url",
            &url,
        ],
        &[],
    )
    .ok()
    .json();
    let new_key = created["key"].as_str().unwrap().to_owned();
    within(Duration::from_secs(3), "the new key", || {
        chat(port, &new_key, "@mock-prov/gpt-4o-mini", &[]).status == 200
    });
    let keys = run(&["keys", "list", "--json", "--database-url", &url], &[])
        .ok()
        .json();
    let bot_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci-bot")
        .and_then(|k| k["id"].as_str())
        .unwrap()
        .to_owned();
    run(&["keys", "revoke", &bot_id, "--database-url", &url], &[]).ok();
    let took = within(Duration::from_secs(3), "the revocation", || {
        chat(port, &secrets.bot, "@mock-prov/gpt-4o-mini", &[]).status == 401
    });
    eprintln!("revocation took {took:?}");

    // The file again: nothing new, and the revoked key stays revoked.
    let out = run(&["config", "apply", "--config", &settings], &env).ok();
    assert!(
        out.stdout.contains("0 created, 0 updated, 5 unchanged"),
        "{out:#?}"
    );
    // Two writes since, one audit event each: the new key and the revocation.
    assert_eq!(audit_total(port, &admin_key), total + 2);
    assert_eq!(
        chat(port, &secrets.bot, "@mock-prov/gpt-4o-mini", &[]).status,
        401
    );
    drop(gw);
}
