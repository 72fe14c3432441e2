//! `portcullis serve`: settings from file, then flags and environment, then the gateway.

use std::net::SocketAddr;
use std::sync::Arc;

use portcullis_server::{AppState, Settings, app, edge, serve};

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
    settings.server.allow_open_mode |= args.allow_open_mode;
    settings.validate().map_err(|e| e.to_string())?;
    if !settings.server.host.is_loopback() && !settings.server.allow_open_mode {
        return Err(format!(
            "refusing to serve open mode on {}: without gateway keys anyone who can reach this address \
             can use it. Bind to 127.0.0.1, or pass --allow-open-mode (PORTCULLIS_ALLOW_OPEN_MODE=true) \
             if that is what you want.",
            settings.server.host
        ));
    }
    let addr = SocketAddr::new(settings.server.host, settings.server.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let state = AppState::new(settings.clone())?;
    let gate = edge::Gate::new(settings.limits.max_concurrent_requests);
    let router = app::router(Arc::new(state), gate);
    tracing::info!(
        "Portcullis {} listening on http://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    serve::serve(listener, router, &settings, super::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}
