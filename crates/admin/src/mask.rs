//! Secrets on the way in and out: masks (`sE*****3BM`), sealing of sensitive configuration values,
//! and opening them again.
//!
//! A sensitive top-level value of `configurations` / `model_config` (a field named like
//! `*secret*`, `*key*`, `*token*`, `*password*`, `*service_account*`) is stored in place as the
//! sealer's text (`v1.<nonce>.<ciphertext>`; a non-string value is sealed as its JSON text), which
//! is what the gateway's snapshot opens. Reads show every sensitive field, at any depth, only as
//! `masked_<field>: "<mask>"`.

use portcullis_control::crypto::{CryptoError, Sealer};
use serde_json::{Map, Value};

/// Portkey's mask: 2 chars, 5 `*`, last 3. Secrets under 16 characters are masked entirely.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 16 {
        return "*****".to_owned();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}*****{tail}")
}

/// The mask of a gateway key from its stored visible part (`pcl_AbCdEfGh…` → `pc*****fGh`): the
/// hash is all that is kept of the rest, so the last 3 shown are the last visible ones.
pub fn mask_visible(visible: &str) -> String {
    let chars: Vec<char> = visible.trim_end_matches('…').chars().collect();
    if chars.len() < 5 {
        return "*****".to_owned();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}*****{tail}")
}

/// Whether a field's value is a secret, by its name.
pub fn is_sensitive(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    ["secret", "key", "token", "password", "serviceaccount"]
        .iter()
        .any(|w| n.contains(w))
}

/// The plaintext of a value this sealer sealed, if it is one.
fn opened(sealer: &Sealer, v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| s.starts_with("v1."))
        .and_then(|s| sealer.open(s).ok())
}

/// Seals every sensitive top-level value of `map`; drops `masked_*` fields a client echoed back
/// from a read. Values already sealed by this sealer are kept as they are.
pub fn seal_map(sealer: &Sealer, map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, _)| !k.starts_with("masked_"))
        .map(|(k, v)| {
            let sealable = is_sensitive(&k) && !v.is_null() && opened(sealer, &v).is_none();
            let v = match v {
                Value::String(s) if sealable => Value::String(sealer.seal(&s)),
                v @ (Value::Object(_) | Value::Array(_)) if sealable => {
                    Value::String(sealer.seal(&v.to_string()))
                }
                other => other,
            };
            (k, v)
        })
        .collect()
}

/// The map as reads show it: every sensitive `x` (at any depth) becomes `masked_x`.
pub fn masked_map(sealer: &Sealer, map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(k, v)| {
            if is_sensitive(k) && !v.is_null() {
                let mask = match (opened(sealer, v), v) {
                    // JSON documents (service accounts) show nothing of themselves.
                    (Some(plain), _) if plain.starts_with(['{', '[']) => "*****".to_owned(),
                    (Some(plain), _) => mask_secret(&plain),
                    (None, Value::String(s)) if !s.starts_with("v1.") => mask_secret(s),
                    _ => "*****".to_owned(),
                };
                (format!("masked_{k}"), Value::String(mask))
            } else {
                (k.clone(), masked_value(sealer, v))
            }
        })
        .collect()
}

fn masked_value(sealer: &Sealer, v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(masked_map(sealer, m)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| masked_value(sealer, i)).collect())
        }
        other => other.clone(),
    }
}

/// The map with every sealed top-level value opened (strings; JSON values stay JSON text).
pub fn open_map(
    sealer: &Sealer,
    map: &Map<String, Value>,
) -> Result<Map<String, Value>, CryptoError> {
    map.iter()
        .map(|(k, v)| {
            let v = match v
                .as_str()
                .filter(|s| s.starts_with("v1.") && is_sensitive(k))
            {
                Some(s) => Value::String(sealer.open(s)?),
                None => v.clone(),
            };
            Ok((k.clone(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_like_portkey() {
        assert_eq!(mask_secret("sE0123456789abcdef3BM"), "sE*****3BM");
        assert_eq!(mask_secret("short"), "*****");
        assert_eq!(mask_visible("pcl_AbCdEfGh…"), "pc*****fGh");
        assert_eq!(mask_visible("…"), "*****");
    }

    #[test]
    fn sensitive_names() {
        for n in [
            "client_secret",
            "azure_entra_client_secret",
            "aws_secret_access_key",
            "awsSecretAccessKey",
            "vertex_service_account_json",
            "vertexServiceAccountJson",
            "api_key",
            "x-api-key",
            "password",
            "auth_token",
        ] {
            assert!(is_sensitive(n), "{n}");
        }
        for n in [
            "openai_organization",
            "azure_resource_name",
            "custom_host",
            "aws_region",
        ] {
            assert!(!is_sensitive(n), "{n}");
        }
    }

    #[test]
    fn seals_masks_and_opens() {
        let s = Sealer::from_key(&[3u8; 32]);
        let input = json!({
            "azure_entra_client_secret": "very-secret-value-123456",
            "azure_resource_name": "res",
            "vertex_service_account_json": {"private_key": "pk"},
            "custom_headers": {"x-api-key": "header-secret-abcdefgh"},
            "masked_client_secret": "ab*****xyz",
            "max_retries": 3
        });
        let sealed = seal_map(&s, input.as_object().unwrap().clone());
        let text = Value::Object(sealed.clone()).to_string();
        assert!(!text.contains("very-secret-value"));
        assert!(!text.contains("\"pk\""));
        assert!(
            sealed["azure_entra_client_secret"]
                .as_str()
                .unwrap()
                .starts_with("v1.")
        );
        assert!(!sealed.contains_key("masked_client_secret"));
        let shown = Value::Object(masked_map(&s, &sealed));
        let shown_text = shown.to_string();
        assert!(!shown_text.contains("header-secret-abcdefgh") && !shown_text.contains("v1."));
        assert_eq!(shown["masked_azure_entra_client_secret"], "ve*****456");
        assert_eq!(shown["azure_resource_name"], "res");
        assert_eq!(shown["masked_vertex_service_account_json"], "*****");
        assert_eq!(shown["custom_headers"]["masked_x-api-key"], "he*****fgh");
        assert!(shown.get("azure_entra_client_secret").is_none());
        let opened = open_map(&s, &sealed).unwrap();
        assert_eq!(
            opened["azure_entra_client_secret"],
            "very-secret-value-123456"
        );
        assert_eq!(
            opened["vertex_service_account_json"],
            json!({"private_key": "pk"}).to_string()
        );
        assert_eq!(
            seal_map(&s, sealed.clone()),
            sealed,
            "sealing is idempotent"
        );
    }
}
