//! Shared state of a running gateway.

use std::sync::Arc;

use portcullis_config::HostPolicy;
use portcullis_engine::{ClientSettings, Engine, EngineSettings, HttpTransport, Transport};

use portcullis_control::repo::Repository;
use portcullis_limits::{InProcessLimiter, Limiter, SystemClock};
use portcullis_pricing::PriceTable;

use crate::governance::SnapshotHolder;
use crate::governance::gate::LimitGate;
use crate::governance::notify::{self, Crossings};
use crate::observe::Observer;
use crate::settings::Settings;

pub struct AppState {
    pub settings: Settings,
    pub engine: Engine,
    pub hosts: HostPolicy,
    /// The control plane as the data plane reads it; replaced on every admin change.
    pub snapshots: Arc<SnapshotHolder>,
    /// Open mode may be served at all: a loopback address, or `allow_open_mode`.
    pub open_allowed: bool,
    /// Rate limits and budgets (in process, or shared through Redis).
    pub limiter: Arc<dyn Limiter>,
    pub prices: &'static PriceTable,
    /// Budget alerts (audit log, webhook, email).
    pub crossings: Crossings,
    /// The control-plane store, when the gateway runs with one (`serve` always does).
    pub repo: Option<Arc<dyn Repository>>,
    /// Where each request's log record goes (metrics, traces, the log store).
    pub observer: Arc<Observer>,
    /// Prometheus metrics and OTLP traces (also a tap of the observer).
    pub telemetry: portcullis_telemetry::Telemetry,
    /// The request log store, for the logs and analytics APIs.
    pub log_store: Option<Arc<dyn portcullis_logs::LogStore>>,
    /// The log queue's counters, for the metrics page.
    pub log_stats: Option<Arc<dyn Fn() -> portcullis_logs::SinkStats + Send + Sync>>,
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
        let policy = HostPolicy::with_trusted(&settings.trusted_custom_hosts)?;
        Self::with_transport(settings, Arc::new(HttpTransport::new(&client, policy)))
    }

    /// State with a given transport, an in-process limiter and no store (open mode until keys
    /// are loaded into the snapshot). Must run inside the Tokio runtime.
    pub fn with_transport(
        settings: Settings,
        transport: Arc<dyn Transport>,
    ) -> Result<AppState, String> {
        let limiter: Arc<dyn Limiter> = Arc::new(InProcessLimiter::new(
            Arc::new(SystemClock),
            settings.governance.rate_limit_burst,
        ));
        Self::assemble(settings, transport, limiter, None)
    }

    /// The parts wired together: the engine admits every target through the limiter.
    pub fn assemble(
        settings: Settings,
        transport: Arc<dyn Transport>,
        limiter: Arc<dyn Limiter>,
        repo: Option<Arc<dyn Repository>>,
    ) -> Result<AppState, String> {
        let hosts = HostPolicy::with_trusted(&settings.trusted_custom_hosts)?;
        let snapshots = Arc::new(SnapshotHolder::default());
        let prices = PriceTable::bundled();
        let crossings = notify::start(
            settings.notifications.clone(),
            repo.clone(),
            transport.clone(),
        );
        let gate = Arc::new(LimitGate {
            limiter: limiter.clone(),
            prices,
            snapshots: snapshots.clone(),
            crossings: crossings.clone(),
        });
        let engine = Engine::new(
            transport,
            EngineSettings {
                max_response_bytes: settings.upstream.max_response_bytes,
                max_error_bytes: 1024 * 1024,
                stream_idle_timeout: std::time::Duration::from_secs(
                    settings.upstream.stream_idle_timeout_secs,
                ),
                max_passthrough_body_bytes: settings.limits.max_passthrough_body_bytes,
                default_timeout: (settings.upstream.request_timeout_secs > 0).then(|| {
                    std::time::Duration::from_secs(settings.upstream.request_timeout_secs)
                }),
                max_stream_event_bytes: settings.upstream.max_stream_event_bytes,
            },
        )
        .with_gate(gate);
        let open_allowed = settings.server.host.is_loopback() || settings.server.allow_open_mode;
        Ok(AppState {
            settings,
            engine,
            hosts,
            snapshots,
            open_allowed,
            limiter,
            prices,
            crossings,
            repo,
            observer: Arc::new(Observer::new(crate::observe::DEFAULT_PAYLOAD_CAP)),
            telemetry: portcullis_telemetry::Telemetry::disabled(),
            log_stats: None,
            log_store: None,
        })
    }
}
