//! Budget alerts: crossing a budget's alert threshold and exhausting it each notify exactly once
//! — a JSON POST to `notifications.webhook_url`, an email through `notifications.smtp` and an
//! audit-log event — however many requests follow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use portcullis_control::apikey;
use portcullis_control::crypto::Sealer;
use portcullis_control::model::*;
use portcullis_control::repo::{AuditQuery, Repository};
use portcullis_core::limits::{PeriodicReset, UsageKind, UsageLimit};
use portcullis_engine::{ClientSettings, HttpTransport, Transport};
use portcullis_limits::{Burst, InProcessLimiter, Limiter, SystemClock};
use portcullis_mock::MockProvider;
use portcullis_server::governance::Snapshot;
use portcullis_server::settings::SmtpSettings;
use portcullis_server::{AppState, Running, Settings};
use portcullis_store::Store;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const KEY: &str = "pcl_notify-test-workspace-key-0123456789abcdef";
const KEY_ID: &str = "k-alerts";
const PROVIDER_ID: &str = "p-alerts";
/// Budget 1000 tokens, alert at 500; every answer uses 300 (`usage(200, 100)`), and the estimate
/// (prompt bytes / 4 + `max_tokens` 1) is far below 100. So: 300, 600 (alert), 900, 1200
/// (exhausted: 900 + estimate still fitted), then 412.
const LIMIT: u64 = 1_000;
const ALERT: u64 = 500;
const RECIPIENTS: [&str; 2] = ["ops@example.com", "finance@example.com"];

/// Where the budget lives.
#[derive(Clone, Copy, PartialEq)]
enum On {
    Key,
    Provider,
}

fn budget() -> UsageLimit {
    UsageLimit {
        kind: UsageKind::Tokens,
        credit_limit: LIMIT as f64,
        alert_threshold: Some(ALERT as f64),
        periodic_reset: PeriodicReset::None,
        reset_at: None,
    }
}

