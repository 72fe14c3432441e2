//! A streamed response as its log record keeps it: the response the client would have received
//! without `stream` (one message with its text, reasoning, tool calls, finish reason and usage).
//!
//! Keeping the assembled response instead of the event transcript makes the record readable, and
//! holds the response's text and a few fields per stream instead of every chunk's envelope (the
//! transcript of a 50-chunk stream took about 18 KiB). A translator that already parses each chunk folds it in as it goes
//! ([`Assembler::openai_chunk`]); otherwise the client-facing frames are read back
//! ([`Assembler::feed`]). Those frames are the gateway's own output, already checked on their way
//! through, so an event that does not parse is rare; it is kept verbatim (within the cap) so
//! nothing is silently lost.

mod anthropic;
mod openai;

use portcullis_core::Endpoint;
use portcullis_core::sse::{SseDecoder, SseEvent};
use serde::Serialize;
use serde_json::Value;

pub use openai::Chunk as OpenAiChunk;

/// The largest single event read: larger ones end the assembly (the record says so).
const MAX_EVENT: usize = 4 * 1024 * 1024;
/// What each new choice or tool call is counted as against the cap (at least).
const ENTRY_COST: usize = 64;

/// The streaming wire formats the gateway answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// OpenAI chat completion chunks (`chat.completion.chunk`).
    OpenAiChat,
    /// OpenAI legacy completion chunks (`choices[].text`).
    OpenAiText,
    /// Anthropic Messages events (`message_start` … `message_stop`).
    Anthropic,
}

impl StreamFormat {
    /// The format a stream on `endpoint` is answered in, if it streams.
    pub fn of(endpoint: Endpoint) -> Option<StreamFormat> {
        match endpoint {
            Endpoint::ChatComplete => Some(StreamFormat::OpenAiChat),
            Endpoint::Complete => Some(StreamFormat::OpenAiText),
            Endpoint::Messages => Some(StreamFormat::Anthropic),
            _ => None,
        }
    }

    pub fn is_openai(self) -> bool {
        matches!(self, StreamFormat::OpenAiChat | StreamFormat::OpenAiText)
    }
}

/// Text kept so far against the cap: past it, text is dropped and the record says it was cut.
struct Budget {
    left: usize,
    cut: bool,
}

impl Budget {
    /// Appends what fits of `s` to `out`.
    fn push(&mut self, out: &mut String, s: &str) {
        if s.len() <= self.left {
            out.push_str(s);
            self.left -= s.len();
            return;
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(&s[..end]);
        self.left = 0;
        self.cut = true;
    }

    /// Charges a new entry; false (and cut) when the cap has no room for it.
    fn entry(&mut self) -> bool {
        self.charge(ENTRY_COST)
    }

    /// Charges `n` bytes kept whole (a JSON value from an event); false (and cut) when the cap
    /// has no room for them.
    fn charge(&mut self, n: usize) -> bool {
        if self.left < n {
            self.cut = true;
            return false;
        }
        self.left -= n;
        true
    }
}

enum State {
    OpenAi(openai::Chunks),
    Anthropic(anthropic::Events),
}

/// Builds a stream's response from its frames, within `cap` bytes of text.
pub struct Assembler {
    decoder: SseDecoder,
    events: Vec<SseEvent>,
    state: State,
    budget: Budget,
    /// Events that did not parse, verbatim (within the budget).
    unparsed: Vec<String>,
    /// The decoder refused an event (larger than [`MAX_EVENT`]): nothing after it is read.
    broken: bool,
    saw_event: bool,
}

impl Assembler {
    pub fn new(format: StreamFormat, cap: usize) -> Assembler {
        let state = match format {
            StreamFormat::OpenAiChat => State::OpenAi(openai::Chunks::new(false)),
            StreamFormat::OpenAiText => State::OpenAi(openai::Chunks::new(true)),
            StreamFormat::Anthropic => State::Anthropic(anthropic::Events::default()),
        };
        Assembler {
            decoder: SseDecoder::new(MAX_EVENT),
            events: Vec::new(),
            state,
            budget: Budget {
                left: cap,
                cut: false,
            },
            unparsed: Vec::new(),
            broken: false,
            saw_event: false,
        }
    }

    /// Folds in a chunk its translator parsed (an OpenAI-format stream; ignored otherwise).
    pub fn openai_chunk(&mut self, chunk: OpenAiChunk<'_>) {
        if let State::OpenAi(c) = &mut self.state {
            self.saw_event = true;
            c.fold(chunk, &mut self.budget);
        }
    }

    /// Reads the next bytes sent to the client.
    pub fn feed(&mut self, data: &[u8]) {
        if self.broken {
            return;
        }
        if self.decoder.feed(data, &mut self.events).is_err() {
            self.broken = true;
        }
        self.take_events();
    }

    fn take_events(&mut self) {
        for ev in self.events.drain(..) {
            self.saw_event = true;
            let ok = match &mut self.state {
                State::OpenAi(c) => c.event(&ev, &mut self.budget),
                State::Anthropic(e) => e.event(&ev, &mut self.budget),
            };
            if !ok {
                let mut kept = String::new();
                self.budget.push(&mut kept, ev.data_str());
                if !kept.is_empty() {
                    self.unparsed.push(kept);
                }
            }
        }
    }

    /// The assembled response as JSON text; `None` when nothing was sent.
    pub fn finish(mut self) -> Option<Vec<u8>> {
        if !self.broken && self.decoder.finish(&mut self.events).is_ok() {
            self.take_events();
        }
        if !self.saw_event {
            return None;
        }
        let notes = Notes {
            truncated: self.budget.cut,
            note: self.broken.then(|| {
                format!(
                    "an event larger than {MAX_EVENT} bytes ended the record's copy of this stream"
                )
            }),
            unparsed: self.unparsed,
        };
        match self.state {
            State::OpenAi(c) => c.into_json(&notes),
            State::Anthropic(e) => {
                let mut out = e.response();
                if let Ok(Value::Object(n)) = serde_json::to_value(&notes) {
                    out.extend(n);
                }
                serde_json::to_vec(&Value::Object(out)).ok()
            }
        }
    }
}

/// What assembling could not keep, said in the record (gateway fields, never a provider's).
#[derive(Serialize)]
struct Notes {
    #[serde(
        rename = "portcullis_truncated",
        skip_serializing_if = "std::ops::Not::not"
    )]
    truncated: bool,
    #[serde(rename = "portcullis_note", skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(
        rename = "portcullis_unparsed_events",
        skip_serializing_if = "Vec::is_empty"
    )]
    unparsed: Vec<String>,
}

#[cfg(test)]
mod tests;
