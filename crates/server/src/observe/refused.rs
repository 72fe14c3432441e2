//! Request heads hyper refuses before routing (too large, malformed): hyper answers them itself
//! (431, 414 or 400) and no handler runs, so the connection task records them here, one record
//! each, for the logs and the request metrics like any other invalid request.

use std::error::Error as StdError;
use std::sync::Arc;

use portcullis_logs::Outcome;
use portcullis_pricing::PriceTable;

use super::{Draft, Observer, mask};
use crate::state::AppState;

/// What the records of refused heads name as their endpoint: the path was never read.
const UNKNOWN_ENDPOINT: &str = "unknown";

/// Where refused heads are recorded. Cheap to clone (one per connection task).
#[derive(Clone)]
pub struct RefusedHeads {
    observer: Arc<Observer>,
    prices: &'static PriceTable,
}

/// A head hyper refused, as its record tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    /// What hyper answered.
    status: u16,
    code: &'static str,
    message: String,
}

impl RefusedHeads {
    pub fn new(state: &AppState) -> RefusedHeads {
        RefusedHeads {
            observer: state.observer.clone(),
            prices: state.prices,
        }
    }

    /// Records the error a connection ended with if it is a refused head; returns whether it
    /// was. Only called when a connection fails, never on the request path.
    pub fn record(&self, err: &(dyn StdError + 'static)) -> bool {
        let Some(refusal) = refusal_of(err) else {
            return false;
        };
        if !self.observer.enabled() {
            return true;
        }
        let mut draft = Draft::begin(
            &self.observer,
            self.prices,
            UNKNOWN_ENDPOINT,
            &http::Method::GET,
            "",
            &http::HeaderMap::new(),
        );
        // Neither method nor path was read: both stay empty rather than guessed.
        draft.rec.method.clear();
        draft.rec.trace_id = draft.rec.id.clone();
        draft.rec.status = refusal.status;
        draft.rec.outcome = Some(Outcome::InvalidRequest);
        draft.rec.error_code = Some(refusal.code.to_owned());
        draft.rec.error_type = Some("invalid_request_error".to_owned());
        draft.rec.error_message = Some(mask::cap_text(refusal.message, 1024));
        draft.emit(None, 0);
        true
    }
}

/// The refusal `err` stands for: a hyper parse error of a request head that hyper answered
/// itself. Errors it sends nothing for (an HTTP/2 preface on HTTP/1, hyper's own internal
/// errors) and every other connection error are not refusals.
fn refusal_of(err: &(dyn StdError + 'static)) -> Option<Refusal> {
    let mut cur = Some(err);
    let e = loop {
        let c = cur?;
        if let Some(h) = c.downcast_ref::<hyper::Error>() {
            break h;
        }
        cur = c.source();
    };
    if !e.is_parse() || e.is_parse_version_h2() || e.is_parse_status() {
        return None;
    }
    // hyper tells its kinds apart only by their text here (it answers 414 to this one).
    let text = e.to_string();
    if text.starts_with("internal error") {
        return None;
    }
    Some(if e.is_parse_too_large() && text == "URI too long" {
        Refusal {
            status: 414,
            code: "uri_too_long",
            message: "The request URI is too long".to_owned(),
        }
    } else if e.is_parse_too_large() {
        Refusal {
            status: 431,
            code: "request_head_too_large",
            message: "The request head (request line and headers) is larger than the \
                      gateway accepts (limits.max_header_bytes) or has more headers than \
                      limits.max_headers"
                .to_owned(),
        }
    } else {
        Refusal {
            status: 400,
            code: "malformed_request_head",
            message: format!("The request head could not be parsed: {text}"),
        }
    })
}
