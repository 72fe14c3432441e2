//! A tiny deterministic generator for property tests (SplitMix64, fixed seeds): every run throws
//! the same inputs, so a failure names a reproducible case.

use serde_json::{Map, Number, Value, json};

pub struct Rng {
    state: u64,
    /// Keep numbers below 2^32, so sums of a few of them never overflow (set where a known
    /// overflow bug would otherwise mask everything else the generator could find).
    pub tame: bool,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: seed,
            tame: false,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True `percent`% of the time.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A string that never contains `+` (the mock reads `model+directive` as a script, and a
    /// random `+hang` would hang by design).
    pub fn string(&mut self, max: usize) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "-",
            "_",
            ".",
            "/",
            ":",
            "@",
            "\"",
            "\\",
            "\n",
            "\t",
            "\u{0}",
            "\u{7f}",
            "é",
            "中",
            "😀",
            "\u{202e}",
            "\u{feff}",
            "%",
            "%2B",
            "{",
            "}",
            "[",
            "]",
            "$",
            "'",
            "<",
            ">",
            "&",
            "?",
            "#",
            "=",
            "user",
            "assistant",
            "system",
            "tool",
            "function",
            "text",
            "image_url",
            "data:",
            "http://",
            "\r\n",
        ];
        let len = self.below(max + 1);
        (0..len).map(|_| *self.pick(PIECES)).collect()
    }

    pub fn number(&mut self) -> Value {
        let n = self.wild_number();
        match n.as_u64() {
            Some(big) if self.tame && big > u64::from(u32::MAX) => json!(big >> 32),
            _ => n,
        }
    }

    fn wild_number(&mut self) -> Value {
        match self.below(12) {
            0 => json!(0),
            1 => json!(-1),
            2 => json!(u64::MAX),
            3 => json!(i64::MIN),
            4 => json!(f64::MAX),
            5 => json!(f64::MIN_POSITIVE),
            6 => json!(-0.0),
            7 => json!(1.5),
            8 => json!(4096),
            9 => json!(2_147_483_648_u64),
            10 => Value::Number(Number::from(self.next_u64() >> self.below(64))),
            _ => Number::from_f64(
                (self.next_u64() as f64) * if self.chance(50) { -1e-3 } else { 1e3 },
            )
            .map_or(Value::Null, Value::Number),
        }
    }

    pub fn scalar(&mut self) -> Value {
        match self.below(5) {
            0 => Value::Null,
            1 => Value::Bool(self.chance(50)),
            2 => self.number(),
            _ => Value::String(self.string(12)),
        }
    }

    /// Any JSON value, at most `depth` levels deep.
    pub fn value(&mut self, depth: usize) -> Value {
        if depth == 0 || self.chance(40) {
            return self.scalar();
        }
        if self.chance(50) {
            let n = self.below(4);
            Value::Array((0..n).map(|_| self.value(depth - 1)).collect())
        } else {
            let n = self.below(4);
            let mut m = Map::new();
            for _ in 0..n {
                let key = if self.chance(60) {
                    (*self.pick(KNOWN_KEYS)).to_owned()
                } else {
                    self.string(6)
                };
                m.insert(key, self.value(depth - 1));
            }
            Value::Object(m)
        }
    }

    /// A value that is usually of the wrong type for whatever field it lands in.
    pub fn wrong(&mut self) -> Value {
        match self.below(8) {
            0 => json!({}),
            1 => json!([]),
            2 => json!([null]),
            3 => json!({"type": self.string(5)}),
            4 => json!([{"type": "text", "text": 5}]),
            _ => self.value(3),
        }
    }
}

/// Field names the translators look at, so random objects hit real code paths.
pub const KNOWN_KEYS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "name",
    "tools",
    "tool_choice",
    "tool_calls",
    "tool_call_id",
    "function",
    "functions",
    "function_call",
    "arguments",
    "parameters",
    "properties",
    "items",
    "required",
    "stream",
    "stream_options",
    "include_usage",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "n",
    "stop",
    "stop_sequences",
    "response_format",
    "json_schema",
    "schema",
    "image_url",
    "url",
    "detail",
    "input_audio",
    "file",
    "system",
    "thinking",
    "budget_tokens",
    "reasoning_effort",
    "metadata",
    "seed",
    "logprobs",
    "top_logprobs",
    "input",
    "dimensions",
    "encoding_format",
    "source",
    "media_type",
    "data",
    "id",
    "input_schema",
    "cache_control",
    "tool_use_id",
    "is_error",
    "signature",
    "modalities",
    "refusal",
    "audio",
    "$ref",
    "$defs",
    "anyOf",
    "enum",
];

