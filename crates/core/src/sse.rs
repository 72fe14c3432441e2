//! Server-sent events: an incremental decoder that accepts any byte split, and frame writers.
//!
//! The decoder follows the WHATWG event-stream rules: `\n`, `\r\n` and `\r` end lines, lines
//! starting with `:` are comments (keep-alives), `data:` lines of one event are joined with
//! `\n`, and a blank line dispatches the event.

use bytes::Bytes;

/// The terminal frame of an OpenAI-style stream.
pub const DONE_FRAME: &[u8] = b"data: [DONE]\n\n";

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any (Anthropic names every event; OpenAI names none).
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: Bytes,
}

impl SseEvent {
    pub fn is_done(&self) -> bool {
        self.data.as_ref() == b"[DONE]"
    }

    pub fn data_str(&self) -> &str {
        std::str::from_utf8(&self.data).unwrap_or("")
    }
}

/// An event grew past the decoder's bound: the stream is malformed or hostile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server-sent event exceeds {limit} bytes")]
pub struct SseTooLarge {
    pub limit: usize,
}

/// Incremental SSE decoder. Feed it byte chunks as they arrive; it yields complete events.
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    event: Option<String>,
    data: Vec<u8>,
    has_data: bool,
    /// The previous chunk ended in `\r`: a leading `\n` in the next one belongs to it.
    skip_lf: bool,
    limit: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new(16 * 1024 * 1024)
    }
}

impl SseDecoder {
    /// A decoder that refuses events (and lines) larger than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            line: Vec::new(),
            event: None,
            data: Vec::new(),
            has_data: false,
            skip_lf: false,
            limit,
        }
    }

    /// Consumes `chunk`, pushing every event it completes onto `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseTooLarge> {
        if self.skip_lf {
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
            if !chunk.is_empty() {
                self.skip_lf = false;
            }
        }
        while let Some(i) = memchr::memchr2(b'\n', b'\r', chunk) {
            let (head, tail) = chunk.split_at(i);
            let ended_by_cr = tail[0] == b'\r';
            chunk = &tail[1..];
            if ended_by_cr {
                match chunk.first() {
                    Some(b'\n') => chunk = &chunk[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if self.line.is_empty() {
                self.process_line_owned(head, out)?;
            } else {
                self.line.extend_from_slice(head);
                let line = std::mem::take(&mut self.line);
                self.process_line_owned(&line, out)?;
                self.line = line;
                self.line.clear();
            }
        }
        if self.line.len() + chunk.len() > self.limit {
            return Err(SseTooLarge { limit: self.limit });
        }
        self.line.extend_from_slice(chunk);
        Ok(())
    }

    /// Ends the stream: an event not yet terminated by a blank line is still delivered.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseTooLarge> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line_owned(&line, out)?;
        }
        self.dispatch(out);
        Ok(())
    }

    fn process_line_owned(
        &mut self,
        line: &[u8],
        out: &mut Vec<SseEvent>,
    ) -> Result<(), SseTooLarge> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.limit {
                    return Err(SseTooLarge { limit: self.limit });
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: Bytes::from(std::mem::take(&mut self.data)),
            });
        } else if self.event.is_some() {
            // An event with a name but no data still marks a boundary (Anthropic never does this,
            // but a named empty event must not leak its name into the next one).
            self.event = None;
        }
        self.has_data = false;
    }
}

/// Writes `data: <payload>\n\n`.
pub fn data_frame(payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 8);
    push_data_frame(&mut out, payload);
    Bytes::from(out)
}

/// Appends `data: <payload>\n\n` to `out`.
pub fn push_data_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\n\n");
}

/// Appends `event: <name>\ndata: <payload>\n\n` to `out`.
pub fn push_event_frame(out: &mut Vec<u8>, event: &str, payload: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\n");
    push_data_frame(out, payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::default();
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        out
    }

    const TRANSCRIPT: &[u8] = b": keep-alive\n\nevent: message_start\ndata: {\"a\":1}\n\n\
data: line1\ndata: line2\r\n\r\ndata:{\"b\":2}\r\rdata: [DONE]\n\n";

    #[test]
    fn decodes_names_comments_multiline_and_every_line_ending() {
        let evs = decode_all(&[TRANSCRIPT]);
        assert_eq!(evs.len(), 4);
        assert_eq!(evs[0].event.as_deref(), Some("message_start"));
        assert_eq!(evs[0].data_str(), "{\"a\":1}");
        assert_eq!(evs[1].event, None);
        assert_eq!(evs[1].data_str(), "line1\nline2");
        assert_eq!(evs[2].data_str(), "{\"b\":2}");
        assert!(evs[3].is_done());
    }

    #[test]
    fn delivers_an_unterminated_last_event() {
        let evs = decode_all(&[b"data: {\"x\":1}"]);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data_str(), "{\"x\":1}");
    }

    #[test]
    fn refuses_unbounded_events() {
        let mut d = SseDecoder::new(64);
        let mut out = Vec::new();
        let big = vec![b'a'; 100];
        assert!(d.feed(b"data: ", &mut out).is_ok());
        assert!(d.feed(&big, &mut out).is_err());
    }

    proptest! {
        #[test]
        fn any_split_decodes_the_same(cuts in proptest::collection::vec(0usize..TRANSCRIPT.len(), 0..12)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            cuts.dedup();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts {
                chunks.push(&TRANSCRIPT[prev..c]);
                prev = c;
            }
            chunks.push(&TRANSCRIPT[prev..]);
            prop_assert_eq!(decode_all(&chunks), decode_all(&[TRANSCRIPT]));
        }
    }
}
