//! GCRA rate limits on the in-process backend, driven by a test clock.

mod common;

use std::time::Duration;

use common::*;
use portcullis_limits::*;

const UNITS: [RateUnit; 4] = [RateUnit::Rps, RateUnit::Rpm, RateUnit::Rph, RateUnit::Rpd];

fn window(u: RateUnit) -> u64 {
    u.window_ms() * 1_000
}

/// Hammers one limit with L + 2 requests every `step_us` for `windows` windows; returns the
/// admitted times.
fn hammer(burst: Burst, l: RateLimit, step_us: u64, windows: u64) -> Vec<u64> {
    let (lim, clock) = limiter(burst);
    let s = key("k");
    let limits = rate_only(&s, l);
    let mut ok = Vec::new();
    let end = T0 + windows * window(l.unit);
    let mut t = T0;
    while t < end {
        clock.set_us(t);
        for _ in 0..l.value + 2 {
            if let Ok(a) = lim.admit_now(&limits, one()) {
                lim.settle_now(a.reservation, Actual::default());
                ok.push(t);
            }
        }
        t += step_us;
    }
    ok
}

/// Most admissions in any half-open window of length `w`.
fn max_in_window(times: &[u64], w: u64) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= w {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

#[test]
fn strict_admits_at_most_l_in_every_sliding_window() {
    for unit in UNITS {
        for l in [1u64, 3, 7, 10] {
            let w = window(unit);
            let step = (w / l / 7).max(1); // far faster than the limit
            let windows = if unit == RateUnit::Rpd { 2 } else { 4 };
            let ok = hammer(Burst::Strict, req(unit, l), step, windows);
            assert!(max_in_window(&ok, w) <= l as usize, "{unit:?} L={l}");
            // ...and the limit is actually reached (not enforced at 60%): consecutive admissions
            // are at most one interval plus one probe step apart.
            let t = w / l;
            assert!(
                ok.windows(2).all(|p| p[1] - p[0] <= t + step),
                "{unit:?} L={l}"
            );
            assert!(ok.windows(2).all(|p| p[1] - p[0] >= t), "{unit:?} L={l}");
        }
    }
}

#[test]
fn window_burst_bound_is_c_plus_dl_over_w() {
    for unit in UNITS {
        for l in [1u64, 4, 10] {
            let w = window(unit);
            let step = (w / l / 5).max(1);
            let ok = hammer(Burst::Window, req(unit, l), step, 4);
            // A burst of L at once...
            assert_eq!(ok.iter().take_while(|&&t| t == T0).count(), l as usize);
            // ...at most 2L-1 in any window W, and L + floor(d·L/W) in any interval of length d.
            assert!(max_in_window(&ok, w) < 2 * l as usize);
            for i in 0..ok.len() {
                for j in i..ok.len() {
                    let d = u128::from(ok[j] - ok[i]);
                    let bound = u128::from(l) + d * u128::from(l) / u128::from(w);
                    assert!((j - i + 1) as u128 <= bound, "{unit:?} L={l} [{i},{j}]");
                }
            }
            // Long run: the burst plus one per interval (within one probe step).
            let span = 4 * w - step;
            let most = l + (span * l / w);
            let least = l + span / (w / l + step);
            let n = ok.len() as u64;
            assert!(
                n <= most && n >= least,
                "{unit:?} L={l}: {n} not in [{least}, {most}]"
            );
        }
    }
}

#[test]
fn steady_rate_is_never_refused() {
    for burst in [Burst::Window, Burst::Strict] {
        for unit in UNITS {
            let w = window(unit);
            // L dividing W exactly (so the test client can be exactly periodic).
            let l = if unit == RateUnit::Rps {
                1_000
            } else {
                w / 1_000_000
            };
            let (lim, clock) = limiter(burst);
            let limits = rate_only(&key("steady"), req(unit, l));
            for i in 0..(3 * l).min(200_000) {
                clock.set_us(T0 + i * (w / l));
                let a = lim.admit_now(&limits, one());
                assert!(a.is_ok(), "{burst:?} {unit:?} request {i} refused: {a:?}");
            }
        }
    }
}

#[test]
fn burst_then_refusal_with_exact_retry_after() {
    let (lim, clock) = limiter(Burst::Window);
    let s = key("b");
    let limits = rate_only(&s, req(RateUnit::Rpm, 5)); // T = 12 s
    for i in 0..5 {
        let a = lim.admit_now(&limits, one()).unwrap();
        let r = a.requests.unwrap();
        assert_eq!((r.limit, r.remaining), (5, 4 - i));
        assert_eq!(r.reset, Duration::from_secs(12 * (i + 1)));
    }
    let Err(Refusal::RateLimited {
        scope,
        retry_after,
        limit,
    }) = lim.admit_now(&limits, one())
    else {
        panic!("6th request passed")
    };
    assert_eq!((scope, limit.value), (s.clone(), 5));
    assert_eq!(retry_after, Duration::from_secs(12));
    clock.advance(Duration::from_secs(12) - Duration::from_micros(1));
    match lim.admit_now(&limits, one()) {
        Err(Refusal::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_micros(1))
        }
        other => panic!("{other:?}"),
    }
    clock.advance_us(1);
    let a = lim.admit_now(&limits, one()).unwrap();
    assert_eq!(a.requests.unwrap().remaining, 0);
    assert_eq!(
        a.headers(),
        vec![
            ("x-ratelimit-limit-requests", "5".to_string()),
            ("x-ratelimit-remaining-requests", "0".to_string()),
            ("x-ratelimit-reset-requests", "1m0s".to_string()),
        ]
    );

    // Strict: the second request at the same instant waits one interval.
    let (lim, _clock) = limiter(Burst::Strict);
    lim.admit_now(&limits, one()).unwrap();
    match lim.admit_now(&limits, one()) {
        Err(Refusal::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(12))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn value_zero_refuses_everything() {
    let (lim, clock) = limiter(Burst::Window);
    let limits = rate_only(&key("z"), req(RateUnit::Rph, 0));
    for _ in 0..3 {
        match lim.admit_now(&limits, one()) {
            Err(Refusal::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(3_600))
            }
            other => panic!("{other:?}"),
        }
        clock.advance(Duration::from_secs(86_400));
    }
    let limits = rate_only(&key("z"), tok(RateUnit::Rpm, 0));
    assert!(lim.admit_now(&limits, one()).is_err());
}

#[test]
fn token_limits_charge_estimate_and_settle_the_difference() {
    let (lim, clock) = limiter(Burst::Window);
    let s = key("t");
    let limits = rate_only(&s, tok(RateUnit::Rpm, 1_000)); // T = 60 ms per token
    let est = |n| Estimate {
        tokens: n,
        cost_nanos: 0,
    };
    let act = |n| Actual {
        tokens: n,
        cost_nanos: 0,
    };
    let a = lim.admit_now(&limits, est(600)).unwrap();
    assert_eq!(a.tokens.unwrap().remaining, 400);
    assert!(a.requests.is_none());
    match lim.admit_now(&limits, est(600)) {
        Err(Refusal::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_millis(200 * 60))
        }
        other => panic!("{other:?}"),
    }
    // Actual 100: 500 given back, so 600 more fit now.
    lim.settle_now(a.reservation, act(100));
    let b = lim.admit_now(&limits, est(600)).unwrap();
    assert_eq!(b.tokens.unwrap().remaining, 300);
    // Taking more than estimated: 600 estimated, 900 used -> 1000 in the bucket.
    lim.settle_now(b.reservation, act(900));
    match lim.admit_now(&limits, est(1)) {
        Err(Refusal::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_millis(60))
        }
        other => panic!("{other:?}"),
    }
    // Giving back never creates credit beyond an empty bucket.
    clock.advance(Duration::from_secs(60));
    let c = lim.admit_now(&limits, est(1_000)).unwrap();
    clock.advance(Duration::from_secs(60));
    lim.settle_now(c.reservation, act(0));
    let _held = lim.admit_now(&limits, est(1_000)).unwrap();
    assert!(lim.admit_now(&limits, est(1)).is_err());
    // Release refunds the token estimate but not request cells.
    clock.advance(Duration::from_secs(60));
    let both = Limits {
        rate: vec![
            (s.clone(), tok(RateUnit::Rpm, 1_000)),
            (s.clone(), req(RateUnit::Rpm, 2)),
        ],
        budgets: vec![],
    };
    let d = lim.admit_now(&both, est(1_000)).unwrap();
    assert_eq!(d.requests.unwrap().remaining, 1);
    lim.release_now(d.reservation);
    let e = lim.admit_now(&both, est(1_000)).unwrap();
    assert_eq!(e.requests.unwrap().remaining, 0);
    assert_eq!(e.tokens.unwrap().remaining, 0);
}

