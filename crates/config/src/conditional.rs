//! Portkey's conditional-router query language, parsed once per config and evaluated per request.
//!
//! Semantics follow Portkey's `src/services/conditionalRouter.ts` (compat reference §4.2):
//!
//! * Keys are dotted paths into the context `{metadata, params, url: {pathname}}`. Portkey
//!   resolves only the first two segments (`metadata.x`, `params.model`, `url.pathname`) and
//!   silently ignores the rest, so `params.metadata.tier` compares the whole `params.metadata`
//!   object — which can never equal a bare value. We walk the extra segments instead (objects by
//!   key, arrays by decimal index), so `params.metadata.tier` reaches the nested value. Two-segment
//!   keys behave exactly as in Portkey. A key with no dot resolves to nothing (Portkey would look
//!   up a member literally named `"undefined"`).
//! * A bare value is JavaScript strict equality (`===`): same type and value, numbers compared as
//!   f64, objects and arrays never equal (JS compares them by identity). The same holds for
//!   `$eq`, `$ne`, `$in` and `$nin`.
//! * `$gt $gte $lt $lte` apply JS `parseFloat` to both sides; NaN makes the comparison false.
//! * `$in` / `$nin` with a non-array operand are both false (Portkey's code returns false for
//!   either, not the "negated" true one might expect for `$nin`).
//! * `$regex` returns at once, so operators after it in the same object are ignored (Portkey's
//!   `return regex.test(value)`). Patterns use the Rust `regex` syntax: look-around and
//!   back-references make a pattern invalid, and an invalid pattern evaluates to false (as a
//!   JS `SyntaxError` does in Portkey). Unlike Portkey, which stringifies the subject (so a
//!   missing key matches `/undefined/`), only string subjects can match.
//! * `$length` (newer Portkey): the subject must be an array; the operand is a count or an
//!   operator object applied to the length.
//! * An `$and` / `$or` key whose value is an array decides the whole enclosing object: keys
//!   before it must already have matched, keys after it are never looked at (Portkey returns the
//!   `every`/`some` result from inside its loop). With a non-array value the key is an ordinary
//!   (unresolvable) path. Keys are visited in JS `Object.entries` order (array-index keys such
//!   as `"7"` first), which is what decides what such a cut-off skips.
//! * Unknown operators are rejected at parse time with Portkey's message, wherever they appear;
//!   Portkey only throws when evaluation happens to reach them. Non-object sub-queries inside
//!   `$and`/`$or` are rejected too (Portkey would coerce them in odd ways or crash on `null`).

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

/// Deepest accepted nesting of queries and operator objects.
pub const MAX_DEPTH: usize = 32;

/// Compiled-size cap per `$regex`: a config must not be able to make routing expensive.
const REGEX_SIZE_LIMIT: usize = 1 << 16;

const NO_TARGET: &str = "Query router did not resolve to any valid target";

/// A parsed `query` object of a conditional strategy.
#[derive(Debug, Clone)]
pub struct Query(Vec<Clause>);

/// What a request is routed on.
#[derive(Debug, Clone, Copy)]
pub struct RouteContext<'a> {
    /// The `x-portkey-metadata` object.
    pub metadata: &'a Map<String, Value>,
    /// The request body (`{}` for multipart / binary bodies).
    pub params: &'a Map<String, Value>,
    pub url_pathname: &'a str,
}

#[derive(Debug, Clone)]
enum Clause {
    /// `$and` (`any == false`) / `$or` (`any == true`) over sub-queries: ends the evaluation of
    /// the enclosing object with its own result.
    Logical {
        any: bool,
        queries: Vec<Query>,
    },
    Field {
        path: Path,
        test: Test,
    },
}

#[derive(Debug, Clone)]
enum Test {
    /// A bare (non-object) value: strict equality.
    Equals(Value),
    Ops(Vec<Op>),
}

#[derive(Debug, Clone)]
enum Op {
    Eq(Value),
    Ne(Value),
    /// Operands hold `parseFloat` of the config value, computed once.
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    /// `None`: the operand was not an array, so the operator is false.
    In(Option<Vec<Value>>),
    Nin(Option<Vec<Value>>),
    /// `None`: invalid or non-string pattern, so the operator is false.
    Regex(Option<Regex>),
    Length(LengthTest),
}

#[derive(Debug, Clone)]
enum LengthTest {
    Count(f64),
    Ops(Vec<Op>),
    /// Any other operand (string, bool, null) constrains nothing in Portkey.
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Metadata,
    Params,
    Url,
    /// Anything else, including keys without a dot: never resolves.
    Nothing,
}

#[derive(Debug, Clone)]
struct Path {
    root: Root,
    /// The segments after the root (at least one unless `root` is `Nothing`).
    segments: Vec<String>,
}

