//! Budgets on the in-process backend: reserve at admission, settle after, periods, crossings,
//! seeding and write-behind deltas.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use portcullis_limits::*;

const USD: i64 = NANOS_PER_USD;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_admissions_stop_once_reservations_cover_the_budget() {
    for fits in [0usize, 1, 25, 99, 100] {
        let (lim, _clock) = limiter(Burst::Window);
        let lim: Arc<dyn Limiter> = Arc::new(lim);
        let s = key("k");
        // Each estimate is $0.10; after `fits` of them $0.05 is left, which admits one more.
        let limits = Arc::new(budget_only(
            &s,
            usd(0.1 * fits as f64 + 0.05, None, PeriodicReset::None),
        ));
        let barrier = Arc::new(tokio::sync::Barrier::new(100));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (lim, limits, barrier) = (lim.clone(), limits.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    lim.admit(&limits, cost(USD / 10))
                        .await
                        .ok()
                        .map(|a| a.reservation)
                })
            })
            .collect();
        let mut held = Vec::new();
        for t in tasks {
            if let Some(r) = t.await.unwrap() {
                held.push(r);
            }
        }
        let held_n = held.len();
        assert_eq!(held_n, (fits + 1).min(100));
        for r in held {
            lim.settle(r, spend(USD / 10)).await;
        }
        let total: i64 = lim.drain().iter().map(|d| d.delta).sum();
        assert_eq!(total, held_n as i64 * USD / 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn overshoot_is_bounded_by_in_flight_reservations() {
    let (lim, _clock) = limiter(Burst::Window);
    let lim = Arc::new(lim);
    let s = key("o");
    let cap = 10 * USD;
    const MAX_EST: i64 = 50 * USD / 100;
    let limits = Arc::new(Limits {
        rate: vec![],
        budgets: vec![
            (s.clone(), usd(10.0, Some(5.0), PeriodicReset::Monthly)),
            (
                scope(ScopeKind::Workspace, "w"),
                usd(1_000.0, None, PeriodicReset::None),
            ),
        ],
    });
    let over = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let (lim, limits, over, s) = (lim.clone(), limits.clone(), over.clone(), s.clone());
            tokio::spawn(async move {
                for i in 0..200u64 {
                    let est = (((t * 7 + i * 13) % 50) as i64 + 1) * USD / 100;
                    let Ok(a) = lim.admit(&limits, cost(est)).await else {
                        continue;
                    };
                    // Invariant at every admission: spent + reserved <= limit + one estimate (the
                    // request admitted while something was left may reserve past the limit) +
                    // overshoot so far.
                    let (_, spent, reserved) = lim.budget_state(&s, UsageKind::Cost).unwrap();
                    assert!(
                        spent + reserved
                            <= cap + MAX_EST + over.load(std::sync::atomic::Ordering::SeqCst)
                    );
                    tokio::task::yield_now().await;
                    // Actual is sometimes above the estimate.
                    let actual = if i % 3 == 0 { est * 3 / 2 } else { est / 2 };
                    over.fetch_add((actual - est).max(0), std::sync::atomic::Ordering::SeqCst);
                    lim.settle(a.reservation, spend(actual)).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let (_, spent, reserved) = lim.budget_state(&s, UsageKind::Cost).unwrap();
    assert_eq!(reserved, 0);
    assert!(spent <= cap + MAX_EST + over.load(std::sync::atomic::Ordering::SeqCst));
    // The budget was actually used up (not refused early): nothing more than the smallest
    // estimate fits... unless what is left is below it.
    assert!(spent > cap - USD / 2, "spent {spent}");
    let drained = lim.drain();
    let key_total: i64 = drained
        .iter()
        .filter(|d| d.scope == s)
        .map(|d| d.delta)
        .sum();
    assert_eq!(key_total, spent);
}

#[test]
fn release_returns_the_reservation_and_refusal_charges_nothing() {
    let (lim, _clock) = limiter(Burst::Window);
    let (k, w) = (key("k"), scope(ScopeKind::Workspace, "w"));
    let limits = Limits {
        rate: vec![],
        budgets: vec![
            (k.clone(), usd(1.0, None, PeriodicReset::None)),
            (w.clone(), usd(2.0, None, PeriodicReset::None)),
        ],
    };
    let a = lim.admit_now(&limits, cost(USD)).unwrap();
    assert_eq!(lim.budget_state(&k, UsageKind::Cost).unwrap().2, USD);
    match lim.admit_now(&limits, cost(1)) {
        Err(Refusal::BudgetExhausted { scope, .. }) => assert_eq!(scope, k),
        other => panic!("{other:?}"),
    }
    // The refused attempt reserved nothing on the workspace.
    assert_eq!(lim.budget_state(&w, UsageKind::Cost).unwrap().2, USD);
    lim.release_now(a.reservation);
    assert_eq!(
        lim.budget_state(&k, UsageKind::Cost).unwrap(),
        (Period::LIFETIME, 0, 0)
    );
    assert_eq!(lim.budget_state(&w, UsageKind::Cost).unwrap().2, 0);
    assert!(lim.drain().is_empty());
    // Exhausted exactly: even a zero estimate is refused.
    let a = lim.admit_now(&limits, cost(USD)).unwrap();
    lim.settle_now(a.reservation, spend(USD));
    assert!(matches!(
        lim.admit_now(&limits, cost(0)),
        Err(Refusal::BudgetExhausted { .. })
    ));
    // Dropping an unsettled reservation charges its estimate.
    let w_only = budget_only(&w, usd(2.0, None, PeriodicReset::None));
    drop(lim.admit_now(&w_only, cost(USD / 4)).unwrap());
    assert_eq!(
        lim.budget_state(&w, UsageKind::Cost).unwrap(),
        (Period::LIFETIME, USD + USD / 4, 0)
    );
    let total: i64 = lim
        .drain()
        .iter()
        .filter(|d| d.scope == w)
        .map(|d| d.delta)
        .sum();
    assert_eq!(total, USD + USD / 4);
}

#[test]
fn token_budgets_use_the_token_estimate() {
    let (lim, _clock) = limiter(Burst::Window);
    let s = scope(ScopeKind::User, "alice");
    let limits = budget_only(&s, tokens_budget(1_000, PeriodicReset::Daily));
    let est = Estimate {
        tokens: 600,
        cost_nanos: 5 * USD,
    };
    let a = lim.admit_now(&limits, est).unwrap();
    // 400 tokens are left: an estimate of 600 still passes and holds them...
    let b = lim.admit_now(&limits, est).unwrap();
    // ...so nothing is left for a third request until one settles.
    assert!(lim.admit_now(&limits, est).is_err());
    let c = lim.settle_now(
        a.reservation,
        Actual {
            tokens: 400,
            cost_nanos: 9 * USD,
        },
    );
    assert!(c.is_empty());
    let (_, spent, reserved) = lim.budget_state(&s, UsageKind::Tokens).unwrap();
    assert_eq!((spent, reserved), (400, 600));
    lim.settle_now(b.reservation, Actual::default());
    lim.admit_now(&limits, est).unwrap();
}

fn spend_one(
    lim: &InProcessLimiter,
    limits: &Limits,
    nanos: i64,
) -> Result<Vec<Crossing>, Refusal> {
    let a = lim.admit_now(limits, cost(nanos))?;
    Ok(lim.settle_now(a.reservation, spend(nanos)))
}

#[test]
fn daily_periods_roll_over_at_utc_midnight() {
    let clock = TestClock::at_utc(2024, 5, 17, 23, 59, 59);
    let lim = InProcessLimiter::new(Arc::new(clock.clone()), Burst::Window);
    let s = key("d");
    let limits = budget_only(&s, usd(1.0, None, PeriodicReset::Daily));
    spend_one(&lim, &limits, USD).unwrap();
    assert!(spend_one(&lim, &limits, 1).is_err());
    clock.advance(Duration::from_millis(999));
    assert!(spend_one(&lim, &limits, 1).is_err());
    clock.advance(Duration::from_millis(1));
    spend_one(&lim, &limits, USD).unwrap();
    assert_eq!(
        lim.budget_state(&s, UsageKind::Cost).unwrap().0.to_string(),
        "d2024-05-18"
    );
    let mut d = lim.drain();
    d.sort_by_key(|d| d.period.start_us());
    let got: Vec<_> = d.iter().map(|d| (d.period.to_string(), d.delta)).collect();
    assert_eq!(
        got,
        vec![("d2024-05-17".into(), USD), ("d2024-05-18".into(), USD)]
    );
}

#[test]
fn weekly_periods_roll_over_on_sunday() {
    // Friday 2024-05-17.
    let clock = TestClock::at_utc(2024, 5, 17, 12, 0, 0);
    let lim = InProcessLimiter::new(Arc::new(clock.clone()), Burst::Window);
    let s = key("w");
    let limits = budget_only(&s, usd(1.0, None, PeriodicReset::Weekly));
    spend_one(&lim, &limits, USD).unwrap();
    // Saturday 23:59:59 is still the same week.
    clock.set_us(TestClock::at_utc(2024, 5, 18, 23, 59, 59).now_us());
    assert!(spend_one(&lim, &limits, 1).is_err());
    // Sunday 00:00 starts a new one.
    clock.set_us(TestClock::at_utc(2024, 5, 19, 0, 0, 0).now_us());
    spend_one(&lim, &limits, USD).unwrap();
    assert_eq!(
        lim.budget_state(&s, UsageKind::Cost).unwrap().0.to_string(),
        "w2024-05-19"
    );
}

#[test]
fn monthly_periods_roll_over_on_the_first() {
    let clock = TestClock::at_utc(2024, 2, 29, 23, 0, 0);
    let lim = InProcessLimiter::new(Arc::new(clock.clone()), Burst::Window);
    let s = key("m");
    let limits = budget_only(&s, usd(1.0, Some(0.5), PeriodicReset::Monthly));
    let c = spend_one(&lim, &limits, USD).unwrap();
    assert_eq!(c.len(), 2);
    assert!(spend_one(&lim, &limits, 1).is_err());
    clock.set_us(TestClock::at_utc(2024, 3, 1, 0, 0, 0).now_us());
    // A new period starts from zero and reports its crossings again.
    let c = spend_one(&lim, &limits, USD).unwrap();
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|c| c.period.to_string() == "m2024-03"));
}

#[test]
fn a_reservation_settles_in_the_period_it_was_made_in() {
    let clock = TestClock::at_utc(2024, 5, 17, 23, 59, 0);
    let lim = InProcessLimiter::new(Arc::new(clock.clone()), Burst::Window);
    let s = key("r");
    let limits = budget_only(&s, usd(1.0, None, PeriodicReset::Daily));
    let a = lim.admit_now(&limits, cost(USD / 2)).unwrap();
    clock.advance(Duration::from_secs(120));
    // The new day has the whole budget.
    let b = lim.admit_now(&limits, cost(USD)).unwrap();
    lim.settle_now(a.reservation, spend(USD / 2));
    lim.settle_now(b.reservation, spend(USD));
    let mut d = lim.drain();
    d.sort_by_key(|d| d.period.start_us());
    let got: Vec<_> = d.iter().map(|d| (d.period.to_string(), d.delta)).collect();
    assert_eq!(
        got,
        vec![("d2024-05-17".into(), USD / 2), ("d2024-05-18".into(), USD)]
    );
}

#[test]
fn crossings_are_reported_exactly_once() {
    let (lim, _clock) = limiter(Burst::Window);
    let s = scope(ScopeKind::Integration, "openai-prod");
    let limits = budget_only(&s, usd(10.0, Some(8.0), PeriodicReset::None));
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.extend(spend_one(&lim, &limits, USD).unwrap()); // 7
    }
    assert!(seen.is_empty());
    // Estimate 1, actual 2.5: crosses 8 (alert) at 9.5.
    let a = lim.admit_now(&limits, cost(USD)).unwrap();
    seen.extend(lim.settle_now(a.reservation, spend(5 * USD / 2)));
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].kind, CrossingKind::AlertThreshold);
    assert_eq!(
        (seen[0].spent, seen[0].threshold, seen[0].limit),
        (19 * USD / 2, 8 * USD, 10 * USD)
    );
    assert_eq!(seen[0].scope, s);
    // Two in flight; both settle above the limit; exhausted reported once.
    let a = lim.admit_now(&limits, cost(USD / 4)).unwrap();
    let b = lim.admit_now(&limits, cost(USD / 4)).unwrap();
    assert!(lim.admit_now(&limits, cost(USD / 4)).is_err());
    let ca = lim.settle_now(a.reservation, spend(USD));
    let cb = lim.settle_now(b.reservation, spend(USD));
    assert_eq!(ca.len() + cb.len(), 1);
    assert_eq!(
        ca.iter().chain(&cb).next().unwrap().kind,
        CrossingKind::Exhausted
    );
    // Overshoot: 11.5 of 10, bounded by the two in-flight requests' (actual - estimate).
    assert_eq!(
        lim.budget_state(&s, UsageKind::Cost).unwrap().1,
        23 * USD / 2
    );
}

