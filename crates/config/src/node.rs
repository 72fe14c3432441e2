//! Walks one Portkey config object: validates every key (collecting all errors with their paths)
//! and builds plan nodes with inheritance applied.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use portcullis_core::{JsonObject, Secret};
use portcullis_providers::Upstream;
use serde_json::{Map, Value};

use crate::conditional::Query;
use crate::headers::header_name;
use crate::plan::{
    CacheSettings, MAX_RETRY_ATTEMPTS, Mode, Node, NodeKind, RetryPolicy, Strategy, Target,
};
use crate::ssrf::HostPolicy;
use crate::{Catalog, keys};

/// Why a client may not re-point a catalog provider.
pub const CATALOG_HOST_MESSAGE: &str = "custom_host cannot be used with an @slug provider: its stored credentials only go to the host configured on its integration";

/// The cross-field rule's message, as Portkey words it.
pub const NODE_SHAPE_MESSAGE: &str = "Invalid configuration. It must have either 'provider' and 'api_key', or 'strategy' and 'targets', or 'cache', or 'retry', or 'request_timeout'";

/// Settings a node passes down to its targets (child values win when present).
#[derive(Debug, Clone, Default)]
pub(crate) struct Inherited {
    pub override_params: JsonObject,
    pub retry: Option<RetryPolicy>,
    pub cache: Option<CacheSettings>,
    pub request_timeout: Option<Duration>,
    pub custom_host: Option<String>,
    pub forward_headers: Option<Vec<HeaderName>>,
    pub strict: Option<bool>,
    pub before_hooks: Option<Vec<Value>>,
    pub after_hooks: Option<Vec<Value>>,
}

/// What the walk needs from the request.
pub(crate) struct Walk<'a> {
    pub hosts: &'a HostPolicy,
    pub catalog: &'a dyn Catalog,
    pub client_key: Option<&'a Secret>,
    /// The body's `model`, for `@slug/model`.
    pub body_model: Option<&'a str>,
    pub errors: Vec<String>,
    /// Targets seen so far: a config may not fan out without bound.
    pub leaves: usize,
}

/// The most targets one config may hold (each may retry up to its own limit).
pub const MAX_TARGETS: usize = 64;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &[String], key: &str) -> String {
    let mut p = path.join(",");
    if !key.is_empty() {
        if !p.is_empty() {
            p.push(',');
        }
        p.push_str(key);
    }
    p
}