/// A resolved value to test. `Missing` is JavaScript's `undefined`.
#[derive(Debug, Clone, Copy)]
enum Subject<'a> {
    Missing,
    Json(&'a Value),
    Text(&'a str),
    /// An array length, for the operators inside `$length`.
    Number(f64),
}

fn unsupported(op: &str) -> String {
    format!("Unsupported operator used in the query router: {op}")
}

fn too_deep() -> String {
    format!("Query router query is nested too deeply (more than {MAX_DEPTH} levels)")
}

impl Query {
    /// Parses a `query` object from a config.
    ///
    /// Unknown operators → `Err` with Portkey's message ("Unsupported operator used in the query
    /// router: $foo"); so do non-object queries and nesting beyond [`MAX_DEPTH`]. Invalid
    /// `$regex` patterns are not errors: they evaluate to false, as in Portkey.
    pub fn parse(v: &Value) -> Result<Query, String> {
        parse_query(v, 0)
    }

    /// Whether the request described by `ctx` matches.
    pub fn matches(&self, ctx: &RouteContext<'_>) -> bool {
        for clause in &self.0 {
            match clause {
                Clause::Logical { any: true, queries } => {
                    return queries.iter().any(|q| q.matches(ctx));
                }
                Clause::Logical {
                    any: false,
                    queries,
                } => {
                    return queries.iter().all(|q| q.matches(ctx));
                }
                Clause::Field { path, test } => {
                    let subject = path.resolve(ctx);
                    let ok = match test {
                        Test::Equals(v) => subject.strict_eq(v),
                        Test::Ops(ops) => eval_ops(ops, subject),
                    };
                    if !ok {
                        return false;
                    }
                }
            }
        }
        true
    }
}

/// Evaluates ordered conditions: the first match's `then`, else a non-empty `default` (Portkey
/// tests it for truthiness), else Portkey's "Query router did not resolve to any valid target".
pub fn select<'a>(
    conditions: &'a [(Query, String)],
    default: Option<&'a str>,
    ctx: &RouteContext<'_>,
) -> Result<&'a str, String> {
    if let Some((_, then)) = conditions.iter().find(|(q, _)| q.matches(ctx)) {
        return Ok(then);
    }
    match default {
        Some(d) if !d.is_empty() => Ok(d),
        _ => Err(NO_TARGET.to_owned()),
    }
}

fn parse_query(v: &Value, depth: usize) -> Result<Query, String> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    let Value::Object(map) = v else {
        return Err(format!(
            "Invalid query in the query router: expected an object, got {}",
            type_name(v)
        ));
    };
    let mut clauses = Vec::new();
    // Portkey stops at the first `$and`/`$or`; later keys are still validated (so unknown
    // operators are always reported) but never stored, since they are never evaluated.
    let mut live = true;
    for (key, value) in js_entries(map) {
        let clause = match (key.as_str(), value) {
            (op @ ("$and" | "$or"), Value::Array(subs)) => Clause::Logical {
                any: op == "$or",
                queries: subs
                    .iter()
                    .map(|s| parse_query(s, depth + 1))
                    .collect::<Result<_, _>>()?,
            },
            _ => Clause::Field {
                path: Path::parse(key),
                test: parse_test(value, depth + 1)?,
            },
        };
        if live {
            live = !matches!(clause, Clause::Logical { .. });
            clauses.push(clause);
        }
    }
    Ok(Query(clauses))
}

fn parse_test(value: &Value, depth: usize) -> Result<Test, String> {
    match value {
        // JS `typeof x === 'object' && x !== null`: objects and arrays are operator objects.
        Value::Object(map) => Ok(Test::Ops(parse_ops(map, depth)?)),
        Value::Array(items) => parse_array_ops(items).map(|()| Test::Ops(Vec::new())),
        other => Ok(Test::Equals(other.clone())),
    }
}

/// An array used as an operator object: JS iterates its indices as keys, so a non-empty one
/// fails on operator `0` and an empty one constrains nothing.
fn parse_array_ops(items: &[Value]) -> Result<(), String> {
    if items.is_empty() {
        Ok(())
    } else {
        Err(unsupported("0"))
    }
}

fn parse_ops(map: &Map<String, Value>, depth: usize) -> Result<Vec<Op>, String> {
    if depth >= MAX_DEPTH {
        return Err(too_deep());
    }
    let mut ops = Vec::with_capacity(map.len());
    // Operators after a `$regex` are never evaluated (Portkey returns its result); validate only.
    let mut live = true;
    for (name, operand) in js_entries(map) {
        let op = match name.as_str() {
            "$eq" => Op::Eq(operand.clone()),
            "$ne" => Op::Ne(operand.clone()),
            "$gt" => Op::Gt(parse_float(operand)),
            "$gte" => Op::Gte(parse_float(operand)),
            "$lt" => Op::Lt(parse_float(operand)),
            "$lte" => Op::Lte(parse_float(operand)),
            "$in" => Op::In(operand.as_array().cloned()),
            "$nin" => Op::Nin(operand.as_array().cloned()),
            "$regex" => Op::Regex(compile_regex(operand)),
            "$length" => Op::Length(match operand {
                Value::Number(n) => LengthTest::Count(n.as_f64().unwrap_or(f64::NAN)),
                Value::Object(inner) => LengthTest::Ops(parse_ops(inner, depth + 1)?),
                Value::Array(items) => {
                    parse_array_ops(items)?;
                    LengthTest::Ops(Vec::new())
                }
                _ => LengthTest::Any,
            }),
            other => return Err(unsupported(other)),
        };
        if live {
            live = !matches!(op, Op::Regex(_));
            ops.push(op);
        }
    }
    Ok(ops)
}

