//! Additive aggregate state: what one record, a rollup row or a raw-table group contributes,
//! merged by addition (rollups, time decomposition) and subtraction (retention), and finished
//! into [`Aggregates`].

use std::collections::{BTreeMap, HashSet};

use crate::derive::flag;
use crate::dims::Dims;
use crate::histogram::{DenseHist, Hist, get_varint, put_varint};
use crate::query::Aggregates;
use crate::users::UserSet;

/// The encoding version written first in every rollup blob.
const VERSION: u8 = 1;

/// What one record adds (the stored, clamped values).
#[derive(Debug, Clone, Default)]
pub(crate) struct AggInput {
    pub created_at: i64,
    pub dim_id: i64,
    pub flags: i64,
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    pub cache_write: u64,
    pub reasoning: u64,
    pub cost_nanos: Option<i64>,
    pub total_us: u64,
    pub ttft_us: Option<u64>,
    pub upstream_us: Option<u64>,
    pub overhead_us: u64,
    /// The end user's hash ([`crate::users::user_hash`]).
    pub user: Option<u64>,
}

/// Sums, counts and histograms of a set of records sharing one set of dimensions.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Partial {
    pub requests: u64,
    pub successes: u64,
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    pub cache_write: u64,
    pub reasoning: u64,
    pub cost_nanos: i64,
    pub latency_sum: u64,
    pub ttft_count: u64,
    pub ttft_sum: u64,
    pub upstream_count: u64,
    pub upstream_sum: u64,
    pub overhead_sum: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub retried: u64,
    pub rescued_by_retry: u64,
    pub fell_back: u64,
    pub rescued_by_fallback: u64,
    pub streams: u64,
    pub latency: Hist,
    pub ttft: Hist,
    pub overhead: Hist,
}

/// The counters, in encoding order (cost is encoded apart, zigzag).
macro_rules! counters {
    ($p:expr, $($r:tt)+) => {
        [
            $($r)+ $p.requests,
            $($r)+ $p.successes,
            $($r)+ $p.prompt,
            $($r)+ $p.completion,
            $($r)+ $p.cached,
            $($r)+ $p.cache_write,
            $($r)+ $p.reasoning,
            $($r)+ $p.latency_sum,
            $($r)+ $p.ttft_count,
            $($r)+ $p.ttft_sum,
            $($r)+ $p.upstream_count,
            $($r)+ $p.upstream_sum,
            $($r)+ $p.overhead_sum,
            $($r)+ $p.cache_hits,
            $($r)+ $p.cache_misses,
            $($r)+ $p.retried,
            $($r)+ $p.rescued_by_retry,
            $($r)+ $p.fell_back,
            $($r)+ $p.rescued_by_fallback,
            $($r)+ $p.streams,
        ]
    };
}

impl Partial {
    pub fn add_input(&mut self, r: &AggInput) {
        let bit = |b: i64| u64::from(r.flags & b != 0);
        self.requests += 1;
        self.successes += bit(flag::SUCCESS);
        self.prompt = self.prompt.saturating_add(r.prompt);
        self.completion = self.completion.saturating_add(r.completion);
        self.cached = self.cached.saturating_add(r.cached);
        self.cache_write = self.cache_write.saturating_add(r.cache_write);
        self.reasoning = self.reasoning.saturating_add(r.reasoning);
        self.cost_nanos = self.cost_nanos.saturating_add(r.cost_nanos.unwrap_or(0));
        self.latency_sum = self.latency_sum.saturating_add(r.total_us);
        self.latency.record(r.total_us);
        if let Some(t) = r.ttft_us {
            self.ttft_count += 1;
            self.ttft_sum = self.ttft_sum.saturating_add(t);
            self.ttft.record(t);
        }
        if let Some(u) = r.upstream_us {
            self.upstream_count += 1;
            self.upstream_sum = self.upstream_sum.saturating_add(u);
        }
        self.overhead_sum = self.overhead_sum.saturating_add(r.overhead_us);
        self.overhead.record(r.overhead_us);
        self.cache_hits += bit(flag::CACHE_HIT);
        self.cache_misses += bit(flag::CACHE_MISS);
        self.retried += bit(flag::RETRIED);
        self.rescued_by_retry += bit(flag::RESCUED_BY_RETRY);
        self.fell_back += bit(flag::FELL_BACK);
        self.rescued_by_fallback += bit(flag::RESCUED_BY_FALLBACK);
        self.streams += bit(flag::STREAM);
    }

