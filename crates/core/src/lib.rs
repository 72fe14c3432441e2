//! Shared vocabulary of the gateway: errors and their wire form, endpoints, SSE framing, secrets.

pub mod endpoint;
pub mod error;
pub mod limits;
pub mod secret;
pub mod sse;
pub mod usage;

pub use endpoint::Endpoint;
pub use error::{BodyStyle, ErrorCode, GatewayError, Retry, Side};
pub use secret::Secret;
pub use usage::Usage;

/// A JSON object, the shape of every request body the gateway translates.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;