/// `Object.entries` order: array-index keys (`"0"`, `"7"`, …) first in ascending numeric order,
/// then the others in insertion order. It decides which keys an `$and`/`$or` or `$regex` cuts
/// off, and which unsupported operator is reported first.
fn js_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    // Stable: non-index keys keep their relative (insertion) order.
    entries.sort_by_key(|(key, _)| js_index_key(key).map_or((1, 0), |i| (0, i)));
    entries
}

/// A JS array-index property name: canonical decimal below 2^32 - 1.
fn js_index_key(key: &str) -> Option<u32> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    canonical
        .then(|| key.parse::<u32>().ok())
        .flatten()
        .filter(|&i| i != u32::MAX)
}

/// Compiled patterns, shared by every request: configs arrive with each request, and compiling
/// the same `$regex` again each time would cost CPU on the request path. Bounded; cleared when
/// full.
static REGEX_CACHE: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, Option<Regex>>>,
> = std::sync::LazyLock::new(Default::default);
const REGEX_CACHE_CAPACITY: usize = 512;
/// Longer patterns are not compiled (they evaluate to false, as invalid ones do).
const MAX_PATTERN_LEN: usize = 1024;

fn compile_regex(pattern: &Value) -> Option<Regex> {
    let pattern = pattern.as_str()?;
    if pattern.len() > MAX_PATTERN_LEN {
        return None;
    }
    if let Some(hit) = REGEX_CACHE
        .lock()
        .ok()
        .and_then(|c| c.get(pattern).cloned())
    {
        return hit;
    }
    let compiled = RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .ok();
    if let Ok(mut c) = REGEX_CACHE.lock() {
        if c.len() >= REGEX_CACHE_CAPACITY {
            c.clear();
        }
        c.insert(pattern.to_owned(), compiled.clone());
    }
    compiled
}

fn eval_ops(ops: &[Op], subject: Subject<'_>) -> bool {
    for op in ops {
        let ok = match op {
            Op::Eq(v) => subject.strict_eq(v),
            Op::Ne(v) => !subject.strict_eq(v),
            Op::Gt(n) => subject.parse_float() > *n,
            Op::Gte(n) => subject.parse_float() >= *n,
            Op::Lt(n) => subject.parse_float() < *n,
            Op::Lte(n) => subject.parse_float() <= *n,
            Op::In(list) => list
                .as_ref()
                .is_some_and(|l| l.iter().any(|v| subject.strict_eq(v))),
            Op::Nin(list) => list
                .as_ref()
                .is_some_and(|l| !l.iter().any(|v| subject.strict_eq(v))),
            Op::Regex(re) => {
                return re
                    .as_ref()
                    .zip(subject.as_str())
                    .is_some_and(|(re, s)| re.is_match(s));
            }
            Op::Length(test) => match subject.array_len() {
                None => false,
                Some(len) => {
                    let len = len as f64;
                    match test {
                        LengthTest::Count(n) => len == *n,
                        LengthTest::Ops(inner) => eval_ops(inner, Subject::Number(len)),
                        LengthTest::Any => true,
                    }
                }
            },
        };
        if !ok {
            return false;
        }
    }
    true
}

impl Path {
    fn parse(key: &str) -> Path {
        let mut parts = key.split('.');
        let root = match parts.next() {
            Some("metadata") => Root::Metadata,
            Some("params") => Root::Params,
            Some("url") => Root::Url,
            _ => Root::Nothing,
        };
        let segments: Vec<String> = parts.map(str::to_owned).collect();
        let root = if segments.is_empty() {
            Root::Nothing
        } else {
            root
        };
        Path { root, segments }
    }

    fn resolve<'a>(&'a self, ctx: &RouteContext<'a>) -> Subject<'a> {
        let (first, rest) = match self.segments.split_first() {
            Some(split) => split,
            None => return Subject::Missing,
        };
        let map = match self.root {
            Root::Metadata => ctx.metadata,
            Root::Params => ctx.params,
            Root::Url => {
                return match (first.as_str(), rest) {
                    ("pathname", []) => Subject::Text(ctx.url_pathname),
                    _ => Subject::Missing,
                };
            }
            Root::Nothing => return Subject::Missing,
        };
        let Some(mut value) = map.get(first) else {
            return Subject::Missing;
        };
        for segment in rest {
            let next = match value {
                Value::Object(m) => m.get(segment),
                Value::Array(items) => array_index(segment).and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(v) => value = v,
                None => return Subject::Missing,
            }
        }
        Subject::Json(value)
    }
}

/// JS array index keys are canonical decimal numbers (`"01"` is a missing property).
fn array_index(segment: &str) -> Option<usize> {
    js_index_key(segment).and_then(|i| usize::try_from(i).ok())
}

impl<'a> Subject<'a> {
    /// JS `===` against a config value.
    fn strict_eq(self, other: &Value) -> bool {
        match self {
            Subject::Missing => false,
            Subject::Json(v) => js_strict_eq(v, other),
            Subject::Text(s) => other.as_str() == Some(s),
            Subject::Number(n) => other.as_f64() == Some(n),
        }
    }

