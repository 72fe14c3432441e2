//! Exact and normalised model-name lookup over a list of prices.

use std::collections::{HashMap, HashSet};

use crate::error::PricingError;
use crate::names::{fine_tune_base, normalize};
use crate::price::ModelPrice;

#[derive(Debug, Clone, Copy)]
enum Slot {
    One(u32),
    /// Several entries share the normal form with different prices: no answer beats a guess.
    Ambiguous,
}

/// Finds an entry by exact id, then by normal form (see [`normalize`]).
///
/// An entry whose id already is its normal form (`gpt-4o`) owns that form; dated snapshots
/// (`gpt-4o-2024-05-13`) only claim a form no undated entry has, and only while every
/// snapshot sharing it has the same prices.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelIndex {
    exact: HashMap<Box<str>, u32>,
    normal: HashMap<Box<str>, Slot>,
}

impl ModelIndex {
    /// Indexes `models[i]` for every `i` in `ids`, keyed by `models[i].model`.
    pub(crate) fn build(
        models: &[ModelPrice],
        ids: impl IntoIterator<Item = u32> + Clone,
        entry: impl Fn(&ModelPrice) -> String,
    ) -> Result<ModelIndex, PricingError> {
        let mut index = ModelIndex::default();
        for i in ids.clone() {
            let m = &models[i as usize];
            if index.exact.insert(m.model.clone(), i).is_some() {
                return Err(PricingError::Duplicate { entry: entry(m) });
            }
        }
        // Canonical ids first, then snapshots for forms left unclaimed.
        for pass_canonical in [true, false] {
            let mut claimed_now: HashSet<Box<str>> = HashSet::new();
            for i in ids.clone() {
                let m = &models[i as usize];
                let n = normalize(&m.model);
                let canonical = m.model.to_ascii_lowercase() == n;
                if canonical != pass_canonical {
                    continue;
                }
                let n: Box<str> = n.into();
                match index.normal.get(&n) {
                    None => {
                        claimed_now.insert(n.clone());
                        index.normal.insert(n, Slot::One(i));
                    }
                    Some(Slot::One(j)) if claimed_now.contains(&n) => {
                        if !models[*j as usize].same_prices(m) {
                            index.normal.insert(n, Slot::Ambiguous);
                        }
                    }
                    // claimed by a canonical id in the first pass, or already ambiguous
                    Some(_) => {}
                }
            }
        }
        Ok(index)
    }

    /// The entry for `model`: exact id, else its normal form, else (`ft:base:org::id`) the
    /// fine-tune's base under its `ft:` prefix.
    pub(crate) fn find(&self, model: &str) -> Option<u32> {
        if let Some(&i) = self.exact.get(model) {
            return Some(i);
        }
        match self.normal.get(normalize(model).as_str()) {
            Some(Slot::One(i)) => Some(*i),
            Some(Slot::Ambiguous) => None,
            None => fine_tune_base(model).and_then(|base| self.find(base)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.exact.len()
    }
}
