//! Gateway settings: defaults < YAML file < environment/CLI (the binary applies the last layer).
//!
//! The file is strict: an unknown key is an error that names its path.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::declarative::Catalog;

/// Everything `serve` needs, with defaults that work on a laptop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub limits: Limits,
    pub upstream: UpstreamSettings,
    /// Hosts a `custom_host` may point at although private: names, `*.suffix`, IPs, CIDRs.
    pub trusted_custom_hosts: Vec<String>,
    pub governance: GovernanceSettings,
    pub notifications: NotificationSettings,
    /// Request logs: one record per request, written behind a bounded queue.
    pub logs: LogSettings,
    /// Prometheus metrics (`GET /metrics`) and OpenTelemetry traces (OTLP, off unless set).
    pub telemetry: portcullis_telemetry::TelemetrySettings,
    /// Workspaces, providers, keys and configs kept in this file (secrets by environment
    /// variable name), applied to the store at start: see [`crate::declarative`].
    pub catalog: Option<Catalog>,
}

/// Where the control plane lives and how limits are shared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceSettings {
    /// `postgres://…` for several replicas; empty: SQLite in the data directory.
    pub database_url: Option<String>,
    /// `redis://…`: rate limits and budgets shared by every replica.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (several gateways may share one Redis).
    pub redis_prefix: String,
    /// `window`: a full window's worth may pass at once (at most 2L−1 in any window);
    /// `strict`: at most L in every sliding window, no bursts.
    pub rate_limit_burst: portcullis_limits::Burst,
    /// How often settled budget spend is written to the database.
    pub spend_flush_secs: u64,
}

impl Default for GovernanceSettings {
    fn default() -> Self {
        GovernanceSettings {
            database_url: None,
            redis_url: None,
            redis_prefix: "portcullis:".into(),
            rate_limit_burst: portcullis_limits::Burst::Window,
            spend_flush_secs: 2,
        }
    }
}

/// Request logs (`serve` keeps them in the gateway's database: `logs.db` beside the SQLite catalog,
/// or the PostgreSQL database).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub enabled: bool,
    /// Records waiting to be written; when full, new records are dropped (and counted).
    pub queue_capacity: usize,
    /// Memory the queue may hold, in bytes (payloads included); past it records are queued
    /// without payloads, and dropped when even that does not fit (both counted).
    pub queue_max_bytes: usize,
    /// Records per database write, at most (a batch is what the queue holds when the writer is
    /// free; large batches form only under load and make each record cheaper to write).
    pub batch_size: usize,
    /// How long a partial batch waits for more.
    pub flush_interval_ms: u64,
    /// Records older than this are deleted (0: kept forever).
    pub retention_days: u32,
    /// Request and response bodies are cut to this many bytes in a record (0: no payloads).
    pub max_payload_bytes: usize,
    /// How long shutdown waits for the queue to drain.
    pub drain_timeout_secs: u64,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            enabled: true,
            queue_capacity: 65_536,
            queue_max_bytes: portcullis_logs::sink::DEFAULT_MAX_BYTES,
            batch_size: 10_000,
            flush_interval_ms: 50,
            retention_days: 30,
            max_payload_bytes: 64 * 1024,
            drain_timeout_secs: 10,
        }
    }
}