    fn parse_float(self) -> f64 {
        match self {
            Subject::Missing => f64::NAN,
            Subject::Json(v) => parse_float(v),
            Subject::Text(s) => js_parse_float(s),
            Subject::Number(n) => n,
        }
    }

    fn as_str(self) -> Option<&'a str> {
        match self {
            Subject::Json(Value::String(s)) => Some(s),
            Subject::Text(s) => Some(s),
            _ => None,
        }
    }

    fn array_len(self) -> Option<usize> {
        match self {
            Subject::Json(Value::Array(items)) => Some(items.len()),
            _ => None,
        }
    }
}

fn js_strict_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        // Objects and arrays are compared by identity in JS: a config value is never the
        // request's value.
        _ => false,
    }
}

/// JS `parseFloat(value)`: the value is stringified first (arrays join with `,`, so only their
/// first element matters; `null`, booleans and objects give NaN).
fn parse_float(value: &Value) -> f64 {
    let mut v = value;
    loop {
        match v {
            Value::Number(n) => return n.as_f64().unwrap_or(f64::NAN),
            Value::String(s) => return js_parse_float(s),
            // `[null, …]` stringifies to "" or ",…": NaN.
            Value::Array(items) => match items.first() {
                Some(first) if !first.is_null() => v = first,
                _ => return f64::NAN,
            },
            Value::Null | Value::Bool(_) | Value::Object(_) => return f64::NAN,
        }
    }
}

