//! The HTTP surface of Portcullis: routes, edge limits, the request pipeline, serving.

pub mod admin;
pub mod app;
pub mod declarative;
pub mod edge;
mod extract;
pub mod governance;
pub mod observe;
pub mod pipeline;
pub mod respond;
mod routes;
pub mod serve;
pub mod settings;
pub mod startup;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use settings::Settings;
pub use state::AppState;

/// A gateway serving on a bound listener until its shutdown signal fires (tests, embedding).
pub struct Running {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Triggers graceful shutdown and waits for it.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.unwrap_or(Ok(()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `settings.server.host:port` (port 0 picks one) and serves `state` in the background.
pub async fn spawn(state: AppState) -> std::io::Result<Running> {
    let addr = SocketAddr::new(state.settings.server.host, state.settings.server.port);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let settings = state.settings.clone();
    let gate = edge::Gate::new(settings.limits.max_concurrent_requests);
    let refused = observe::RefusedHeads::new(&state);
    let app = app::router(Arc::new(state), gate, None);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve::serve(listener, app, &settings, refused, async {
            let _ = rx.await;
        })
        .await
    });
    Ok(Running {
        addr,
        shutdown: Some(tx),
        task,
    })
}
