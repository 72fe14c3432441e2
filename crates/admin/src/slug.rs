//! Generated and client-given slugs (doc §0.5): `pc-<6 chars of name>-<6 hex>`, `ws-…`, and
//! `<name up to 15 chars>-<6 hex>` for providers, virtual keys and integrations.

use rand::Rng;

/// Lowercase ASCII letters and digits, runs of anything else as one `-`, at most `max` chars,
/// no leading or trailing `-`.
pub fn slugify(name: &str, max: usize) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    out.trim_end_matches('-').to_owned()
}

/// Six random lowercase hex digits.
pub fn hex6() -> String {
    format!("{:06x}", rand::rng().random_range(0..0x0100_0000u32))
}

/// `<prefix>-<first 6 of the name>-<6 hex>` (`pc-prod-f-1a2b3c`).
pub fn prefixed(prefix: &str, name: &str) -> String {
    match slugify(name, 6) {
        s if s.is_empty() => format!("{prefix}-{}", hex6()),
        s => format!("{prefix}-{s}-{}", hex6()),
    }
}

/// `<name up to 15>-<6 hex>` (`copy-of-anthrop-b20259`).
pub fn named(name: &str) -> String {
    match slugify(name, 15) {
        s if s.is_empty() => hex6(),
        s => format!("{s}-{}", hex6()),
    }
}

/// A client-given slug: `^[a-zA-Z0-9_-]+$`, at most 100 characters.
pub fn check(field: &str, slug: &str) -> Result<(), String> {
    if slug.is_empty() || slug.len() > 100 {
        return Err(format!("{field} must be 1 to 100 characters"));
    }
    if !slug
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(format!(
            "{field} may contain only letters, digits, '-' and '_' (got {slug:?})"
        ));
    }
    if slug == "NOT_GIVEN" {
        return Err(format!("{field} cannot be NOT_GIVEN"));
    }
    Ok(())
}

/// Whether `s` looks like a UUID (addressing by id instead of slug).
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_slugs_follow_portkeys_examples() {
        let s = prefixed("pc", "e2e test config");
        assert!(s.starts_with("pc-e2e-te-"), "{s}");
        assert_eq!(s.len(), "pc-e2e-te-".len() + 6);
        assert!(prefixed("ws", "Shared Team Workspace").starts_with("ws-shared-"));
        assert!(prefixed("pc", "prod fallback").starts_with("pc-prod-f-"));
        assert!(named("Copy of Anthropic").starts_with("copy-of-anthrop-"));
        assert!(named("main").starts_with("main-"));
        assert_eq!(prefixed("pc", "!!!").len(), "pc-".len() + 6);
        let h = hex6();
        assert!(h.len() == 6 && h.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn slugify_cleans() {
        assert_eq!(slugify("  Hello, World!  ", 50), "hello-world");
        assert_eq!(slugify("ab cdef", 3), "ab");
        assert_eq!(slugify("Ünïcode", 10), "n-code");
    }

    #[test]
    fn given_slugs_are_checked() {
        assert!(check("slug", "openai-prod_2").is_ok());
        assert!(check("slug", "a b").unwrap_err().contains("slug"));
        assert!(check("slug", "").is_err());
        assert!(check("slug", "NOT_GIVEN").is_err());
        assert!(is_uuid("4c46f684-d96c-4b58-b356-81e5722cd19d"));
        assert!(!is_uuid("pc-abc"));
    }
}
