//! The inference endpoints the gateway understands, named as Portkey names them.

use std::fmt;

/// Which API a request targets. Passthrough (`Proxy`) carries no translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    ChatComplete,
    Complete,
    Embed,
    Messages,
    MessagesCountTokens,
    Models,
    Proxy,
}

impl Endpoint {
    /// Portkey's internal endpoint id (`fn`), used in messages and conditional routing.
    pub fn portkey_id(self) -> &'static str {
        match self {
            Endpoint::ChatComplete => "chatComplete",
            Endpoint::Complete => "complete",
            Endpoint::Embed => "embed",
            Endpoint::Messages => "messages",
            Endpoint::MessagesCountTokens => "messagesCountTokens",
            Endpoint::Models => "listModels",
            Endpoint::Proxy => "proxy",
        }
    }

    /// Whether the body is JSON that the gateway parses (as opposed to streamed through).
    pub fn has_json_body(self) -> bool {
        !matches!(self, Endpoint::Proxy | Endpoint::Models)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.portkey_id())
    }
}
