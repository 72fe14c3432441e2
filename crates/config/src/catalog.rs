//! Where `@slug` providers and saved config ids are looked up.
//!
//! Open mode knows only the built-in provider slugs; the governance layer supplies a catalog of
//! provider accounts (credentials, allowed models) and saved configs behind the same trait.

use std::sync::Arc;

use portcullis_providers::{Upstream, registry};
use serde_json::Value;

pub trait Catalog: Send + Sync {
    /// Resolves the slug of `@slug` (without the `@`) to a provider account.
    fn provider(&self, slug: &str) -> Option<Upstream>;
    /// A saved config by id (`pc-…`).
    fn saved_config(&self, id: &str) -> Option<Arc<Value>>;
}

/// Open mode: `@openai` means the built-in `openai` provider with the client's own key.
#[derive(Debug, Default, Clone, Copy)]
pub struct OpenCatalog;

impl Catalog for OpenCatalog {
    fn provider(&self, slug: &str) -> Option<Upstream> {
        registry::find(slug).map(Upstream::new)
    }

    fn saved_config(&self, _id: &str) -> Option<Arc<Value>> {
        None
    }
}
