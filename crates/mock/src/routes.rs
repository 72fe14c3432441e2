//! Request routing by path suffix (any base-URL prefix works) and the JSON fields the mock reads.

use std::borrow::Cow;

use http::Method;
use serde::Deserialize;
use serde_json::Value;

/// Whose wire format a route speaks (and so whose error bodies it returns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    OpenAi,
    Anthropic,
    Gemini,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GeminiAction {
    Generate,
    Stream,
    Embed,
    BatchEmbed,
    CountTokens,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route<'p> {
    Chat,
    Completions,
    Embeddings,
    Models,
    /// `GET .../models/{id}`.
    Model(&'p str),
    Messages,
    CountTokens,
    /// `POST .../models/{model}:{action}`; `model` is still percent-encoded.
    Gemini {
        model: &'p str,
        action: GeminiAction,
    },
    Echo,
    Unknown,
}

impl Route<'_> {
    pub fn provider(&self) -> Provider {
        match self {
            Self::Messages | Self::CountTokens => Provider::Anthropic,
            Self::Gemini { .. } => Provider::Gemini,
            _ => Provider::OpenAi,
        }
    }

    /// Routes whose request body must be a JSON object.
    pub fn wants_json(&self) -> bool {
        !matches!(
            self,
            Self::Models | Self::Model(_) | Self::Echo | Self::Unknown
        )
    }
}

pub(crate) fn classify<'p>(method: &Method, path: &'p str) -> Route<'p> {
    if path.ends_with("/echo") {
        return Route::Echo;
    }
    let post = method == Method::POST;
    let get = method == Method::GET;
    // Gemini (and Vertex) put the model and an `:action` in the last segments.
    if let Some(at) = path.rfind("/models/") {
        let rest = &path[at + "/models/".len()..];
        if let Some((model, action)) = rest.rsplit_once(':') {
            let action = match action {
                "generateContent" => GeminiAction::Generate,
                "streamGenerateContent" => GeminiAction::Stream,
                "embedContent" => GeminiAction::Embed,
                "batchEmbedContents" => GeminiAction::BatchEmbed,
                "countTokens" => GeminiAction::CountTokens,
                _ => return Route::Unknown,
            };
            return if post && !model.is_empty() {
                Route::Gemini { model, action }
            } else {
                Route::Unknown
            };
        }
        if get && !rest.is_empty() {
            return Route::Model(rest);
        }
    }
    match () {
        _ if post && path.ends_with("/chat/completions") => Route::Chat,
        _ if post && path.ends_with("/messages/count_tokens") => Route::CountTokens,
        _ if post && path.ends_with("/messages") => Route::Messages,
        _ if post && path.ends_with("/completions") => Route::Completions,
        _ if post && path.ends_with("/embeddings") => Route::Embeddings,
        _ if get && path.ends_with("/models") => Route::Models,
        _ => Route::Unknown,
    }
}

/// Azure puts the deployment (standing in for the model) in the path:
/// `/openai/deployments/{deployment}/chat/completions`.
pub(crate) fn azure_deployment(path: &str) -> Option<&str> {
    let at = path.find("/deployments/")?;
    let rest = &path[at + "/deployments/".len()..];
    rest.split('/').next().filter(|d| !d.is_empty())
}

/// The request fields the mock looks at; everything else is skipped unparsed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Head<'a> {
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// OpenAI embeddings input (string, strings, tokens or token arrays).
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(borrow, default)]
    pub encoding_format: Option<Cow<'a, str>>,
    #[serde(default)]
    pub dimensions: Option<u32>,
    /// Gemini `embedContent`.
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default, rename = "outputDimensionality")]
    pub output_dimensionality: Option<u32>,
    /// Gemini `batchEmbedContents`.
    #[serde(default)]
    pub requests: Option<Vec<GeminiEmbedRequest>>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct GeminiEmbedRequest {
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default, rename = "outputDimensionality")]
    pub output_dimensionality: Option<u32>,
}

impl Head<'_> {
    pub fn streaming(&self) -> bool {
        self.stream == Some(true)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_suffix() {
        let post = Method::POST;
        assert_eq!(classify(&post, "/v1/chat/completions"), Route::Chat);
        assert_eq!(
            classify(&post, "/openai/deployments/gpt4/chat/completions"),
            Route::Chat
        );
        assert_eq!(classify(&post, "/v1/completions"), Route::Completions);
        assert_eq!(classify(&post, "/x/v1/messages"), Route::Messages);
        assert_eq!(
            classify(&post, "/v1/messages/count_tokens"),
            Route::CountTokens
        );
        assert_eq!(classify(&post, "/v1/embeddings"), Route::Embeddings);
        assert_eq!(classify(&Method::GET, "/v1/models"), Route::Models);
        assert_eq!(
            classify(&Method::GET, "/v1/models/gpt-4o"),
            Route::Model("gpt-4o")
        );
        assert_eq!(
            classify(
                &post,
                "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
            ),
            Route::Gemini {
                model: "gemini-2.0-flash",
                action: GeminiAction::Stream
            }
        );
        assert_eq!(classify(&Method::PUT, "/a/echo"), Route::Echo);
        assert_eq!(
            classify(&Method::GET, "/v1/chat/completions"),
            Route::Unknown
        );
        assert_eq!(classify(&post, "/v1beta/models/x:nope"), Route::Unknown);
    }

    #[test]
    fn azure_deployment_from_path() {
        assert_eq!(
            azure_deployment("/openai/deployments/my-gpt/chat/completions"),
            Some("my-gpt")
        );
        assert_eq!(azure_deployment("/v1/chat/completions"), None);
    }
}
