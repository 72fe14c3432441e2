//! Per-provider or per-integration price overrides: negotiated discounts, private models.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer};

use crate::cost::PPM;
use crate::error::PricingError;
use crate::index::ModelIndex;
use crate::parse::{RawEntry, convert, deserialize};
use crate::price::ModelPrice;

/// Prices applied on top of the table for one provider or integration (the caller picks which
/// `Overrides` go with a request).
///
/// - `models`: custom prices. They win over the table and are final (the multiplier does not
///   touch them). Found by exact id, then by the table's normalisation rules.
/// - `multiplier`: scales every table price (`0.8` = a negotiated 20% discount). Applied to
///   the exact sum before the single rounding. Six decimals at most; 0 to 1000.
/// - `aliases`: a deployment name → the model it serves (Azure deployments are named by
///   their owner: `prod-gpt4o` → `gpt-4o`). Resolved before any lookup.
///
/// JSON form (prices as in the data file, USD per 1M tokens):
/// `{"multiplier": 0.8, "models": {"my-llm": {"input": 1, "output": 2}}, "aliases": {"prod-gpt4o": "gpt-4o"}}`
#[derive(Debug, Clone)]
pub struct Overrides {
    multiplier_ppm: u64,
    models: Vec<ModelPrice>,
    index: ModelIndex,
    aliases: HashMap<Box<str>, Box<str>>,
}

impl Default for Overrides {
    fn default() -> Overrides {
        Overrides {
            multiplier_ppm: PPM,
            models: Vec::new(),
            index: ModelIndex::default(),
            aliases: HashMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    #[serde(default)]
    multiplier: Option<f64>,
    #[serde(default)]
    models: BTreeMap<String, RawEntry>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

fn multiplier_to_ppm(m: f64) -> Result<u64, PricingError> {
    let bad = |problem: &str| PricingError::field("overrides", "multiplier", problem);
    if !m.is_finite() || !(0.0..=1000.0).contains(&m) {
        return Err(bad("must be between 0 and 1000"));
    }
    let x = m * PPM as f64;
    let r = x.round();
    if (x - r).abs() > 1e-3 {
        return Err(bad("at most six decimals"));
    }
    Ok(r as u64)
}

impl Overrides {
    /// No overrides: table prices as they are.
    pub fn new() -> Overrides {
        Overrides::default()
    }

    /// Parses the JSON form (see the type's documentation).
    pub fn from_json(s: &str) -> Result<Overrides, PricingError> {
        let raw: RawOverrides = deserialize(s, "overrides")?;
        Overrides::from_raw(raw)
    }

    fn from_raw(raw: RawOverrides) -> Result<Overrides, PricingError> {
        let mut o = Overrides::new();
        if let Some(m) = raw.multiplier {
            o.multiplier_ppm = multiplier_to_ppm(m)?;
        }
        for (model, entry) in raw.models {
            let name = format!("overrides/{model}");
            if entry.provider.is_some() || entry.model.is_some() {
                return Err(PricingError::field(
                    &name,
                    "provider",
                    "an override is keyed by model; `provider`/`model` are not allowed",
                ));
            }
            o.models.push(convert(&name, "", &model, entry)?);
        }
        o.aliases = raw
            .aliases
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        o.reindex()?;
        Ok(o)
    }

    fn reindex(&mut self) -> Result<(), PricingError> {
        let n = u32::try_from(self.models.len()).unwrap_or(u32::MAX);
        self.index = ModelIndex::build(&self.models, 0..n, |m| format!("overrides/{}", m.model))?;
        Ok(())
    }

    /// Scales table prices by `m` (0.8 = 20% off).
    pub fn with_multiplier(mut self, m: f64) -> Result<Overrides, PricingError> {
        self.multiplier_ppm = multiplier_to_ppm(m)?;
        Ok(self)
    }

    /// Adds a custom price, keyed by `price.model` (see [`ModelPrice::per_million_usd`]).
    pub fn with_model(mut self, price: ModelPrice) -> Result<Overrides, PricingError> {
        self.models.push(price);
        self.reindex()?;
        Ok(self)
    }

    /// Maps a deployment name to the model it serves.
    pub fn with_alias(mut self, deployment: &str, model: &str) -> Overrides {
        self.aliases.insert(deployment.into(), model.into());
        self
    }

    /// The multiplier in parts per million (1.0 = 1_000_000).
    pub fn multiplier_ppm(&self) -> u64 {
        self.multiplier_ppm
    }

    /// True when these overrides change nothing.
    pub fn is_empty(&self) -> bool {
        self.multiplier_ppm == PPM && self.models.is_empty() && self.aliases.is_empty()
    }

    pub(crate) fn resolve_alias<'a>(&'a self, model: &'a str) -> &'a str {
        self.aliases.get(model).map_or(model, |m| m)
    }

    pub(crate) fn custom(&self, model: &str) -> Option<&ModelPrice> {
        if self.models.is_empty() {
            return None;
        }
        self.index.find(model).map(|i| &self.models[i as usize])
    }
}

impl<'de> Deserialize<'de> for Overrides {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Overrides, D::Error> {
        let raw = RawOverrides::deserialize(d)?;
        Overrides::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_json_form() {
        let o = Overrides::from_json(
            r#"{"multiplier": 0.8, "models": {"my-llm": {"input": 1, "output": 2.5}},
                "aliases": {"prod-gpt4o": "gpt-4o"}}"#,
        )
        .unwrap();
        assert_eq!(o.multiplier_ppm(), 800_000);
        let p = o.custom("my-llm").unwrap();
        assert_eq!(p.tokens.unwrap().output, 2_500_000_000);
        assert_eq!(o.resolve_alias("prod-gpt4o"), "gpt-4o");
        assert_eq!(o.resolve_alias("other"), "other");
        assert!(!o.is_empty());
        assert!(Overrides::new().is_empty());
    }

    #[test]
    fn errors_name_the_model_and_field() {
        let e = Overrides::from_json(r#"{"models": {"x": {"input": -1, "output": 1}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("overrides/x") && e.contains("input"), "{e}");
        let e = Overrides::from_json(r#"{"multiplier": 0.1234567}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("multiplier"), "{e}");
        let e = Overrides::from_json(r#"{"mutliplier": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mutliplier"), "{e}");
        let e = Overrides::from_json(r#"{"models": {"x": {"input": 1}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("overrides/x") && e.contains("output"), "{e}");
    }

    #[test]
    fn deserializes_inside_a_config() {
        #[derive(Deserialize)]
        struct Conf {
            pricing: Overrides,
        }
        let c: Conf = serde_json::from_str(r#"{"pricing": {"multiplier": 1.5}}"#).unwrap();
        assert_eq!(c.pricing.multiplier_ppm(), 1_500_000);
        assert!(serde_json::from_str::<Conf>(r#"{"pricing": {"multiplier": -1}}"#).is_err());
    }
}
