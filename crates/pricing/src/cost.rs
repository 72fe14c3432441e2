//! The counting rules: usage × prices → nano-dollars.

use portcullis_core::Usage;
use serde::Serialize;

use crate::price::ModelPrice;

/// What one request cost, in nano-dollars (10⁻⁹ USD).
///
/// `total_nanos` is the exact sum rounded once (half up); each component is rounded on its
/// own, so the components may differ from the total by a few nano-dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Cost {
    pub total_nanos: i64,
    /// Uncached input: prompt − cached − cache-write tokens, at the input price.
    pub input_nanos: i64,
    /// Cache reads, at the cached-input price.
    pub cached_nanos: i64,
    /// Cache writes, at the cache-write price.
    pub cache_write_nanos: i64,
    /// Visible output: completion − reasoning tokens, at the output price.
    pub output_nanos: i64,
    /// Reasoning tokens, at the reasoning price.
    pub reasoning_nanos: i64,
    /// A fixed per-request fee, when the model has one.
    pub request_nanos: i64,
    /// The long-context tier applied (its threshold), `None` for base prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier_above_prompt_tokens: Option<u64>,
}

/// Tokens per million: prices are per million tokens.
const PER_MILLION: i128 = 1_000_000;
/// Multipliers are carried as parts per million.
pub(crate) const PPM: u64 = 1_000_000;

fn mul(tokens: u64, nanos_per_m: i64) -> i128 {
    i128::from(tokens).saturating_mul(i128::from(nanos_per_m))
}

fn to_i64(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// `x × ppm / (10⁶ × 10⁶)`, rounded half up (every operand is non-negative).
fn scale_round(x: i128, ppm: u64) -> i64 {
    let d = PER_MILLION * i128::from(PPM);
    to_i64(x.saturating_mul(i128::from(ppm)).saturating_add(d / 2) / d)
}

/// Same, rounded up: reservations never come out short.
fn scale_ceil(x: i128, ppm: u64) -> i64 {
    let d = PER_MILLION * i128::from(PPM);
    to_i64(x.saturating_mul(i128::from(ppm)).saturating_add(d - 1) / d)
}

/// The cost of one request. `None` when the model has no token prices.
///
/// Counting (OpenAI semantics, as `Usage` keeps them):
/// - cached = min(cached_tokens, prompt); cache_write = min(cache_write_tokens, prompt − cached);
///   uncached = prompt − cached − cache_write. Gemini's `promptTokenCount` already includes
///   cached tokens, and so does `prompt_tokens`: they are charged once, at the cached price.
/// - reasoning = min(reasoning_tokens, completion); visible = completion − reasoning.
/// - The tier is chosen by `prompt_tokens` (cache reads and writes included) and prices the
///   whole request.
pub(crate) fn cost(price: &ModelPrice, usage: &Usage, multiplier_ppm: u64) -> Option<Cost> {
    let (p, tier) = price.prices_for(usage.prompt_tokens)?;
    let prompt = usage.prompt_tokens;
    let cached = usage.cached_tokens.min(prompt);
    let cache_write = usage.cache_write_tokens.min(prompt - cached);
    let uncached = prompt - cached - cache_write;
    let reasoning = usage.reasoning_tokens.min(usage.completion_tokens);
    let visible = usage.completion_tokens - reasoning;

    let input = mul(uncached, p.input);
    let cached_part = mul(cached, p.cached_input_or_input());
    let write = mul(cache_write, p.cache_write_or_input());
    let output = mul(visible, p.output);
    let reasoning_part = mul(reasoning, p.reasoning_or_output());
    let request = i128::from(price.units.per_request.unwrap_or(0)).saturating_mul(PER_MILLION);
    let total = [cached_part, write, output, reasoning_part, request]
        .into_iter()
        .fold(input, i128::saturating_add);

    let r = |x| scale_round(x, multiplier_ppm);
    Some(Cost {
        total_nanos: r(total),
        input_nanos: r(input),
        cached_nanos: r(cached_part),
        cache_write_nanos: r(write),
        output_nanos: r(output),
        reasoning_nanos: r(reasoning_part),
        request_nanos: r(request),
        tier_above_prompt_tokens: tier,
    })
}

/// An upper bound for a budget reservation: every prompt token at the dearer of the input and
/// cache-write prices (no cache discount assumed), every output token at the dearer of output
/// and reasoning, the tier chosen by `prompt_tokens`, plus any per-request fee; rounded up.
pub(crate) fn estimate(
    price: &ModelPrice,
    prompt_tokens: u64,
    max_output_tokens: u64,
    multiplier_ppm: u64,
) -> Option<i64> {
    let (p, _) = price.prices_for(prompt_tokens)?;
    let input = p.input.max(p.cache_write_or_input());
    let output = p.output.max(p.reasoning_or_output());
    let request = i128::from(price.units.per_request.unwrap_or(0)).saturating_mul(PER_MILLION);
    let total = mul(prompt_tokens, input)
        .saturating_add(mul(max_output_tokens, output))
        .saturating_add(request);
    Some(scale_ceil(total, multiplier_ppm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_up_and_once() {
        // 1.5 nanos → 2; 1.4999 → 1
        assert_eq!(scale_round(1_500_000, PPM), 2);
        assert_eq!(scale_round(1_499_999, PPM), 1);
        assert_eq!(scale_ceil(1_000_001, PPM), 2);
        assert_eq!(scale_ceil(1_000_000, PPM), 1);
        // 0.8 multiplier: 10 nanos → 8
        assert_eq!(scale_round(10_000_000, 800_000), 8);
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        assert_eq!(to_i64(mul(u64::MAX, i64::MAX)), i64::MAX);
        assert_eq!(scale_round(i128::MAX, PPM), i64::MAX);
    }
}
