//! OpenAI-format responses: usually forwarded byte for byte; `model` filled in when missing.

use bytes::Bytes;
use portcullis_core::usage::OpenAiUsageWire;
use portcullis_core::{Endpoint, GatewayError, Usage};
use serde::Deserialize;
use serde_json::Value;

use crate::adapter::{ResponseCtx, Translated};
use crate::common::{invalid_response, to_bytes};

/// The few fields the gateway reads; serde skips the rest without allocating.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    model: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    usage: Option<OpenAiUsageWire>,
}

pub(super) fn translate(body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
    if ctx.endpoint == Endpoint::Models {
        return Ok(Translated {
            body: Bytes::copy_from_slice(body),
            usage: None,
            model: None,
        });
    }
    let peek: Peek<'_> =
        serde_json::from_slice(body).map_err(|_| invalid_response(&ctx.provider, body))?;
    let usage = peek.usage.as_ref().map(Usage::from);
    match peek.model.as_deref() {
        Some(m) if !m.is_empty() => Ok(Translated {
            body: Bytes::copy_from_slice(body),
            usage,
            model: Some(m.to_owned()),
        }),
        _ => {
            let mut v: Value =
                serde_json::from_slice(body).map_err(|_| invalid_response(&ctx.provider, body))?;
            let Some(obj) = v.as_object_mut() else {
                return Err(invalid_response(&ctx.provider, body));
            };
            obj.insert("model".into(), Value::String(ctx.model.clone()));
            Ok(Translated {
                body: to_bytes(&v),
                usage,
                model: Some(ctx.model.clone()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ResponseCtx {
        ResponseCtx {
            endpoint: Endpoint::ChatComplete,
            provider: "groq".into(),
            model: "llama-3".into(),
            strict: true,
            include_usage: false,
            created: 1,
        }
    }

    #[test]
    fn forwards_complete_bodies_untouched() {
        let body = br#"{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7},"extra":{"x":1}}"#;
        let t = translate(body, &ctx()).unwrap();
        assert_eq!(t.body.as_ref(), body);
        assert_eq!(t.usage.unwrap().total_tokens, 7);
    }

    #[test]
    fn fills_in_a_missing_model() {
        let t = translate(br#"{"id":"c1","model":"","choices":[]}"#, &ctx()).unwrap();
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(v["model"], "llama-3");
        let t = translate(br#"{"id":"c1","choices":[]}"#, &ctx()).unwrap();
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(v["model"], "llama-3");
        assert_eq!(v["id"], "c1");
    }

    #[test]
    fn non_json_is_an_invalid_response() {
        let e = translate(b"<html>oops</html>", &ctx()).unwrap_err();
        assert_eq!(e.status().as_u16(), 502);
        assert!(
            e.message()
                .starts_with("Invalid response received from groq")
        );
    }
}
