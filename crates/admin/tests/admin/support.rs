//! The test harness: the admin router over a real SQLite store in a tempdir, with an
//! authenticator that knows a few fixed test keys and every key the store holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use portcullis_admin::{AdminCtx, ExportRuns, UsageStatus, UsageView, scopes};
use portcullis_control::apikey::KeyHash;
use portcullis_control::crypto::Sealer;
use portcullis_control::model::{Actor, Defaults, KeyType, Status, Workspace};
use portcullis_control::principal::{AuthError, Authenticator, Principal, presented_key};
use portcullis_control::repo::Repository;
use portcullis_logs::{LogStore, SqlLogStore};
use portcullis_store::Store;
use serde_json::Value;
use tower::ServiceExt;

/// An organisation key holding every organisation scope.
pub const ORG: &str = "test-org-key";
/// A workspace service key of workspace 1 holding every scope a workspace service key can.
pub const W1: &str = "test-ws1-key";
/// The same for workspace 2.
pub const W2: &str = "test-ws2-key";
/// An organisation key with no scopes at all.
pub const BARE: &str = "test-bare-key";
/// A workspace-1 key with read-only scopes.
pub const W1_READ: &str = "test-ws1-read-key";
/// An expired organisation key.
pub const EXPIRED: &str = "test-expired-key";

#[derive(Default)]
pub struct TestAuth {
    fixed: HashMap<String, Arc<Principal>>,
    stored: Mutex<HashMap<KeyHash, Arc<Principal>>>,
}

impl Authenticator for TestAuth {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, AuthError> {
        let key = presented_key(headers).ok_or(AuthError::Missing)?;
        if let Some(p) = self.fixed.get(key) {
            return Ok(p.clone());
        }
        self.stored
            .lock()
            .unwrap()
            .get(&KeyHash::of(key))
            .cloned()
            .ok_or(AuthError::Invalid)
    }
}

pub fn principal(
    id: &str,
    key_type: KeyType,
    ws: Option<&str>,
    scopes: Vec<String>,
    expires_at: Option<i64>,
) -> Arc<Principal> {
    Arc::new(Principal {
        key_id: id.into(),
        name: id.into(),
        key_type,
        workspace_id: ws.map(str::to_owned),
        scopes: scopes.into_iter().collect(),
        defaults: Defaults::default(),
        usage_limits: None,
        rate_limits: vec![],
        expires_at,
    })
}

fn all_for(t: KeyType) -> Vec<String> {
    scopes::all()
        .into_iter()
        .filter(|s| scopes::allowed_for(t, s))
        .collect()
}

/// Usage of the test limiter: the scopes listed in `exhausted` are spent.
#[derive(Default)]
pub struct TestUsage {
    pub exhausted: Mutex<Vec<String>>,
}

impl UsageView for TestUsage {
    fn current(&self, kind: &str, id: &str) -> Option<UsageStatus> {
        let spent = self.exhausted.lock().unwrap().iter().any(|e| e == id);
        (kind == "provider" || kind == "api_key").then(|| UsageStatus {
            spent: if spent { 10.0 } else { 1.5 },
            limit: 10.0,
            period: "all".into(),
            exhausted: spent,
            last_reset_at: None,
        })
    }
}

/// Which log store the router gets.
enum Logging {
    Sql,
    Off,
    Wrapped(Box<dyn FnOnce(SqlLogStore) -> Arc<dyn LogStore>>),
}

pub struct H {
    pub app: Router,
    pub store: Store,
    pub auth: Arc<TestAuth>,
    pub usage: Arc<TestUsage>,
    pub sealer: Sealer,
    /// Secrets no response may contain (checked on every call).
    pub forbidden: Mutex<Vec<String>>,
    pub ws1: Workspace,
    pub ws2: Workspace,
    /// The request-log store (SQLite in the tempdir); the router only sees it when built with
    /// logging on.
    pub logs: SqlLogStore,
    /// The export jobs the router runs (what graceful shutdown stops).
    pub exports: ExportRuns,
    _dir: tempfile::TempDir,
}

