//! Portkey's config JSON and `x-portkey-*` headers, validated into a routing plan.

mod build;
pub mod catalog;
pub mod conditional;
pub mod headers;
mod keys;
mod node;
pub mod plan;
pub mod ssrf;

pub use build::{BuildCtx, build_plan};
pub use catalog::{Catalog, OpenCatalog};
pub use headers::PortkeyHeaders;
pub use node::split_slug_model;
pub use plan::{Mode, Node, NodeKind, Plan, RetryPolicy, Strategy, Target};
pub use ssrf::HostPolicy;