#[test]
fn seeding_from_stored_spend() {
    let (lim, clock) = limiter(Burst::Window);
    let s = key("seeded");
    let monthly = usd(100.0, Some(50.0), PeriodicReset::Monthly);
    let limits = budget_only(&s, monthly);
    let period = Period::current(PeriodicReset::Monthly, clock.now_us());
    lim.seed(&s, UsageKind::Cost, period, 90 * USD);
    // $10 is left: a larger estimate passes and holds it.
    let a = lim.admit_now(&limits, cost(11 * USD)).unwrap();
    assert!(lim.admit_now(&limits, cost(1)).is_err());
    // Seeded above the alert threshold: no alert crossing; exhaustion still reported.
    let c = lim.settle_now(a.reservation, spend(10 * USD));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].kind, CrossingKind::Exhausted);
    // A live ledger wins over a later seed.
    lim.seed(&s, UsageKind::Cost, period, 0);
    assert!(lim.admit_now(&limits, cost(1)).is_err());
    // Deltas are only what this instance settled (the seed is already stored).
    assert_eq!(lim.drain().iter().map(|d| d.delta).sum::<i64>(), 10 * USD);
    // A seed for a period that is not the current one is ignored.
    let other = key("old");
    let last_month = Period::current(PeriodicReset::Monthly, period.start_us() - 1);
    lim.seed(&other, UsageKind::Cost, last_month, 100 * USD);
    lim.admit_now(&budget_only(&other, monthly), cost(USD))
        .unwrap();
    // Lifetime budgets seed the lifetime period.
    let life = key("life");
    lim.seed(&life, UsageKind::Tokens, Period::LIFETIME, 999);
    let l = budget_only(&life, tokens_budget(1_000, PeriodicReset::None));
    let tokens = |n| Estimate {
        tokens: n,
        cost_nanos: 0,
    };
    // One token is left: the next request takes it, whatever its estimate...
    let _held = lim.admit_now(&l, tokens(2)).unwrap();
    // ...and nothing is left for another.
    assert!(lim.admit_now(&l, tokens(1)).is_err());
}

