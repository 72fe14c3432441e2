//! Request bodies: a 1 MiB cap (413), JSON objects only, `""` dropped like the SDK does, typed
//! parsing whose errors name the field, and the three-state `Patch` for update fields.

use axum::extract::{FromRequest, Request};
use http::header::CONTENT_LENGTH;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// The largest request body the admin API reads.
pub const MAX_BODY: usize = 1024 * 1024;

/// The raw body, read up to [`MAX_BODY`]; parsed later, after the caller's scopes were checked.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(ApiError::too_large(MAX_BODY));
        }
        axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map(RawBody)
            .map_err(|_| ApiError::too_large(MAX_BODY))
    }
}

impl RawBody {
    /// The body as a JSON object (an empty body is `{}`), `""` values removed at every depth.
    pub fn value(&self) -> ApiResult<Value> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        let v: Value = serde_json::from_slice(&self.0)
            .map_err(|e| ApiError::invalid(format!("request body is not valid JSON: {e}")))?;
        if !v.is_object() {
            return Err(ApiError::invalid("request body must be a JSON object"));
        }
        Ok(drop_empty_strings(v))
    }

    /// The body parsed as `T`; unknown fields are ignored, wrong types name their path.
    pub fn parse<T: DeserializeOwned>(&self) -> ApiResult<T> {
        from_value(self.value()?)
    }
}

/// Typed parsing of an already-read JSON value, naming the path of a bad field.
pub fn from_value<T: DeserializeOwned>(v: Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A missing field is reported at its parent: name the field itself.
        if let Some(name) = inner
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            let at = if path == "." {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            return ApiError::field(&at, format!("{at} is required"));
        }
        if path == "." {
            ApiError::invalid(format!("invalid request body: {inner}"))
        } else {
            ApiError::field(&path, format!("{path}: {inner}"))
        }
    })
}

/// Removes `""` from objects and lists, recursively (the Python SDK's body cleaning).
pub fn drop_empty_strings(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| v.as_str() != Some(""))
                .map(|(k, v)| (k, drop_empty_strings(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter(|v| v.as_str() != Some(""))
                .map(drop_empty_strings)
                .collect(),
        ),
        other => other,
    }
}

/// An update field: absent (unchanged), `null` (clear) or a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(|o| o.map_or(Patch::Null, Patch::Value))
    }
}

impl<T> Patch<T> {
    /// The new value of a field currently `current`.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Null => None,
            Patch::Value(v) => Some(v),
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }
}

/// A flag sent as `0`/`1` (Portkey's `is_default`) or `true`/`false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            B(bool),
            N(i64),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("invalid type: expected 0, 1, true or false"))?
        {
            Raw::B(b) => Ok(Flag(b)),
            Raw::N(0) => Ok(Flag(false)),
            Raw::N(1) => Ok(Flag(true)),
            Raw::N(n) => Err(serde::de::Error::custom(format!(
                "expected 0 or 1, got {n}"
            ))),
        }
    }
}

/// A required string field: present and not empty, else 400 naming it.
pub fn required<'a>(field: &str, v: &'a Option<String>) -> ApiResult<&'a str> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field(field, format!("{field} is required")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct T {
        #[serde(default)]
        limit: Patch<u32>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        flag: Option<Flag>,
        #[serde(default)]
        #[allow(dead_code)]
        nested: Option<Vec<Inner>>,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        value: u64,
    }

    fn raw(v: Value) -> RawBody {
        RawBody(v.to_string().into())
    }

    #[test]
    fn three_states_and_unknown_fields() {
        let t: T = raw(json!({"extra": 1})).parse().unwrap();
        assert_eq!(t.limit, Patch::Absent);
        let t: T = raw(json!({"limit": null})).parse().unwrap();
        assert_eq!(t.limit, Patch::Null);
        let t: T = raw(json!({"limit": 3, "name": ""})).parse().unwrap();
        assert_eq!(t.limit, Patch::Value(3));
        assert_eq!(t.name, None, "empty strings are dropped");
        assert_eq!(Patch::Null.apply(Some(1)), None);
        assert_eq!(Patch::Absent.apply(Some(1)), Some(1));
    }

    #[test]
    fn errors_name_the_field() {
        let e = raw(json!({"nested": [{"value": "x"}]}))
            .parse::<T>()
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("nested[0].value"));
        assert!(
            e.message.starts_with("nested[0].value: invalid type"),
            "{}",
            e.message
        );
        let e = raw(json!({"flag": 2})).parse::<T>().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("flag"));
        let e = RawBody("[1]".into()).parse::<T>().unwrap_err();
        assert!(e.message.contains("object"));
        let e = RawBody("{".into()).parse::<T>().unwrap_err();
        assert!(e.message.contains("not valid JSON"));
        let t: T = RawBody("".into()).parse().unwrap();
        assert!(t.name.is_none());
    }

    #[test]
    fn flags_accept_both_spellings() {
        let t: T = raw(json!({"flag": 1})).parse().unwrap();
        assert_eq!(t.flag, Some(Flag(true)));
        let t: T = raw(json!({"flag": false})).parse().unwrap();
        assert_eq!(t.flag, Some(Flag(false)));
    }

    #[test]
    fn strips_nested_empty_strings() {
        assert_eq!(
            drop_empty_strings(json!({"a": {"b": "", "c": ["", "x"]}, "d": ""})),
            json!({"a": {"c": ["x"]}})
        );
    }
}
