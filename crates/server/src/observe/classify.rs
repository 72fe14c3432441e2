//! How an error ends up in analytics: one [`Outcome`] per record.

use portcullis_core::{ErrorCode, GatewayError};
use portcullis_logs::Outcome;

/// The outcome a gateway error stands for.
pub fn outcome_of(err: &GatewayError) -> Outcome {
    use ErrorCode as C;
    match err.code() {
        C::ProviderError => Outcome::ProviderError,
        C::RequestTimeout
        | C::UpstreamUnreachable
        | C::UpstreamInvalidResponse
        | C::UpstreamStreamError
        | C::Overloaded
        | C::Internal => Outcome::GatewayError,
        C::InvalidApiKey | C::ApiKeyExpired | C::Forbidden => Outcome::Unauthorized,
        C::KeyRateLimited | C::RateLimited => Outcome::RateLimited,
        C::KeyBudgetExhausted | C::BudgetExhausted => Outcome::BudgetExhausted,
        _ => Outcome::InvalidRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_auth_have_their_own_outcomes() {
        let o = |c| outcome_of(&GatewayError::new(c, "x"));
        assert_eq!(o(ErrorCode::KeyRateLimited), Outcome::RateLimited);
        assert_eq!(o(ErrorCode::BudgetExhausted), Outcome::BudgetExhausted);
        assert_eq!(o(ErrorCode::InvalidApiKey), Outcome::Unauthorized);
        assert_eq!(o(ErrorCode::RequestTimeout), Outcome::GatewayError);
        assert_eq!(o(ErrorCode::InvalidConfig), Outcome::InvalidRequest);
    }
}
