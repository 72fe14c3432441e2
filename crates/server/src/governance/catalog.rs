//! The catalog a request resolves `@slug` providers and saved configs in: its workspace's view of
//! the snapshot. Open-mode callers see the built-in providers and the default workspace.

use std::sync::Arc;

use portcullis_config::{Catalog, OpenCatalog};
use portcullis_providers::Upstream;
use serde_json::Value;

use super::snapshot::Snapshot;

pub struct WorkspaceCatalog<'a> {
    pub snapshot: &'a Snapshot,
    /// The caller's workspace; `None` for open-mode callers.
    pub workspace_id: Option<&'a str>,
}

impl WorkspaceCatalog<'_> {
    fn workspace(&self) -> Option<&str> {
        self.workspace_id.or(self.snapshot.default_workspace())
    }
}

impl Catalog for WorkspaceCatalog<'_> {
    fn provider(&self, slug: &str) -> Option<Upstream> {
        if let Some(entry) = self
            .workspace()
            .and_then(|ws| self.snapshot.provider(ws, slug))
        {
            return Some(entry.upstream.clone());
        }
        // Built-in provider slugs: in open mode the client brings the key; with a gateway key
        // `@openai` without a catalog entry would have no credentials, so only open mode gets it.
        if self.workspace_id.is_none() {
            return OpenCatalog.provider(slug);
        }
        None
    }

    fn saved_config(&self, id: &str) -> Option<Arc<Value>> {
        let entry = self.snapshot.config(id)?;
        match (&entry.workspace_id, self.workspace()) {
            (None, _) => Some(entry.config.clone()),
            (Some(owner), Some(ws)) if owner == ws => Some(entry.config.clone()),
            _ => None,
        }
    }
}