/// The fields every chat-ish body may carry, for "wrong type in a known field" mutations.
pub const CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "response_format",
    "functions",
    "function_call",
    "logprobs",
    "top_logprobs",
    "seed",
    "thinking",
    "reasoning_effort",
    "system",
    "metadata",
    "modalities",
    "parallel_tool_calls",
    "user",
];

/// `open` × depth, `inner`, `close` × depth.
pub fn nest(open: &str, inner: &str, close: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

/// Raw bodies no `serde_json::Value` can express: nesting past the parser's limit, numbers out
/// of range, broken escapes, invalid UTF-8, duplicate keys, trailing garbage.
pub fn raw_bodies(model: &str) -> Vec<Vec<u8>> {
    let m = format!("\"model\":\"{model}\"");
    let msgs = r#""messages":[{"role":"user","content":"hi"}]"#;
    let mut out: Vec<Vec<u8>> = Vec::new();
    for depth in [100, 126, 127, 128, 129, 200, 5_000, 100_000] {
        out.push(format!("{{{m},{msgs},\"x\":{}}}", nest("[", "", "]", depth)).into_bytes());
        out.push(format!("{{{m},\"messages\":{}}}", nest("[", "", "]", depth)).into_bytes());
        out.push(
            format!(
                "{{{m},\"messages\":[{{\"role\":\"user\",\"content\":{}}}]}}",
                nest("{\"a\":", "1", "}", depth)
            )
            .into_bytes(),
        );
        out.push(
            format!(
                "{{{m},{msgs},\"tools\":[{{\"type\":\"function\",\"function\":{{\"name\":\"f\",\"parameters\":{}}}}}]}}",
                nest(
                    "{\"type\":\"object\",\"properties\":{\"p\":",
                    "{\"type\":\"string\"}",
                    "}}",
                    depth.min(63)
                )
            )
            .into_bytes(),
        );
    }
    for number in [
        "1e400",
        "-1e400",
        "1e-400",
        "123456789012345678901234567890123456789",
        "-9223372036854775809",
        "18446744073709551616",
        "1.7976931348623157e309",
        "0.0000000000000000000000000000000000000001",
        "-0",
        "1E+2",
        "01",
        "1.",
        ".5",
        "NaN",
        "Infinity",
        "0x10",
    ] {
        for field in [
            "max_tokens",
            "temperature",
            "n",
            "top_logprobs",
            "seed",
            "dimensions",
        ] {
            out.push(format!("{{{m},{msgs},\"{field}\":{number}}}").into_bytes());
        }
        out.push(
            format!("{{{m},\"messages\":[{{\"role\":\"user\",\"content\":{number}}}]}}")
                .into_bytes(),
        );
    }
    for text in [
        r"\ud800",
        r"\udc00",
        r"\ud800\u0041",
        r"\uDBFF\uDFFF",
        r"\uZZZZ",
        r"\u12",
        r"\x41",
        r"\'",
        r"\",
        "\u{0}",
        "\t\n",
    ] {
        out.push(
            format!("{{{m},\"messages\":[{{\"role\":\"user\",\"content\":\"{text}\"}}]}}")
                .into_bytes(),
        );
        out.push(format!("{{\"model\":\"{text}\",{msgs}}}").into_bytes());
        out.push(format!("{{{m},{msgs},\"{text}\":1}}").into_bytes());
    }
    for bytes in [
        &b"\xff\xfe"[..],
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\x80",
        b"\xe2\x82",
    ] {
        let mut b = format!("{{{m},\"messages\":[{{\"role\":\"user\",\"content\":\"").into_bytes();
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\"}]}");
        out.push(b);
    }
    // Duplicate keys: the last one wins in serde_json; the gateway must not see two models.
    out.push(format!("{{{m},{msgs},\"model\":{{\"x\":1}}}}").into_bytes());
    out.push(format!("{{{m},{msgs},\"messages\":\"hi\"}}").into_bytes());
    out.push(format!("{{{m},{msgs},\"stream\":true,\"stream\":\"yes\"}}").into_bytes());
    out.push(format!("{{{m},{msgs},\"stream\":false,\"stream\":true}}").into_bytes());
    // Framing oddities inside a well-formed HTTP body.
    out.push(format!("\u{feff}{{{m},{msgs}}}").into_bytes());
    out.push(format!("{{{m},{msgs}}}garbage").into_bytes());
    out.push(format!("{{{m},{msgs}}}{{{m},{msgs}}}").into_bytes());
    out.push(format!("{{{m},{msgs}}}\u{0}").into_bytes());
    out.push(format!("{{{m},{msgs},}}").into_bytes());
    out.push(b"{".to_vec());
    out.push(b"\"just a string\"".to_vec());
    out.push(b"null".to_vec());
    out.push(b"1e400".to_vec());
    out.push(vec![0u8; 64]);
    out.push(
        format!(
            "{{{m},\"messages\":[{}]}}",
            vec!["{\"role\":\"user\",\"content\":\"x\"}"; 20_000].join(",")
        )
        .into_bytes(),
    );
    out.push(
        format!(
            "{{{m},{msgs},\"stop\":[{}]}}",
            vec!["\"s\""; 50_000].join(",")
        )
        .into_bytes(),
    );
    out.push(format!("{{{m},{msgs},\"x\":\"{}\"}}", "a".repeat(2_000_000)).into_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// Upstream responses: plausible provider events with random values in every field.

/// `m!(rng, json)`: the value, or (a quarter of the time) anything at all. The value is built
/// before the generator is borrowed again.
macro_rules! m {
    ($rng:expr, $v:expr) => {{
        let good: Value = $v;
        $rng.maybe(good)
    }};
}

impl Rng {
    /// Usually the right type, sometimes anything.
    fn maybe(&mut self, good: Value) -> Value {
        if self.chance(75) { good } else { self.value(2) }
    }

    fn index(&mut self) -> Value {
        match self.below(8) {
            0 => json!(-1),
            1 => json!(if self.tame {
                u64::from(u32::MAX)
            } else {
                u64::MAX
            }),
            2 => json!(1_000_000),
            3 => json!("0"),
            4 => json!(1),
            _ => json!(0),
        }
    }

    fn usage_openai(&mut self) -> Value {
        let p = m!(self, json!(3));
        let c = m!(self, json!(5));
        let t = m!(self, json!(8));
        let pd = m!(self, json!({"cached_tokens": 1}));
        let cd = m!(self, json!({"reasoning_tokens": 1}));
        json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": t,
            "prompt_tokens_details": pd, "completion_tokens_details": cd})
    }

    fn openai_chunk(&mut self) -> Value {
        let index = self.index();
        let delta = match self.below(5) {
            0 => json!({"role": "assistant", "content": ""}),
            1 => {
                let c = m!(self, json!("hi "));
                json!({"content": c})
            }
            2 => {
                let id = m!(self, json!("call_1"));
                let name = m!(self, json!("f"));
                let args = m!(self, json!("{\"a\":"));
                let i = self.index();
                json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                    "function": {"name": name, "arguments": args}}]})
            }
            3 => {
                let args = m!(self, json!("1}"));
                let i = self.index();
                json!({"tool_calls": [{"index": i, "function": {"arguments": args}}]})
            }
            _ => {
                let r = m!(self, json!("hmm"));
                let refusal = self.scalar();
                json!({"reasoning_content": r, "refusal": refusal})
            }
        };
        let delta = m!(self, delta);
        let finish = if self.chance(30) {
            json!("stop")
        } else {
            Value::Null
        };
        let finish = m!(self, finish);
        let choices = m!(
            self,
            json!([{"index": index, "delta": delta, "finish_reason": finish}])
        );
        let id = m!(self, json!("chatcmpl-1"));
        let created = m!(self, json!(1));
        let model = m!(self, json!("gpt-4o"));
        let mut chunk = json!({"id": id, "object": "chat.completion.chunk", "created": created,
            "model": model, "choices": choices});
        if self.chance(20) {
            chunk["usage"] = self.usage_openai();
        }
        if self.chance(5) {
            let e = m!(self, json!({"message": "boom", "type": "server_error"}));
            chunk = json!({ "error": e });
        }
        chunk
    }

    fn anthropic_event(&mut self) -> (String, Value) {
        let index = self.index();
        let (name, data) = match self.below(9) {
            0 => {
                let model = m!(self, json!("claude"));
                let i = m!(self, json!(3));
                let o = m!(self, json!(1));
                let c = m!(self, json!(0));
                let usage = m!(
                    self,
                    json!({"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": c})
                );
                let message = m!(
                    self,
                    json!({"id": "msg_1", "type": "message", "role": "assistant",
                    "model": model, "content": [], "stop_reason": null, "usage": usage})
                );
                (
                    "message_start",
                    json!({"type": "message_start", "message": message}),
                )
            }
            1 => {
                let a = m!(self, json!(""));
                let b = m!(self, json!("toolu_1"));
                let c = m!(self, json!("f"));
                let d = m!(self, json!({}));
                let block = match self.below(5) {
                    0 => json!({"type": "text", "text": a}),
                    1 => json!({"type": "tool_use", "id": b, "name": c, "input": d}),
                    2 => json!({"type": "thinking", "thinking": a}),
                    3 => json!({"type": "redacted_thinking", "data": b}),
                    _ => json!({"type": self.string(6)}),
                };
                let block = m!(self, block);
                (
                    "content_block_start",
                    json!({"type": "content_block_start", "index": index, "content_block": block}),
                )
            }
            2 | 3 => {
                let a = m!(self, json!("hi "));
                let b = m!(self, json!("{\"a\":1"));
                let delta = match self.below(5) {
                    0 => json!({"type": "text_delta", "text": a}),
                    1 => json!({"type": "input_json_delta", "partial_json": b}),
                    2 => json!({"type": "thinking_delta", "thinking": a}),
                    3 => json!({"type": "signature_delta", "signature": a}),
                    _ => json!({"type": self.string(6)}),
                };
                let delta = m!(self, delta);
                (
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index, "delta": delta}),
                )
            }
            4 => (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ),
            5 => {
                let reason = m!(self, json!("end_turn"));
                let delta = m!(self, json!({"stop_reason": reason, "stop_sequence": null}));
                let out = m!(self, json!(7));
                let usage = m!(self, json!({"output_tokens": out}));
                (
                    "message_delta",
                    json!({"type": "message_delta", "delta": delta, "usage": usage}),
                )
            }
            6 => ("message_stop", json!({"type": "message_stop"})),
            7 => ("ping", json!({"type": "ping"})),
            _ => {
                let e = m!(
                    self,
                    json!({"type": "overloaded_error", "message": "Overloaded"})
                );
                ("error", json!({"type": "error", "error": e}))
            }
        };
        (name.to_owned(), data)
    }

    fn gemini_event(&mut self) -> Value {
        let a = m!(self, json!("hi "));
        let t = m!(self, json!(true));
        let name = m!(self, json!("f"));
        let args = m!(self, json!({"a": 1}));
        let part = match self.below(5) {
            0 => json!({ "text": a }),
            1 => m!(self, json!({"functionCall": {"name": name, "args": args}})),
            2 => json!({"text": a, "thought": t}),
            3 => m!(
                self,
                json!({"inlineData": {"mimeType": "image/png", "data": "AAAA"}})
            ),
            _ => self.value(2),
        };
        let parts = m!(self, json!([part]));
        let content = m!(self, json!({"role": "model", "parts": parts}));
        let finish = if self.chance(30) {
            json!("STOP")
        } else {
            Value::Null
        };
        let finish = m!(self, finish);
        let index = self.index();
        let candidates = m!(
            self,
            json!([{"index": index, "content": content, "finishReason": finish}])
        );
        let model = m!(self, json!("gemini-2.0-flash"));
        let id = m!(self, json!("r1"));
        let mut ev = json!({"candidates": candidates, "modelVersion": model, "responseId": id});
        if self.chance(25) {
            let p = m!(self, json!(3));
            let c = m!(self, json!(4));
            let t = m!(self, json!(7));
            let r = m!(self, json!(1));
            ev["usageMetadata"] = m!(
                self,
                json!({"promptTokenCount": p, "candidatesTokenCount": c,
                "totalTokenCount": t, "thoughtsTokenCount": r})
            );
        }
        if self.chance(5) {
            let r = m!(self, json!("SAFETY"));
            ev = json!({"promptFeedback": {"blockReason": r}});
        }
        if self.chance(5) {
            let e = m!(
                self,
                json!({"code": 500, "message": "boom", "status": "INTERNAL"})
            );
            ev = json!({ "error": e });
        }
        ev
    }

    /// One raw SSE frame: usually well-formed, sometimes broken in the ways real proxies break.
    fn frame(&mut self, event: Option<&str>, data: &str, out: &mut String) {
        let nl = if self.chance(10) { "\r\n" } else { "\n" };
        match self.below(30) {
            0 => out.push_str(&format!(": keep-alive{nl}{nl}")),
            1 => {
                let half: String = data.chars().take(data.chars().count() / 2).collect();
                out.push_str(&format!("data: {half}{nl}{nl}"));
            }
            2 => {
                let junk = self.string(10).replace(['\r', '\n'], " ");
                out.push_str(&format!("data: {junk}{nl}{nl}"));
            }
            3 => out.push_str(&format!("retry: 10{nl}id: 7{nl}")),
            _ => {}
        }
        if let Some(name) = event {
            out.push_str(&format!("event: {name}{nl}"));
        }
        out.push_str(&format!("data: {data}{nl}{nl}"));
    }

    /// A whole provider stream (`family`: openai, anthropic or google).
    pub fn upstream_stream(&mut self, family: &str) -> String {
        let mut out = String::new();
        let n = 1 + self.below(8);
        for _ in 0..n {
            match family {
                "anthropic" => {
                    let (name, data) = self.anthropic_event();
                    self.frame(Some(&name), &data.to_string(), &mut out);
                }
                "google" => {
                    let data = self.gemini_event().to_string();
                    self.frame(None, &data, &mut out);
                }
                _ => {
                    let data = self.openai_chunk().to_string();
                    self.frame(None, &data, &mut out);
                }
            }
        }
        if family == "openai" && self.chance(60) {
            out.push_str("data: [DONE]\n\n");
        }
        if self.chance(10) {
            // A final frame with no blank line after it.
            out.push_str("data: {\"x\":1}");
        }
        out
    }

    /// A whole non-streamed provider body with random values in its fields.
    pub fn upstream_body(&mut self, family: &str) -> Value {
        match family {
            "anthropic" => {
                let text = m!(self, json!("hi"));
                let id = m!(self, json!("t1"));
                let name = m!(self, json!("f"));
                let input = m!(self, json!({"a": 1}));
                let sig = m!(self, json!("s"));
                let other = self.value(2);
                let content = m!(
                    self,
                    json!([
                        {"type": "text", "text": text},
                        {"type": "tool_use", "id": id, "name": name, "input": input},
                        {"type": "thinking", "thinking": text, "signature": sig},
                        other,
                    ])
                );
                let model = m!(self, json!("claude"));
                let kind = m!(self, json!("message"));
                let stop = m!(self, json!("end_turn"));
                let i = m!(self, json!(1));
                let o = m!(self, json!(2));
                let usage = m!(self, json!({"input_tokens": i, "output_tokens": o}));
                json!({"id": "msg_1", "type": kind, "role": "assistant", "model": model,
                    "content": content, "stop_reason": stop, "usage": usage})
            }
            "google" => {
                let mut ev = self.gemini_event();
                if self.chance(50) && ev["candidates"][0].is_object() {
                    ev["candidates"][0]["finishReason"] = json!("STOP");
                }
                ev
            }
            _ => {
                let content = m!(self, json!("hi"));
                let id = m!(self, json!("c1"));
                let name = m!(self, json!("f"));
                let args = m!(self, json!("{}"));
                let function = m!(self, json!({"name": name, "arguments": args}));
                let calls = m!(
                    self,
                    json!([{"id": id, "type": "function", "function": function}])
                );
                let message = m!(
                    self,
                    json!({"role": "assistant", "content": content, "tool_calls": calls})
                );
                let finish = m!(self, json!("stop"));
                let index = self.index();
                let choices = m!(
                    self,
                    json!([{"index": index, "message": message, "finish_reason": finish}])
                );
                let model = m!(self, json!("gpt-4o"));
                let usage = self.usage_openai();
                json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                    "choices": choices, "usage": usage})
            }
        }
    }
}

/// JSON text with every non-ASCII character escaped (`\uXXXX`), so it fits a header value.
pub fn ascii_json(v: &Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}