/// Captures every POSTed JSON body.
#[derive(Clone, Default)]
struct Hook {
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    async fn start(&self) -> String {
        async fn receive(State(h): State<Hook>, body: axum::body::Bytes) -> &'static str {
            let v = serde_json::from_slice(&body).unwrap_or_else(
                |_| json!({"not_json": String::from_utf8_lossy(&body).into_owned()}),
            );
            h.bodies.lock().unwrap().push(v);
            "ok"
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn events(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// One message a client handed to the fake SMTP server.
#[derive(Debug, Clone)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

impl Mail {
    /// The message with folded header lines joined.
    fn unfolded(&self) -> String {
        self.data.replace("\r\n ", " ").replace("\r\n\t", " ")
    }

    fn subject(&self) -> String {
        self.unfolded()
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_owned()
    }
}

/// A fake SMTP server speaking just enough (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT).
#[derive(Clone, Default)]
struct Smtp {
    mails: Arc<Mutex<Vec<Mail>>>,
    commands: Arc<Mutex<Vec<String>>>,
}

impl Smtp {
    async fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let _ = me.session(stream).await;
                });
            }
        });
        port
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        write.write_all(b"220 fake.test ESMTP ready\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_owned();
            self.commands.lock().unwrap().push(cmd.clone());
            let upper = cmd.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250 fake.test greets you\r\n"
            } else if upper.starts_with("HELO") {
                b"250 fake.test\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                from = cmd[10..].split_whitespace().next().unwrap_or("").to_owned();
                to.clear();
                b"250 OK\r\n"
            } else if upper.starts_with("RCPT TO:") {
                to.push(cmd[8..].split_whitespace().next().unwrap_or("").to_owned());
                b"250 OK\r\n"
            } else if upper == "DATA" {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if read.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-stuffing.
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                self.mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 OK queued\r\n"
            } else if upper == "QUIT" {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else if upper == "RSET" || upper == "NOOP" {
                b"250 OK\r\n"
            } else {
                b"502 not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

struct Env {
    gw: Running,
    mock: MockProvider,
    hook: Hook,
    smtp: Option<Smtp>,
    repo: Arc<dyn Repository>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn actor() -> Actor {
    Actor {
        id: "test".into(),
        name: "test".into(),
    }
}

/// A gateway with a SQLite store in a temporary directory, one workspace, one key and one
/// provider (pointing at the mock), the budget `on` the key or the provider, alerts to a webhook
/// receiver and, with `smtp`, to a fake SMTP server.
async fn start(on: On, smtp: bool) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_data_dir(dir.path()).await.unwrap();
    let repo: Arc<dyn Repository> = Arc::new(store);
    let sealer = Sealer::from_key(&[7u8; 32]);
    let mock = MockProvider::start().await;
    repo.create_workspace(
        Workspace {
            id: "w-alerts".into(),
            slug: "alerts".into(),
            name: "alerts".into(),
            description: None,
            defaults: None,
            usage_limits: None,
            rate_limits: vec![],
            is_default: true,
            status: Status::Active,
            created_at: 0,
            updated_at: 0,
        },
        &actor(),
    )
    .await
    .unwrap();
    let k = apikey::from_secret(KEY);
    repo.create_api_key(
        ApiKey {
            id: KEY_ID.into(),
            name: "alerts".into(),
            description: None,
            key_type: KeyType::WorkspaceService,
            workspace_id: Some("w-alerts".into()),
            user_id: None,
            scopes: vec!["completions.write".into()],
            defaults: Defaults::default(),
            usage_limits: (on == On::Key).then(budget),
            rate_limits: vec![],
            alert_emails: vec![],
            expires_at: None,
            key_hash: k.hash.to_hex(),
            key_visible: k.visible,
            status: Status::Active,
            creation_mode: "api".into(),
            created_at: 0,
            updated_at: 0,
        },
        &actor(),
    )
    .await
    .unwrap();
    repo.create_provider(
        Provider {
            id: PROVIDER_ID.into(),
            slug: "mock".into(),
            name: "mock".into(),
            workspace_id: "w-alerts".into(),
            integration_id: None,
            ai_provider_id: Some("openai".into()),
            key_sealed: Some(sealer.seal("sk-mock-provider-key")),
            key_masked: None,
            model_config: json!({"custom_host": format!("{}/v1", mock.url())})
                .as_object()
                .unwrap()
                .clone(),
            note: None,
            usage_limits: (on == On::Provider).then(budget),
            rate_limits: vec![],
            expires_at: None,
            is_virtual_key: true,
            status: Status::Active,
            created_at: 0,
            updated_at: 0,
        },
        &actor(),
    )
    .await
    .unwrap();

    let hook = Hook::default();
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.server.data_dir = dir.path().to_path_buf();
    settings.notifications.webhook_url = Some(hook.start().await);
    let smtp = if smtp {
        let server = Smtp::default();
        let port = server.start().await;
        settings.notifications.smtp = Some(SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            starttls: false,
            username: None,
            password_env: None,
            from: "Portcullis <gateway@example.com>".into(),
            to: RECIPIENTS.iter().map(|s| (*s).to_owned()).collect(),
        });
        Some(server)
    } else {
        None
    };
    let policy =
        portcullis_config::HostPolicy::with_trusted(&settings.trusted_custom_hosts).unwrap();
    let transport: Arc<dyn Transport> =
        Arc::new(HttpTransport::new(&ClientSettings::default(), policy));
    let limiter: Arc<dyn Limiter> =
        Arc::new(InProcessLimiter::new(Arc::new(SystemClock), Burst::Window));
    let state = AppState::assemble(settings, transport, limiter, Some(repo.clone())).unwrap();
    let data = repo.load_catalog().await.unwrap();
    state.snapshots.store(Snapshot::build(&data, &sealer));
    let gw = portcullis_server::spawn(state).await.unwrap();
    Env {
        gw,
        mock,
        hook,
        smtp,
        repo,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: dir,
    }
}

impl Env {
    /// One chat completion using 300 tokens; the status.
    async fn spend(&self) -> u16 {
        let r = self
            .client
            .post(format!("{}/v1/chat/completions", self.gw.url()))
            .header("x-portkey-api-key", KEY)
            .json(
                &json!({"model": "@mock/gpt-4o+usage=200,100", "max_tokens": 1,
                "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        if status != 200 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "04", "{v}");
        }
        // Settlement (and with it the crossing) runs off the response path.
        tokio::time::sleep(Duration::from_millis(100)).await;
        status
    }

    /// Waits until `n` webhook events arrived (then a little longer, to catch extras).
    async fn events(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.hook.events().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.hook.events()
    }

    async fn audit(&self, resource_type: &str, resource_id: &str) -> Vec<AuditEvent> {
        let q = AuditQuery {
            resource_type: Some(resource_type.into()),
            resource_id: Some(resource_id.into()),
            ..Default::default()
        };
        let mut events = self.repo.list_audit(&q).await.unwrap().items;
        events.retain(|e| e.action.starts_with("budget."));
        events.sort_by_key(|e| e.at);
        events
    }
}

/// Runs the budget to exhaustion and past it: 4 answers, then refusals.
async fn drive(env: &Env) {
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(env.spend().await);
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 412, 412, 412]);
    assert_eq!(env.mock.request_count(), 4);
}

fn expected(kind: &str, id: &str) -> Vec<Value> {
    vec![
        json!({
            "type": "budget.alert_threshold_reached",
            "scope": {"kind": kind, "id": id},
            "usage_type": "tokens", "spent": 600, "threshold": ALERT, "limit": LIMIT, "period": "all",
        }),
        json!({
            "type": "budget.exhausted",
            "scope": {"kind": kind, "id": id},
            "usage_type": "tokens", "spent": 1200, "threshold": LIMIT, "limit": LIMIT, "period": "all",
        }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_budget_alerts_once_at_the_threshold_and_once_when_exhausted() {
    let env = start(On::Key, false).await;
    // Below the threshold: nothing.
    assert_eq!(env.spend().await, 200);
    assert_eq!(env.events(0).await, Vec::<Value>::new());
    for _ in 0..6 {
        env.spend().await;
    }
    assert_eq!(env.mock.request_count(), 4);
    let events = env.events(2).await;
    assert_eq!(events, expected("api_key", KEY_ID), "{events:#?}");

    // Further refused requests never repeat an alert.
    for _ in 0..3 {
        assert_eq!(env.spend().await, 412);
    }
    assert_eq!(env.events(2).await.len(), 2);

    // The audit log has each crossing once, with the same details.
    let audit = env.audit("api_key", KEY_ID).await;
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["budget.alert_threshold_reached", "budget.exhausted"]
    );
    assert_eq!(audit[0].details, expected("api_key", KEY_ID)[0]);
    assert_eq!(audit[1].details, expected("api_key", KEY_ID)[1]);
    assert_eq!(audit[0].actor_id, "system");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_budget_alerts_with_the_provider_as_scope() {
    let env = start(On::Provider, false).await;
    drive(&env).await;
    let events = env.events(2).await;
    assert_eq!(events, expected("provider", PROVIDER_ID), "{events:#?}");
    let audit = env.audit("provider", PROVIDER_ID).await;
    assert_eq!(
        audit.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["budget.alert_threshold_reached", "budget.exhausted"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_each_crossing_is_emailed_once_to_the_recipients() {
    let env = start(On::Key, true).await;
    drive(&env).await;
    // The webhook still gets both.
    assert_eq!(env.events(2).await, expected("api_key", KEY_ID));
    let smtp = env.smtp.as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while smtp.mails().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = smtp.mails();
    assert_eq!(
        mails.len(),
        2,
        "one email per crossing: {mails:#?}\nSMTP commands: {:#?}",
        smtp.commands.lock().unwrap()
    );
    let mut subjects = HashMap::new();
    for m in &mails {
        assert_eq!(m.from, "<gateway@example.com>");
        let mut to = m.to.clone();
        to.sort();
        assert_eq!(
            to,
            vec!["<finance@example.com>", "<ops@example.com>"],
            "every configured recipient"
        );
        let text = m.unfolded();
        assert!(text.contains("ops@example.com"), "{text}");
        subjects.insert(m.subject(), text);
    }
    let alert = format!("Portcullis: budget.alert_threshold_reached for api_key {KEY_ID}");
    let exhausted = format!("Portcullis: budget.exhausted for api_key {KEY_ID}");
    assert!(subjects.contains_key(&alert), "{:?}", subjects.keys());
    assert!(subjects.contains_key(&exhausted), "{:?}", subjects.keys());
    // The body carries the event.
    assert!(
        subjects[&alert].contains("\"spent\": 600"),
        "{}",
        subjects[&alert]
    );
    assert!(
        subjects[&exhausted].contains("\"spent\": 1200"),
        "{}",
        subjects[&exhausted]
    );

    // Nothing more for further requests.
    for _ in 0..3 {
        assert_eq!(env.spend().await, 412);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.mails().len(), 2);
}
