//! `portcullis serve`: settings from file, then flags and environment, then the gateway.

use std::net::SocketAddr;
use std::sync::Arc;

use portcullis_server::{Settings, admin, app, edge, observe, serve, startup};

use super::ServeArgs;

pub async fn run(args: ServeArgs) -> Result<(), String> {
    let mut settings = match &args.config {
        Some(path) => Settings::from_file(path).map_err(|e| e.to_string())?,
        None => Settings::default(),
    };
    if let Some(host) = args.host {
        settings.server.host = host;
    }
    if let Some(port) = args.port {
        settings.server.port = port;
    }
    if let Some(dir) = args.data_dir {
        settings.server.data_dir = dir;
    }
    if let Some(url) = args.database_url {
        settings.governance.database_url = Some(url);
    }
    if let Some(url) = args.redis_url {
        settings.governance.redis_url = Some(url);
    }
    settings.server.allow_open_mode |= args.allow_open_mode;
    settings.validate().map_err(|e| e.to_string())?;
    let addr = SocketAddr::new(settings.server.host, settings.server.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let started = startup::start(settings.clone()).await?;
    let snap = started.state.snapshots.load();
    if !settings.server.host.is_loopback() && !settings.server.allow_open_mode && !snap.has_keys() {
        return Err(format!(
            "refusing to serve open mode on {}: without gateway keys anyone who can reach this address \
             can use it. Create keys (`portcullis keys create`, or PORTCULLIS_ADMIN_KEY), bind to \
             127.0.0.1, or pass --allow-open-mode (PORTCULLIS_ALLOW_OPEN_MODE=true) if that is what you want.",
            settings.server.host
        ));
    }
    let gate = edge::Gate::new(settings.limits.max_concurrent_requests);
    let repo: Arc<dyn portcullis_control::repo::Repository> = started.store.clone();
    let ctx = admin::context(&started.state, repo.clone(), started.sealer.clone());
    let exports = ctx.exports.clone();
    let limiter = started.state.limiter.clone();
    let logs = started.logs;
    let telemetry = started.state.telemetry.clone();
    let refused = observe::RefusedHeads::new(&started.state);
    let router = app::router(Arc::new(started.state), gate, Some(ctx));
    tracing::info!(
        "Portcullis {} listening on http://{addr} ({})",
        env!("CARGO_PKG_VERSION"),
        if snap.open() {
            "open mode: clients bring their provider keys"
        } else {
            "gateway keys required"
        }
    );
    drop(snap);
    let served = serve::serve(
        listener,
        router,
        &settings,
        refused,
        super::shutdown_signal(),
    )
    .await
    .map_err(|e| e.to_string());
    // Log exports still counting here are recorded failed (and can be started again) rather
    // than left in progress until the staleness rule gives up on them.
    let stopped = exports.stop_all().await;
    if stopped > 0 {
        tracing::info!(stopped, "log exports running at shutdown recorded failed");
    }
    // Nothing settled is lost: the last spend goes to the store before exit.
    startup::flush_spend(repo.as_ref(), limiter.as_ref()).await;
    // Nothing accepted is lost: queued request logs are written before exit.
    if let Some(l) = &logs {
        l.drain(&settings.logs).await;
    }
    telemetry.shutdown().await;
    served
}