#[test]
fn oversized_token_estimate_passes_only_when_empty_and_pays_in_full() {
    let (lim, clock) = limiter(Burst::Window);
    let limits = rate_only(&key("o"), tok(RateUnit::Rpm, 1_000));
    let est = Estimate {
        tokens: 3_000,
        cost_nanos: 0,
    };
    let _held = lim.admit_now(&limits, est).unwrap();
    match lim.admit_now(
        &limits,
        Estimate {
            tokens: 1,
            cost_nanos: 0,
        },
    ) {
        Err(Refusal::RateLimited { retry_after, .. }) => {
            assert_eq!(
                retry_after,
                Duration::from_secs(120) + Duration::from_millis(60)
            )
        }
        other => panic!("{other:?}"),
    }
    clock.advance(Duration::from_secs(179));
    assert!(lim.admit_now(&limits, est).is_err());
    clock.advance(Duration::from_secs(1));
    assert!(lim.admit_now(&limits, est).is_ok());
}

#[test]
fn admission_is_all_or_nothing_and_reports_tightest_headers() {
    let (lim, _clock) = limiter(Burst::Window);
    let (a, b, w) = (key("a"), key("b"), scope(ScopeKind::Workspace, "w"));
    let limits = Limits {
        rate: vec![
            (a.clone(), req(RateUnit::Rpm, 100)),
            (w.clone(), req(RateUnit::Rpm, 3)),
            (w.clone(), req(RateUnit::Rph, 10)),
        ],
        budgets: vec![],
    };
    let r = lim.admit_now(&limits, one()).unwrap().requests.unwrap();
    assert_eq!((r.limit, r.remaining), (3, 2));
    lim.admit_now(&limits, one()).unwrap();
    lim.admit_now(&limits, one()).unwrap();
    // The workspace is out; the key must not be charged by the refused attempts.
    for _ in 0..10 {
        match lim.admit_now(&limits, one()) {
            Err(Refusal::RateLimited { scope, .. }) => assert_eq!(scope, w),
            other => panic!("{other:?}"),
        }
    }
    let only_a = rate_only(&a, req(RateUnit::Rpm, 100));
    assert_eq!(
        lim.admit_now(&only_a, one())
            .unwrap()
            .requests
            .unwrap()
            .remaining,
        96
    );
    // b shares nothing with a.
    let only_b = rate_only(&b, req(RateUnit::Rpm, 100));
    assert_eq!(
        lim.admit_now(&only_b, one())
            .unwrap()
            .requests
            .unwrap()
            .remaining,
        99
    );
    // Duplicates merge to the tightest.
    let dup = Limits {
        rate: vec![
            (b.clone(), req(RateUnit::Rpm, 100)),
            (b.clone(), req(RateUnit::Rpm, 2)),
        ],
        budgets: vec![],
    };
    let r = lim.admit_now(&dup, one()).unwrap().requests.unwrap();
    assert_eq!((r.limit, r.remaining), (2, 0));
}