#[test]
fn budgets_and_rates_are_admitted_together() {
    let (lim, _clock) = limiter(Burst::Window);
    let s = key("both");
    let limits = Limits {
        rate: vec![(s.clone(), req(RateUnit::Rpm, 2))],
        budgets: vec![(s.clone(), usd(1.0, None, PeriodicReset::None))],
    };
    // An estimate beyond the budget holds all of it: the next request is refused by the budget,
    // which takes precedence and charges no rate cell.
    let big = lim.admit_now(&limits, cost(2 * USD)).unwrap();
    assert_eq!(big.requests.unwrap().remaining, 1);
    assert!(matches!(
        lim.admit_now(&limits, cost(USD / 4)),
        Err(Refusal::BudgetExhausted { .. })
    ));
    lim.settle_now(big.reservation, Actual::default());
    // The window allows 2 requests; the one above used one of them.
    let (lim, _clock) = limiter(Burst::Window);
    let a = lim.admit_now(&limits, cost(USD / 4)).unwrap();
    assert_eq!(a.requests.unwrap().remaining, 1);
    let b = lim.admit_now(&limits, cost(USD / 4)).unwrap();
    // A rate refusal reserves no budget.
    let r = lim.admit_now(&limits, cost(USD / 4));
    assert_eq!(r.as_ref().err().map(Refusal::status), Some(429));
    assert_eq!(lim.budget_state(&s, UsageKind::Cost).unwrap().2, USD / 2);
    lim.settle_now(a.reservation, spend(1));
    lim.settle_now(b.reservation, spend(1));
}