/// The gateway's config validator, reduced: known top-level fields, integer retry attempts.
fn validate(config: &Value, _ws: Option<&str>) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let known = [
        "retry",
        "cache",
        "strategy",
        "targets",
        "provider",
        "api_key",
        "override_params",
    ];
    for k in config.as_object().into_iter().flat_map(|m| m.keys()) {
        if !known.contains(&k.as_str()) {
            errors.push(format!("{k}: unknown field"));
        }
    }
    if let Some(a) = config.pointer("/retry/attempts")
        && !a.is_u64()
    {
        errors.push("retry.attempts: must be a whole number".into());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn workspace(name: &str, slug: &str, is_default: bool) -> Workspace {
    Workspace {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.into(),
        name: name.into(),
        description: None,
        defaults: None,
        usage_limits: None,
        rate_limits: vec![],
        is_default,
        status: Status::Active,
        created_at: 1_700_000_000_000,
        updated_at: 1_700_000_000_000,
    }
}

impl H {
    pub async fn new() -> H {
        H::build(Logging::Sql).await
    }

    /// A gateway running without request logging (`AdminCtx::logs` is `None`).
    pub async fn without_logs() -> H {
        H::build(Logging::Off).await
    }

    /// The admin API over `wrap(the SQLite log store)` (to inject failures).
    pub async fn with_log_store(
        wrap: impl FnOnce(SqlLogStore) -> Arc<dyn LogStore> + 'static,
    ) -> H {
        H::build(Logging::Wrapped(Box::new(wrap))).await
    }

    async fn build(logging: Logging) -> H {
        let dir = tempfile::tempdir().unwrap();
        let logs = SqlLogStore::open_sqlite_in(dir.path()).await.unwrap();
        let store = Store::open(&format!("sqlite://{}/x.db", dir.path().display()))
            .await
            .unwrap();
        let system = Actor {
            id: "system".into(),
            name: "system".into(),
        };
        let ws1 = store
            .create_workspace(workspace("Team One", "ws-team-one", true), &system)
            .await
            .unwrap();
        let ws2 = store
            .create_workspace(workspace("Team Two", "ws-team-two", false), &system)
            .await
            .unwrap();
        let mut fixed = HashMap::new();
        let org_scopes = all_for(KeyType::OrganisationService);
        let ws_scopes = all_for(KeyType::WorkspaceService);
        fixed.insert(
            ORG.into(),
            principal(
                "org",
                KeyType::OrganisationService,
                None,
                org_scopes.clone(),
                None,
            ),
        );
        fixed.insert(
            W1.into(),
            principal(
                "w1",
                KeyType::WorkspaceService,
                Some(&ws1.id),
                ws_scopes.clone(),
                None,
            ),
        );
        fixed.insert(
            W2.into(),
            principal(
                "w2",
                KeyType::WorkspaceService,
                Some(&ws2.id),
                ws_scopes.clone(),
                None,
            ),
        );
        fixed.insert(
            BARE.into(),
            principal("bare", KeyType::OrganisationService, None, vec![], None),
        );
        let read: Vec<String> = ws_scopes
            .iter()
            .filter(|s| s.ends_with(".read") || s.ends_with(".list"))
            .cloned()
            .collect();
        fixed.insert(
            W1_READ.into(),
            principal(
                "w1-read",
                KeyType::WorkspaceService,
                Some(&ws1.id),
                read,
                None,
            ),
        );
        fixed.insert(
            EXPIRED.into(),
            principal(
                "expired",
                KeyType::OrganisationService,
                None,
                org_scopes,
                Some(1),
            ),
        );
        let auth = Arc::new(TestAuth {
            fixed,
            stored: Mutex::default(),
        });
        let usage = Arc::new(TestUsage::default());
        let sealer = Sealer::from_key(&[9u8; 32]);
        let exports = ExportRuns::default();
        let ctx = AdminCtx {
            repo: Arc::new(store.clone()),
            sealer: sealer.clone(),
            auth: auth.clone(),
            validate_config: Arc::new(validate),
            check_host: Arc::new(|raw: &str| {
                portcullis_config::HostPolicy::default()
                    .check(raw)
                    .map_err(|r| r.reason)
            }),
            usage: Some(usage.clone()),
            logs: match logging {
                Logging::Sql => Some(Arc::new(logs.clone()) as Arc<dyn LogStore>),
                Logging::Off => None,
                Logging::Wrapped(wrap) => Some(wrap(logs.clone())),
            },
            settle: None,
            exports: exports.clone(),
        };
        H {
            app: portcullis_admin::router(ctx),
            store,
            auth,
            usage,
            sealer,
            forbidden: Mutex::default(),
            ws1,
            ws2,
            logs,
            exports,
            _dir: dir,
        }
    }

    /// From now on no response may contain `secret`.
    pub fn forbid(&self, secret: &str) {
        self.forbidden.lock().unwrap().push(secret.to_owned());
    }

    /// The usage resets stored so far: `(scope kind, scope id)`, in scope order.
    pub async fn resets(&self) -> Vec<(String, String)> {
        self.store
            .load_catalog()
            .await
            .unwrap()
            .usage_resets
            .into_iter()
            .map(|r| (r.scope_kind, r.scope_id))
            .collect()
    }

    /// Makes every API key in the store usable (as the gateway's snapshot would).
    pub async fn refresh_keys(&self) {
        let data = self.store.load_catalog().await.unwrap();
        let mut map = self.auth.stored.lock().unwrap();
        map.clear();
        for k in data.api_keys.iter().filter(|k| k.status == Status::Active) {
            map.insert(
                KeyHash::from_hex(&k.key_hash).unwrap(),
                principal(
                    &k.id,
                    k.key_type,
                    k.workspace_id.as_deref(),
                    k.scopes.clone(),
                    k.expires_at,
                ),
            );
        }
    }

    pub async fn raw(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, bytes)
    }

    /// Calls the router; returns the status and the JSON body. Every response must be JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header("x-portkey-api-key", k);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let (status, headers, bytes) = self.raw(req.body(body).unwrap()).await;
        let text = String::from_utf8_lossy(&bytes);
        for secret in self.forbidden.lock().unwrap().iter() {
            assert!(
                !text.contains(secret.as_str()),
                "{path}: a secret leaked: {text}"
            );
        }
        assert_eq!(
            headers.get("content-type").map(|v| v.to_str().unwrap()),
            Some("application/json"),
            "{path}: content-type"
        );
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!(v.is_object(), "{path}: body is an object");
        if status.is_server_error() {
            assert!(headers.contains_key("x-portkey-request-id"));
        }
        (status, v)
    }

    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(key), Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// `get`, asserting 200.
    pub async fn ok_get(&self, path: &str, key: &str) -> Value {
        let (s, v) = self.get(path, key).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    pub async fn ok_post(&self, path: &str, key: &str, body: Value) -> Value {
        let (s, v) = self.post(path, key, body).await;
        assert_eq!(s, StatusCode::OK, "POST {path}: {v}");
        v
    }

    pub async fn ok_put(&self, path: &str, key: &str, body: Value) -> Value {
        let (s, v) = self.put(path, key, body).await;
        assert_eq!(s, StatusCode::OK, "PUT {path}: {v}");
        v
    }

    pub async fn ok_delete(&self, path: &str, key: &str) -> Value {
        let (s, v) = self.delete(path, key).await;
        assert_eq!(s, StatusCode::OK, "DELETE {path}: {v}");
        v
    }
}

/// Asserts an admin error: status, `ABxx` code and the merged envelope.
pub fn assert_err(got: &(StatusCode, Value), status: u16, code: &str) {
    let (s, v) = got;
    assert_eq!(s.as_u16(), status, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["success"], false);
    assert_eq!(v["status_code"], status);
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(v["data"]["message"], v["error"]["message"]);
}

/// Whether `s` is ISO-8601 UTC with milliseconds.
pub fn is_iso_ms(s: &Value) -> bool {
    let s = s.as_str().unwrap_or("");
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && portcullis_admin::time::parse(s).is_some()
}

/// Replaces the values of `fields` with `"<dyn>"` so a response can be compared with a shape.
pub fn redact(mut v: Value, fields: &[&str]) -> Value {
    if let Some(m) = v.as_object_mut() {
        for f in fields {
            if m.contains_key(*f) {
                m.insert((*f).to_owned(), Value::String("<dyn>".into()));
            }
        }
    }
    v
}
