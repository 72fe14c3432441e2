//! Route handlers. Each is thin: it names the endpoint and hands over to the pipeline.

pub mod inference;
pub mod meta;
pub mod models;
pub mod proxy;
