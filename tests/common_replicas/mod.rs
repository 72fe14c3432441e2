//! Helpers of `tests/replicas.rs`: a blocking HTTP client, minimal PostgreSQL and Redis clients
//! (for schema and key-prefix isolation), and the replica cluster itself.

pub mod cluster;
pub mod hook;
pub mod http;
pub mod pg;
pub mod redis;

pub use cluster::*;
pub use http::Resp;
