//! The dimensions analytics roll up by, and their stable ids.
//!
//! Every distinct combination of (workspace, key, provider id, provider, served model, status,
//! outcome, endpoint) is one row of `request_log_dims`, identified by the first 64 bits of a
//! SHA-256 of its canonical encoding: every process computes the same id without a round trip,
//! and a collision (≈ n²/2⁶⁵ for n combinations) is negligible at any realistic cardinality.
//! Rollup rows and raw rows carry that id; filters on these dimensions become
//! `dim_id IN (SELECT dim_id FROM request_log_dims WHERE …)`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::query::GroupBy;

/// One combination of rolled-up dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, sqlx::FromRow)]
pub(crate) struct Dims {
    pub dim_id: i64,
    pub workspace_id: Option<String>,
    pub api_key_id: Option<String>,
    pub provider_id: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub status: i64,
    pub outcome: Option<String>,
    pub endpoint: String,
}

impl Dims {
    /// Fills in `dim_id` from the other fields.
    pub fn with_id(mut self) -> Dims {
        let mut h = Sha256::new();
        for part in [
            &self.workspace_id,
            &self.api_key_id,
            &self.provider_id,
            &self.provider,
            &self.model,
            &self.outcome,
        ] {
            match part {
                None => h.update([0u8]),
                Some(s) => {
                    h.update([1u8]);
                    h.update((s.len() as u64).to_le_bytes());
                    h.update(s.as_bytes());
                }
            }
        }
        h.update(self.status.to_le_bytes());
        h.update((self.endpoint.len() as u64).to_le_bytes());
        h.update(self.endpoint.as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        self.dim_id = i64::from_be_bytes(first);
        self
    }

    /// The value of a dimension group-by, as text (`None` for a missing value, or when `by`
    /// is not a dimension).
    pub fn group_value(&self, by: &GroupBy) -> Option<String> {
        match by {
            GroupBy::Model => self.model.clone(),
            GroupBy::Provider => self.provider.clone(),
            GroupBy::ProviderId => self.provider_id.clone(),
            GroupBy::ApiKey => self.api_key_id.clone(),
            GroupBy::Workspace => self.workspace_id.clone(),
            GroupBy::Status => Some(self.status.to_string()),
            GroupBy::Outcome => self.outcome.clone(),
            GroupBy::Endpoint => Some(self.endpoint.clone()),
            GroupBy::Metadata(_) => None,
        }
    }
}

/// The column a dimension group-by reads (the same name in `request_logs` and
/// `request_log_dims`); `None` for metadata.
pub(crate) fn group_column(by: &GroupBy) -> Option<&'static str> {
    Some(match by {
        GroupBy::Model => "model",
        GroupBy::Provider => "provider",
        GroupBy::ProviderId => "provider_id",
        GroupBy::ApiKey => "api_key_id",
        GroupBy::Workspace => "workspace_id",
        GroupBy::Status => "status",
        GroupBy::Outcome => "outcome",
        GroupBy::Endpoint => "endpoint",
        GroupBy::Metadata(_) => return None,
    })
}

/// Dimension rows already seen, by id. Rows never change once written, so entries never go
/// stale; a miss is loaded from the database.
#[derive(Default)]
pub(crate) struct DimsCache {
    map: RwLock<HashMap<i64, Arc<Dims>>>,
}

impl DimsCache {
    pub fn get(&self, id: i64) -> Option<Arc<Dims>> {
        self.map.read().ok()?.get(&id).cloned()
    }

    pub fn missing(&self, ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
        let Ok(map) = self.map.read() else {
            return ids.into_iter().collect();
        };
        let mut out: Vec<i64> = ids.into_iter().filter(|id| !map.contains_key(id)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn insert(&self, dims: Dims) {
        if let Ok(mut map) = self.map.write() {
            map.insert(dims.dim_id, Arc::new(dims));
        }
    }
}
