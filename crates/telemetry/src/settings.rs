//! Telemetry configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::TelemetryError;

/// What the gateway exports about finished requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// Keep Prometheus metrics (served by whoever calls [`crate::Metrics::render`]).
    pub metrics: bool,
    /// Export one OpenTelemetry span per request over OTLP/HTTP; off when absent.
    pub otlp: Option<OtlpSettings>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            metrics: true,
            otlp: None,
        }
    }
}

/// An OTLP/HTTP (protobuf) trace exporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpSettings {
    /// The collector's traces URL, e.g. `http://collector:4318/v1/traces`. When it has no path
    /// (`http://collector:4318`), `/v1/traces` is appended. `http` and `https` are supported.
    pub endpoint: String,
    /// Extra request headers (authentication, tenant), e.g. `{"x-api-key": "…"}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `service.name` of the exported resource.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Deadline for one export (all retries included), in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_service_name() -> String {
    "portcullis".to_owned()
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl OtlpSettings {
    /// Settings for `endpoint` with every other field at its default.
    pub fn new(endpoint: impl Into<String>) -> Self {
        OtlpSettings {
            endpoint: endpoint.into(),
            headers: BTreeMap::new(),
            service_name: default_service_name(),
            timeout_ms: default_timeout_ms(),
        }
    }

    /// The export deadline.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The URL spans are posted to: [`Self::endpoint`], with `/v1/traces` appended when it has
    /// no path. Errors when it is not an absolute `http`/`https` URL.
    pub fn traces_url(&self) -> Result<String, TelemetryError> {
        let invalid = |why: &str| {
            TelemetryError::InvalidSettings(format!("otlp.endpoint {:?}: {why}", self.endpoint))
        };
        let uri: http::Uri = self
            .endpoint
            .trim()
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(invalid("must be an http:// or https:// URL")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("has no host"));
        }
        let base = self.endpoint.trim();
        if matches!(uri.path(), "" | "/") && uri.query().is_none() {
            Ok(format!("{}/v1/traces", base.trim_end_matches('/')))
        } else {
            Ok(base.to_owned())
        }
    }

    /// Checks everything [`crate::Tracing::start`] would reject.
    pub fn validate(&self) -> Result<(), TelemetryError> {
        self.traces_url()?;
        for (name, value) in &self.headers {
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                TelemetryError::InvalidSettings(format!(
                    "otlp.headers: invalid header name {name:?}"
                ))
            })?;
            http::HeaderValue::from_str(value).map_err(|_| {
                TelemetryError::InvalidSettings(format!(
                    "otlp.headers: invalid value for header {name:?}"
                ))
            })?;
        }
        if self.service_name.trim().is_empty() {
            return Err(TelemetryError::InvalidSettings(
                "otlp.service_name must not be empty".to_owned(),
            ));
        }
        if self.timeout_ms == 0 {
            return Err(TelemetryError::InvalidSettings(
                "otlp.timeout_ms must be positive".to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_url_appends_the_default_path_only_when_missing() {
        let url = |e: &str| OtlpSettings::new(e).traces_url();
        assert_eq!(
            url("http://c:4318").unwrap(),
            "http://c:4318/v1/traces".to_owned()
        );
        assert_eq!(
            url("http://c:4318/").unwrap(),
            "http://c:4318/v1/traces".to_owned()
        );
        assert_eq!(
            url("https://c/otlp/v1/traces").unwrap(),
            "https://c/otlp/v1/traces".to_owned()
        );
        assert!(url("c:4318").is_err());
        assert!(url("grpc://c:4317").is_err());
        assert!(url("").is_err());
    }

    #[test]
    fn validate_rejects_bad_headers_and_zero_timeout() {
        let mut s = OtlpSettings::new("http://c:4318/v1/traces");
        assert!(s.validate().is_ok());
        s.headers.insert("bad header".into(), "v".into());
        assert!(s.validate().is_err());
        s.headers.clear();
        s.headers.insert("x-k".into(), "line\nbreak".into());
        assert!(s.validate().is_err());
        s.headers.clear();
        s.timeout_ms = 0;
        assert!(s.validate().is_err());
    }
}
