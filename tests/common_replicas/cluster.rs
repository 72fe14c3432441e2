//! A small cluster per test: `portcullis serve` replicas sharing one PostgreSQL schema and one
//! Redis prefix (both the test's own, removed afterwards), and one `portcullis mock-provider`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::http::{Resp, request};
use super::pg::{Pg, PgTarget, find_server};
use super::redis::{self, Redis};

pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");
/// `PORTCULLIS_ADMIN_KEY` of every replica: an organisation admin key with every scope.
pub const ADMIN_KEY: &str = "pcl_replicas-test-admin-key-0123456789abcdefXYZ";
/// `PORTCULLIS_MASTER_KEY` of every replica (base64 of 32 bytes): they share sealed secrets.
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// The integration and the provider every setup creates.
pub const INTEGRATION: &str = "mock-int";
pub const PROVIDER: &str = "mock-prov";

/// The shared services, when both answer.
pub struct Services {
    pub pg: PgTarget,
    pub redis_url: String,
}

/// PostgreSQL and Redis, or `None` after printing `skipping: <reason>`; a panic instead when
/// `PORTCULLIS_REQUIRE_SERVICES=1`.
pub fn services() -> Option<Services> {
    let found = find_server().and_then(|pg| {
        let url = redis::url();
        Redis::connect(&url).map(|_| Services { pg, redis_url: url })
    });
    match found {
        Ok(s) => Some(s),
        Err(reason) => {
            if std::env::var("PORTCULLIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("services required (PORTCULLIS_REQUIRE_SERVICES=1): {reason}");
            }
            eprintln!("skipping: {reason}");
            None
        }
    }
}

