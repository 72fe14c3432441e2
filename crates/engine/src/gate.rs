//! The hook through which governance admits each target attempt against its provider account's
//! limits (rate limits and budgets of the provider and its integration grant), and is told what
//! the attempt used. The engine stays ignorant of how limits work.

use std::any::Any;

use portcullis_core::{GatewayError, JsonObject, Usage};
use portcullis_providers::Upstream;

use crate::strategy::BoxFuture;

/// Proof of admission for one target, settled exactly once.
pub struct Pass(pub Box<dyn Any + Send + Sync>);

pub trait Gate: Send + Sync + 'static {
    /// Admits calls through `up` for this body. `Ok(None)`: nothing to track.
    /// An `Err` is the target's response (429/412): a fallback moves on from it.
    fn admit<'a>(
        &'a self,
        up: &'a Upstream,
        body: &'a JsonObject,
    ) -> BoxFuture<'a, Result<Option<Pass>, GatewayError>>;

    /// The target's calls are over. `usage`: what it used when it succeeded; `None` with
    /// `called: false` gives the reservation back, `None` with `called: true` charges the estimate.
    fn settle(&self, pass: Pass, provider: &str, model: &str, usage: Option<Usage>, called: bool);
}
