//! JSON Schema → the OpenAPI 3.0 subset Gemini accepts in `FunctionDeclaration.parameters`.
//!
//! Strategy: an allow-list. Only keywords Gemini's `Schema` object documents are kept (type,
//! nullable, description, format, enum, properties, required, items, anyOf, min/max counts and
//! bounds, propertyOrdering), so any other JSON Schema keyword (`additionalProperties`, `$schema`,
//! `strict`, `$id`, `examples`, `default`, `title`, `pattern`, `not`, …) can never cause the
//! "Unknown name" / "Invalid JSON payload" 400s users hit. What has a Gemini equivalent is
//! rewritten instead of dropped: `$ref` is inlined (recursion unrolled a bounded number of times),
//! `allOf` merged, `oneOf` → `anyOf`, `const` → a one-value enum, `null` in a type list or union
//! → `nullable: true`.

use serde_json::{Map, Value, json};

/// Deepest nesting kept; deeper sub-schemas become an unconstrained object.
const MAX_DEPTH: usize = 24;
/// How many times one `$ref` may be expanded along a path (recursive schemas are unrolled).
const MAX_REF_REPEATS: usize = 2;
/// Total nodes emitted: inlining can otherwise grow exponentially.
const MAX_NODES: usize = 5_000;

/// String formats Gemini (AI Studio) accepts; others are rejected with a 400.
const STRING_FORMATS: &[&str] = &["enum", "date-time"];
const NUMBER_FORMATS: &[&str] = &["float", "double"];
const INTEGER_FORMATS: &[&str] = &["int32", "int64"];
const COUNTS: &[&str] = &[
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
];

/// Sanitises a function's `parameters`. `None` when the function takes no parameters: Gemini
/// rejects an OBJECT whose `properties` is empty, and an omitted `parameters` means the same.
pub(super) fn for_parameters(schema: &Value) -> Option<Value> {
    let mut s = Sanitizer {
        root: schema,
        stack: Vec::new(),
        nodes: 0,
    };
    let mut out = s.node(schema, 0);
    let obj = out.as_object_mut()?;
    if !obj.contains_key("type") && !obj.contains_key("anyOf") {
        obj.insert("type".into(), json!("object"));
    }
    let is_object = obj
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("object"));
    if is_object && !obj.contains_key("properties") {
        return None;
    }
    Some(out)
}

/// `response_format.json_schema.schema` for `responseJsonSchema`, which takes JSON Schema
/// itself. Only the root `$schema` dialect marker is removed: it is not in the supported list.
pub(super) fn for_json_schema(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Some(o) = s.as_object_mut() {
        o.shift_remove("$schema");
    }
    s
}

struct Sanitizer<'a> {
    root: &'a Value,
    stack: Vec<String>,
    nodes: usize,
}

fn is_null_type(v: &Value) -> bool {
    v.as_str().is_some_and(|t| t.eq_ignore_ascii_case("null"))
}

/// An object type with no constraint: what an unbounded recursion or a `true` schema becomes.
fn any_object() -> Value {
    json!({"type": "object"})
}