/// A name no other test (or run) uses: lowercase letters, digits and `_`.
pub fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}_{}_{n}_{nanos:x}", std::process::id())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process, killed on drop; its output goes to a log file.
pub struct Proc {
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    fn spawn(cmd: &mut Command, log: PathBuf) -> Proc {
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
        let child = cmd.spawn().expect("spawn portcullis");
        Proc { child, log }
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM (graceful shutdown) without waiting.
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(sent, "kill -TERM {pid} failed");
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        self.sigterm();
        self.wait_exit(within)
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let pid = self.child.id();
        let deadline = Instant::now() + within;
        loop {
            if let Some(code) = self.exited() {
                return code;
            }
            assert!(
                Instant::now() < deadline,
                "process {pid} did not exit within {within:?}:\n{}",
                tail(&self.log, 30)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `n` lines of a log file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub struct Replica {
    pub name: String,
    pub port: u16,
    pub proc: Proc,
}

/// What [`Cluster::setup`] created.
#[derive(Debug, Clone)]
pub struct Setup {
    pub workspace_id: String,
    pub key_id: String,
    /// The workspace key's secret.
    pub key: String,
}

pub struct Cluster {
    /// `None`: replicas keep everything in SQLite in their own data directory (one replica
    /// only makes sense then) and count limits in process.
    pub svc: Option<Services>,
    pub schema: String,
    /// The Redis prefix replicas get unless told otherwise.
    pub prefix: String,
    pub mock_port: u16,
    pub replicas: Vec<Replica>,
    /// `notifications.webhook_url` of replicas started from now on.
    pub webhook_url: Option<String>,
    dir: PathBuf,
    flush_secs: u64,
    prefixes: Vec<String>,
    _mock: Proc,
}

impl Cluster {
    /// A fresh schema, prefix and directory, and a running mock provider. `flush_secs`:
    /// `governance.spend_flush_secs` of every replica.
    pub fn new(svc: Services, tag: &str, flush_secs: u64) -> Cluster {
        Cluster::with(Some(svc), tag, flush_secs)
    }

    /// A cluster without shared services: SQLite and in-process counters.
    #[allow(dead_code)] // Each test binary compiles this module; not every one uses this.
    pub fn sqlite(tag: &str, flush_secs: u64) -> Cluster {
        Cluster::with(None, tag, flush_secs)
    }

    fn with(svc: Option<Services>, tag: &str, flush_secs: u64) -> Cluster {
        let schema = unique(&format!("pcrt_{tag}"));
        if let Some(svc) = &svc {
            Pg::connect(&svc.pg)
                .and_then(|mut c| c.query(&format!("CREATE SCHEMA {schema}")))
                .expect("create the test schema");
        }
        let prefix = format!("{schema}:");
        let dir = std::env::temp_dir().join(&schema);
        std::fs::create_dir_all(&dir).expect("test directory");
        let mock_port = free_port();
        let mock = Proc::spawn(
            Command::new(BIN)
                .args(["mock-provider", "--port", &mock_port.to_string()])
                .env("PORTCULLIS_LOG", "warn"),
            dir.join("mock.log"),
        );
        let c = Cluster {
            svc,
            schema,
            prefix: prefix.clone(),
            mock_port,
            replicas: Vec::new(),
            webhook_url: None,
            dir,
            flush_secs,
            prefixes: vec![prefix],
            _mock: mock,
        };
        wait_until(Duration::from_secs(10), "the mock provider listens", || {
            std::net::TcpStream::connect(("127.0.0.1", mock_port)).is_ok()
        });
        c
    }

    fn services(&self) -> &Services {
        self.svc
            .as_ref()
            .expect("this cluster runs on shared services")
    }

    pub fn database_url(&self) -> String {
        self.services().pg.url_with_schema(&self.schema)
    }

    /// Starts a replica on the cluster's prefix (not waiting for it); returns its index.
    pub fn spawn_replica(&mut self, name: &str) -> usize {
        let prefix = self.prefix.clone();
        self.spawn_replica_with_prefix(name, &prefix)
    }

    /// Starts a replica with its own Redis prefix (a Redis that lost everything).
    pub fn spawn_replica_with_prefix(&mut self, name: &str, prefix: &str) -> usize {
        if !self.prefixes.iter().any(|p| p == prefix) {
            self.prefixes.push(prefix.to_owned());
        }
        let port = free_port();
        let n = self.replicas.len();
        let data_dir = self.dir.join(format!("data-{name}-{n}"));
        let config = self.dir.join(format!("gateway-{name}-{n}.yaml"));
        let mut yaml = format!(
            "server:\n  shutdown_grace_secs: 5\ngovernance:\n  redis_prefix: \"{prefix}\"\n  spend_flush_secs: {}\n",
            self.flush_secs
        );
        if let Some(url) = &self.webhook_url {
            yaml.push_str(&format!("notifications:\n  webhook_url: \"{url}\"\n"));
        }
        std::fs::write(&config, yaml).expect("settings file");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .args(["--port", &port.to_string()])
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(&config);
        if let Some(svc) = &self.svc {
            cmd.args(["--database-url", &self.database_url()])
                .args(["--redis-url", &svc.redis_url]);
        }
        cmd.env("PORTCULLIS_ADMIN_KEY", ADMIN_KEY)
            .env("PORTCULLIS_MASTER_KEY", MASTER_KEY)
            .env("PORTCULLIS_LOG", "info")
            .env_remove("PORTCULLIS_HOST")
            .env_remove("PORTCULLIS_ALLOW_OPEN_MODE");
        let proc = Proc::spawn(&mut cmd, self.dir.join(format!("{name}-{n}.log")));
        self.replicas.push(Replica {
            name: name.to_owned(),
            port,
            proc,
        });
        n
    }

    /// Waits until replica `i` answers `/v1/health` (it binds before it has started).
    pub fn wait_ready(&mut self, i: usize) -> Duration {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(20);
        loop {
            let r = &mut self.replicas[i];
            if let Some(code) = r.proc.exited() {
                panic!(
                    "replica {} exited ({code}) before it was ready:\n{}",
                    r.name,
                    tail(&r.proc.log, 30)
                );
            }
            if let Ok(resp) = request(r.port, "GET", "/v1/health", &[], None)
                && resp.status == 200
            {
                return started.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "replica {} not ready after 20 s:\n{}",
                r.name,
                tail(&r.proc.log, 30)
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Starts a replica and waits until it is ready.
    pub fn start_replica(&mut self, name: &str) -> usize {
        let i = self.spawn_replica(name);
        self.wait_ready(i);
        i
    }

    pub fn port(&self, i: usize) -> u16 {
        self.replicas[i].port
    }

    /// An admin API call with the bootstrap admin key; panics unless it answers 2xx.
    pub fn admin(&self, i: usize, method: &str, path: &str, body: Option<Value>) -> Value {
        let resp = request(
            self.port(i),
            method,
            path,
            &[("x-portkey-api-key", ADMIN_KEY)],
            body.as_ref(),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(
            (200..300).contains(&resp.status),
            "{method} {path} answered {}: {}",
            resp.status,
            resp.text()
        );
        resp.json()
    }

    /// Through replica `i`'s admin API: a workspace, a workspace service key (`key_extra` merged
    /// into its create body: rate or usage limits), an integration pointing at the mock, granted
    /// to the workspace, and its provider `@mock-prov` (`provider_extra` merged into its body).
    pub fn setup(&self, i: usize, key_extra: Value, provider_extra: Value) -> Setup {
        let ws = self.admin(
            i,
            "POST",
            "/v1/admin/workspaces",
            Some(json!({"name": "Replicas", "description": "replica tests"})),
        );
        let workspace_id = ws["id"].as_str().expect("workspace id").to_owned();
        self.admin(
            i,
            "POST",
            "/v1/integrations",
            Some(json!({
                "name": "mock", "slug": INTEGRATION, "ai_provider_id": "openai",
                "key": "sk-mock-integration-key-0123456789",
                "configurations": {"custom_host": format!("http://127.0.0.1:{}/v1", self.mock_port)},
            })),
        );
        self.admin(
            i,
            "PUT",
            &format!("/v1/integrations/{INTEGRATION}/workspaces"),
            Some(json!({"workspaces": [{"id": workspace_id, "enabled": true}], "create_default_provider": false})),
        );
        let mut provider = json!({
            "name": PROVIDER, "slug": PROVIDER, "integration_id": INTEGRATION, "workspace_id": workspace_id,
        });
        merge(&mut provider, provider_extra);
        self.admin(i, "POST", "/v1/providers", Some(provider));
        let mut key = json!({
            "name": "replicas-test", "workspace_id": workspace_id, "scopes": ["completions.write"],
        });
        merge(&mut key, key_extra);
        let k = self.admin(i, "POST", "/v1/api-keys/workspace/service", Some(key));
        Setup {
            workspace_id,
            key_id: k["id"].as_str().expect("key id").to_owned(),
            key: k["key"].as_str().expect("key secret").to_owned(),
        }
    }

    /// Waits until replica `i` knows `key` (a request naming an unknown provider is refused
    /// after authentication but before any limit is charged: anything but 401).
    pub fn wait_key_known(&self, i: usize, key: &str) -> Duration {
        let started = Instant::now();
        wait_until(
            Duration::from_secs(10),
            "the key reaches the replica",
            || chat(self.port(i), key, "@pcrt-no-such-provider/m").status != 401,
        );
        started.elapsed()
    }

    /// `SELECT … FROM spend` of the test's schema: (scope kind, scope id, period, units).
    pub fn stored_spend(&self) -> Vec<(String, String, String, i64)> {
        let rows = Pg::connect(&self.services().pg)
            .and_then(|mut c| {
                c.query(&format!(
                    "SELECT scope_kind, scope_id, period, units FROM {}.spend ORDER BY 1, 2, 3",
                    self.schema
                ))
            })
            .expect("read spend");
        rows.into_iter()
            .map(|r| {
                let s = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                (s(0), s(1), s(2), s(3).parse().unwrap_or(-1))
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for r in &self.replicas {
                eprintln!(
                    "---- replica {} (port {}) log tail ----\n{}",
                    r.name,
                    r.port,
                    tail(&r.proc.log, 40)
                );
            }
        }
        // Processes first: they hold connections to the schema.
        self.replicas.clear();
        let Some(svc) = &self.svc else {
            let _ = std::fs::remove_dir_all(&self.dir);
            return;
        };
        match Pg::connect(&svc.pg)
            .and_then(|mut c| c.query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)))
        {
            Ok(_) => {}
            Err(e) => eprintln!("could not drop schema {}: {e}", self.schema),
        }
        match Redis::connect(&svc.redis_url) {
            Ok(mut r) => {
                for p in &self.prefixes {
                    if let Err(e) = r.delete_prefix(p) {
                        eprintln!("could not delete Redis keys {p}*: {e}");
                    }
                }
            }
            Err(e) => eprintln!("could not clean Redis: {e}"),
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

/// Polls `f` every 25 ms until it holds; panics after `within`.
pub fn wait_until(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A chat completion through a gateway with a workspace key (`max_tokens: 10`).
pub fn chat(port: u16, key: &str, model: &str) -> Resp {
    let body =
        json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    request(
        port,
        "POST",
        "/v1/chat/completions",
        &[("x-portkey-api-key", key)],
        Some(&body),
    )
    .unwrap_or_else(|e| panic!("chat on port {port}: {e}"))
}
