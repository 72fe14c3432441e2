//! Accept loop: TCP_NODELAY on every socket, header limits, graceful shutdown on a signal;
//! heads hyper refuses before routing are recorded.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::observe::RefusedHeads;
use crate::settings::Settings;

/// Serves `app` until `shutdown` resolves, then stops accepting and waits up to the grace period
/// for in-flight requests and streams. Request heads hyper refuses itself (431, 414, 400: no
/// handler runs) go to `refused`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &Settings,
    refused: RefusedHeads,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout())
        .max_buf_size(settings.limits.max_header_bytes.max(8192))
        .max_headers(settings.limits.max_headers)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(settings.limits.max_header_bytes).unwrap_or(u32::MAX));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            conn = listener.accept() => match conn {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        let refused = refused.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // The error branch only: a refused head gets its record here.
                if !refused.record(e.as_ref()) {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            }
        });
    }
    drop(listener);
    let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: waiting for in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing remaining connections"),
    }
    Ok(())
}
