//! The `x-portkey-*` request headers (and the unprefixed ones SDK clients send), parsed once.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
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

/// Provider-specific headers (`x-portkey-<suffix>`) and the option key each sets (sorted).
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

/// Headers SDKs send without the prefix; they fill the option when the prefixed one is absent
/// (sorted).
const UNPREFIXED_OPTION_HEADERS: &[(&str, &str)] = &[
    ("anthropic-beta", "anthropic_beta"),
    ("anthropic-version", "anthropic_version"),
    ("openai-beta", "openai_beta"),
];

/// Everything the gateway reads from request headers.
#[derive(Debug, Default, Clone)]
pub struct PortkeyHeaders {
    /// `x-portkey-provider`, possibly `@slug`; else `@` + the legacy `x-portkey-virtual-key`.
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

fn text<'a>(name: &str, value: &'a HeaderValue) -> Result<&'a str, GatewayError> {
    value.to_str().map(str::trim).map_err(|_| {
        GatewayError::new(
            ErrorCode::InvalidHeader,
            format!("Header {name} must be visible ASCII text"),
        )
    })
}

/// Parses the gateway's request headers in one pass over them (no lookups by name: a request
/// carries a handful of headers, and the gateway knows dozens). Malformed values are 400s that
/// name the header. When a header repeats, its first value counts.
pub fn parse(headers: &HeaderMap) -> Result<PortkeyHeaders, GatewayError> {
    let mut out = PortkeyHeaders {
        debug: true,
        ..Default::default()
    };
    let mut x_api_key = None;
    let mut virtual_key: Option<String> = None;
    let mut seen_cache_refresh = false;
    for (name, value) in headers {
        let n = name.as_str();
        let Some(suffix) = n.strip_prefix("x-portkey-") else {
            match n {
                "authorization" if out.client_key.is_none() => {
                    let auth = text(n, value)?;
                    let key = auth.strip_prefix("Bearer ").unwrap_or(auth).trim();
                    if !key.is_empty() {
                        out.client_key = Some(Secret::new(key));
                    }
                }
                "x-api-key" if x_api_key.is_none() => {
                    x_api_key = Some(text(n, value)?).filter(|k| !k.is_empty());
                }
                _ => {
                    if let Ok(i) = UNPREFIXED_OPTION_HEADERS.binary_search_by(|(h, _)| (*h).cmp(n))
                    {
                        let v = text(n, value)?;
                        if !v.is_empty() {
                            out.sdk_options
                                .entry(UNPREFIXED_OPTION_HEADERS[i].1)
                                .or_insert_with(|| Value::String(v.into()));
                        }
                    }
                }
            }
            continue;
        };
        let v = text(n, value)?;
        match suffix {
            "provider" => set_once(&mut out.provider, v),
            "virtual-key" => set_once(&mut virtual_key, v.trim_start_matches('@')),
            "config" => set_once(&mut out.config, v),
            "custom-host" => set_once(&mut out.custom_host, v),
            "trace-id" => set_once(&mut out.trace_id, v),
            "forward-headers" if out.forward_headers.is_none() && !v.is_empty() => {
                out.forward_headers = Some(parse_forward_headers(v)?);
            }
            "request-timeout" if out.request_timeout.is_none() && !v.is_empty() => {
                out.request_timeout = Some(parse_timeout(v)?);
            }
            "metadata" if out.metadata.is_empty() && !v.is_empty() => {
                out.metadata = parse_metadata(v)?
            }
            "strict-open-ai-compliance" if !v.is_empty() => {
                out.strict_open_ai_compliance = Some(!v.eq_ignore_ascii_case("false"));
            }
            "cache-force-refresh" if !seen_cache_refresh => {
                seen_cache_refresh = true;
                out.cache_force_refresh = !v.eq_ignore_ascii_case("false");
            }
            "debug" => out.debug = !v.eq_ignore_ascii_case("false"),
            _ => {
                if let Ok(i) = PROVIDER_OPTION_HEADERS.binary_search_by(|(h, _)| (*h).cmp(suffix))
                    && !v.is_empty()
                {
                    out.provider_options
                        .entry(PROVIDER_OPTION_HEADERS[i].1)
                        .or_insert_with(|| Value::String(v.into()));
                }
            }
        }
    }
    if out.client_key.is_none() {
        out.client_key = x_api_key.map(Secret::new);
    }
    // Portkey's resolution order: `x-portkey-provider` first, then the virtual key.
    if out.provider.is_none()
        && let Some(vk) = virtual_key.filter(|v| !v.is_empty())
    {
        out.provider = Some(format!("@{vk}"));
    }
    Ok(out)
}

fn set_once(slot: &mut Option<String>, v: &str) {
    if slot.is_none() && !v.is_empty() {
        *slot = Some(v.to_owned());
    }
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

/// Headers a client may not forward: framing, routing and hop-by-hop headers belong to each
/// connection (forwarding `content-length` over a translated body would truncate it; `host`
/// would pick another virtual host).
const NOT_FORWARDABLE: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "expect",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Validates one forwarded header name (shared with the config's `forward_headers`).
pub fn header_name(name: &str) -> Result<HeaderName, GatewayError> {
    if name.eq_ignore_ascii_case(FORWARD_HEADERS) {
        return Err(GatewayError::new(
            ErrorCode::InvalidForwardHeaders,
            "forward_headers must not contain the 'x-portkey-forward-headers' header",
        ));
    }
    if NOT_FORWARDABLE.iter().any(|h| name.eq_ignore_ascii_case(h)) {
        return Err(GatewayError::new(
            ErrorCode::InvalidForwardHeaders,
            format!(
                "forward_headers cannot include {name:?}: it describes the client's own connection"
            ),
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
    fn option_tables_are_sorted_for_binary_search() {
        for t in [PROVIDER_OPTION_HEADERS, UNPREFIXED_OPTION_HEADERS] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn the_virtual_key_header_names_a_catalog_provider_after_the_provider_header() {
        let p = parse(&h(&[("x-portkey-virtual-key", "openai-prod")])).unwrap();
        assert_eq!(p.provider.as_deref(), Some("@openai-prod"));
        let p = parse(&h(&[
            ("x-portkey-virtual-key", "openai-prod"),
            ("x-portkey-provider", "@anthropic-prod"),
        ]))
        .unwrap();
        assert_eq!(p.provider.as_deref(), Some("@anthropic-prod"));
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
        for h in [
            "content-length",
            "Host",
            "transfer-encoding",
            "proxy-authorization",
        ] {
            assert_eq!(
                parse_forward_headers(h).unwrap_err().code(),
                ErrorCode::InvalidForwardHeaders,
                "{h}"
            );
        }
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
