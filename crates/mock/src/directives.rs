//! Model-name directives (`gpt-4o+status=429+retry_after=1`): scripting for out-of-process clients.
//!
//! Grammar: `MODEL ("+" NAME ["=" VALUE])*`. Values are percent-decoded. Names:
//! `status=N retry_after=S delay_ms=N chunks=N chunk_delay_ms=N drop_after=N error_after=N
//! stall_after=N malformed hang no_model tool=NAME args=JSON content=TEXT bytes=N usage=P,C
//! cached=N cache_write=N reasoning=N finish=REASON`. `args` sets the arguments of the preceding `tool`.

use std::borrow::Cow;
use std::time::Duration;

use crate::script::{Reply, ToolCall};

/// Splits `raw` into the model to echo back and the reply its directives script, if any.
/// The error names the offending directive.
pub(crate) fn parse(raw: &str) -> Result<(&str, Option<Reply>), String> {
    let Some((model, rest)) = raw.split_once('+') else {
        return Ok((raw, None));
    };
    let mut reply = Reply::default();
    for directive in rest.split('+') {
        apply(&mut reply, directive)?;
    }
    Ok((model, Some(reply)))
}

fn apply(reply: &mut Reply, directive: &str) -> Result<(), String> {
    let (name, value) = match directive.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (directive, None),
    };
    let bad = |why: &str| format!("mock: bad model directive `{directive}`: {why}");
    let need = || value.ok_or_else(|| bad("missing `=value`"));
    let num = || -> Result<u64, String> {
        need()?
            .parse::<u64>()
            .map_err(|_| bad("expected a non-negative integer"))
    };
    let count = || num().and_then(|n| usize::try_from(n).map_err(|_| bad("too large")));
    let flag = || match value {
        None => Ok(()),
        Some(_) => Err(bad("takes no value")),
    };
    match name {
        "status" => {
            let code = num()?;
            if !(200..=999).contains(&code) {
                return Err(bad("status must be 200..=999"));
            }
            reply.status = Some(code as u16);
        }
        "retry_after" => reply.retry_after = Some(num()?),
        "delay_ms" => reply.delay = Some(Duration::from_millis(num()?)),
        "chunks" => {
            let n = count()?;
            if n == 0 {
                return Err(bad("chunks must be at least 1"));
            }
            reply.chunks = Some(n);
        }
        "chunk_delay_ms" => reply.chunk_delay = Some(Duration::from_millis(num()?)),
        "drop_after" => reply.drop_after = Some(count()?),
        "error_after" => reply.error_after = Some(count()?),
        "stall_after" => reply.stall_after = Some(count()?),
        "malformed" => {
            flag()?;
            reply.malformed = true;
        }
        "hang" => {
            flag()?;
            reply.hang = true;
        }
        "no_model" => {
            flag()?;
            reply.no_model = true;
        }
        "tool" => reply.tool_calls.push(ToolCall {
            name: percent_decode(need()?).into_owned(),
            arguments: "{}".to_owned(),
        }),
        "args" => {
            let args = percent_decode(need()?).into_owned();
            let last = reply
                .tool_calls
                .last_mut()
                .ok_or_else(|| bad("`args` must follow `tool=NAME`"))?;
            last.arguments = args;
        }
        "content" => reply.content = Some(percent_decode(need()?).into_owned()),
        "bytes" => reply.content_bytes = Some(count()?),
        "usage" => {
            let v = need()?;
            let parsed = v
                .split_once(',')
                .and_then(|(p, c)| Some((p.parse().ok()?, c.parse().ok()?)));
            reply.usage = Some(parsed.ok_or_else(|| bad("expected usage=PROMPT,COMPLETION"))?);
        }
        "finish" => reply.finish_reason = Some(percent_decode(need()?).into_owned()),
        "cached" => reply.cached_tokens = Some(num()?),
        "cache_write" => reply.cache_write_tokens = Some(num()?),
        "reasoning" => reply.reasoning_tokens = Some(num()?),
        _ => return Err(bad("unknown directive")),
    }
    Ok(())
}

/// Decodes `%XX` escapes; malformed escapes and invalid UTF-8 are kept literally / lossily,
/// because a directive value is test input, not something to reject over encoding nits.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_model_has_no_reply() {
        assert_eq!(parse("gpt-4o").unwrap(), ("gpt-4o", None));
    }

    #[test]
    fn directives_build_a_reply() {
        let (model, reply) =
            parse("gpt-4o-mini+status=429+retry_after=1+content=hello%20world+no_model").unwrap();
        let reply = reply.unwrap();
        assert_eq!(model, "gpt-4o-mini");
        assert_eq!(reply.status, Some(429));
        assert_eq!(reply.retry_after, Some(1));
        assert_eq!(reply.content.as_deref(), Some("hello world"));
        assert!(reply.no_model);
    }

    #[test]
    fn tool_args_and_usage() {
        let (_, reply) =
            parse("m+tool=get_weather+args=%7B%22city%22%3A%22Paris%22%7D+usage=10,5").unwrap();
        let reply = reply.unwrap();
        assert_eq!(reply.tool_calls[0].name, "get_weather");
        assert_eq!(reply.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(reply.usage, Some((10, 5)));
    }

    #[test]
    fn bad_directives_are_errors() {
        for bad in [
            "m+nope",
            "m+status=abc",
            "m+status=99",
            "m+hang=1",
            "m+args=x",
            "m+chunks=0",
            "m+usage=1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_decoding_tolerates_garbage() {
        assert_eq!(percent_decode("a%2Bb"), "a+b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