/// JS `StrWhiteSpaceChar`, which `parseFloat` skips.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// JS `parseFloat` on a string: the longest decimal-literal prefix after leading whitespace
/// (`"12abc"` → 12, `"1e3"` → 1000, `"Infinity"` → ∞, `"0x10"` → 0, `"abc"` → NaN).
fn js_parse_float(s: &str) -> f64 {
    let s = s.trim_start_matches(is_js_space);
    let bytes = s.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    if s.get(i..).is_some_and(|rest| rest.starts_with("Infinity")) {
        return if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let count_digits = |from: usize| {
        bytes
            .get(from..)
            .map_or(0, |b| b.iter().take_while(|b| b.is_ascii_digit()).count())
    };
    let int_digits = count_digits(i);
    i += int_digits;
    let mut frac_digits = 0;
    if bytes.get(i) == Some(&b'.') {
        frac_digits = count_digits(i + 1);
        i += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return f64::NAN;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
        let exp_digits = count_digits(i + 1 + sign);
        if exp_digits > 0 {
            i += 1 + sign + exp_digits;
        }
    }
    s.get(..i)
        .and_then(|lit| lit.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    struct Ctx {
        metadata: Map<String, Value>,
        params: Map<String, Value>,
        path: String,
    }

    impl Ctx {
        fn new(metadata: Value, params: Value, path: &str) -> Ctx {
            Ctx {
                metadata: obj(metadata),
                params: obj(params),
                path: path.to_owned(),
            }
        }

        fn route(&self) -> RouteContext<'_> {
            RouteContext {
                metadata: &self.metadata,
                params: &self.params,
                url_pathname: &self.path,
            }
        }

        fn matches(&self, query: Value) -> bool {
            match Query::parse(&query) {
                Ok(q) => q.matches(&self.route()),
                Err(e) => panic!("{query} failed to parse: {e}"),
            }
        }
    }

    fn sample() -> Ctx {
        Ctx::new(
            json!({"plan": "paid", "env": "dev", "score": "42", "n": 7, "weird": null}),
            json!({
                "model": "gpt-4o",
                "temperature": 0.7,
                "max_tokens": 100,
                "stream": true,
                "stop": ["a", "b"],
                "metadata": {"tier": "gold", "level": 3},
                "messages": [{"role": "system"}, {"role": "user"}],
                "empty": "",
                "nothing": null,
            }),
            "/v1/chat/completions",
        )
    }

    /// Each query with the expected result against `sample()`.
    fn table(cases: &[(Value, bool)]) {
        let ctx = sample();
        for (query, want) in cases {
            assert_eq!(ctx.matches(query.clone()), *want, "{query}");
        }
    }

    #[test]
    fn portkey_doc_examples() {
        let paid = json!({"metadata.plan": {"$eq": "paid"}});
        let fast_or_dev = json!({"$or": [
            {"params.model": "fast"},
            {"metadata.env": {"$in": ["dev", "test"]}}
        ]});
        let conditions = vec![
            (Query::parse(&paid).unwrap(), "paid-target".to_owned()),
            (
                Query::parse(&fast_or_dev).unwrap(),
                "fast-target".to_owned(),
            ),
        ];
        let free_dev = Ctx::new(json!({"plan": "free", "env": "dev"}), json!({}), "/");
        let free_fast = Ctx::new(json!({"plan": "free"}), json!({"model": "fast"}), "/");
        let paid_ctx = Ctx::new(json!({"plan": "paid", "env": "dev"}), json!({}), "/");
        let free_prod = Ctx::new(json!({"plan": "free", "env": "prod"}), json!({}), "/");
        let pick = |c: &Ctx, d| select(&conditions, d, &c.route());
        assert_eq!(pick(&paid_ctx, None), Ok("paid-target"), "first match wins");
        assert_eq!(pick(&free_dev, None), Ok("fast-target"));
        assert_eq!(pick(&free_fast, None), Ok("fast-target"));
        assert_eq!(pick(&free_prod, Some("base")), Ok("base"));
        assert_eq!(
            pick(&free_prod, None),
            Err("Query router did not resolve to any valid target".to_owned())
        );
        // Portkey tests `default` for truthiness: "" is no default.
        assert!(pick(&free_prod, Some("")).is_err());
        assert_eq!(select(&[], Some("d"), &free_prod.route()), Ok("d"));
    }

    #[test]
    fn bare_values_are_strict_equality() {
        table(&[
            (json!({"params.model": "gpt-4o"}), true),
            (json!({"params.model": "gpt-4"}), false),
            (json!({"params.max_tokens": 100}), true),
            (json!({"params.max_tokens": 100.0}), true),
            (json!({"params.max_tokens": "100"}), false),
            (json!({"metadata.score": 42}), false),
            (json!({"metadata.score": "42"}), true),
            (json!({"params.stream": true}), true),
            (json!({"params.stream": "true"}), false),
            (json!({"params.nothing": null}), true),
            (json!({"params.absent": null}), false),
            (json!({"metadata.weird": null}), true),
            (json!({"params.empty": ""}), true),
            (json!({"url.pathname": "/v1/chat/completions"}), true),
            (json!({"url.pathname": "/v1/embeddings"}), false),
            (json!({}), true),
        ]);
    }

    #[test]
    fn equality_operators() {
        table(&[
            (json!({"params.model": {"$eq": "gpt-4o"}}), true),
            (json!({"params.model": {"$eq": "other"}}), false),
            (json!({"params.max_tokens": {"$eq": 100}}), true),
            (json!({"params.max_tokens": {"$eq": "100"}}), false),
            (json!({"params.model": {"$ne": "other"}}), true),
            (json!({"params.model": {"$ne": "gpt-4o"}}), false),
            (json!({"params.nothing": {"$eq": null}}), true),
            // Objects and arrays compare by identity in JS: never equal.
            (json!({"params.stop": {"$eq": ["a", "b"]}}), false),
            (json!({"params.stop": {"$ne": ["a", "b"]}}), true),
            (
                json!({"params.metadata": {"$eq": {"tier": "gold", "level": 3}}}),
                false,
            ),
            // An empty operator object (or array) constrains nothing.
            (json!({"params.model": {}}), true),
            (json!({"params.absent": []}), true),
        ]);
    }

    #[test]
    fn numeric_operators_use_parse_float() {
        table(&[
            (json!({"params.max_tokens": {"$gt": 99}}), true),
            (json!({"params.max_tokens": {"$gt": 100}}), false),
            (json!({"params.max_tokens": {"$gte": 100}}), true),
            (json!({"params.max_tokens": {"$gte": 101}}), false),
            (json!({"params.max_tokens": {"$lt": 101}}), true),
            (json!({"params.max_tokens": {"$lt": 100}}), false),
            (json!({"params.max_tokens": {"$lte": 100}}), true),
            (json!({"params.max_tokens": {"$lte": 99.5}}), false),
            (json!({"params.temperature": {"$gt": 0.5, "$lt": 1}}), true),
            (
                json!({"params.temperature": {"$gt": 0.5, "$lt": 0.6}}),
                false,
            ),
            // Numeric strings on either side.
            (json!({"metadata.score": {"$gt": 40}}), true),
            (json!({"metadata.score": {"$gt": "41.5"}}), true),
            (json!({"metadata.score": {"$lte": "41"}}), false),
            (json!({"params.max_tokens": {"$gte": " 1e2"}}), true),
            (json!({"params.max_tokens": {"$lt": "Infinity"}}), true),
            (json!({"params.max_tokens": {"$lt": "100abc"}}), false),
            (json!({"params.max_tokens": {"$lte": "100abc"}}), true),
            // Non-numeric or missing → false for every comparison.
            (json!({"params.model": {"$gt": 0}}), false),
            (json!({"params.model": {"$lte": 0}}), false),
            (json!({"params.max_tokens": {"$gt": "abc"}}), false),
            (json!({"params.max_tokens": {"$lt": null}}), false),
            (json!({"params.stream": {"$gte": 0}}), false),
            (json!({"params.absent": {"$lt": 1}}), false),
            (json!({"params.absent": {"$gte": 0}}), false),
            (json!({"params.metadata": {"$gt": 0}}), false),
            // Arrays stringify: ["a","b"] → "a,b" → NaN.
            (json!({"params.stop": {"$gt": 0}}), false),
            (json!({"params.max_tokens": {"$gt": [99, "x"]}}), true),
            (json!({"url.pathname": {"$gt": 0}}), false),
        ]);
    }

    #[test]
    fn membership_operators() {
        table(&[
            (json!({"metadata.env": {"$in": ["dev", "test"]}}), true),
            (json!({"metadata.env": {"$in": ["prod"]}}), false),
            (json!({"params.max_tokens": {"$in": [1, 100.0]}}), true),
            (json!({"params.max_tokens": {"$in": ["100"]}}), false),
            (json!({"metadata.env": {"$in": []}}), false),
            (json!({"metadata.env": {"$nin": ["prod"]}}), true),
            (json!({"metadata.env": {"$nin": ["dev"]}}), false),
            (json!({"metadata.env": {"$nin": []}}), true),
            // Non-array operand: false for both (Portkey's code).
            (json!({"metadata.env": {"$in": "dev"}}), false),
            (json!({"metadata.env": {"$nin": "prod"}}), false),
            (json!({"metadata.env": {"$nin": {"x": 1}}}), false),
            // Arrays/objects in the list never match (identity).
            (json!({"params.stop": {"$in": [["a", "b"]]}}), false),
            (json!({"params.nothing": {"$in": [null]}}), true),
            (
                json!({"url.pathname": {"$in": ["/v1/chat/completions"]}}),
                true,
            ),
        ]);
    }

    #[test]
    fn regex_operator() {
        table(&[
            (json!({"params.model": {"$regex": "^gpt-4"}}), true),
            (json!({"params.model": {"$regex": "^claude"}}), false),
            (json!({"params.model": {"$regex": ""}}), true),
            (json!({"url.pathname": {"$regex": "/chat/"}}), true),
            (json!({"url.pathname": {"$regex": "embeddings$"}}), false),
            // Invalid patterns (including JS-only syntax) evaluate to false, never error.
            (json!({"params.model": {"$regex": "("}}), false),
            (json!({"params.model": {"$regex": "gpt(?=-4)"}}), false),
            (json!({"params.model": {"$regex": "(g)\\1"}}), false),
            // Non-string pattern or subject → false.
            (json!({"params.model": {"$regex": 4}}), false),
            (json!({"params.max_tokens": {"$regex": "100"}}), false),
            (json!({"params.absent": {"$regex": "undefined"}}), false),
            (json!({"params.stop": {"$regex": "a"}}), false),
            // `$regex` returns at once: what follows it is ignored; what precedes it is not.
            (
                json!({"params.model": {"$regex": "gpt", "$eq": "nope"}}),
                true,
            ),
            (
                json!({"params.model": {"$eq": "nope", "$regex": "gpt"}}),
                false,
            ),
            (
                json!({"params.model": {"$regex": "nope", "$eq": "gpt-4o"}}),
                false,
            ),
        ]);
        // A huge pattern exceeds the compiled-size limit: false, not an error.
        let huge = format!("({})", "a{1000}".repeat(1000));
        table(&[(json!({"params.model": {"$regex": huge}}), false)]);
    }

    #[test]
    fn length_operator() {
        table(&[
            (json!({"params.messages": {"$length": 2}}), true),
            (json!({"params.messages": {"$length": 3}}), false),
            (
                json!({"params.messages": {"$length": {"$gte": 2, "$lt": 5}}}),
                true,
            ),
            (json!({"params.messages": {"$length": {"$gt": 2}}}), false),
            (
                json!({"params.messages": {"$length": {"$in": [1, 2]}}}),
                true,
            ),
            (json!({"params.messages": {"$length": "x"}}), true),
            (json!({"params.model": {"$length": 6}}), false),
            (json!({"params.absent": {"$length": 0}}), false),
        ]);
    }

    #[test]
    fn missing_paths_are_undefined() {
        table(&[
            (json!({"params.absent": "x"}), false),
            (json!({"params.absent": {"$eq": "x"}}), false),
            (json!({"params.absent": {"$ne": "x"}}), true),
            (json!({"params.absent": {"$ne": null}}), true),
            (json!({"params.absent": {"$in": ["x"]}}), false),
            (json!({"params.absent": {"$nin": ["x"]}}), true),
            (json!({"metadata.absent": {"$ne": "paid"}}), true),
            // Unknown roots, rootless keys and other `url` members resolve to nothing.
            (json!({"headers.x": {"$ne": 1}}), true),
            (json!({"headers.x": 1}), false),
            (json!({"metadata": {"$ne": 1}}), true),
            (json!({"params": {"$eq": {}}}), false),
            (json!({"url.host": {"$ne": "x"}}), true),
            (json!({"url.pathname.x": {"$ne": "x"}}), true),
            (json!({"url": "/v1/chat/completions"}), false),
            (json!({"": {"$ne": 1}}), true),
        ]);
    }

    #[test]
    fn roots_are_distinct() {
        let ctx = Ctx::new(json!({"model": "m"}), json!({"model": "p"}), "/model");
        assert!(ctx.matches(json!({"metadata.model": "m"})));
        assert!(!ctx.matches(json!({"metadata.model": "p"})));
        assert!(ctx.matches(json!({"params.model": "p"})));
        assert!(!ctx.matches(json!({"params.model": "m"})));
        assert!(ctx.matches(json!({"url.pathname": "/model"})));
        assert!(!ctx.matches(json!({"url.model": "m"})));
    }

    #[test]
    fn deeper_paths_walk_objects_and_arrays() {
        table(&[
            // Portkey would compare the whole `params.metadata` object here.
            (json!({"params.metadata.tier": "gold"}), true),
            (
                json!({"params.metadata.tier": {"$in": ["gold", "silver"]}}),
                true,
            ),
            (json!({"params.metadata.level": {"$gte": 3}}), true),
            (json!({"params.metadata.absent": {"$ne": "gold"}}), true),
            (json!({"params.messages.0.role": "system"}), true),
            (json!({"params.messages.1.role": {"$eq": "user"}}), true),
            (json!({"params.messages.2.role": {"$ne": "user"}}), true),
            (json!({"params.messages.01.role": "user"}), false),
            (json!({"params.messages.x.role": "user"}), false),
            (json!({"params.model.length": 6}), false),
            (json!({"params.stop.0": "a"}), true),
        ]);
    }

    #[test]
    fn multiple_keys_are_anded() {
        table(&[
            (
                json!({"params.model": "gpt-4o", "metadata.plan": "paid"}),
                true,
            ),
            (
                json!({"params.model": "gpt-4o", "metadata.plan": "free"}),
                false,
            ),
            (
                json!({"params.model": "nope", "metadata.plan": "paid"}),
                false,
            ),
            (
                json!({"params.model": {"$regex": "^gpt"}, "params.max_tokens": {"$lte": 100}, "url.pathname": {"$ne": "/x"}}),
                true,
            ),
        ]);
    }

    #[test]
    fn logical_operators() {
        table(&[
            (
                json!({"$and": [{"params.model": "gpt-4o"}, {"metadata.plan": "paid"}]}),
                true,
            ),
            (
                json!({"$and": [{"params.model": "gpt-4o"}, {"metadata.plan": "free"}]}),
                false,
            ),
            (
                json!({"$or": [{"params.model": "x"}, {"metadata.plan": "paid"}]}),
                true,
            ),
            (
                json!({"$or": [{"params.model": "x"}, {"metadata.plan": "free"}]}),
                false,
            ),
            (json!({"$and": []}), true),
            (json!({"$or": []}), false),
            (
                json!({"$or": [
                    {"$and": [{"metadata.env": "prod"}, {"params.stream": true}]},
                    {"$and": [{"metadata.env": "dev"}, {"$or": [{"params.model": "x"}, {"params.max_tokens": {"$gt": 50}}]}]}
                ]}),
                true,
            ),
            (
                json!({"$and": [
                    {"$or": [{"metadata.env": "prod"}, {"metadata.env": "dev"}]},
                    {"$or": [{"params.model": "x"}, {"params.model": "y"}]}
                ]}),
                false,
            ),
        ]);
    }

    #[test]
    fn logical_key_decides_the_enclosing_object() {
        table(&[
            // Keys before `$or` must match…
            (
                json!({"params.model": "nope", "$or": [{"metadata.plan": "paid"}]}),
                false,
            ),
            (
                json!({"params.model": "gpt-4o", "$or": [{"metadata.plan": "paid"}]}),
                true,
            ),
            // …keys after it are never evaluated (Portkey returns from inside its loop).
            (
                json!({"$or": [{"metadata.plan": "paid"}], "params.model": "nope"}),
                true,
            ),
            (
                json!({"$and": [{"metadata.plan": "paid"}], "params.model": "nope"}),
                true,
            ),
            (
                json!({"$and": [{"metadata.plan": "free"}], "params.model": "gpt-4o"}),
                false,
            ),
            (json!({"$or": [], "$and": []}), false),
            // With a non-array value `$or` is just an unresolvable path.
            (json!({"$or": {"$ne": 1}, "params.model": "gpt-4o"}), true),
            (json!({"$or": "x"}), false),
            // JS visits array-index keys first, whatever their position in the text.
            (json!({"$or": [{"metadata.plan": "paid"}], "7": "x"}), false),
            (json!({"$or": [{"metadata.plan": "paid"}], "07": "x"}), true),
        ]);
    }

    #[test]
    fn parse_errors() {
        let err = |q: Value| match Query::parse(&q) {
            Ok(_) => panic!("{q} parsed"),
            Err(e) => e,
        };
        let unsupported = "Unsupported operator used in the query router: ";
        assert_eq!(
            err(json!({"params.model": {"$foo": 1}})),
            format!("{unsupported}$foo")
        );
        assert_eq!(
            err(json!({"params.model": {"$eq": "x", "$exists": true}})),
            format!("{unsupported}$exists")
        );
        // Portkey's array-as-operator-object quirk: its first index is the "operator".
        assert_eq!(
            err(json!({"params.model": ["a"]})),
            format!("{unsupported}0")
        );
        assert_eq!(
            err(json!({"params.m": {"$length": {"$foo": 1}}})),
            format!("{unsupported}$foo")
        );
        assert_eq!(
            err(json!({"params.m": {"$length": [1]}})),
            format!("{unsupported}0")
        );
        assert_eq!(err(json!({"$or": {"a": 1}})), format!("{unsupported}a"));
        assert_eq!(
            err(json!({"params.a": {"$foo": 1, "3": 1, "1": 1}})),
            format!("{unsupported}1")
        );
        assert_eq!(
            err(json!({"$nor": [{"params.x": 1}]})),
            format!("{unsupported}0")
        );
        // Validated even where Portkey would never evaluate them.
        assert_eq!(
            err(json!({"$or": [{"params.a": 1}], "params.b": {"$bad": 1}})),
            format!("{unsupported}$bad")
        );
        assert_eq!(
            err(json!({"params.a": {"$regex": "x", "$bad": 1}})),
            format!("{unsupported}$bad")
        );
        assert_eq!(
            err(json!({"$and": [{"$or": [{"params.a": {"$nope": 1}}]}]})),
            format!("{unsupported}$nope")
        );
        for q in [json!("x"), json!(null), json!([]), json!(1)] {
            assert!(err(q.clone()).contains("expected an object"), "{q}");
        }
        assert!(err(json!({"$or": ["x"]})).contains("expected an object"));
        assert!(err(json!({"$and": [null]})).contains("expected an object"));
        // `$exists`-like bare values at the top level are paths, as in Portkey: no error.
        assert!(Query::parse(&json!({"$exists": true})).is_ok());
    }

    fn nest(levels: usize, leaf: Value) -> Value {
        (0..levels).fold(leaf, |q, _| json!({"$and": [q]}))
    }

    #[test]
    fn nesting_is_bounded() {
        let ctx = sample();
        let ok = nest(MAX_DEPTH - 1, json!({"params.model": "gpt-4o"}));
        assert!(ctx.matches(ok));
        let too_deep = nest(MAX_DEPTH, json!({"params.model": "gpt-4o"}));
        let err = Query::parse(&too_deep).unwrap_err();
        assert_eq!(
            err,
            "Query router query is nested too deeply (more than 32 levels)"
        );
        // Operator objects count too.
        let ops_too_deep = nest(MAX_DEPTH - 1, json!({"params.model": {"$eq": "gpt-4o"}}));
        assert!(Query::parse(&ops_too_deep).is_err());
        let mut length = json!(2);
        for _ in 0..40 {
            length = json!({"$length": length});
        }
        assert!(Query::parse(&json!({"params.messages": length})).is_err());
        // Far deeper input fails fast instead of recursing all the way.
        assert!(Query::parse(&nest(200, json!({}))).is_err());
    }

    #[test]
    fn select_returns_first_match_in_order() {
        let conditions: Vec<(Query, String)> = [
            (json!({"metadata.plan": "free"}), "a"),
            (json!({"params.model": {"$regex": "^gpt"}}), "b"),
            (json!({"metadata.plan": "paid"}), "c"),
        ]
        .into_iter()
        .map(|(q, t)| (Query::parse(&q).unwrap(), t.to_owned()))
        .collect();
        let ctx = sample();
        assert_eq!(select(&conditions, Some("z"), &ctx.route()), Ok("b"));
        assert_eq!(select(&conditions[2..], None, &ctx.route()), Ok("c"));
        assert_eq!(select(&conditions[..1], Some("z"), &ctx.route()), Ok("z"));
    }

    #[test]
    fn js_parse_float_matches_javascript() {
        let cases: &[(&str, f64)] = &[
            ("42", 42.0),
            ("  42", 42.0),
            ("\u{a0}\u{feff}\n7", 7.0),
            ("-3.5", -3.5),
            ("+3.5", 3.5),
            ("3.", 3.0),
            (".5", 0.5),
            ("-.5", -0.5),
            ("1e3", 1000.0),
            ("1E-2", 0.01),
            ("1e", 1.0),
            ("1e+", 1.0),
            ("2.5e3x", 2500.0),
            ("12abc", 12.0),
            ("0x10", 0.0),
            ("007", 7.0),
            ("1,5", 1.0),
            ("Infinity", f64::INFINITY),
            ("-Infinityx", f64::NEG_INFINITY),
            ("+Infinity", f64::INFINITY),
        ];
        for (s, want) in cases {
            assert_eq!(js_parse_float(s), *want, "{s:?}");
        }
        for s in [
            "", " ", "abc", ".", "-", "+", "e5", ".e5", "--1", "infinity", "NaN", "\u{85}1",
        ] {
            assert!(js_parse_float(s).is_nan(), "{s:?}");
        }
        assert_eq!(parse_float(&json!([[" 5", 1], 2])), 5.0);
        assert!(parse_float(&json!([null, 5])).is_nan());
        assert!(parse_float(&json!([])).is_nan());
        assert!(parse_float(&json!(true)).is_nan());
        assert!(parse_float(&json!({"a": 1})).is_nan());
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            "(\\$(eq|ne|gt|gte|lt|lte|in|nin|regex|length|and|or)|[a-z.0-9()*+?\\[\\]]{0,8})"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        "(\\$(eq|ne|gt|gte|lt|lte|in|nin|regex|length|and|or)|(metadata|params|url)\\.[a-z0-9.]{0,8})",
                        inner
                    ),
                    0..5
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_and_match_never_panic(query in arb_json(), metadata in arb_json(), params in arb_json()) {
            let ctx = Ctx::new(metadata, params, "/v1/chat/completions");
            if let Ok(q) = Query::parse(&query) {
                let _ = q.matches(&ctx.route());
            }
        }

        #[test]
        fn js_parse_float_never_panics(s in "\\PC*") {
            let _ = js_parse_float(&s);
        }

        #[test]
        fn numeric_strings_round_trip(n in -1e12f64..1e12) {
            prop_assert_eq!(js_parse_float(&n.to_string()), n);
        }
    }
}
