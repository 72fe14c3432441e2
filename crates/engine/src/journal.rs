//! What the engine did for one request, for its log record: every attempt (target, provider,
//! status, time) and the time spent waiting on providers. Written by the engine, read once the
//! response is complete; one uncontended lock per attempt.

use std::sync::Mutex;
use std::time::Duration;

use portcullis_providers::Upstream;

/// One try of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptNote {
    /// Portkey's JSON path of the target (`config.targets[1]`).
    pub path: String,
    /// The provider slug the target named.
    pub provider: String,
    /// The catalog account (`@slug`) and its integration, when the catalog resolved one.
    pub provider_id: Option<String>,
    pub integration_id: Option<String>,
    /// The provider's status, or the gateway's when the provider was never reached.
    pub status: u16,
    /// Time to the provider's answer (a stream: to its first event).
    pub elapsed: Duration,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JournalEntries {
    pub attempts: Vec<AttemptNote>,
    /// Provider time: every attempt, plus a stream's body after its first event.
    pub upstream: Duration,
}

impl JournalEntries {
    /// The targets tried, in order, each once (retries of one target are one entry). More
    /// than one entry means a fallback (or load-balance retry elsewhere) happened.
    pub fn fallback_path(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in &self.attempts {
            if out.last() != Some(&a.path) {
                out.push(a.path.clone());
            }
        }
        out
    }

    /// The attempt that produced the answer.
    pub fn last(&self) -> Option<&AttemptNote> {
        self.attempts.last()
    }
}

#[derive(Debug, Default)]
pub struct Journal {
    inner: Mutex<JournalEntries>,
}

impl Journal {
    pub fn note(&self, path: &str, up: &Upstream, status: u16, elapsed: Duration) {
        let account = up.account.as_deref();
        let note = AttemptNote {
            path: path.to_owned(),
            provider: up.slug.clone(),
            provider_id: account.map(|a| a.provider_id.clone()),
            integration_id: account.and_then(|a| a.integration_id.clone()),
            status,
            elapsed,
        };
        if let Ok(mut j) = self.inner.lock() {
            j.upstream += elapsed;
            j.attempts.push(note);
        }
    }

    /// Provider time outside attempts (a stream's body).
    pub fn add_upstream(&self, d: Duration) {
        if let Ok(mut j) = self.inner.lock() {
            j.upstream += d;
        }
    }

    pub fn entries(&self) -> JournalEntries {
        self.inner.lock().map(|j| j.clone()).unwrap_or_default()
    }
}
