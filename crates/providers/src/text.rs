//! A JSON string field read without a copy.

use std::borrow::Cow;
use std::ops::Deref;

use serde::Deserialize;

/// A string borrowed from the JSON it was read from when it has no escapes (else an owned
/// copy). Optional string fields are `Option<Text>`: serde borrows a `Cow` only when it is a
/// field's whole type, so `Option<Cow<str>>` allocates a copy of every string it reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl Text<'_> {
    pub fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Chunk<'a> {
        #[serde(borrow, default)]
        model: Option<Text<'a>>,
    }

    #[test]
    fn borrowed_unless_escaped() {
        let c: Chunk<'_> = serde_json::from_str(r#"{"model":"gpt-4o"}"#).unwrap();
        assert!(matches!(c.model, Some(Text(Cow::Borrowed("gpt-4o")))));
        let c: Chunk<'_> = serde_json::from_str(r#"{"model":"a\nb"}"#).unwrap();
        assert!(matches!(c.model, Some(Text(Cow::Owned(ref s))) if s == "a\nb"));
        for absent in ["{}", r#"{"model":null}"#] {
            let c: Chunk<'_> = serde_json::from_str(absent).unwrap();
            assert!(c.model.is_none());
        }
    }
}