    pub fn merge(&mut self, o: &Partial) {
        for (a, b) in counters!(self, &mut).into_iter().zip(counters!(o, &)) {
            *a = a.saturating_add(*b);
        }
        self.cost_nanos = self.cost_nanos.saturating_add(o.cost_nanos);
        self.latency.merge(&o.latency);
        self.ttft.merge(&o.ttft);
        self.overhead.merge(&o.overhead);
    }

    /// Removes what `o` added (retention), saturating at zero.
    pub fn subtract(&mut self, o: &Partial) {
        for (a, b) in counters!(self, &mut).into_iter().zip(counters!(o, &)) {
            *a = a.saturating_sub(*b);
        }
        self.cost_nanos = self.cost_nanos.saturating_sub(o.cost_nanos);
        self.latency.subtract(&o.latency);
        self.ttft.subtract(&o.ttft);
        self.overhead.subtract(&o.overhead);
    }

    /// The blob stored in `request_log_rollups.agg`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.push(VERSION);
        for c in counters!(self, &) {
            put_varint(&mut out, *c);
        }
        put_varint(&mut out, zigzag(self.cost_nanos));
        self.latency.encode(&mut out);
        self.ttft.encode(&mut out);
        self.overhead.encode(&mut out);
        out
    }

    /// Decodes a blob; `None` when it is malformed or of an unknown version.
    pub fn decode(input: &[u8]) -> Option<Partial> {
        let (mut p, mut rest) = Partial::decode_counters(input)?;
        p.latency = Hist::decode(&mut rest)?;
        p.ttft = Hist::decode(&mut rest)?;
        p.overhead = Hist::decode(&mut rest)?;
        Some(p)
    }

    /// The counters of a blob (histograms left empty), and the rest of the blob: the three
    /// encoded histograms.
    fn decode_counters(input: &[u8]) -> Option<(Partial, &[u8])> {
        let (&version, mut input) = input.split_first()?;
        if version != VERSION {
            return None;
        }
        let mut p = Partial::default();
        for c in counters!(p, &mut) {
            *c = get_varint(&mut input)?;
        }
        p.cost_nanos = unzigzag(get_varint(&mut input)?);
        Some((p, input))
    }

    /// Adds the counters (not the histograms) of `o`.
    fn merge_counters(&mut self, o: &Partial) {
        for (a, b) in counters!(self, &mut).into_iter().zip(counters!(o, &)) {
            *a = a.saturating_add(*b);
        }
        self.cost_nanos = self.cost_nanos.saturating_add(o.cost_nanos);
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// One group's accumulated aggregates while a query runs (counters in `p`, histograms dense).
#[derive(Debug, Default)]
pub(crate) struct GroupAcc {
    pub p: Partial,
    pub latency: DenseHist,
    pub ttft: DenseHist,
    pub overhead: DenseHist,
    pub errors_by_outcome: BTreeMap<String, u64>,
    pub errors_by_status: BTreeMap<u16, u64>,
    pub models: HashSet<String>,
    pub keys: HashSet<String>,
    pub users: UserSet,
}

/// The `errors_by_outcome` key of errors that carry no outcome.
pub const UNKNOWN_OUTCOME: &str = "unknown";

impl GroupAcc {
    /// Adds the part of a group that shares `dims`.
    pub fn add(&mut self, dims: &Dims, p: &Partial) {
        if p.requests == 0 {
            return;
        }
        self.add_counters(dims, p);
        for (hist, dense) in [
            (&p.latency, &mut self.latency),
            (&p.ttft, &mut self.ttft),
            (&p.overhead, &mut self.overhead),
        ] {
            for &(b, n) in hist.entries() {
                dense.add(b, n);
            }
        }
    }

    /// Adds an encoded rollup blob of rows sharing `dims`, without materializing it; `None`
    /// when the blob is malformed (then only its counters may have been added).
    pub fn add_encoded(&mut self, dims: &Dims, blob: &[u8]) -> Option<()> {
        let (p, mut rest) = Partial::decode_counters(blob)?;
        if p.requests == 0 {
            return Some(());
        }
        self.add_counters(dims, &p);
        for dense in [&mut self.latency, &mut self.ttft, &mut self.overhead] {
            Hist::walk(&mut rest, |b, n| dense.add(b, n))?;
        }
        Some(())
    }

    fn add_counters(&mut self, dims: &Dims, p: &Partial) {
        let errors = p.requests.saturating_sub(p.successes);
        if errors > 0 {
            let outcome = dims.outcome.as_deref().unwrap_or(UNKNOWN_OUTCOME);
            match self.errors_by_outcome.get_mut(outcome) {
                Some(n) => *n += errors,
                None => {
                    self.errors_by_outcome.insert(outcome.to_owned(), errors);
                }
            }
            let status = u16::try_from(dims.status).unwrap_or(0);
            *self.errors_by_status.entry(status).or_default() += errors;
        }
        if let Some(m) = &dims.model
            && !self.models.contains(m)
        {
            self.models.insert(m.clone());
        }
        if let Some(k) = &dims.api_key_id
            && !self.keys.contains(k)
        {
            self.keys.insert(k.clone());
        }
        self.p.merge_counters(p);
    }

    pub fn finish(self) -> Aggregates {
        let p = &self.p;
        let avg = |sum: u64, n: u64| sum.checked_div(n).unwrap_or(0);
        Aggregates {
            requests: p.requests,
            successes: p.successes,
            errors: p.requests.saturating_sub(p.successes),
            errors_by_outcome: self.errors_by_outcome,
            errors_by_status: self.errors_by_status,
            prompt_tokens: p.prompt,
            completion_tokens: p.completion,
            cached_tokens: p.cached,
            cache_write_tokens: p.cache_write,
            reasoning_tokens: p.reasoning,
            total_tokens: p.prompt.saturating_add(p.completion),
            cost_nanos: p.cost_nanos,
            latency_avg_us: avg(p.latency_sum, p.requests),
            latency_p50_us: self.latency.percentile(500),
            latency_p90_us: self.latency.percentile(900),
            latency_p95_us: self.latency.percentile(950),
            latency_p99_us: self.latency.percentile(990),
            ttft_avg_us: avg(p.ttft_sum, p.ttft_count),
            ttft_p50_us: self.ttft.percentile(500),
            ttft_p95_us: self.ttft.percentile(950),
            upstream_avg_us: avg(p.upstream_sum, p.upstream_count),
            overhead_avg_us: avg(p.overhead_sum, p.requests),
            overhead_p50_us: self.overhead.percentile(500),
            overhead_p99_us: self.overhead.percentile(990),
            cache_hits: p.cache_hits,
            cache_misses: p.cache_misses,
            retried: p.retried,
            rescued_by_retry: p.rescued_by_retry,
            fell_back: p.fell_back,
            rescued_by_fallback: p.rescued_by_fallback,
            streams: p.streams,
            unique_users: self.users.len() as u64,
            unique_models: self.models.len() as u64,
            unique_keys: self.keys.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_roundtrip() {
        let mut p = Partial::default();
        for i in 0..50u64 {
            p.add_input(&AggInput {
                flags: (i as i64) & 0xff,
                prompt: i * 3,
                completion: i,
                cost_nanos: Some(-(i as i64) * 1000 + 7),
                total_us: i * 1000,
                ttft_us: (i % 2 == 0).then_some(i * 10),
                upstream_us: Some(i * 900),
                overhead_us: i * 7,
                ..AggInput::default()
            });
        }
        let blob = p.encode();
        assert_eq!(Partial::decode(&blob), Some(p.clone()));
        for cut in 0..blob.len() {
            let _ = Partial::decode(&blob[..cut]);
        }
        let mut twice = p.clone();
        twice.merge(&p);
        assert_eq!(twice.requests, 100);
        twice.subtract(&p);
        assert_eq!(twice, p);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
        for v in [0, 1, -1, i64::MAX, i64::MIN, 12345, -98765] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