#[test]
fn drained_deltas_sum_to_total_spend() {
    let (lim, _clock) = limiter(Burst::Window);
    let users: Vec<_> = (0..10)
        .map(|i| scope(ScopeKind::User, &format!("u{i}")))
        .collect();
    let mut total = 0;
    let mut drained = 0;
    for round in 0..50i64 {
        for (i, u) in users.iter().enumerate() {
            let limits = Limits {
                rate: vec![],
                budgets: vec![
                    (u.clone(), usd(1_000.0, None, PeriodicReset::Daily)),
                    (
                        scope(ScopeKind::Workspace, "w"),
                        usd(1e6, None, PeriodicReset::None),
                    ),
                ],
            };
            let n = round * 1_000 + i as i64;
            spend_one(&lim, &limits, n).unwrap();
            total += n;
        }
        if round % 7 == 0 {
            let d = lim.drain();
            drained += d
                .iter()
                .filter(|d| d.scope.kind == ScopeKind::Workspace)
                .map(|d| d.delta)
                .sum::<i64>();
            let users_sum: i64 = d
                .iter()
                .filter(|d| d.scope.kind == ScopeKind::User)
                .map(|d| d.delta)
                .sum();
            let ws_sum: i64 = d
                .iter()
                .filter(|d| d.scope.kind == ScopeKind::Workspace)
                .map(|d| d.delta)
                .sum();
            assert_eq!(users_sum, ws_sum);
        }
    }
    drained += lim
        .drain()
        .iter()
        .filter(|d| d.scope.kind == ScopeKind::Workspace)
        .map(|d| d.delta)
        .sum::<i64>();
    assert_eq!(drained, total);
    assert!(lim.drain().is_empty());
}

