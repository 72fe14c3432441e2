//! Property tests for the GCRA bounds over random arrival sequences.

mod common;

use common::*;
use portcullis_limits::*;
use proptest::prelude::*;

const W: u64 = 1_000_000; // rps window, µs

fn burst_of(strict: bool) -> Burst {
    if strict { Burst::Strict } else { Burst::Window }
}

/// Runs arrivals (gap µs, units) against one limit; returns the admitted (time, units).
fn run(burst: Burst, l: RateLimit, arrivals: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let (lim, clock) = limiter(burst);
    let limits = rate_only(&key("p"), l);
    let mut t = T0;
    let mut ok = Vec::new();
    for &(gap, n) in arrivals {
        t += gap;
        clock.set_us(t);
        let est = Estimate {
            tokens: n,
            cost_nanos: 0,
        };
        if let Ok(a) = lim.admit_now(&limits, est) {
            lim.settle_now(
                a.reservation,
                Actual {
                    tokens: n,
                    cost_nanos: 0,
                },
            );
            ok.push((t, if l.kind == RateKind::Requests { 1 } else { n }));
        }
    }
    ok
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// In any closed interval of length d, admitted units ≤ C + ⌊d·L/W⌋.
    #[test]
    fn interval_bound(
        l in 1u64..12,
        strict in any::<bool>(),
        tokens in any::<bool>(),
        arrivals in prop::collection::vec((0u64..400_000, 1u64..12), 1..150),
    ) {
        let burst = burst_of(strict);
        let cap = if strict { 1 } else { l };
        let limit = if tokens { tok(RateUnit::Rps, l) } else { req(RateUnit::Rps, l) };
        // Units per request at most C (larger ones are the documented oversize case).
        let arrivals: Vec<_> = arrivals.into_iter().map(|(g, n)| (g, n.min(cap))).collect();
        let ok = run(burst, limit, &arrivals);
        for i in 0..ok.len() {
            let mut sum = 0;
            for j in i..ok.len() {
                sum += ok[j].1;
                let d = ok[j].0 - ok[i].0;
                prop_assert!(sum <= cap + d * l / W, "units {sum} in {d}µs (L={l}, C={cap})");
            }
        }
        if strict && !tokens {
            // Hence at most L in every half-open window of W.
            for i in 0..ok.len() {
                let n = ok[i..].iter().take_while(|(t, _)| *t < ok[i].0 + W).count();
                prop_assert!(n as u64 <= l);
            }
        }
    }

    /// Window mode never refuses a client that keeps at most L in every sliding window of W.
    #[test]
    fn compliant_clients_are_never_refused(
        l in 1u64..12,
        gaps in prop::collection::vec(0u64..300_000, 1..200),
    ) {
        let (lim, clock) = limiter(Burst::Window);
        let limits = rate_only(&key("c"), req(RateUnit::Rps, l));
        let mut sent: Vec<u64> = Vec::new();
        let mut t = T0;
        for gap in gaps {
            t += gap;
            let in_window = sent.iter().rev().take_while(|&&s| s + W > t).count() as u64;
            if in_window + 1 > l {
                continue; // the client holds back
            }
            clock.set_us(t);
            prop_assert!(lim.admit_now(&limits, one()).is_ok(), "refused a compliant request");
            sent.push(t);
        }
    }

    /// A client at a steady L/W (spacing ≥ W/L) is never refused, whatever the burst mode.
    #[test]
    fn spaced_clients_are_never_refused(
        l in 1u64..50,
        strict in any::<bool>(),
        extra in prop::collection::vec(0u64..50_000, 1..100),
    ) {
        let (lim, clock) = limiter(burst_of(strict));
        let limits = rate_only(&key("s"), req(RateUnit::Rps, l));
        let mut t = T0;
        for e in extra {
            t += W.div_ceil(l) + e;
            clock.set_us(t);
            prop_assert!(lim.admit_now(&limits, one()).is_ok());
        }
    }

    /// Settle corrections never leave more than C units of credit.
    #[test]
    fn corrections_never_exceed_capacity(
        l in 1u64..2_000,
        ops in prop::collection::vec((0u64..3_000_000, 0u64..3_000, 0u64..3_000), 1..60),
    ) {
        let (lim, clock) = limiter(Burst::Window);
        let limits = rate_only(&key("t"), tok(RateUnit::Rps, l));
        let mut t = T0;
        let mut held = Vec::new();
        for (gap, est, actual) in ops {
            t += gap;
            clock.set_us(t);
            if let Ok(a) = lim.admit_now(&limits, Estimate { tokens: est, cost_nanos: 0 }) {
                held.push((a.reservation, actual));
            }
            if held.len() > 3 {
                let (r, actual) = held.remove(0);
                lim.settle_now(r, Actual { tokens: actual, cost_nanos: 0 });
            }
        }
        for (r, actual) in held {
            lim.settle_now(r, Actual { tokens: actual, cost_nanos: 0 });
        }
        // However much was given back, at most L units pass at one instant.
        let mut passed = 0;
        let mut keep = Vec::new();
        while let Ok(a) = lim.admit_now(&limits, Estimate { tokens: 1, cost_nanos: 0 }) {
            passed += 1;
            keep.push(a.reservation);
            prop_assert!(passed <= l);
        }
    }
}