#[test]
fn the_longest_wait_is_reported() {
    let (lim, _clock) = limiter(Burst::Window);
    let s = key("w");
    let limits = Limits {
        rate: vec![
            (s.clone(), req(RateUnit::Rps, 1)),
            (s.clone(), req(RateUnit::Rpm, 1)),
        ],
        budgets: vec![],
    };
    lim.admit_now(&limits, one()).unwrap();
    match lim.admit_now(&limits, one()) {
        Err(Refusal::RateLimited {
            limit, retry_after, ..
        }) => {
            assert_eq!(limit.unit, RateUnit::Rpm);
            assert_eq!(retry_after, Duration::from_secs(60));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn idle_cells_are_swept() {
    let (lim, clock) = limiter(Burst::Window);
    for i in 0..100 {
        lim.admit_now(
            &rate_only(&key(&format!("u{i}")), req(RateUnit::Rps, 5)),
            one(),
        )
        .unwrap();
    }
    assert_eq!(lim.cells().0, 100);
    lim.sweep();
    assert_eq!(lim.cells().0, 100);
    clock.advance(Duration::from_secs(1));
    lim.sweep();
    assert_eq!(lim.cells().0, 0);
}

#[test]
fn rate_limit_edits_keep_state() {
    let (lim, _clock) = limiter(Burst::Window);
    let s = key("e");
    for _ in 0..5 {
        lim.admit_now(&rate_only(&s, req(RateUnit::Rpm, 10)), one())
            .unwrap();
    }
    // Lowered to 5/min: the 5 already admitted count.
    assert!(
        lim.admit_now(&rate_only(&s, req(RateUnit::Rpm, 5)), one())
            .is_err()
    );
    // Raised to 20/min: 15 more fit.
    let r = lim
        .admit_now(&rate_only(&s, req(RateUnit::Rpm, 20)), one())
        .unwrap();
    assert_eq!(r.requests.unwrap().remaining, 14);
    // A dropped (never settled) token reservation keeps its estimate charged.
    let t = rate_only(&s, tok(RateUnit::Rpm, 100));
    drop(
        lim.admit_now(
            &t,
            Estimate {
                tokens: 100,
                cost_nanos: 0,
            },
        )
        .unwrap(),
    );
    assert!(
        lim.admit_now(
            &t,
            Estimate {
                tokens: 1,
                cost_nanos: 0
            }
        )
        .is_err()
    );
}
