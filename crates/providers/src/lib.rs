//! Provider adapters: pure translation between OpenAI's wire format and each provider's.

pub mod adapter;
pub mod anthropic;
pub mod assemble;
pub mod common;
pub mod google;
pub mod ingress;
pub mod openai;
pub mod registry;
pub mod text;

pub use adapter::{
    Account, Adapter, ResponseCtx, StreamTranslator, Translated, Upstream, UpstreamRequest,
};
pub use registry::{Family, ProviderSpec};

/// The adapter for a provider family. Adapters are stateless; one instance serves all requests.
pub fn adapter_for(family: Family) -> &'static dyn Adapter {
    match family {
        Family::OpenAi => &openai::OPENAI,
        Family::AzureOpenAi => &openai::AZURE_OPENAI,
        Family::Anthropic => &anthropic::ANTHROPIC,
        Family::Google => &google::GOOGLE,
    }
}