/// Where budget alerts go (besides the audit log).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationSettings {
    /// Receives a JSON POST per crossing.
    pub webhook_url: Option<String>,
    pub smtp: Option<SmtpSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// Upgrade with STARTTLS (off only for a local relay).
    #[serde(default = "default_true")]
    pub starttls: bool,
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the SMTP password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub host: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Open mode (clients bring provider keys, no gateway keys) on a non-loopback address must
    /// be asked for explicitly.
    pub allow_open_mode: bool,
    /// How long SIGTERM waits for in-flight requests and streams.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest JSON request body.
    pub max_body_bytes: usize,
    /// Largest passthrough request body (streamed, not buffered, when no retry needs it).
    pub max_passthrough_body_bytes: u64,
    /// Largest request head (request line + headers).
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Requests in flight (streams included) before new ones get 503.
    pub max_concurrent_requests: usize,
    /// A client must send its headers within this time (slow-loris guard).
    pub header_read_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSettings {
    pub connect_timeout_ms: u64,
    pub pool_idle_timeout_secs: u64,
    pub pool_max_idle_per_host: usize,
    /// A stream silent for this long is ended with an error event.
    pub stream_idle_timeout_secs: u64,
    pub max_response_bytes: usize,
    /// Time allowed for a provider's answer when the request sets no timeout (0: none).
    pub request_timeout_secs: u64,
    /// Largest single event of a provider's stream.
    pub max_stream_event_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerSettings::default(),
            limits: Limits::default(),
            upstream: UpstreamSettings::default(),
            trusted_custom_hosts: vec![
                "localhost".into(),
                "127.0.0.1".into(),
                "::1".into(),
                "host.docker.internal".into(),
            ],
            governance: GovernanceSettings::default(),
            notifications: NotificationSettings::default(),
            logs: LogSettings::default(),
            telemetry: portcullis_telemetry::TelemetrySettings::default(),
            catalog: None,
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8787,
            data_dir: PathBuf::from("data"),
            allow_open_mode: false,
            shutdown_grace_secs: 30,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_passthrough_body_bytes: 512 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 128,
            max_concurrent_requests: 16_384,
            header_read_timeout_secs: 30,
        }
    }
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        UpstreamSettings {
            connect_timeout_ms: 10_000,
            pool_idle_timeout_secs: 90,
            pool_max_idle_per_host: 1024,
            stream_idle_timeout_secs: 300,
            max_response_bytes: 128 * 1024 * 1024,
            request_timeout_secs: 600,
            max_stream_event_bytes: 16 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl Settings {
    /// Reads a YAML settings file; errors name the file and the offending key path.
    pub fn from_file(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text).map_err(|e| match e {
            SettingsError::Invalid { path: p, message } => SettingsError::Invalid {
                path: format!("{}: {p}", path.display()),
                message,
            },
            other => other,
        })
    }

    pub fn from_yaml(text: &str) -> Result<Settings, SettingsError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let settings: Settings = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            // The YAML error may already start with the path; say it once.
            let inner = e.inner().to_string();
            let message = inner
                .strip_prefix(&format!("{path}: "))
                .map_or_else(|| inner.clone(), str::to_owned);
            SettingsError::Invalid { path, message }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Cross-field checks that serde cannot express.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |path: &str, message: &str| {
            Err(SettingsError::Invalid {
                path: path.into(),
                message: message.into(),
            })
        };
        if self.limits.max_body_bytes < 1024 {
            return bad("limits.max_body_bytes", "must be at least 1024");
        }
        if self.limits.max_header_bytes < 8192 {
            return bad("limits.max_header_bytes", "must be at least 8192");
        }
        if self.limits.max_concurrent_requests == 0 {
            return bad("limits.max_concurrent_requests", "must be at least 1");
        }
        if self.logs.queue_capacity == 0 {
            return bad("logs.queue_capacity", "must be at least 1");
        }
        if self.logs.queue_max_bytes < 64 * 1024 {
            return bad("logs.queue_max_bytes", "must be at least 65536 (64 KiB)");
        }
        if self.logs.batch_size == 0 || self.logs.batch_size > 10_000 {
            return bad("logs.batch_size", "must be between 1 and 10000");
        }
        if self.upstream.stream_idle_timeout_secs == 0 {
            return bad("upstream.stream_idle_timeout_secs", "must be at least 1");
        }
        if let Err(e) = portcullis_config::HostPolicy::with_trusted(&self.trusted_custom_hosts) {
            return bad("trusted_custom_hosts", &e);
        }
        Ok(())
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.limits.header_read_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::default().validate().unwrap();
        assert_eq!(Settings::default().server.port, 8787);
    }

    #[test]
    fn unknown_keys_name_their_path() {
        let e = Settings::from_yaml("server:\n  portt: 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server"), "{e}");
        assert!(e.contains("portt"), "{e}");
    }

    #[test]
    fn reads_partial_files() {
        let s = Settings::from_yaml(
            "server:\n  port: 9000\ntrusted_custom_hosts: ['*.svc.cluster.local']\n",
        )
        .unwrap();
        assert_eq!(s.server.port, 9000);
        assert_eq!(s.limits.max_body_bytes, 32 * 1024 * 1024);
        assert_eq!(s.trusted_custom_hosts, vec!["*.svc.cluster.local"]);
    }

    #[test]
    fn invalid_values_are_rejected() {
        assert!(Settings::from_yaml("limits:\n  max_concurrent_requests: 0\n").is_err());
        assert!(Settings::from_yaml("server:\n  port: seventy\n").is_err());
        assert!(Settings::from_yaml("trusted_custom_hosts: ['bad host!']\n").is_err());
    }
}
