//! The `x-portkey-*` request headers (and the unprefixed ones SDK clients send), parsed once.

use std::time::Duration;

use http::{HeaderMap, HeaderName};
use portcullis_core::{ErrorCode, GatewayError, JsonObject, Secret};
use serde_json::Value;

pub const PROVIDER: &str = "x-portkey-provider";
pub const CONFIG: &str = "x-portkey-config";
pub const CUSTOM_HOST: &str = "x-portkey-custom-host";
pub const FORWARD_HEADERS: &str = "x-portkey-forward-headers";
pub const REQUEST_TIMEOUT: &str = "x-portkey-request-timeout";
pub const METADATA: &str = "x-portkey-metadata";
pub const TRACE_ID: &str = "x-portkey-trace-id";
pub const STRICT_OPENAI: &str = "x-portkey-strict-open-ai-compliance";
pub const CACHE_FORCE_REFRESH: &str = "x-portkey-cache-force-refresh";
pub const DEBUG: &str = "x-portkey-debug";

/// Provider-specific headers (`x-portkey-<suffix>`) and the option key each sets.
const PROVIDER_OPTION_HEADERS: &[(&str, &str)] = &[
    ("anthropic-beta", "anthropic_beta"),
    ("anthropic-version", "anthropic_version"),
    ("azure-ad-token", "azure_ad_token"),
    ("azure-api-version", "api_version"),
    ("azure-auth-mode", "azure_auth_mode"),
    ("azure-deployment-id", "deployment_id"),
    ("azure-entra-client-id", "azure_entra_client_id"),
    ("azure-entra-client-secret", "azure_entra_client_secret"),
    ("azure-entra-scope", "azure_entra_scope"),
    ("azure-entra-tenant-id", "azure_entra_tenant_id"),
    ("azure-managed-client-id", "azure_managed_client_id"),
    ("azure-model-name", "azure_model_name"),
    ("azure-resource-name", "resource_name"),
    ("azure-workload-client-id", "azure_workload_client_id"),
    ("openai-beta", "openai_beta"),
    ("openai-organization", "openai_organization"),
    ("openai-project", "openai_project"),
];

/// Headers SDKs send without the prefix; they fill the option when the prefixed one is absent.
const UNPREFIXED_OPTION_HEADERS: &[(&str, &str)] = &[
    ("anthropic-beta", "anthropic_beta"),
    ("anthropic-version", "anthropic_version"),
    ("openai-beta", "openai_beta"),
];

/// Everything the gateway reads from request headers.
#[derive(Debug, Default, Clone)]
pub struct PortkeyHeaders {
    /// `x-portkey-provider`, possibly `@slug`.
    pub provider: Option<String>,
    /// The provider key the client brought (`Authorization: Bearer`, else `x-api-key`).
    pub client_key: Option<Secret>,
    /// Raw `x-portkey-config`: inline JSON or a saved config id.
    pub config: Option<String>,
    pub custom_host: Option<String>,
    pub forward_headers: Option<Vec<HeaderName>>,
    pub request_timeout: Option<Duration>,
    pub metadata: JsonObject,
    pub trace_id: Option<String>,
    /// `Some(false)` when the client turned strict OpenAI compliance off.
    pub strict_open_ai_compliance: Option<bool>,
    /// Options from provider-specific headers (prefixed ones).
    pub provider_options: JsonObject,
    /// Options from unprefixed SDK headers (`anthropic-version`, …): fill gaps on every target.
    pub sdk_options: JsonObject,
    pub cache_force_refresh: bool,
    /// `x-portkey-debug: false` asks for numbers-only logging.
    pub debug: bool,
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, GatewayError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
            GatewayError::new(
                ErrorCode::InvalidHeader,
                format!("Header {name} must be visible ASCII text"),
            )
        }),
    }
}

fn non_empty<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, GatewayError> {
    Ok(text(headers, name)?.filter(|s| !s.is_empty()))
}

/// Parses the gateway's request headers. Malformed values are 400s that name the header.
pub fn parse(headers: &HeaderMap) -> Result<PortkeyHeaders, GatewayError> {
    let mut out = PortkeyHeaders {
        debug: true,
        ..Default::default()
    };
    out.provider = non_empty(headers, PROVIDER)?.map(str::to_owned);
    out.client_key = match non_empty(headers, "authorization")? {
        Some(auth) => {
            let key = auth.strip_prefix("Bearer ").unwrap_or(auth).trim();
            (!key.is_empty()).then(|| Secret::new(key))
        }
        None => non_empty(headers, "x-api-key")?.map(Secret::new),
    };
    out.config = non_empty(headers, CONFIG)?.map(str::to_owned);
    out.custom_host = non_empty(headers, CUSTOM_HOST)?.map(str::to_owned);
    if let Some(list) = non_empty(headers, FORWARD_HEADERS)? {
        out.forward_headers = Some(parse_forward_headers(list)?);
    }
    if let Some(t) = non_empty(headers, REQUEST_TIMEOUT)? {
        out.request_timeout = Some(parse_timeout(t)?);
    }
    if let Some(m) = non_empty(headers, METADATA)? {
        out.metadata = parse_metadata(m)?;
    }
    out.trace_id = non_empty(headers, TRACE_ID)?.map(str::to_owned);
    if let Some(s) = non_empty(headers, STRICT_OPENAI)? {
        out.strict_open_ai_compliance = Some(!s.eq_ignore_ascii_case("false"));
    }
    out.cache_force_refresh = headers.contains_key(CACHE_FORCE_REFRESH)
        && !text(headers, CACHE_FORCE_REFRESH)?.is_some_and(|v| v.eq_ignore_ascii_case("false"));
    out.debug = !text(headers, DEBUG)?.is_some_and(|v| v.eq_ignore_ascii_case("false"));
    for (suffix, key) in PROVIDER_OPTION_HEADERS {
        if let Some(v) = non_empty(headers, &format!("x-portkey-{suffix}"))? {
            out.provider_options
                .insert((*key).into(), Value::String(v.into()));
        }
    }
    for (name, key) in UNPREFIXED_OPTION_HEADERS {
        if let Some(v) = non_empty(headers, name)? {
            out.sdk_options
                .insert((*key).into(), Value::String(v.into()));
        }
    }
    Ok(out)
}

