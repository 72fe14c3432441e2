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
use crate::record::LogRecord;

/// How many of the last distinct dimensions a record is compared with before its own are
/// computed (interleaved traffic to a few models or keys still finds them).
const RECENT_DIMS: usize = 8;

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
    /// A record's dimensions, with their id.
    pub fn of(r: &LogRecord) -> Dims {
        Dims {
            dim_id: 0,
            workspace_id: r.workspace_id.clone(),
            api_key_id: r.api_key_id.clone(),
            provider_id: r.provider_id.clone(),
            provider: r.provider.clone(),
            model: r.model.clone(),
            status: i64::from(r.status),
            outcome: r.outcome.map(|o| o.as_str().to_owned()),
            endpoint: r.endpoint.clone(),
        }
        .with_id()
    }

    /// The id of `r`'s dimensions within a batch whose distinct dimensions so far are `seen`
    /// (pushed onto it when new). A batch holds few distinct dimensions, mostly in runs: a
    /// recent record's are reused rather than copied and hashed again (a miss only costs the
    /// copy and the hash, and may push the same dimensions twice).
    pub fn id_in(seen: &mut Vec<Dims>, r: &LogRecord) -> i64 {
        if let Some(d) = seen.iter().rev().take(RECENT_DIMS).find(|d| d.describes(r)) {
            return d.dim_id;
        }
        let d = Dims::of(r);
        let id = d.dim_id;
        seen.push(d);
        id
    }

    /// Whether `r`'s dimensions are these: compared in place, without copying or hashing
    /// (the writer reuses a recent record's id when they match, as they mostly do).
    pub fn describes(&self, r: &LogRecord) -> bool {
        self.status == i64::from(r.status)
            && self.endpoint == r.endpoint
            && self.model == r.model
            && self.provider == r.provider
            && self.outcome.as_deref() == r.outcome.map(|o| o.as_str())
            && self.api_key_id == r.api_key_id
            && self.workspace_id == r.workspace_id
            && self.provider_id == r.provider_id
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Outcome;

    fn base() -> LogRecord {
        LogRecord {
            workspace_id: Some("ws".into()),
            api_key_id: Some("key".into()),
            provider_id: Some("@prod".into()),
            provider: Some("openai".into()),
            model: Some("gpt-4o".into()),
            status: 200,
            outcome: Some(Outcome::Success),
            endpoint: "chat.completions".into(),
            ..LogRecord::default()
        }
    }

    /// A record is described by the dimensions of another exactly when their ids agree: a
    /// writer reusing the last record's id never files a record under the wrong dimensions.
    #[test]
    fn described_exactly_when_the_ids_agree() {
        let d = Dims::of(&base());
        assert!(d.describes(&base()));
        let changes: [fn(&mut LogRecord); 9] = [
            |r| r.workspace_id = None,
            |r| r.api_key_id = Some("other".into()),
            |r| r.provider_id = None,
            |r| r.provider = Some("anthropic".into()),
            |r| r.model = Some("gpt-4o-mini".into()),
            |r| r.status = 500,
            |r| r.outcome = None,
            |r| r.endpoint = "embeddings".into(),
            // Fields outside the dimensions change nothing.
            |r| r.requested_model = Some("alias".into()),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut r = base();
            change(&mut r);
            let same_id = Dims::of(&r).dim_id == d.dim_id;
            assert_eq!(d.describes(&r), same_id, "change {i}");
            assert_eq!(same_id, i == changes.len() - 1, "change {i}");
        }
    }
}
