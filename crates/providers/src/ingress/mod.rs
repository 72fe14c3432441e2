//! Client formats other than OpenAI's, translated to and from the canonical chat format.
//!
//! The engine speaks OpenAI chat to every adapter. A client that speaks another API (today:
//! Anthropic's Messages API on `POST /v1/messages`) is served by translating its request into
//! an OpenAI chat body before the adapter runs, and the adapter's OpenAI output (body or
//! chunk stream) back into the client's format afterwards. Everything here is pure: no IO.

pub mod anthropic;
