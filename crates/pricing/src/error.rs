//! Errors from reading a price table or a set of overrides.

/// Why a price table or overrides document was rejected. Every variant names the entry
/// (`provider/model`, or the override model) and the field at fault when one is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The JSON does not have the expected shape (syntax, type, unknown field).
    #[error("{at}: {message}")]
    Shape {
        /// Where: `models[12] (openai/gpt-4o).input`, or a JSON path.
        at: String,
        message: String,
    },
    /// A price is negative, not finite, absurdly large or finer than a nano-dollar.
    #[error("{entry}: field `{field}`: {problem}")]
    Field {
        entry: String,
        field: String,
        problem: String,
    },
    /// The same `(provider, model)` appears twice.
    #[error("{entry}: listed twice")]
    Duplicate { entry: String },
    /// `meta.model_count` disagrees with the number of entries (a truncated file).
    #[error("meta.model_count is {declared} but the table has {actual} models")]
    Count { declared: usize, actual: usize },
}

impl PricingError {
    pub(crate) fn field(entry: &str, field: &str, problem: impl Into<String>) -> PricingError {
        PricingError::Field {
            entry: entry.to_owned(),
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}
