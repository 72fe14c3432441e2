//! Test harness: a mock provider and a gateway, both on port 0, plus an HTTP client.
//! Every test gets its own pair, so tests run in parallel without sharing state.

#![allow(dead_code)]

use portcullis_mock::MockProvider;
use portcullis_server::{AppState, Running, Settings};
use serde_json::Value;

pub struct Harness {
    pub mock: MockProvider,
    pub gw: Running,
    pub client: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with_settings(|_| {}).await
    }

    /// Starts a gateway whose settings `tweak` may adjust (port and host are always loopback:0).
    pub async fn with_settings(tweak: impl FnOnce(&mut Settings)) -> Harness {
        let mock = MockProvider::start().await;
        let mut settings = Settings::default();
        tweak(&mut settings);
        settings.server.host = [127, 0, 0, 1].into();
        settings.server.port = 0;
        let state = AppState::new(settings).expect("state");
        let gw = portcullis_server::spawn(state).await.expect("gateway");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        Harness { mock, gw, client }
    }

    /// A gateway URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gw.url())
    }

    /// The mock's base URL for OpenAI-style providers (`…/v1`).
    pub fn mock_v1(&self) -> String {
        format!("{}/v1", self.mock.url())
    }

    /// POST JSON to the gateway naming `provider`, with the mock as its custom host.
    pub fn post(&self, path: &str, provider: &str, body: &Value) -> reqwest::RequestBuilder {
        let host = if provider == "google" {
            self.mock.url()
        } else {
            self.mock_v1()
        };
        self.client
            .post(self.url(path))
            .header("x-portkey-provider", provider)
            .header("x-portkey-custom-host", host)
            .header("authorization", "Bearer sk-test")
            .json(body)
    }

    /// POST JSON with a Portkey config instead of a provider header.
    pub fn post_config(&self, path: &str, config: &Value, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .header("x-portkey-config", config.to_string())
            .header("authorization", "Bearer sk-test")
            .json(body)
    }
}

/// Splits an SSE body into its `data:` payloads.
pub fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|frame| {
            let data: Vec<&str> = frame
                .lines()
                .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

/// A minimal OpenAI chat body.
pub fn chat(model: &str) -> Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": "Hello there"}]})
}

impl Harness {
    /// The `custom_host` that points `provider` at the mock (Gemini paths carry their own `/v1beta`).
    pub fn host_for(&self, provider: &str) -> String {
        if provider == "google" {
            self.mock.url()
        } else {
            self.mock_v1()
        }
    }

    /// A config target on the mock: `provider`, a key, the mock as custom host, `model` as override.
    pub fn target(&self, provider: &str, model: &str) -> Value {
        serde_json::json!({
            "provider": provider,
            "api_key": "sk-test",
            "custom_host": self.host_for(provider),
            "override_params": {"model": model},
        })
    }
}

/// Splits an SSE body into `(event name, data)` pairs (`data` lines joined with `\n`).
pub fn sse_events(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter_map(|frame| {
            let mut name = None;
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = Some(n.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            (!data.is_empty()).then(|| (name, data.join("\n")))
        })
        .collect()
}
