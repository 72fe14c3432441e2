//! One model's prices, in integer nano-dollars.

/// Nano-dollars (10⁻⁹ USD) per million tokens. `$2.50 / 1M tokens` is `2_500_000_000`.
pub type NanosPerMTok = i64;

/// Nano-dollars per unit (request, image, second, query, page). `$0.04 / image` is `40_000_000`.
pub type NanosPerUnit = i64;

/// Token prices of one model, or of one of its long-context tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenPrices {
    /// Uncached input (prompt) tokens.
    pub input: NanosPerMTok,
    /// Output (completion) tokens.
    pub output: NanosPerMTok,
    /// Input tokens read from the prompt cache. `None`: no discount, the input price applies.
    pub cached_input: Option<NanosPerMTok>,
    /// Input tokens written to the prompt cache (Anthropic's 5-minute write, OpenAI's cache
    /// write). `None`: written tokens cost the input price.
    pub cache_write: Option<NanosPerMTok>,
    /// Anthropic's 1-hour cache write. Kept for reference: `Usage` does not tell 1-hour writes
    /// from 5-minute ones, so the engine charges every write at `cache_write`.
    pub cache_write_1h: Option<NanosPerMTok>,
    /// Reasoning tokens when priced apart from output. `None`: the output price applies.
    pub reasoning: Option<NanosPerMTok>,
}

impl TokenPrices {
    /// The price of a cache read (falls back to the input price).
    pub fn cached_input_or_input(&self) -> NanosPerMTok {
        self.cached_input.unwrap_or(self.input)
    }

    /// The price of a cache write (falls back to the input price).
    pub fn cache_write_or_input(&self) -> NanosPerMTok {
        self.cache_write.unwrap_or(self.input)
    }

    /// The price of a reasoning token (falls back to the output price).
    pub fn reasoning_or_output(&self) -> NanosPerMTok {
        self.reasoning.unwrap_or(self.output)
    }
}

/// Long-context pricing: when a request's prompt exceeds `above_prompt_tokens`, the whole
/// request (every input, cache and output token) is billed at `prices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub above_prompt_tokens: u64,
    pub prices: TokenPrices,
}

/// Prices in units other than text tokens. Stored as the source gives them; the cost engine
/// charges only `per_request`, because `Usage` carries no count for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Units {
    /// A fixed fee per request.
    pub per_request: Option<NanosPerUnit>,
    pub per_input_image: Option<NanosPerUnit>,
    pub per_output_image: Option<NanosPerUnit>,
    pub per_input_second: Option<NanosPerUnit>,
    pub per_output_second: Option<NanosPerUnit>,
    pub per_input_audio_second: Option<NanosPerUnit>,
    pub per_input_video_second: Option<NanosPerUnit>,
    pub per_output_video_second: Option<NanosPerUnit>,
    /// Search APIs: per query.
    pub per_query: Option<NanosPerUnit>,
    /// OCR: per page.
    pub per_page: Option<NanosPerUnit>,
    /// Built-in web search tool, per call (the source's "medium" search context price).
    pub per_web_search: Option<NanosPerUnit>,
    pub input_audio: Option<NanosPerMTok>,
    pub output_audio: Option<NanosPerMTok>,
    pub cached_input_audio: Option<NanosPerMTok>,
    pub input_image_token: Option<NanosPerMTok>,
    pub output_image_token: Option<NanosPerMTok>,
    pub input_video_token: Option<NanosPerMTok>,
    /// Per million characters (character-billed models).
    pub input_character: Option<NanosPerMTok>,
    pub output_character: Option<NanosPerMTok>,
}

impl Units {
    pub(crate) fn slot(&mut self, name: &str) -> Option<&mut Option<i64>> {
        Some(match name {
            "per_request" => &mut self.per_request,
            "per_input_image" => &mut self.per_input_image,
            "per_output_image" => &mut self.per_output_image,
            "per_input_second" => &mut self.per_input_second,
            "per_output_second" => &mut self.per_output_second,
            "per_input_audio_second" => &mut self.per_input_audio_second,
            "per_input_video_second" => &mut self.per_input_video_second,
            "per_output_video_second" => &mut self.per_output_video_second,
            "per_query" => &mut self.per_query,
            "per_page" => &mut self.per_page,
            "per_web_search" => &mut self.per_web_search,
            "input_audio" => &mut self.input_audio,
            "output_audio" => &mut self.output_audio,
            "cached_input_audio" => &mut self.cached_input_audio,
            "input_image_token" => &mut self.input_image_token,
            "output_image_token" => &mut self.output_image_token,
            "input_video_token" => &mut self.input_video_token,
            "input_character" => &mut self.input_character,
            "output_character" => &mut self.output_character,
            _ => return None,
        })
    }
}

/// What a model does (the source's `mode`): `chat`, `embedding`, `image_generation`, ...
pub type Mode = Box<str>;

/// One model's prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPrice {
    /// Portkey provider slug the entry belongs to (`openai`, `anthropic`, ...).
    pub provider: Box<str>,
    /// Model id as the provider names it (`gpt-4o`, `accounts/fireworks/models/deepseek-v3`).
    pub model: Box<str>,
    pub mode: Option<Mode>,
    /// Text-token prices. `None`: the model is priced only in other units (images, seconds).
    pub tokens: Option<TokenPrices>,
    /// Long-context tiers, ascending by threshold.
    pub tiers: Vec<Tier>,
    pub units: Units,
    /// The model's output cap, when the source states it (a default for reservations).
    pub max_output_tokens: Option<u64>,
}

impl ModelPrice {
    /// A model with input and output prices only, in USD per million tokens (for overrides
    /// built in code). `None` when a price is negative, not finite or above $10,000 per 1M.
    pub fn per_million_usd(model: &str, input: f64, output: f64) -> Option<ModelPrice> {
        let input = crate::parse::usd_to_nanos(input).ok()?;
        let output = crate::parse::usd_to_nanos(output).ok()?;
        Some(ModelPrice {
            provider: "".into(),
            model: model.into(),
            mode: None,
            tokens: Some(TokenPrices {
                input,
                output,
                ..TokenPrices::default()
            }),
            tiers: Vec::new(),
            units: Units::default(),
            max_output_tokens: None,
        })
    }

    /// The token prices that apply to a request with this many prompt tokens: the highest
    /// tier whose threshold the prompt exceeds, else the base prices.
    pub fn prices_for(&self, prompt_tokens: u64) -> Option<(&TokenPrices, Option<u64>)> {
        let base = self.tokens.as_ref()?;
        Some(
            self.tiers
                .iter()
                .rev()
                .find(|t| prompt_tokens > t.above_prompt_tokens)
                .map_or((base, None), |t| (&t.prices, Some(t.above_prompt_tokens))),
        )
    }

    /// Prices equal (names aside): used to decide whether a normalised name is ambiguous.
    pub(crate) fn same_prices(&self, other: &ModelPrice) -> bool {
        self.tokens == other.tokens && self.tiers == other.tiers && self.units == other.units
    }

    /// The zero price of a local server (Ollama, LM Studio, vLLM).
    pub(crate) fn free(provider: &str) -> ModelPrice {
        ModelPrice {
            provider: provider.into(),
            model: "*".into(),
            mode: None,
            tokens: Some(TokenPrices::default()),
            tiers: Vec::new(),
            units: Units::default(),
            max_output_tokens: None,
        }
    }
}
