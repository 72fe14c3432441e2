//! The provider-neutral answer (text, thinking, tool calls, usage) each wire format renders,
//! plus the deterministic synthetic values behind it (ids, token counts, embeddings).

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::script::{Reply, ToolCall};

/// The assistant text when nothing else is scripted.
pub(crate) const DEFAULT_CONTENT: &str =
    "Hello! This is a deterministic reply from the Portcullis mock provider.";
/// The thinking text emitted when reasoning tokens are scripted.
pub(crate) const THINKING: &str =
    "The user wants a short answer. Let me think it through step by step.";
/// Opaque signature closing an Anthropic thinking block.
pub(crate) const SIGNATURE: &str =
    "EqQBCkgIBhABGAIiQG1vY2stc2lnbmF0dXJlLWZvci10aGlua2luZy1ibG9jaw==";
/// Filler for `bytes=N` content.
const FILLER: &str =
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Total prompt tokens, including cached and cache-write tokens.
    pub prompt: u64,
    /// Total completion tokens, including reasoning tokens.
    pub completion: u64,
    pub cached: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt + self.completion
    }
}

pub(crate) struct Answer<'a> {
    /// `None` when the reply asks to omit the model.
    pub model: Option<&'a str>,
    pub text: Option<Cow<'a, str>>,
    pub thinking: Option<&'static str>,
    pub tools: &'a [ToolCall],
    /// Scripted finish reason in OpenAI terms; `None` means stop / tool calls as usual.
    pub finish: Option<&'a str>,
    pub usage: Usage,
    /// Pieces each streamed text / argument string is split into.
    pub chunks: usize,
    pub created: u64,
}

impl<'a> Answer<'a> {
    pub fn new(
        reply: &'a Reply,
        model: &'a str,
        request_len: usize,
        default_chunks: usize,
    ) -> Self {
        let text: Option<Cow<'a, str>> = match (&reply.content, reply.content_bytes) {
            (Some(c), _) => Some(Cow::Borrowed(c.as_str())),
            (None, Some(n)) => Some(Cow::Owned(filler(n))),
            (None, None) if reply.tool_calls.is_empty() => Some(Cow::Borrowed(DEFAULT_CONTENT)),
            (None, None) => None,
        };
        let reasoning = reply.reasoning_tokens.unwrap_or(0);
        let (prompt, completion) = reply.usage.unwrap_or_else(|| {
            let tool_len: usize = reply
                .tool_calls
                .iter()
                .map(|t| t.name.len() + t.arguments.len())
                .sum();
            let out = tokens(text.as_deref().map_or(0, str::len) + tool_len);
            (tokens(request_len), out + reasoning)
        });
        Self {
            model: (!reply.no_model).then_some(model),
            text,
            thinking: (reasoning > 0).then_some(THINKING),
            tools: &reply.tool_calls,
            finish: reply.finish_reason.as_deref(),
            usage: Usage {
                prompt,
                completion,
                cached: reply.cached_tokens.unwrap_or(0),
                cache_write: reply.cache_write_tokens.unwrap_or(0),
                reasoning,
            },
            chunks: reply.chunks.unwrap_or(default_chunks).max(1),
            created: now(),
        }
    }

    /// The finish reason in OpenAI terms.
    pub fn finish_reason(&self) -> &'a str {
        match self.finish {
            Some(f) => f,
            None if self.tools.is_empty() => "stop",
            None => "tool_calls",
        }
    }

    pub fn text_pieces(&self) -> Vec<&str> {
        pieces(self.text.as_deref().unwrap_or(""), self.chunks)
    }
}

/// The mock's tokenizer: a quarter token per byte, rounded up, at least one.
pub(crate) fn tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4).max(1)
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `n` bytes of ASCII filler (so truncating at any byte is a char boundary).
fn filler(n: usize) -> String {
    let mut s = FILLER.repeat(n / FILLER.len() + 1);
    s.truncate(n);
    s
}

/// Splits `s` into at most `n` non-empty pieces of near-equal length (at char boundaries);
/// an empty string yields one empty piece so a stream always has a content event.
pub(crate) fn pieces(s: &str, n: usize) -> Vec<&str> {
    let chars = s.chars().count();
    if chars == 0 {
        return vec![""];
    }
    let k = n.clamp(1, chars);
    let mut bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    bounds.push(s.len());
    (0..k)
        .map(|i| &s[bounds[i * chars / k]..bounds[(i + 1) * chars / k]])
        .collect()
}

/// A unique id such as `chatcmpl-3kTq…`: a process-random seed mixed with a counter, in base62.
pub(crate) fn id(prefix: &str, len: usize) -> String {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        splitmix(t ^ u64::from(std::process::id()).rotate_left(32))
    });
    let mut state = seed
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(prefix.len() + len);
    out.push_str(prefix);
    let mut word = 0u64;
    for i in 0..len {
        if i % 10 == 0 {
            state = splitmix(state);
            word = state;
        }
        out.push(char::from(ALPHABET[(word % 62) as usize]));
        word /= 62;
    }
    out
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A deterministic unit-length vector derived from `seed` (same input, same embedding).
pub(crate) fn embedding(seed: &[u8], dims: usize) -> Vec<f32> {
    // FNV-1a: tiny, stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut v: Vec<f64> = (0..dims)
        .map(|_| {
            h = splitmix(h);
            (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v.into_iter().map(|x| x as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_text() {
        let s = "héllo wörld";
        for n in 1..15 {
            let p = pieces(s, n);
            assert_eq!(p.concat(), s);
            assert_eq!(p.len(), n.min(s.chars().count()));
            assert!(p.iter().all(|x| !x.is_empty()));
        }
        assert_eq!(pieces("", 4), vec![""]);
    }

    #[test]
    fn ids_are_unique_and_sized() {
        let a = id("msg_", 24);
        let b = id("msg_", 24);
        assert_ne!(a, b);
        assert_eq!(a.len(), 28);
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding(b"hello", 8);
        assert_eq!(a, embedding(b"hello", 8));
        assert_ne!(a, embedding(b"world", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn default_usage_counts() {
        let reply = Reply::ok().reasoning_tokens(7);
        let a = Answer::new(&reply, "m", 10, 8);
        assert_eq!(a.usage.prompt, 3);
        assert_eq!(a.usage.completion, tokens(DEFAULT_CONTENT.len()) + 7);
        assert_eq!(a.thinking, Some(THINKING));
        let bytes = Reply::ok().bytes(1000);
        assert_eq!(Answer::new(&bytes, "m", 1, 8).text.unwrap().len(), 1000);
    }
}