impl Sanitizer<'_> {
    fn node(&mut self, v: &Value, depth: usize) -> Value {
        self.nodes += 1;
        let Some(m) = v.as_object() else {
            // `true`/`{}`-like schemas: accept anything the model sends.
            return json!({});
        };
        if depth > MAX_DEPTH || self.nodes > MAX_NODES {
            return any_object();
        }
        if let Some(r) = m.get("$ref").and_then(Value::as_str) {
            return self.reference(r, m, depth);
        }
        if let Some(Value::Array(parts)) = m.get("allOf") {
            let merged = self.merge_all_of(m, parts);
            return self.node(&merged, depth + 1);
        }
        let mut out = Map::new();
        let mut nullable = m.get("nullable").and_then(Value::as_bool).unwrap_or(false);
        let mut types: Vec<&str> = match m.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if types.iter().any(|t| t.eq_ignore_ascii_case("null")) {
            nullable = true;
            types.retain(|t| !t.eq_ignore_ascii_case("null"));
            if types.is_empty() {
                // A schema that is only `null`: the closest Gemini accepts is a nullable string.
                types.push("string");
            }
        }
        if types.len() > 1 {
            // `type: [a, b]`: one branch per type, each carrying the rest of the schema.
            let branches = types
                .iter()
                .map(|t| {
                    let mut branch = m.clone();
                    branch.insert("type".into(), json!(t));
                    branch.shift_remove("nullable");
                    self.node(&Value::Object(branch), depth + 1)
                })
                .collect();
            out.insert("anyOf".into(), Value::Array(branches));
            if let Some(d) = m.get("description").filter(|d| d.is_string()) {
                out.insert("description".into(), d.clone());
            }
            if nullable {
                out.insert("nullable".into(), json!(true));
            }
            return Value::Object(out);
        }
        let ty = types.first().map(|t| t.to_ascii_lowercase());
        if let Some(t) = types.first() {
            out.insert("type".into(), json!(t));
        }
        if let Some(d) = m.get("description").filter(|d| d.is_string()) {
            out.insert("description".into(), d.clone());
        }
        if let Some(f) = m.get("format").and_then(Value::as_str) {
            let allowed = match ty.as_deref() {
                Some("string") => STRING_FORMATS,
                Some("number") => NUMBER_FORMATS,
                Some("integer") => INTEGER_FORMATS,
                _ => &[],
            };
            if allowed.contains(&f) {
                out.insert("format".into(), json!(f));
            }
        }
        let values = match (m.get("enum"), m.get("const")) {
            (Some(Value::Array(vs)), _) => Some(vs.clone()),
            (None, Some(c)) => Some(vec![c.clone()]),
            _ => None,
        };
        if let Some(values) = values {
            self.enumeration(&mut out, ty.as_deref(), values, &mut nullable);
        }
        if let Some(Value::Object(props)) = m.get("properties") {
            let mut sanitized = Map::new();
            for (name, p) in props {
                if p.is_object() || p.is_boolean() {
                    sanitized.insert(name.clone(), self.node(p, depth + 1));
                }
            }
            if !sanitized.is_empty() {
                // Names not among the properties would make Gemini reject the schema.
                let known = |names: &Vec<Value>| -> Vec<Value> {
                    let known = |n: &&Value| n.as_str().is_some_and(|n| sanitized.contains_key(n));
                    names.iter().filter(known).cloned().collect()
                };
                let lists: Vec<(&str, Vec<Value>)> = ["required", "propertyOrdering"]
                    .into_iter()
                    .filter_map(|key| Some((key, known(m.get(key)?.as_array()?))))
                    .filter(|(_, names)| !names.is_empty())
                    .collect();
                out.entry("type").or_insert_with(|| json!("object"));
                out.insert("properties".into(), Value::Object(sanitized));
                for (key, names) in lists {
                    out.insert(key.into(), Value::Array(names));
                }
            }
        }
        let items = match (m.get("items"), m.get("prefixItems")) {
            (Some(i @ Value::Object(_)), _) => Some(i),
            // Tuples have no Gemini form: the first position's schema describes every item.
            (Some(Value::Array(a)), _) | (None, Some(Value::Array(a))) => a.first(),
            _ => None,
        };
        if let Some(items) = items {
            out.insert("items".into(), self.node(items, depth + 1));
            out.entry("type").or_insert_with(|| json!("array"));
        }
        for key in COUNTS {
            if let Some(n) = m.get(*key).filter(|n| n.is_u64()) {
                out.insert((*key).into(), n.clone());
            }
        }
        for key in ["minimum", "maximum"] {
            if let Some(n) = m.get(key).filter(|n| n.is_number()) {
                out.insert(key.into(), n.clone());
            }
        }
        let union = match (m.get("anyOf"), m.get("oneOf")) {
            (Some(Value::Array(a)), _) | (None, Some(Value::Array(a))) => Some(a),
            _ => None,
        };
        if let Some(branches) = union {
            self.union(&mut out, branches, depth, &mut nullable);
        }
        if nullable {
            out.insert("nullable".into(), json!(true));
        }
        Value::Object(out)
    }

    /// Gemini enums are strings. For strings (or untyped enums) values are stringified; for
    /// other types the values are moved into the description so the type stays right.
    fn enumeration(
        &self,
        out: &mut Map<String, Value>,
        ty: Option<&str>,
        values: Vec<Value>,
        nullable: &mut bool,
    ) {
        if values.iter().any(Value::is_null) {
            *nullable = true;
        }
        let texts: Vec<String> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        if texts.is_empty() {
            return;
        }
        match ty {
            None | Some("string") => {
                out.insert("type".into(), json!("string"));
                out.insert("enum".into(), json!(texts));
            }
            Some(_) => {
                let note = format!("Allowed values: {}.", texts.join(", "));
                let desc = match out.get("description").and_then(Value::as_str) {
                    Some(d) => format!("{d} {note}"),
                    None => note,
                };
                out.insert("description".into(), json!(desc));
            }
        }
    }

    /// `anyOf`/`oneOf`: null branches become `nullable`; a single remaining branch is flattened.
    fn union(
        &mut self,
        out: &mut Map<String, Value>,
        branches: &[Value],
        depth: usize,
        nullable: &mut bool,
    ) {
        let mut kept = Vec::new();
        for b in branches {
            if b.get("type").is_some_and(is_null_type)
                && b.as_object().is_some_and(|o| o.len() == 1)
            {
                *nullable = true;
            } else {
                kept.push(self.node(b, depth + 1));
            }
        }
        match kept.len() {
            0 => {}
            1 => {
                if let Some(Value::Object(single)) = kept.pop() {
                    for (k, v) in single {
                        if k == "description" && out.contains_key("description") {
                            continue;
                        }
                        out.insert(k, v);
                    }
                }
            }
            _ => {
                out.insert("anyOf".into(), Value::Array(kept));
            }
        }
    }

    fn reference(&mut self, r: &str, m: &Map<String, Value>, depth: usize) -> Value {
        let target = match r.strip_prefix('#') {
            Some("") => Some(self.root),
            Some(pointer) => self.root.pointer(pointer),
            None => None, // remote refs are never fetched
        };
        let repeats = self.stack.iter().filter(|s| s.as_str() == r).count();
        let Some(target) = target.filter(|_| repeats < MAX_REF_REPEATS) else {
            let mut cut = any_object();
            if let Some(d) = m.get("description").filter(|d| d.is_string()) {
                cut["description"] = d.clone();
            }
            return cut;
        };
        // Sibling keywords next to `$ref` (a description, usually) refine the target.
        let mut merged = target.as_object().cloned().unwrap_or_default();
        for (k, v) in m {
            if k != "$ref" {
                merged.insert(k.clone(), v.clone());
            }
        }
        self.stack.push(r.to_owned());
        let out = self.node(&Value::Object(merged), depth + 1);
        self.stack.pop();
        out
    }

    /// Merges `allOf` branches into one schema: properties and required lists are unioned,
    /// other keywords keep their first value. `$ref` branches are resolved first.
    fn merge_all_of(&self, m: &Map<String, Value>, parts: &[Value]) -> Value {
        let mut merged = m.clone();
        merged.shift_remove("allOf");
        for part in parts {
            let resolved = match part.get("$ref").and_then(Value::as_str) {
                Some(r) => r
                    .strip_prefix('#')
                    .and_then(|p| self.root.pointer(p))
                    .unwrap_or(part),
                None => part,
            };
            let Some(po) = resolved.as_object() else {
                continue;
            };
            for (k, v) in po {
                match (k.as_str(), merged.get_mut(k), v) {
                    ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                        for (pk, pv) in theirs {
                            mine.entry(pk.clone()).or_insert_with(|| pv.clone());
                        }
                    }
                    ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                        for r in theirs {
                            if !mine.contains(r) {
                                mine.push(r.clone());
                            }
                        }
                    }
                    (_, None, _) => {
                        merged.insert(k.clone(), v.clone());
                    }
                    _ => {}
                }
            }
        }
        Value::Object(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_rejected_keywords_and_rewrites_the_rest() {
        let s = json!({
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "additionalProperties": false, "strict": true, "title": "Args",
            "properties": {
                "id": {"type": "string", "format": "uuid", "default": "x", "examples": ["a"]},
                "when": {"type": ["string", "null"], "format": "date-time"},
                "kind": {"const": "fixed"},
                "n": {"type": "integer", "enum": [1, 2], "description": "How many"},
                "mode": {"oneOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]}
            },
            "required": ["id", "missing"]
        });
        assert_eq!(
            for_parameters(&s).unwrap(),
            json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "when": {"type": "string", "format": "date-time", "nullable": true},
                    "kind": {"type": "string", "enum": ["fixed"]},
                    "n": {"type": "integer", "description": "How many Allowed values: 1, 2."},
                    "mode": {"type": "string", "enum": ["a", "b"], "nullable": true}
                },
                "required": ["id"]
            })
        );
    }

    #[test]
    fn inlines_refs_and_bounds_recursion() {
        let s = json!({
            "type": "object",
            "properties": {"root": {"$ref": "#/$defs/Node", "description": "The tree"}},
            "$defs": {"Node": {"type": "object", "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
            }}}
        });
        let out = for_parameters(&s).unwrap();
        assert!(out.get("$defs").is_none());
        let root = &out["properties"]["root"];
        assert_eq!(root["description"], "The tree");
        let child = &root["properties"]["children"]["items"];
        assert_eq!(child["properties"]["name"]["type"], "string");
        // The third expansion of the same ref is cut to an unconstrained object.
        assert_eq!(
            child["properties"]["children"]["items"],
            json!({"type": "object"})
        );
        assert!(!out.to_string().contains("$ref"));
    }

    #[test]
    fn empty_parameters_are_omitted_and_type_lists_split() {
        assert_eq!(
            for_parameters(&json!({"type": "object", "properties": {}})),
            None
        );
        assert_eq!(
            for_parameters(&json!({"type": "object", "additionalProperties": false})),
            None
        );
        let out =
            for_parameters(&json!({"properties": {"v": {"type": ["string", "number", "null"]}}}))
                .unwrap();
        assert_eq!(
            out["properties"]["v"],
            json!({"anyOf": [{"type": "string"}, {"type": "number"}], "nullable": true})
        );
    }

    #[test]
    fn merges_all_of_and_survives_hostile_input() {
        let s = json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}
        ]});
        let out = for_parameters(&s).unwrap();
        assert_eq!(out["required"], json!(["a", "b"]));
        assert_eq!(out["properties"]["b"]["type"], "boolean");
        // Self-reference at the root and an exponential fan-out both terminate.
        let s = json!({"type": "object", "properties": {"a": {"$ref": "#"}, "b": {"$ref": "#"}}});
        assert!(for_parameters(&s).is_some());
        let mut deep = json!({"type": "string"});
        for _ in 0..200 {
            deep = json!({"type": "object", "properties": {"x": deep}});
        }
        assert!(for_parameters(&deep).is_some());
    }

    #[test]
    fn json_schema_mode_keeps_the_schema_but_its_dialect_marker() {
        let s =
            json!({"$schema": "x", "type": "object", "additionalProperties": false, "$defs": {}});
        assert_eq!(
            for_json_schema(&s),
            json!({"type": "object", "additionalProperties": false, "$defs": {}})
        );
    }
}
