//! The data file's JSON shapes and their conversion to integer prices.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::PricingError;
use crate::price::{ModelPrice, Tier, TokenPrices, Units};

/// No price in the table comes near this (USD per 1M tokens, or per unit); a larger one is a
/// unit mix-up. It also keeps every value exact through `f64`.
pub(crate) const MAX_USD: f64 = 10_000.0;

/// USD (per million tokens, or per unit) to nano-dollars. The file's decimals pass through
/// `f64` (the workspace's `serde_json` has no arbitrary precision); below the cap a decimal
/// with at most nine fractional digits lands within 0.01 of its integer, which is checked.
pub(crate) fn usd_to_nanos(v: f64) -> Result<i64, String> {
    if !v.is_finite() {
        return Err("not a finite number".into());
    }
    if v < 0.0 {
        return Err(format!("negative price {v}"));
    }
    if v > MAX_USD {
        return Err(format!("{v} is above the ${MAX_USD} sanity cap"));
    }
    let x = v * 1e9;
    let r = x.round();
    if (x - r).abs() > 0.01 {
        return Err(format!("{v} is finer than a nano-dollar"));
    }
    Ok(r as i64)
}

/// The whole data file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub meta: RawMeta,
    pub models: Vec<RawEntry>,
}

/// Provenance. Unknown keys are allowed so a newer importer can add some.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawMeta {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub source_version: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub imported: String,
    #[serde(default)]
    pub model_count: Option<usize>,
}

/// One model: a table row (with `provider` and `model`) or an override (without).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntry {
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub input: Option<f64>,
    #[serde(default)]
    pub output: Option<f64>,
    #[serde(default)]
    pub cached_input: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
    #[serde(default)]
    pub reasoning: Option<f64>,
    #[serde(default)]
    pub tiers: Vec<RawTier>,
    #[serde(default)]
    pub units: BTreeMap<String, f64>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTier {
    pub above_prompt_tokens: u64,
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cached_input: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
    #[serde(default)]
    pub reasoning: Option<f64>,
}

fn price(entry: &str, field: &str, v: f64) -> Result<i64, PricingError> {
    usd_to_nanos(v).map_err(|p| PricingError::field(entry, field, p))
}

fn opt(entry: &str, field: &str, v: Option<f64>) -> Result<Option<i64>, PricingError> {
    v.map(|v| price(entry, field, v)).transpose()
}

/// Converts one entry; `entry` names it in errors (`openai/gpt-4o`).
pub(crate) fn convert(
    entry: &str,
    provider: &str,
    model: &str,
    raw: RawEntry,
) -> Result<ModelPrice, PricingError> {
    let tokens = match (raw.input, raw.output) {
        (Some(i), Some(o)) => Some(TokenPrices {
            input: price(entry, "input", i)?,
            output: price(entry, "output", o)?,
            cached_input: opt(entry, "cached_input", raw.cached_input)?,
            cache_write: opt(entry, "cache_write", raw.cache_write)?,
            cache_write_1h: opt(entry, "cache_write_1h", raw.cache_write_1h)?,
            reasoning: opt(entry, "reasoning", raw.reasoning)?,
        }),
        (None, None) => {
            for (field, v) in [
                ("cached_input", raw.cached_input),
                ("cache_write", raw.cache_write),
                ("cache_write_1h", raw.cache_write_1h),
                ("reasoning", raw.reasoning),
            ] {
                if v.is_some() {
                    return Err(PricingError::field(
                        entry,
                        field,
                        "given without `input` and `output`",
                    ));
                }
            }
            None
        }
        (Some(_), None) => {
            return Err(PricingError::field(
                entry,
                "output",
                "missing beside `input`",
            ));
        }
        (None, Some(_)) => {
            return Err(PricingError::field(
                entry,
                "input",
                "missing beside `output`",
            ));
        }
    };

    let mut tiers = Vec::with_capacity(raw.tiers.len());
    for (i, t) in raw.tiers.into_iter().enumerate() {
        let f = |name: &str| format!("tiers[{i}].{name}");
        if tokens.is_none() {
            return Err(PricingError::field(
                entry,
                &f("above_prompt_tokens"),
                "a tier needs base `input` and `output` prices",
            ));
        }
        if tiers
            .last()
            .is_some_and(|prev: &Tier| prev.above_prompt_tokens >= t.above_prompt_tokens)
            || t.above_prompt_tokens == 0
        {
            return Err(PricingError::field(
                entry,
                &f("above_prompt_tokens"),
                "tiers must have positive, strictly ascending thresholds",
            ));
        }
        tiers.push(Tier {
            above_prompt_tokens: t.above_prompt_tokens,
            prices: TokenPrices {
                input: price(entry, &f("input"), t.input)?,
                output: price(entry, &f("output"), t.output)?,
                cached_input: opt(entry, &f("cached_input"), t.cached_input)?,
                cache_write: opt(entry, &f("cache_write"), t.cache_write)?,
                cache_write_1h: opt(entry, &f("cache_write_1h"), t.cache_write_1h)?,
                reasoning: opt(entry, &f("reasoning"), t.reasoning)?,
            },
        });
    }

    let mut units = Units::default();
    for (name, v) in raw.units {
        let field = format!("units.{name}");
        let nanos = price(entry, &field, v)?;
        let slot = units
            .slot(&name)
            .ok_or_else(|| PricingError::field(entry, &field, "unknown unit"))?;
        *slot = Some(nanos);
    }

    Ok(ModelPrice {
        provider: provider.into(),
        model: model.into(),
        mode: raw.mode.map(Into::into),
        tokens,
        tiers,
        units,
        max_output_tokens: raw.max_output_tokens,
    })
}

/// Deserialises with the failing path in the error; a path into `models[i]` is completed with
/// that entry's provider and model when the document is at least valid JSON.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &str,
) -> Result<T, PricingError> {
    let mut de = serde_json::Deserializer::from_str(s);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = parsed.map_err(|e| {
        let path = e.path().to_string();
        PricingError::Shape {
            at: describe_path(s, what, &path),
            message: e.into_inner().to_string(),
        }
    })?;
    de.end().map_err(|e| PricingError::Shape {
        at: what.to_owned(),
        message: e.to_string(),
    })?;
    Ok(value)
}

fn describe_path(s: &str, what: &str, path: &str) -> String {
    let Some(rest) = path.strip_prefix("models[") else {
        return format!("{what}: {path}");
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return format!("{what}: {path}");
    };
    let name = index.parse::<usize>().ok().and_then(|i| {
        let v: serde_json::Value = serde_json::from_str(s).ok()?;
        let m = v.get("models")?.get(i)?;
        Some(format!(
            "{}/{}",
            m.get("provider")?.as_str()?,
            m.get("model")?.as_str()?
        ))
    });
    match name {
        Some(name) => format!("{what}: models[{index}] ({name}){tail}"),
        None => format!("{what}: {path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_converts_exactly() {
        assert_eq!(usd_to_nanos(2.5), Ok(2_500_000_000));
        assert_eq!(usd_to_nanos(0.0375), Ok(37_500_000));
        assert_eq!(usd_to_nanos(0.1), Ok(100_000_000));
        assert_eq!(usd_to_nanos(0.000000001), Ok(1));
        assert_eq!(usd_to_nanos(9999.123456789), Ok(9_999_123_456_789));
        assert!(usd_to_nanos(0.0000000001).is_err());
        assert!(usd_to_nanos(-1.0).is_err());
        assert!(usd_to_nanos(f64::NAN).is_err());
        assert!(usd_to_nanos(20_000.0).is_err());
    }
}