/// `a, b` or `["a","b"]` or `[a, b]`; must not name itself.
pub fn parse_forward_headers(list: &str) -> Result<Vec<HeaderName>, GatewayError> {
    let inner = list.trim().trim_start_matches('[').trim_end_matches(']');
    let mut names = Vec::new();
    for item in inner.split(',') {
        let name = item.trim().trim_matches('"').trim_matches('\'').trim();
        if name.is_empty() {
            continue;
        }
        names.push(header_name(name)?);
    }
    Ok(names)
}

/// Validates one forwarded header name (shared with the config's `forward_headers`).
pub fn header_name(name: &str) -> Result<HeaderName, GatewayError> {
    if name.eq_ignore_ascii_case(FORWARD_HEADERS) {
        return Err(GatewayError::new(
            ErrorCode::InvalidForwardHeaders,
            "forward_headers must not contain the 'x-portkey-forward-headers' header",
        ));
    }
    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
        GatewayError::new(
            ErrorCode::InvalidForwardHeaders,
            format!("forward_headers contains an invalid header name: {name:?}"),
        )
    })
}

fn parse_timeout(t: &str) -> Result<Duration, GatewayError> {
    match t.parse::<f64>() {
        Ok(ms) if ms.is_finite() && ms > 0.0 && ms <= 86_400_000.0 => {
            Ok(Duration::from_micros((ms * 1000.0) as u64))
        }
        _ => Err(GatewayError::new(
            ErrorCode::InvalidHeader,
            format!(
                "{REQUEST_TIMEOUT} must be a positive number of milliseconds (at most one day), got {t:?}"
            ),
        )),
    }
}

fn parse_metadata(m: &str) -> Result<JsonObject, GatewayError> {
    match serde_json::from_str::<Value>(m) {
        Ok(Value::Object(obj)) => Ok(obj),
        _ => Err(GatewayError::new(
            ErrorCode::InvalidHeader,
            format!("{METADATA} must be a JSON object, e.g. {{\"_user\":\"u1\",\"env\":\"prod\"}}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn reads_the_core_headers() {
        let p = parse(&h(&[
            ("x-portkey-provider", "anthropic"),
            ("authorization", "Bearer sk-ant"),
            ("x-portkey-trace-id", "order-42"),
            ("x-portkey-metadata", r#"{"_user":"u1","env":"prod"}"#),
            ("x-portkey-request-timeout", "5000"),
            ("x-portkey-forward-headers", "x-a, X-B"),
            ("anthropic-version", "2023-06-01"),
            ("x-portkey-azure-resource-name", "res"),
            ("x-portkey-strict-open-ai-compliance", "false"),
        ]))
        .unwrap();
        assert_eq!(p.provider.as_deref(), Some("anthropic"));
        assert_eq!(p.client_key.unwrap().expose(), "sk-ant");
        assert_eq!(p.metadata["env"], "prod");
        assert_eq!(p.request_timeout, Some(Duration::from_millis(5000)));
        assert_eq!(p.forward_headers.unwrap(), vec!["x-a", "x-b"]);
        assert_eq!(p.sdk_options["anthropic_version"], "2023-06-01");
        assert_eq!(p.provider_options["resource_name"], "res");
        assert_eq!(p.strict_open_ai_compliance, Some(false));
        assert!(p.debug);
    }

    #[test]
    fn x_api_key_is_the_client_key_without_authorization() {
        let p = parse(&h(&[("x-api-key", "sk-1")])).unwrap();
        assert_eq!(p.client_key.unwrap().expose(), "sk-1");
    }

    #[test]
    fn forward_headers_accept_array_forms_but_not_themselves() {
        assert_eq!(
            parse_forward_headers(r#"["a","b"]"#).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(parse_forward_headers("[a, b]").unwrap(), vec!["a", "b"]);
        let e = parse_forward_headers("a, x-portkey-forward-headers").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidForwardHeaders);
        assert!(parse_forward_headers("bad header").is_err());
    }

    #[test]
    fn bad_values_are_client_errors_that_name_the_header() {
        for (k, v) in [
            ("x-portkey-request-timeout", "soon"),
            ("x-portkey-request-timeout", "-5"),
            ("x-portkey-metadata", "[1,2]"),
            ("x-portkey-metadata", "{oops"),
        ] {
            let e = parse(&h(&[(k, v)])).unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{k}: {v}");
            assert!(e.message().contains(k), "{}", e.message());
        }
    }
}
