//! Shared state of a running gateway.

use std::sync::Arc;

use portcullis_config::{BuildCtx, Catalog, HostPolicy, OpenCatalog};
use portcullis_engine::{ClientSettings, Engine, EngineSettings, HttpTransport, Transport};

use crate::settings::Settings;

pub struct AppState {
    pub settings: Settings,
    pub engine: Engine,
    pub hosts: HostPolicy,
    pub catalog: Arc<dyn Catalog>,
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
        Ok(AppState {
            settings,
            engine,
            hosts,
            catalog: Arc::new(OpenCatalog),
        })
    }

    pub fn build_ctx(&self) -> BuildCtx<'_> {
        BuildCtx {
            hosts: &self.hosts,
            catalog: self.catalog.as_ref(),
        }
    }
}
