//! The provider table: every slug the gateway accepts, its wire family and default base URL.
//!
//! Slugs are Portkey's. An OpenAI-compatible provider is one row here and no code.

/// Which adapter speaks to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// OpenAI's wire format at `<base>/chat/completions` with `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI: deployment URLs, `api-key` header or Entra bearer token.
    AzureOpenAi,
    /// Anthropic Messages API.
    Anthropic,
    /// Google Gemini (AI Studio) `generateContent`.
    Google,
}

/// One provider.
#[derive(Debug, PartialEq, Eq)]
pub struct ProviderSpec {
    pub slug: &'static str,
    pub family: Family,
    /// Default base URL (replaced by `custom_host`). Empty: a `custom_host` is required.
    pub base_url: &'static str,
    /// Inserted between the base URL and the endpoint path, after a `custom_host` too (Ollama and
    /// several hosted providers serve OpenAI under `/v1`).
    pub path_prefix: &'static str,
    /// The provider has no hosted endpoint: the default base URL is a local server.
    pub local: bool,
}

const fn openai(slug: &'static str, base_url: &'static str) -> ProviderSpec {
    ProviderSpec {
        slug,
        family: Family::OpenAi,
        base_url,
        path_prefix: "",
        local: false,
    }
}

/// A hosted OpenAI-compatible provider whose endpoint paths carry a prefix after the base URL
/// (Portkey puts it in the endpoint, so a `custom_host` gets it appended too).
const fn openai_prefixed(
    slug: &'static str,
    base_url: &'static str,
    path_prefix: &'static str,
) -> ProviderSpec {
    ProviderSpec {
        slug,
        family: Family::OpenAi,
        base_url,
        path_prefix,
        local: false,
    }
}

const fn local(
    slug: &'static str,
    base_url: &'static str,
    path_prefix: &'static str,
) -> ProviderSpec {
    ProviderSpec {
        slug,
        family: Family::OpenAi,
        base_url,
        path_prefix,
        local: true,
    }
}

/// Every provider, sorted by slug.
pub static PROVIDERS: &[ProviderSpec] = &[
    // Hosted rows follow Portkey's `src/providers/<slug>/api.ts` (getBaseURL + getEndpoint)
    // unless a comment names the provider's own API reference.
    openai_prefixed("302ai", "https://api.302.ai", "/v1"),
    ProviderSpec {
        slug: "anthropic",
        family: Family::Anthropic,
        base_url: "https://api.anthropic.com/v1",
        path_prefix: "",
        local: false,
    },
    // Per-deployment host (Azure AI Foundry / serverless endpoint): a custom_host is required.
    openai("azure-ai", ""),
    ProviderSpec {
        slug: "azure-openai",
        family: Family::AzureOpenAi,
        base_url: "",
        path_prefix: "",
        local: false,
    },
    openai("cerebras", "https://api.cerebras.ai/v1"),
    openai("cometapi", "https://api.cometapi.com/v1"),
    openai(
        "dashscope",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
    ),
    openai("deepinfra", "https://api.deepinfra.com/v1/openai"),
    openai_prefixed("deepseek", "https://api.deepseek.com", "/v1"),
    openai("featherless-ai", "https://api.featherless.ai/v1"),
    openai("fireworks-ai", "https://api.fireworks.ai/inference/v1"),
    // GitHub Models docs (Portkey still uses the deprecated models.inference.ai.azure.com).
    openai("github", "https://models.github.ai/inference"),
    ProviderSpec {
        slug: "google",
        family: Family::Google,
        base_url: "https://generativelanguage.googleapis.com",
        path_prefix: "",
        local: false,
    },
    openai("groq", "https://api.groq.com/openai/v1"),
    openai_prefixed("hyperbolic", "https://api.hyperbolic.xyz", "/v1"),
    openai("inference-net", "https://api.inference.net/v1"),
    openai("kluster-ai", "https://api.kluster.ai/v1"),
    // Lambda docs (Portkey still uses api.lambdalabs.com).
    openai("lambda", "https://api.lambda.ai/v1"),
    openai("lemonfox-ai", "https://api.lemonfox.ai/v1"),
    // Not in Portkey: LM Studio docs (default port 1234).
    local("lm-studio", "http://localhost:1234", "/v1"),
    openai("mistral-ai", "https://api.mistral.ai/v1"),
    openai_prefixed("moonshot", "https://api.moonshot.cn", "/v1"),
    // Nebius Token Factory docs (formerly AI Studio; Portkey still uses api.studio.nebius.ai).
    openai("nebius", "https://api.tokenfactory.nebius.com/v1"),
    // Novita API reference (Portkey still uses the older /v3/openai base).
    openai_prefixed("novita-ai", "https://api.novita.ai/openai", "/v1"),
    openai("nscale", "https://inference.api.nscale.com/v1"),
    // Not in Portkey (it routes NIM as `openai` + custom_host): NVIDIA API catalog docs.
    openai("nvidia-nim", "https://integrate.api.nvidia.com/v1"),
    // Portkey has no default host for Ollama; this is Ollama's default port.
    local("ollama", "http://localhost:11434", "/v1"),
    openai("openai", "https://api.openai.com/v1"),
    openai_prefixed("openrouter", "https://openrouter.ai/api", "/v1"),
    openai("perplexity-ai", "https://api.perplexity.ai"),
    openai_prefixed("sambanova", "https://api.sambanova.ai", "/v1"),
    openai("siliconflow", "https://api.siliconflow.cn/v1"),
    openai_prefixed("together-ai", "https://api.together.xyz", "/v1"),
    openai("upstage", "https://api.upstage.ai/v1/solar"),
    // Not in Portkey: vLLM docs (`vllm serve` default port 8000).
    local("vllm", "http://localhost:8000", "/v1"),
    openai("x-ai", "https://api.x.ai/v1"),
    openai("z-ai", "https://api.z.ai/api/paas/v4"),
    openai("zhipu", "https://open.bigmodel.cn/api/paas/v4"),
];

/// Looks a provider up by slug (exact, lowercase as Portkey's).
pub fn find(slug: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS
        .binary_search_by(|p| p.slug.cmp(slug))
        .ok()
        .map(|i| &PROVIDERS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in PROVIDERS.windows(2) {
            assert!(w[0].slug < w[1].slug, "{} before {}", w[0].slug, w[1].slug);
        }
    }

    #[test]
    fn finds_known_and_rejects_unknown() {
        assert_eq!(find("groq").unwrap().family, Family::OpenAi);
        assert_eq!(find("anthropic").unwrap().family, Family::Anthropic);
        assert!(find("nope").is_none());
        assert!(find("OpenAI").is_none());
    }

    #[test]
    fn hosted_urls_are_https_and_local_ones_loopback() {
        for p in PROVIDERS {
            if p.base_url.is_empty() {
                continue;
            }
            if p.local {
                assert!(p.base_url.starts_with("http://localhost"), "{}", p.slug);
            } else {
                assert!(p.base_url.starts_with("https://"), "{}", p.slug);
            }
            assert!(!p.base_url.ends_with('/'), "{}", p.slug);
        }
    }

    #[test]
    fn covers_at_least_twenty_openai_compatible_providers() {
        let n = PROVIDERS
            .iter()
            .filter(|p| p.family == Family::OpenAi)
            .count();
        assert!(n >= 20, "only {n}");
    }
}
