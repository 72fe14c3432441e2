//! Shared state of a running gateway.

use std::sync::Arc;

use portcullis_config::HostPolicy;
use portcullis_engine::{ClientSettings, Engine, EngineSettings, HttpTransport, Transport};

use crate::governance::SnapshotHolder;
use crate::settings::Settings;

pub struct AppState {
    pub settings: Settings,
    pub engine: Engine,
    pub hosts: HostPolicy,
    /// The control plane as the data plane reads it; replaced on every admin change.
    pub snapshots: Arc<SnapshotHolder>,
    /// Open mode may be served at all: a loopback address, or `allow_open_mode`.
    pub open_allowed: bool,
}

impl AppState {
    /// State with the production transport.
    pub fn new(settings: Settings) -> Result<AppState, String> {
        let client = ClientSettings {
            connect_timeout: std::time::Duration::from_millis(settings.upstream.connect_timeout_ms),
            pool_idle_timeout: std::time::Duration::from_secs(
                settings.upstream.pool_idle_timeout_secs,
            ),
            pool_max_idle_per_host: settings.upstream.pool_max_idle_per_host,
        };
        Self::with_transport(settings, Arc::new(HttpTransport::new(&client)))
    }

    pub fn with_transport(
        settings: Settings,
        transport: Arc<dyn Transport>,
    ) -> Result<AppState, String> {
        let hosts = HostPolicy::with_trusted(&settings.trusted_custom_hosts)?;
        let engine = Engine::new(
            transport,
            EngineSettings {
                max_response_bytes: settings.upstream.max_response_bytes,
                max_error_bytes: 1024 * 1024,
                stream_idle_timeout: std::time::Duration::from_secs(
                    settings.upstream.stream_idle_timeout_secs,
                ),
                max_passthrough_body_bytes: settings.limits.max_passthrough_body_bytes,
            },
        );
        let open_allowed = settings.server.host.is_loopback() || settings.server.allow_open_mode;
        Ok(AppState {
            settings,
            engine,
            hosts,
            snapshots: Arc::new(SnapshotHolder::default()),
            open_allowed,
        })
    }
}
