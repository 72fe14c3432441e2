//! Model prices and the cost engine.
//!
//! A price table for every provider Portcullis supports is embedded in the binary
//! (`data/prices.json`, imported from LiteLLM's open price list: see `data/README.md`) and
//! parsed once on first use. Money is integer nano-dollars (10⁻⁹ USD), as in
//! `portcullis_core::limits`; prices are nano-dollars per million tokens; sums are exact in
//! `i128` and rounded once.
//!
//! ```
//! use portcullis_core::Usage;
//! use portcullis_pricing::PriceTable;
//!
//! let usage = Usage { prompt_tokens: 10_000, cached_tokens: 6_000, completion_tokens: 500, ..Usage::default() };
//! let cost = PriceTable::bundled().cost("openai", "gpt-4o", &usage).unwrap();
//! // 4,000 × $2.50/M + 6,000 × $1.25/M + 500 × $10/M = $0.0225
//! assert_eq!(cost.total_nanos, 22_500_000);
//! ```
//!
//! # Counting rules
//! `Usage` follows OpenAI: `prompt_tokens` includes cached and cache-write tokens, and
//! `completion_tokens` includes reasoning tokens. So:
//! - uncached input = prompt − cached − cache_write, at the input price;
//! - cached × cached-input price (no cached price: input price);
//! - cache_write × cache-write price (none: input price). `Usage` cannot tell Anthropic's
//!   1-hour writes from 5-minute ones: all are charged at the 5-minute price;
//! - (completion − reasoning) × output price + reasoning × reasoning price (none: output);
//! - a per-request fee when the model has one; other units (images, audio seconds, web
//!   searches) are stored but not charged, as `Usage` does not count them;
//! - when `prompt_tokens` exceeds a tier's threshold, the highest such tier prices the whole
//!   request (Anthropic >200k, Gemini >200k, OpenAI >272k, Qwen's bands all work this way);
//! - counts are clamped (cached ≤ prompt, cache_write ≤ prompt − cached, reasoning ≤
//!   completion) so inconsistent provider usage cannot produce a negative part.

mod cost;
mod error;
mod index;
mod names;
mod overrides;
mod parse;
mod price;
mod table;

pub use cost::Cost;
pub use error::PricingError;
pub use overrides::Overrides;
pub use price::{Mode, ModelPrice, NanosPerMTok, NanosPerUnit, Tier, TokenPrices, Units};
pub use table::{BUNDLED_JSON, PriceSource, PriceTable, Quote, TableMeta};
