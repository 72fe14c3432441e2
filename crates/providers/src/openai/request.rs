//! Addressing and authenticating OpenAI-format requests (standard and Azure).

use bytes::Bytes;
use http::{HeaderMap, Method};
use portcullis_core::{Endpoint, ErrorCode, GatewayError, JsonObject};

use super::Flavor;
use crate::adapter::{Upstream, UpstreamRequest};
use crate::common::{set_bearer, set_header, set_json, to_bytes, wants_stream};

fn endpoint_path(
    endpoint: Endpoint,
    provider: &str,
) -> Result<(&'static str, Method), GatewayError> {
    Ok(match endpoint {
        Endpoint::ChatComplete => ("/chat/completions", Method::POST),
        Endpoint::Complete => ("/completions", Method::POST),
        Endpoint::Embed => ("/embeddings", Method::POST),
        Endpoint::Models => ("/models", Method::GET),
        Endpoint::Messages | Endpoint::MessagesCountTokens | Endpoint::Proxy => {
            return Err(GatewayError::new(
                ErrorCode::UnsupportedEndpoint,
                format!("{endpoint} is not supported by {provider}"),
            ));
        }
    })
}

pub(super) fn build(
    flavor: Flavor,
    endpoint: Endpoint,
    body: &JsonObject,
    pristine: Option<&Bytes>,
    upstream: &Upstream,
) -> Result<UpstreamRequest, GatewayError> {
    let (path, method) = endpoint_path(endpoint, &upstream.slug)?;
    let url = match flavor {
        Flavor::Standard => {
            let base = upstream.base_url();
            if base.is_empty() {
                return Err(GatewayError::new(
                    ErrorCode::InvalidCustomHost,
                    format!(
                        "Invalid custom host: provider {} needs a custom_host",
                        upstream.slug
                    ),
                ));
            }
            format!("{base}{}{path}", upstream.spec.path_prefix)
        }
        Flavor::Azure => azure_url(upstream, path, crate::common::model_of(body))?,
    };
    let mut headers = HeaderMap::with_capacity(4);
    auth(flavor, upstream, &mut headers);
    let body_bytes = if method == Method::GET {
        Bytes::new()
    } else {
        set_json(&mut headers);
        match pristine {
            Some(b) => b.clone(),
            None => to_bytes(body),
        }
    };
    Ok(UpstreamRequest {
        method,
        url,
        headers,
        body: body_bytes,
        stream: wants_stream(body),
    })
}

/// The catalog's deployment list (`azure_deployment_config`, Portkey's integration shape): the
/// entry whose model slug or alias is the requested model, else the default, else the first.
fn pick_deployment<'a>(
    upstream: &'a Upstream,
    model: &str,
) -> Option<&'a serde_json::Map<String, serde_json::Value>> {
    let list = upstream
        .options
        .get("azure_deployment_config")?
        .as_array()?;
    let entries = || list.iter().filter_map(serde_json::Value::as_object);
    let named = |e: &&serde_json::Map<String, serde_json::Value>| {
        ["azure_model_slug", "alias"]
            .iter()
            .any(|k| e.get(*k).and_then(serde_json::Value::as_str) == Some(model))
    };
    let default = |e: &&serde_json::Map<String, serde_json::Value>| {
        e.get("is_default").and_then(serde_json::Value::as_bool) == Some(true)
    };
    entries()
        .find(named)
        .or_else(|| entries().find(default))
        .or_else(|| entries().next())
}

/// `https://{resource}.openai.azure.com/openai/deployments/{deployment}{path}?api-version={v}`;
/// `api_version: "v1"` selects Azure's version-less `/openai/v1{path}` surface.
fn azure_url(upstream: &Upstream, path: &str, model: &str) -> Result<String, GatewayError> {
    let picked = pick_deployment(upstream, model);
    let from_pick = |k: &str| {
        picked
            .and_then(|e| e.get(k))
            .and_then(serde_json::Value::as_str)
    };
    let api_version = from_pick("azure_api_version")
        .or_else(|| upstream.option("api_version"))
        .unwrap_or("2024-10-21");
    let base = match upstream.custom_host.as_deref() {
        Some(h) => h.trim_end_matches('/').to_owned(),
        None => {
            let resource = upstream.option("resource_name").ok_or_else(|| {
                GatewayError::new(
                    ErrorCode::InvalidHeader,
                    "azure-openai needs a resource name: set x-portkey-azure-resource-name or resource_name in the config",
                )
            })?;
            if !resource
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(GatewayError::new(
                    ErrorCode::InvalidHeader,
                    "azure-openai resource name may contain only letters, digits and '-'",
                ));
            }
            format!("https://{resource}.openai.azure.com/openai")
        }
    };
    if api_version == "v1" {
        return Ok(format!("{base}/v1{path}"));
    }
    let deployment = from_pick("azure_deployment_name").or_else(|| upstream.option("deployment_id")).ok_or_else(|| {
        GatewayError::new(
            ErrorCode::InvalidHeader,
            "azure-openai needs a deployment: set x-portkey-azure-deployment-id or deployment_id in the config",
        )
    })?;
    let deployment =
        url::form_urlencoded::byte_serialize(deployment.as_bytes()).collect::<String>();
    let version = url::form_urlencoded::byte_serialize(api_version.as_bytes()).collect::<String>();
    Ok(format!(
        "{base}/deployments/{deployment}{path}?api-version={version}"
    ))
}

