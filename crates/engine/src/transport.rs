//! The one outbound HTTP client (pooled, TCP_NODELAY, HTTP/2 where the server offers it), behind
//! a trait so retry and timeout logic can be tested against a scripted fake.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use portcullis_config::HostPolicy;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::body::{Body, BoxError};

pub type SendFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

/// Sends one HTTP request upstream. Dropping the future (or the response body) cancels it.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, req: Request<Body>) -> SendFuture;
}

/// Tunables of the shared client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub connect_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle_per_host: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 1024,
        }
    }
}

/// DNS that refuses addresses the SSRF policy forbids: a host name that resolves to a private
/// (untrusted) or cloud-metadata address never gets a connection, whatever it looked like.
#[derive(Clone)]
pub struct GuardedResolver {
    inner: GaiResolver,
    policy: Arc<HostPolicy>,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, std::io::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::io::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let lookup = self.inner.call(name);
        let policy = self.policy.clone();
        Box::pin(async move {
            let allowed: Vec<SocketAddr> = lookup
                .await?
                .filter(|a| policy.allows_resolved(&host, a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "{host} resolves only to private or metadata addresses; list it in trusted_custom_hosts if it is meant to be reached"
                    ),
                ));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// The production transport: hyper's pooled client with rustls.
pub struct HttpTransport {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Body>,
}

impl HttpTransport {
    /// `policy` is applied to every resolved address (after DNS, before connecting).
    pub fn new(settings: &ClientSettings, policy: HostPolicy) -> Self {
        let resolver = GuardedResolver {
            inner: GaiResolver::new(),
            policy: Arc::new(policy),
        };
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.set_nodelay(true);
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .build(https);
        HttpTransport { client }
    }
}

impl Transport for HttpTransport {
    fn send(&self, req: Request<Body>) -> SendFuture {
        let fut = self.client.request(req);
        Box::pin(async move {
            let resp = fut.await.map_err(|e| Box::new(e) as BoxError)?;
            Ok(resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed_unsync()))
        })
    }
}