#[test]
fn expired_budget_cells_are_swept() {
    let (lim, clock) = limiter(Burst::Window);
    for i in 0..50 {
        let l = budget_only(
            &scope(ScopeKind::User, &format!("u{i}")),
            usd(1.0, None, PeriodicReset::Daily),
        );
        spend_one(&lim, &l, 1).unwrap();
    }
    let life = budget_only(&key("life"), usd(1.0, None, PeriodicReset::None));
    spend_one(&lim, &life, 1).unwrap();
    let held = lim
        .admit_now(
            &budget_only(&key("held"), usd(1.0, None, PeriodicReset::Daily)),
            cost(1),
        )
        .unwrap();
    assert_eq!(lim.cells().1, 52);
    clock.advance(Duration::from_secs(2 * 86_400));
    lim.sweep();
    // Lifetime ledgers and held reservations stay.
    assert_eq!(lim.cells().1, 2);
    lim.settle_now(held.reservation, spend(1));
    lim.sweep();
    assert_eq!(lim.cells().1, 1);
}

#[test]
fn a_usage_reset_starts_a_spent_budget_over() {
    let (lim, clock) = limiter(Burst::Window);
    let s = key("reset");
    let monthly = usd(1.0, Some(0.5), PeriodicReset::Monthly);
    let a = lim.admit_now(&budget_only(&s, monthly), cost(USD)).unwrap();
    let c = lim.settle_now(a.reservation, spend(USD));
    assert_eq!(c.len(), 2, "alert and exhaustion: {c:?}");
    assert!(lim.admit_now(&budget_only(&s, monthly), cost(1)).is_err());
    // One admitted before the reset is still in flight when it happens.
    let seeded = key("reset-seeded");
    lim.seed(
        &seeded,
        UsageKind::Cost,
        Period::current(PeriodicReset::Monthly, clock.now_us()),
        USD / 2,
    );
    let before = lim
        .admit_now(&budget_only(&seeded, monthly), cost(USD / 4))
        .unwrap();

    // A reset earlier than this month changes nothing.
    let last_month = Period::current(PeriodicReset::Monthly, clock.now_us())
        .start_us()
        .saturating_sub(1_000)
        / 1_000;
    let stale = monthly.with_reset(Some(last_month as i64));
    assert!(lim.admit_now(&budget_only(&s, stale), cost(1)).is_err());

    clock.advance(Duration::from_secs(60));
    let reset_ms = (clock.now_us() / 1_000) as i64;
    let after = monthly.with_reset(Some(reset_ms));
    let a = lim.admit_now(&budget_only(&s, after), cost(USD)).unwrap();
    let period = a.reservation.budgets()[0].2;
    assert_eq!(period.restarted_at(), Some(reset_ms));
    assert_eq!(
        lim.budget_state(&s, UsageKind::Cost),
        Some((period, 0, USD)),
        "the restarted ledger counts from zero"
    );
    // The alert and the exhaustion are reported again in the restarted period.
    let c = lim.settle_now(a.reservation, spend(USD));
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c.iter().all(|c| c.period == period));
    assert!(lim.admit_now(&budget_only(&s, after), cost(1)).is_err());

    // The seed was the old period's: the restarted one starts from zero; what was in flight
    // settles into the period it was admitted in.
    let b = lim
        .admit_now(&budget_only(&seeded, after), cost(USD / 4))
        .unwrap();
    lim.settle_now(before.reservation, spend(USD / 4));
    lim.settle_now(b.reservation, spend(USD / 10));
    let mut deltas: Vec<(String, i64)> = lim
        .drain()
        .into_iter()
        .filter(|d| d.scope == seeded)
        .map(|d| (d.period.to_string(), d.delta))
        .collect();
    deltas.sort();
    let natural = Period::current(PeriodicReset::Monthly, clock.now_us());
    assert_eq!(
        deltas,
        vec![
            (natural.to_string(), USD / 4),
            (format!("{natural}@{reset_ms}"), USD / 10),
        ]
    );

    // Next month is a natural period again, whatever the last reset.
    clock.set_us(natural.end_us().unwrap());
    let next = lim.admit_now(&budget_only(&s, after), cost(1)).unwrap();
    assert_eq!(next.reservation.budgets()[0].2.restarted_at(), None);
}