impl Walk<'_> {
    fn err(&mut self, path: &[String], key: &str, message: impl AsRef<str>) {
        self.errors.push(format!(
            "path: {}, message: {}",
            join(path, key),
            message.as_ref()
        ));
    }

    fn expect<'v>(
        &mut self,
        path: &[String],
        key: &str,
        v: &'v Value,
        want: &'static str,
    ) -> Option<&'v Value> {
        let ok = matches!(
            (want, v),
            ("number", Value::Number(_))
                | ("string", Value::String(_))
                | ("boolean", Value::Bool(_))
                | ("array", Value::Array(_))
                | ("object", Value::Object(_))
        );
        if ok {
            Some(v)
        } else {
            self.err(
                path,
                key,
                format!("Expected {want}, received {}", type_name(v)),
            );
            None
        }
    }

    fn status_codes(&mut self, path: &[String], key: &str, v: &Value) -> Option<Vec<u16>> {
        let arr = self.expect(path, key, v, "array")?.as_array()?;
        let mut out = Vec::with_capacity(arr.len());
        for (i, c) in arr.iter().enumerate() {
            match c.as_u64().filter(|n| (100..=599).contains(n)) {
                Some(n) => out.push(n as u16),
                None => self.err(
                    path,
                    &format!("{key},{i}"),
                    "Expected an HTTP status code (a whole number from 100 to 599)",
                ),
            }
        }
        Some(out)
    }

    /// Walks the node at `json_path` (for response headers) / `path` (for error messages).
    pub fn node(
        &mut self,
        v: &Value,
        json_path: String,
        path: &[String],
        up: &Inherited,
    ) -> Option<Node> {
        let Some(raw) = v.as_object() else {
            self.err(
                path,
                "",
                format!("Expected object, received {}", type_name(v)),
            );
            return None;
        };
        let obj = keys::normalize(raw);
        let inherited = self.inherit(&obj, path, up);
        let weight = match obj.get("weight") {
            None => 1.0,
            Some(w) => match w.as_f64().filter(|w| *w >= 0.0 && w.is_finite()) {
                Some(w) => w,
                None => {
                    self.err(path, "weight", "Expected a number of at least 0");
                    1.0
                }
            },
        };
        let name = match obj.get("name") {
            Some(n) => self
                .expect(path, "name", n, "string")
                .and_then(Value::as_str)
                .map(str::to_owned),
            None => None,
        };
        for key in ["id", "on_status_codes"] {
            if let Some(x) = obj.get(key) {
                let want = if key == "id" { "string" } else { "array" };
                self.expect(path, key, x, want);
            }
        }
        let kind = if let Some(strategy) = obj.get("strategy") {
            NodeKind::Strategy(self.strategy(&obj, strategy, &json_path, path, &inherited)?)
        } else if obj.contains_key("targets") {
            self.err(path, "strategy", "Required when 'targets' is given");
            return None;
        } else if obj.contains_key("provider") || obj.contains_key("virtual_key") {
            NodeKind::Target(Arc::new(self.target(&obj, path, inherited)?))
        } else {
            self.err(path, "", NODE_SHAPE_MESSAGE);
            return None;
        };
        Some(Node {
            path: json_path,
            weight,
            name,
            kind,
        })
    }

    fn inherit(&mut self, obj: &Map<String, Value>, path: &[String], up: &Inherited) -> Inherited {
        let mut out = up.clone();
        if let Some(v) = obj.get("override_params")
            && let Some(Value::Object(o)) = self.expect(path, "override_params", v, "object")
        {
            for (k, v) in o {
                out.override_params.insert(k.clone(), v.clone());
            }
        }
        if let Some(v) = obj.get("retry") {
            out.retry = self.retry(path, v);
        }
        if let Some(v) = obj.get("cache") {
            out.cache = self.cache(path, v);
        }
        if let Some(v) = obj.get("request_timeout") {
            match v.as_f64().filter(|ms| *ms > 0.0 && *ms <= 86_400_000.0) {
                Some(ms) => out.request_timeout = Some(Duration::from_micros((ms * 1000.0) as u64)),
                None => self.err(
                    path,
                    "request_timeout",
                    "Expected a positive number of milliseconds (at most one day)",
                ),
            }
        }
        if let Some(v) = obj.get("custom_host")
            && let Some(h) = self
                .expect(path, "custom_host", v, "string")
                .and_then(Value::as_str)
        {
            match self.hosts.check(h) {
                Ok(url) => out.custom_host = Some(url),
                Err(r) => self.err(
                    path,
                    "custom_host",
                    format!("Invalid custom host: {}", r.reason),
                ),
            }
        }
        if let Some(v) = obj.get("forward_headers")
            && let Some(arr) = self
                .expect(path, "forward_headers", v, "array")
                .and_then(Value::as_array)
        {
            let mut names = Vec::new();
            for (i, n) in arr.iter().enumerate() {
                match n.as_str().map(header_name) {
                    Some(Ok(h)) => names.push(h),
                    Some(Err(e)) => self.err(path, &format!("forward_headers,{i}"), e.message()),
                    None => self.err(path, &format!("forward_headers,{i}"), "Expected string"),
                }
            }
            out.forward_headers = Some(names);
        }
        if let Some(v) = obj.get("strict_open_ai_compliance") {
            out.strict = self
                .expect(path, "strict_open_ai_compliance", v, "boolean")
                .and_then(Value::as_bool);
        }
        for key in ["before_request_hooks", "after_request_hooks"] {
            if let Some(v) = obj.get(key) {
                let hooks = self
                    .expect(path, key, v, "array")
                    .and_then(Value::as_array)
                    .cloned();
                if key == "before_request_hooks" {
                    out.before_hooks = hooks;
                } else {
                    out.after_hooks = hooks;
                }
            }
        }
        // Shorthand guardrails become hooks appended to this node's own lists.
        for key in ["input_guardrails", "output_guardrails"] {
            if let Some(v) = obj.get(key)
                && let Some(arr) = self.expect(path, key, v, "array").and_then(Value::as_array)
            {
                let slot = if key == "input_guardrails" {
                    &mut out.before_hooks
                } else {
                    &mut out.after_hooks
                };
                slot.get_or_insert_with(Vec::new)
                    .extend(arr.iter().cloned());
            }
        }
        out
    }

    fn retry(&mut self, path: &[String], v: &Value) -> Option<RetryPolicy> {
        let obj = self.expect(path, "retry", v, "object")?.as_object()?;
        let obj = keys::normalize(obj);
        let mut policy = RetryPolicy::default();
        match obj.get("attempts") {
            None => self.err(path, "retry,attempts", "Required"),
            Some(a) => match a.as_u64().filter(|n| *n <= u64::from(MAX_RETRY_ATTEMPTS)) {
                Some(n) => policy.attempts = n as u32,
                None => self.err(
                    path,
                    "retry,attempts",
                    format!("Expected a whole number from 0 to {MAX_RETRY_ATTEMPTS}"),
                ),
            },
        }
        if let Some(c) = obj.get("on_status_codes")
            && let Some(codes) = self.status_codes(path, "retry,on_status_codes", c)
        {
            policy.on_status_codes = codes;
        }
        for key in ["use_retry_after_header", "use_retry_after_headers"] {
            if let Some(b) = obj.get(key)
                && let Some(b) = self.expect(path, &format!("retry,{key}"), b, "boolean")
            {
                policy.use_retry_after = b.as_bool().unwrap_or(false);
            }
        }
        Some(policy)
    }

    fn cache(&mut self, path: &[String], v: &Value) -> Option<CacheSettings> {
        let obj = self.expect(path, "cache", v, "object")?.as_object()?;
        let obj = keys::normalize(obj);
        let mode = match obj.get("mode").and_then(Value::as_str) {
            Some(m @ ("simple" | "semantic")) => m.to_owned(),
            _ => {
                self.err(
                    path,
                    "cache,mode",
                    "Invalid 'cache.mode' value. Must be one of: simple, semantic",
                );
                return None;
            }
        };
        let max_age = match obj.get("max_age") {
            None => None,
            Some(a) => match a.as_u64() {
                Some(n) => Some(n),
                None => {
                    self.err(
                        path,
                        "cache,max_age",
                        "Expected a whole number of at least 0",
                    );
                    None
                }
            },
        };
        Some(CacheSettings { mode, max_age })
    }

    fn strategy(
        &mut self,
        obj: &Map<String, Value>,
        strategy: &Value,
        json_path: &str,
        path: &[String],
        inherited: &Inherited,
    ) -> Option<Strategy> {
        let s = keys::normalize(
            self.expect(path, "strategy", strategy, "object")?
                .as_object()?,
        );
        let mode = match s.get("mode").and_then(Value::as_str) {
            Some("single") => Some(Mode::Single),
            Some("fallback") => Some(Mode::Fallback),
            Some("loadbalance") => Some(Mode::Loadbalance),
            Some("conditional") => Some(Mode::Conditional),
            _ => {
                self.err(path, "strategy,mode", "Invalid 'mode' value. Must be one of: single, loadbalance, fallback, conditional");
                None
            }
        };
        let on_status_codes = match s.get("on_status_codes") {
            Some(c) => self.status_codes(path, "strategy,on_status_codes", c),
            None => None,
        };
        let default = match s.get("default") {
            Some(d) => self
                .expect(path, "strategy,default", d, "string")
                .and_then(Value::as_str)
                .map(str::to_owned),
            None => None,
        };
        let targets_v = match obj.get("targets") {
            Some(t) => self
                .expect(path, "targets", t, "array")
                .and_then(Value::as_array),
            None => {
                self.err(path, "targets", "Required");
                None
            }
        };
        let mut targets = Vec::new();
        if let Some(list) = targets_v {
            if list.is_empty() {
                self.err(path, "targets", "Array must contain at least 1 element(s)");
            }
            for (i, t) in list.iter().enumerate() {
                let mut p = path.to_vec();
                p.push("targets".into());
                p.push(i.to_string());
                if let Some(n) = self.node(t, format!("{json_path}.targets[{i}]"), &p, inherited) {
                    targets.push(n);
                }
            }
        }
        let mode = mode?;
        let conditions = match mode {
            Mode::Conditional => self.conditions(&s, path, &targets, default.as_deref()),
            _ => Vec::new(),
        };
        if mode == Mode::Loadbalance
            && !targets.is_empty()
            && targets.iter().all(|t| t.weight <= 0.0)
        {
            self.err(
                path,
                "targets",
                "At least one loadbalance target needs a weight above 0",
            );
        }
        Some(Strategy {
            mode,
            on_status_codes,
            conditions,
            default,
            targets,
        })
    }

    fn conditions(
        &mut self,
        s: &Map<String, Value>,
        path: &[String],
        targets: &[Node],
        default: Option<&str>,
    ) -> Vec<(Query, String)> {
        let known = |name: &str| targets.iter().any(|t| t.name.as_deref() == Some(name));
        let mut out = Vec::new();
        let Some(list) = s.get("conditions") else {
            self.err(
                path,
                "strategy,conditions",
                "Required for mode 'conditional'",
            );
            return out;
        };
        let Some(list) = self
            .expect(path, "strategy,conditions", list, "array")
            .and_then(Value::as_array)
        else {
            return out;
        };
        for (i, c) in list.iter().enumerate() {
            let at = format!("strategy,conditions,{i}");
            let then = c.get("then").and_then(Value::as_str);
            let query = c.get("query").filter(|q| q.is_object());
            match (query, then) {
                (Some(q), Some(then)) => {
                    if !known(then) {
                        self.err(
                            path,
                            &format!("{at},then"),
                            format!("Invalid target name found in the query router: {then}"),
                        );
                    }
                    match Query::parse(q) {
                        Ok(q) => out.push((q, then.to_owned())),
                        Err(m) => self.err(path, &format!("{at},query"), m),
                    }
                }
                _ => self.err(path, &at, "Expected {\"query\": object, \"then\": string}"),
            }
        }
        if let Some(d) = default.filter(|d| !known(d)) {
            self.err(
                path,
                "strategy,default",
                format!("Invalid target name found in the query router: {d}"),
            );
        }
        out
    }

    fn target(
        &mut self,
        obj: &Map<String, Value>,
        path: &[String],
        inh: Inherited,
    ) -> Option<Target> {
        self.leaves += 1;
        if self.leaves == MAX_TARGETS + 1 {
            self.err(
                path,
                "",
                format!("A config may have at most {MAX_TARGETS} targets"),
            );
        }
        if self.leaves > MAX_TARGETS {
            return None;
        }
        // A legacy `virtual_key` target names a catalog provider by slug: `@slug` in today's terms.
        let virtual_key = match obj.get("virtual_key") {
            Some(Value::String(vk)) if !vk.is_empty() => {
                Some(format!("@{}", vk.trim_start_matches('@')))
            }
            Some(_) => {
                self.err(
                    path,
                    "virtual_key",
                    "Expected a non-empty string (a provider slug)",
                );
                return None;
            }
            None => None,
        };
        let provider = match obj.get("provider") {
            Some(p) => p.as_str(),
            None => virtual_key.as_deref(),
        };
        let Some(provider) = provider else {
            self.err(path, "provider", "Expected string");
            return None;
        };
        let mut override_params = inh.override_params;
        let mut upstream = match provider.strip_prefix('@') {
            Some(slug) => self
                .catalog
                .provider(slug.split('/').next().unwrap_or(slug)),
            None => portcullis_providers::registry::find(provider).map(Upstream::new),
        };
        // `@slug/model` in override_params or the body picks the provider and names the model.
        let model = override_params
            .get("model")
            .and_then(Value::as_str)
            .or(self.body_model);
        if let Some((slug, rest)) = model.and_then(split_slug_model)
            && let Some(found) = self.catalog.provider(slug)
        {
            let rest = rest.to_owned();
            if upstream.is_none() {
                upstream = Some(found);
            }
            override_params.insert("model".into(), Value::String(rest));
        }
        let Some(mut upstream) = upstream else {
            self.err(path, "provider", invalid_provider_message(provider));
            return None;
        };
        if let Some(k) = obj.get("api_key")
            && let Some(k) = self
                .expect(path, "api_key", k, "string")
                .and_then(Value::as_str)
        {
            upstream.api_key = Some(Secret::new(k));
        }
        if upstream.api_key.is_none() {
            upstream.api_key = self.client_key.cloned();
        }
        for (k, v) in obj {
            if !keys::RESERVED.contains(&k.as_str()) {
                upstream.options.insert(k.clone(), v.clone());
            }
        }
        if let Some(host) = inh.custom_host {
            if upstream.account.is_some() {
                // A catalog provider's stored key must only ever reach the host its admin set.
                self.err(path, "custom_host", CATALOG_HOST_MESSAGE);
                return None;
            }
            upstream.custom_host = Some(host);
        }
        Some(Target {
            upstream,
            override_params,
            retry: inh.retry.unwrap_or_default(),
            request_timeout: inh.request_timeout,
            forward_headers: inh.forward_headers.unwrap_or_default(),
            strict_open_ai_compliance: inh.strict.unwrap_or(true),
            cache: inh.cache,
            before_request_hooks: inh.before_hooks.unwrap_or_default(),
            after_request_hooks: inh.after_hooks.unwrap_or_default(),
        })
    }
}

/// `@slug/model` → (`slug`, `model`). Cloudflare's `@cf/…` and `@hf/…` model ids are not slugs.
pub fn split_slug_model(model: &str) -> Option<(&str, &str)> {
    let rest = model.strip_prefix('@')?;
    if rest.starts_with("cf/") || rest.starts_with("hf/") {
        return None;
    }
    let (slug, m) = rest.split_once('/')?;
    (!slug.is_empty() && !m.is_empty()).then_some((slug, m))
}

pub(crate) fn invalid_provider_message(provider: &str) -> String {
    let slugs: Vec<&str> = portcullis_providers::registry::PROVIDERS
        .iter()
        .map(|p| p.slug)
        .collect();
    format!(
        "Invalid 'provider' value {provider:?}. Must be one of: {} (or @slug of a configured provider)",
        slugs.join(", ")
    )
}
