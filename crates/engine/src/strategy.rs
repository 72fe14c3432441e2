//! Walks the strategy tree: single, fallback, weighted loadbalance and conditional routing.

use std::future::Future;
use std::pin::Pin;

use portcullis_config::conditional::{RouteContext, select};
use portcullis_config::plan::{Mode, Node, NodeKind, Strategy, Target};
use portcullis_core::{ErrorCode, GatewayError, JsonObject};

use crate::Engine;
use crate::outcome::Outcome;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one leaf; the JSON and passthrough routes each have their own.
pub(crate) trait Leaf: Sync {
    fn run<'a>(
        &'a self,
        engine: &'a Engine,
        target: &'a Target,
        path: &'a str,
    ) -> BoxFuture<'a, Outcome>;
    fn metadata(&self) -> &JsonObject;
    fn params(&self) -> &JsonObject;
    fn pathname(&self) -> &str;
}

/// Weighted random choice: `r = random() * Σweights`, first target with `r < weight` (Portkey).
pub(crate) fn pick_weighted(targets: &[Node], r: f64) -> Option<&Node> {
    let total: f64 = targets.iter().map(|t| t.weight.max(0.0)).sum();
    if total <= 0.0 {
        return None;
    }
    let mut r = r * total;
    for t in targets {
        let w = t.weight.max(0.0);
        if w > 0.0 && r < w {
            return Some(t);
        }
        r -= w;
    }
    targets.iter().rev().find(|t| t.weight > 0.0)
}

fn router_error(message: String, path: &str) -> Outcome {
    Outcome::error(
        GatewayError::new(ErrorCode::RouterError, message),
        path,
        None,
    )
}

impl Engine {
    pub(crate) fn run_node<'a>(
        &'a self,
        node: &'a Node,
        leaf: &'a dyn Leaf,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match &node.kind {
                NodeKind::Target(t) => leaf.run(self, t, &node.path).await,
                NodeKind::Strategy(s) => self.run_strategy(s, &node.path, leaf).await,
            }
        })
    }

    async fn run_strategy(&self, s: &Strategy, path: &str, leaf: &dyn Leaf) -> Outcome {
        match s.mode {
            Mode::Single => match s.targets.first() {
                Some(t) => self.run_node(t, leaf).await,
                None => router_error("The strategy has no targets".into(), path),
            },
            Mode::Fallback => {
                let mut last = None;
                for t in &s.targets {
                    let o = self.run_node(t, leaf).await;
                    let stop = match &s.on_status_codes {
                        Some(codes) => !codes.contains(&o.status.as_u16()),
                        None => o.is_success(),
                    } || o.gateway_exception();
                    if stop {
                        return o;
                    }
                    last = Some(o);
                }
                last.unwrap_or_else(|| router_error("The strategy has no targets".into(), path))
            }
            Mode::Loadbalance => match pick_weighted(&s.targets, rand::random::<f64>()) {
                Some(t) => self.run_node(t, leaf).await,
                None => router_error("No loadbalance target has a weight above 0".into(), path),
            },
            Mode::Conditional => {
                let ctx = RouteContext {
                    metadata: leaf.metadata(),
                    params: leaf.params(),
                    url_pathname: leaf.pathname(),
                };
                let name = match select(&s.conditions, s.default.as_deref(), &ctx) {
                    Ok(n) => n,
                    Err(m) => return router_error(m, path),
                };
                match s.targets.iter().find(|t| t.name.as_deref() == Some(name)) {
                    Some(t) => self.run_node(t, leaf).await,
                    None => router_error(
                        format!("Invalid target name found in the query router: {name}"),
                        path,
                    ),
                }
            }
        }
    }
}
