//! Admission cost of the in-process backend (`cargo test --release -p portcullis-limits --test
//! bench -- --ignored --nocapture`). Prints ns/op.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use portcullis_limits::*;

/// Six scopes (key, workspace, integration, provider, virtual key, user), each with a request
/// rate limit and a cost budget; `user` varies per thread.
fn six_scopes(thread: usize) -> Limits {
    let scopes = [
        scope(ScopeKind::ApiKey, &format!("key-{thread}")),
        scope(ScopeKind::Workspace, "ws"),
        scope(ScopeKind::Integration, "openai"),
        scope(ScopeKind::Provider, "@openai-prod"),
        scope(ScopeKind::VirtualKey, "vk"),
        scope(ScopeKind::User, &format!("user-{thread}")),
    ];
    Limits {
        rate: scopes
            .iter()
            .map(|s| (s.clone(), req(RateUnit::Rps, 1_000_000_000_000)))
            .collect(),
        budgets: scopes
            .iter()
            .map(|s| (s.clone(), usd(1e6, Some(5e5), PeriodicReset::Monthly)))
            .collect(),
    }
}

fn measure(lim: &InProcessLimiter, limits: &Limits, n: u32) -> (f64, f64) {
    let mut admit_ns = 0u128;
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let a = lim.admit_now(limits, cost(1)).unwrap();
        admit_ns += t.elapsed().as_nanos();
        lim.settle_now(a.reservation, spend(1));
    }
    let total = start.elapsed().as_nanos();
    (admit_ns as f64 / f64::from(n), total as f64 / f64::from(n))
}

#[test]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
fn admission_cost() {
    let lim = InProcessLimiter::new(Arc::new(SystemClock), Burst::Window);
    let limits = six_scopes(0);
    measure(&lim, &limits, 100_000); // warm up
    let (admit, round) = measure(&lim, &limits, 1_000_000);
    println!(
        "1 thread, 6 scopes (6 rate + 6 budgets): admit {admit:.0} ns/op, admit+settle {round:.0} ns/op"
    );

    let rate_only = Limits {
        rate: limits.rate.clone(),
        budgets: vec![],
    };
    let (admit, _) = measure(&lim, &rate_only, 1_000_000);
    println!("1 thread, 6 request-rate limits only: admit {admit:.0} ns/op");

    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(8);
    let start = Instant::now();
    let per = 200_000u32;
    std::thread::scope(|sc| {
        for t in 0..threads {
            let lim = lim.clone();
            sc.spawn(move || {
                let limits = six_scopes(t + 1);
                measure(&lim, &limits, per);
            });
        }
    });
    let wall = start.elapsed().as_nanos() as f64 / f64::from(per * threads as u32);
    println!(
        "{threads} threads sharing 4 of 6 scopes: {:.0} ns/op per thread (admit+settle), {:.2} M ops/s total",
        wall * threads as f64,
        1e3 / wall
    );
}
