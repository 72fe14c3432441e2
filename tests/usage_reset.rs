//! Portkey's `reset_usage` through `portcullis serve`: a spent budget refuses, the admin API
//! resets it, and the next request passes at once on the replica that reset it and within a
//! second on the others; the usage view shows nothing spent. In-process counters (SQLite, one
//! replica) and Redis counters (PostgreSQL + Redis, two replicas).

// Shared with `replicas.rs`, which uses the parts this file does not.
#[allow(dead_code, unused_imports)]
mod common_replicas;

use std::time::{Duration, Instant};

use common_replicas::*;
use serde_json::{Value, json};

/// Tokens per answer (`+usage=40,20`).
const PER: u64 = 60;
/// The key's token budget: two answers spend it (a budget refuses only once spent).
const LIMIT: u64 = 100;
const MODEL: &str = "@mock-prov/m+usage=40,20";

#[test]
fn reset_usage_starts_a_spent_budget_over_in_process() {
    reset_usage_starts_a_spent_budget_over(Cluster::sqlite("reset_local", 1), 1);
}

#[test]
fn reset_usage_starts_a_spent_budget_over_on_every_replica_with_redis() {
    let Some(svc) = services() else { return };
    reset_usage_starts_a_spent_budget_over(Cluster::new(svc, "reset_redis", 1), 2);
}

fn key_view(c: &Cluster, at: usize, key_id: &str) -> Value {
    c.admin(at, "GET", &format!("/v1/api-keys/{key_id}"), None)
}

fn reset_usage_starts_a_spent_budget_over(mut c: Cluster, replicas: usize) {
    let all: Vec<usize> = (0..replicas)
        .map(|i| c.start_replica(&format!("r{i}")))
        .collect();
    let a = all[0];
    let s = c.setup(
        a,
        json!({"usage_limits": {"type": "tokens", "credit_limit": LIMIT}}),
        json!({}),
    );
    for &i in &all {
        c.wait_key_known(i, &s.key);
    }
    // 60, then 120 of 100: spent; refused from then on, on every replica.
    for n in 0..2 {
        let r = chat(c.port(a), &s.key, MODEL);
        assert_eq!(r.status, 200, "answer {n}: {}", r.text());
    }
    // A probe can still be admitted (and spend) while the second answer's usage settles: count
    // what was answered so the spend below is exact.
    let mut answered = 2;
    for &i in &all {
        wait_until(
            Duration::from_secs(5),
            "the budget is spent everywhere",
            || match chat(c.port(i), &s.key, MODEL).status {
                412 => true,
                200 => {
                    answered += 1;
                    false
                }
                other => panic!("unexpected status {other} while the budget runs out"),
            },
        );
    }
    // The usage view reads flushed spend (every second here): wait for all of it.
    let spent = json!((answered * PER) as f64);
    wait_until(
        Duration::from_secs(10),
        "the usage view shows the spend",
        || {
            let v = key_view(&c, a, &s.key_id);
            v["status"] == "exhausted" && v["usage"]["spent"] == spent
        },
    );
    let before = key_view(&c, a, &s.key_id);
    assert_eq!(before["usage"]["spent"], spent, "{before}");
    assert_eq!(before["last_reset_at"], Value::Null);

    let reset_at = Instant::now();
    let answer = c.admin(
        a,
        "PUT",
        &format!("/v1/api-keys/{}", s.key_id),
        Some(json!({"reset_usage": true})),
    );
    assert_eq!(answer, json!({}));
    // This replica counts from zero as soon as the reset answered; the usage view too.
    let shown = key_view(&c, a, &s.key_id);
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["usage"]["spent"], json!(0.0), "{shown}");
    assert_eq!(
        shown["usage_limits"]["credit_limit"],
        json!(LIMIT),
        "{shown}"
    );
    assert!(shown["last_reset_at"].is_string(), "{shown}");
    let r = chat(c.port(a), &s.key, MODEL);
    assert_eq!(r.status, 200, "right after the reset: {}", r.text());
    // The other replicas within a second (each probe spends only once it passes).
    for &i in &all[1..] {
        let took = {
            let started = Instant::now();
            loop {
                let r = chat(c.port(i), &s.key, MODEL);
                if r.status == 200 {
                    break started.elapsed();
                }
                assert_eq!(r.status, 412, "{}", r.text());
                assert!(
                    reset_at.elapsed() < Duration::from_secs(2),
                    "replica {i} still refuses {:?} after the reset",
                    reset_at.elapsed()
                );
                std::thread::sleep(Duration::from_millis(25));
            }
        };
        println!("replica {i} admitted {took:?} after the reset");
        let shown = key_view(&c, i, &s.key_id);
        assert_eq!(shown["status"], "active", "{shown}");
    }
    // The restarted budget is a budget like any other: spent again, refused again.
    if replicas == 1 {
        let r = chat(c.port(a), &s.key, MODEL);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    for &i in &all {
        wait_until(
            Duration::from_secs(5),
            "the restarted budget is spent",
            || chat(c.port(i), &s.key, MODEL).status == 412,
        );
    }
}
