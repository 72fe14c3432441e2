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
use hyper_util::rt::{TokioExecutor, TokioTimer};

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

/// The production transport: hyper's pooled client with rustls.
pub struct HttpTransport {
    client: Client<HttpsConnector<HttpConnector>, Body>,
}

impl HttpTransport {
    pub fn new(settings: &ClientSettings) -> Self {
        let mut http = HttpConnector::new();
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
