//! Model-name normalisation and the provider routes lookups take.

/// Providers that run on the caller's own hardware: every model is free.
pub(crate) const LOCAL_PROVIDERS: &[&str] = &["ollama", "lm-studio", "vllm"];

/// Where a provider's prices may also be found, in order, after its own entries.
/// Azure OpenAI bills OpenAI's list prices; Azure AI Foundry and GitHub Models serve the same
/// catalogue (Azure AI's own rows first, then Azure OpenAI's, then OpenAI's).
pub(crate) fn fallback_providers(provider: &str) -> &'static [&'static str] {
    match provider {
        "azure-openai" => &["openai"],
        "azure-ai" => &["azure-openai", "openai"],
        "github" => &["azure-ai", "azure-openai", "openai"],
        _ => &[],
    }
}

/// Providers whose model ids may carry a publisher prefix (`openai/gpt-4.1`, `meta/Llama-…`)
/// that their price rows do not.
pub(crate) fn strips_publisher(provider: &str) -> bool {
    matches!(provider, "github" | "azure-ai")
}

/// OpenRouter vendor prefix → the first-party provider whose list prices OpenRouter passes
/// through. Only vendors that serve their own models: open-weight families (Llama, Qwen,
/// DeepSeek, ...) are served on OpenRouter by many hosts at many prices, so they get none.
pub(crate) fn openrouter_vendor(vendor: &str) -> Option<&'static str> {
    Some(match vendor {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "google" => "google",
        "x-ai" => "x-ai",
        "mistralai" => "mistral-ai",
        "perplexity" => "perplexity-ai",
        _ => return None,
    })
}

/// The normal form of a model id: ASCII-lowercased, without a `models/` prefix (Gemini) and
/// without one trailing snapshot suffix: `-2024-08-06`, `-20240620`, `@20240620`,
/// `@2024-06-20` (a plausible 20xx date), or a `-001`-style revision (Gemini). Nothing else
/// is stripped: four-digit suffixes (`-0613`, `-2507`) are dates in some families and distinct
/// models in others.
pub(crate) fn normalize(model: &str) -> String {
    let mut m = model.trim().to_ascii_lowercase();
    if let Some(rest) = m.strip_prefix("models/") {
        m = rest.to_owned();
    }
    let cut = snapshot_suffix_start(&m);
    m.truncate(cut);
    m
}

fn snapshot_suffix_start(m: &str) -> usize {
    let b = m.as_bytes();
    let n = b.len();
    let sep = |i: usize| b[i] == b'-' || b[i] == b'@';
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    // -YYYY-MM-DD / @YYYY-MM-DD
    if n > 11
        && sep(n - 11)
        && digits(n - 10..n - 6)
        && b[n - 6] == b'-'
        && digits(n - 5..n - 3)
        && b[n - 3] == b'-'
        && digits(n - 2..n)
        && plausible_date(&m[n - 10..n - 6], &m[n - 5..n - 3], &m[n - 2..n])
    {
        return n - 11;
    }
    // -YYYYMMDD / @YYYYMMDD
    if n > 9
        && sep(n - 9)
        && digits(n - 8..n)
        && plausible_date(&m[n - 8..n - 4], &m[n - 4..n - 2], &m[n - 2..n])
    {
        return n - 9;
    }
    // -00N revision
    if n > 4 && b[n - 4] == b'-' && &m[n - 3..n - 1] == "00" && b[n - 1].is_ascii_digit() {
        return n - 4;
    }
    n
}

fn plausible_date(y: &str, m: &str, d: &str) -> bool {
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    (2000..2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)
}

/// `ft:gpt-4o-2024-08-06:org:name:id` → `ft:gpt-4o-2024-08-06`: OpenAI fine-tunes are priced
/// per base model, under the `ft:` prefix (never at the base model's price).
pub(crate) fn fine_tune_base(model: &str) -> Option<&str> {
    let rest = model.strip_prefix("ft:")?;
    let end = rest.find(':')?;
    Some(&model[..3 + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_snapshot_suffixes_only() {
        assert_eq!(normalize("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(normalize("claude-3-5-sonnet@20240620"), "claude-3-5-sonnet");
        assert_eq!(normalize("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
        assert_eq!(normalize("claude-x@2025-09-29"), "claude-x");
        assert_eq!(normalize("models/gemini-2.5-pro"), "gemini-2.5-pro");
        assert_eq!(normalize("gemini-2.0-flash-001"), "gemini-2.0-flash");
        assert_eq!(normalize("GPT-4o"), "gpt-4o");
        // not dates, or not unambiguous: kept
        assert_eq!(normalize("gpt-4-0613"), "gpt-4-0613");
        assert_eq!(normalize("qwen3-instruct-2507"), "qwen3-instruct-2507");
        assert_eq!(normalize("model-99999999"), "model-99999999");
        assert_eq!(normalize("x-2024-13-01"), "x-2024-13-01");
        assert_eq!(normalize("-20240620"), "-20240620");
    }

    #[test]
    fn fine_tunes_keep_their_base() {
        assert_eq!(
            fine_tune_base("ft:gpt-4o-2024-08-06:acme::abc123"),
            Some("ft:gpt-4o-2024-08-06")
        );
        assert_eq!(fine_tune_base("gpt-4o"), None);
        assert_eq!(fine_tune_base("ft:gpt-4o"), None);
    }
}