pub(super) fn auth(flavor: Flavor, upstream: &Upstream, headers: &mut HeaderMap) {
    match flavor {
        Flavor::Standard => {
            if let Some(key) = &upstream.api_key {
                set_bearer(headers, key.expose());
            }
            if let Some(org) = upstream.option("openai_organization") {
                set_header(headers, "openai-organization", org);
            }
            if let Some(project) = upstream.option("openai_project") {
                set_header(headers, "openai-project", project);
            }
            if let Some(beta) = upstream.option("openai_beta") {
                set_header(headers, "openai-beta", beta);
            }
        }
        Flavor::Azure => {
            if let Some(token) = upstream.option("azure_ad_token") {
                set_bearer(headers, token.strip_prefix("Bearer ").unwrap_or(token));
            } else if let Some(key) = &upstream.api_key
                && let Ok(mut v) = http::HeaderValue::from_str(key.expose())
            {
                v.set_sensitive(true);
                headers.insert(http::HeaderName::from_static("api-key"), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::find;
    use portcullis_core::Secret;
    use serde_json::json;

    fn up(slug: &str) -> Upstream {
        let mut u = Upstream::new(find(slug).unwrap());
        u.api_key = Some(Secret::new("sk-test"));
        u
    }

    fn obj(v: serde_json::Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn openai_compatible_providers_append_the_endpoint_to_their_base() {
        let body = obj(json!({"model": "llama", "messages": [], "stream": true}));
        let r = build(
            Flavor::Standard,
            Endpoint::ChatComplete,
            &body,
            None,
            &up("groq"),
        )
        .unwrap();
        assert_eq!(r.url, "https://api.groq.com/openai/v1/chat/completions");
        assert_eq!(r.headers["authorization"], "Bearer sk-test");
        assert!(r.headers["authorization"].is_sensitive());
        assert!(r.stream);
        let r = build(
            Flavor::Standard,
            Endpoint::Embed,
            &body,
            None,
            &up("ollama"),
        )
        .unwrap();
        assert_eq!(r.url, "http://localhost:11434/v1/embeddings");
    }

    #[test]
    fn pristine_bodies_are_sent_untouched() {
        let raw = Bytes::from_static(b"{\"model\":\"gpt-4o\",  \"messages\":[]}");
        let body = obj(json!({"model": "gpt-4o", "messages": []}));
        let r = build(
            Flavor::Standard,
            Endpoint::ChatComplete,
            &body,
            Some(&raw),
            &up("openai"),
        )
        .unwrap();
        assert_eq!(r.body, raw);
    }

    #[test]
    fn custom_host_replaces_the_base() {
        let mut u = up("openai");
        u.custom_host = Some("http://127.0.0.1:9000/v1/".into());
        let r = build(
            Flavor::Standard,
            Endpoint::Complete,
            &JsonObject::new(),
            None,
            &u,
        )
        .unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9000/v1/completions");
    }

    #[test]
    fn azure_builds_deployment_urls_and_api_key_auth() {
        let mut u = up("azure-openai");
        u.options = obj(
            json!({"resource_name": "res", "deployment_id": "gpt4o", "api_version": "2024-06-01"}),
        );
        let r = build(
            Flavor::Azure,
            Endpoint::ChatComplete,
            &JsonObject::new(),
            None,
            &u,
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(r.headers["api-key"], "sk-test");
        assert!(r.headers.get("authorization").is_none());
        u.options.insert("api_version".into(), json!("v1"));
        let r = build(
            Flavor::Azure,
            Endpoint::ChatComplete,
            &JsonObject::new(),
            None,
            &u,
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://res.openai.azure.com/openai/v1/chat/completions"
        );
    }

    #[test]
    fn azure_picks_the_catalog_deployment_for_the_model() {
        let mut u = up("azure-openai");
        u.options = obj(json!({"resource_name": "res", "azure_deployment_config": [
            {"azure_deployment_name": "d-mini", "azure_api_version": "2024-06-01", "azure_model_slug": "gpt-4o-mini"},
            {"azure_deployment_name": "d-4o", "azure_api_version": "2024-08-01", "is_default": true}]}));
        let body = obj(json!({"model": "gpt-4o-mini"}));
        let r = build(Flavor::Azure, Endpoint::ChatComplete, &body, None, &u).unwrap();
        assert!(
            r.url
                .ends_with("/deployments/d-mini/chat/completions?api-version=2024-06-01"),
            "{}",
            r.url
        );
        let body = obj(json!({"model": "other"}));
        let r = build(Flavor::Azure, Endpoint::ChatComplete, &body, None, &u).unwrap();
        assert!(
            r.url
                .ends_with("/deployments/d-4o/chat/completions?api-version=2024-08-01"),
            "{}",
            r.url
        );
    }

    #[test]
    fn azure_without_resource_is_a_client_error() {
        let u = up("azure-openai");
        let e = build(
            Flavor::Azure,
            Endpoint::ChatComplete,
            &JsonObject::new(),
            None,
            &u,
        )
        .unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(e.message().contains("resource"));
    }

    #[test]
    fn messages_are_not_spoken_natively() {
        let e = build(
            Flavor::Standard,
            Endpoint::Messages,
            &JsonObject::new(),
            None,
            &up("openai"),
        )
        .unwrap_err();
        assert!(e.is_gateway_exception());
    }
}
