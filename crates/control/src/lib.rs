//! Control-plane domain: gateway API keys, encrypted provider credentials, and (built on them)
//! the in-memory snapshot the data plane authenticates and routes from.

pub mod apikey;
pub mod crypto;
pub mod model;
pub mod principal;
pub mod repo;
pub mod signing;
