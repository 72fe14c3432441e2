//! Anthropic Messages clients served by any provider: Messages ⇄ OpenAI chat translation.
//!
//! Request: [`messages_to_chat`] turns a Messages body into a chat body (`request`; messages
//! in `content`, blocks in `parts`, tools in `tools`). Response: [`chat_to_message`] turns a
//! `chat.completion` into a Messages `message` (`response`). Streams: [`ChatToMessagesStream`]
//! turns `chat.completion.chunk` events into Messages events (`stream`), directly on an
//! OpenAI-family upstream or, through [`Chained`], behind another adapter's translator.
//! Anthropic targets never come here: `/v1/messages` is passed through natively for them.

mod chained;
mod content;
mod parts;
mod request;
mod response;
mod stream;
#[cfg(test)]
mod stream_tests;
mod tools;
mod wire;

pub use chained::Chained;
pub use request::{RequestOptions, messages_to_chat, messages_to_chat_with};
pub use response::chat_to_message;
pub use stream::ChatToMessagesStream;
