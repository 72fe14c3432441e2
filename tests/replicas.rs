//! Two `portcullis serve` replicas sharing one PostgreSQL schema and one Redis prefix behave as
//! one gateway: shared rate limits and budgets, admin changes on one replica seen by the other
//! within a second, and spend that survives a restart.
//!
//! Every test has its own schema, Redis prefix, processes and directory, all removed at the end.
//! Without PostgreSQL or Redis the tests print `skipping: <reason>` and pass, unless
//! `PORTCULLIS_REQUIRE_SERVICES=1` (then they fail).

mod common_replicas;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use common_replicas::http::request;
use common_replicas::*;
use serde_json::json;

/// Polls `probe` every 50 ms until it holds; the time since `since` when it first did.
fn propagation(since: Instant, limit: Duration, mut probe: impl FnMut() -> bool) -> Duration {
    loop {
        if probe() {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "not propagated after {:?}",
            since.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_request_rate_limit_is_shared_by_both_replicas() {
    let Some(svc) = services() else { return };
    const N: usize = 20;
    let mut c = Cluster::new(svc, "rate", 2);
    let a = c.start_replica("a");
    let b = c.start_replica("b");
    let s = c.setup(
        a,
        json!({"rate_limits": [{"type": "requests", "unit": "rpm", "value": N}]}),
        json!({}),
    );
    c.wait_key_known(a, &s.key);
    c.wait_key_known(b, &s.key);

    // 2N requests at once, alternating between the replicas.
    let ports = [c.port(a), c.port(b)];
    let barrier = Barrier::new(2 * N);
    let started = Instant::now();
    let results: Vec<(usize, Resp)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2 * N)
            .map(|i| {
                let (barrier, key) = (&barrier, &s.key);
                scope.spawn(move || {
                    barrier.wait();
                    (i % 2, chat(ports[i % 2], key, "@mock-prov/m"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = started.elapsed();
    let mut ok = [0usize; 2];
    let mut limited = [0usize; 2];
    for (replica, r) in &results {
        match r.status {
            200 => ok[*replica] += 1,
            429 => {
                limited[*replica] += 1;
                let v = r.json();
                assert_eq!(v["error"]["code"], "05", "{}", r.text());
                let wait: u64 = r
                    .header("retry-after")
                    .and_then(|w| w.parse().ok())
                    .unwrap_or_else(|| panic!("429 without a Retry-After: {:?}", r.headers));
                assert!((1..=60).contains(&wait), "retry-after {wait}");
            }
            other => panic!("unexpected status {other}: {}", r.text()),
        }
    }
    let admitted = ok[0] + ok[1];
    println!(
        "rate limit {N}/min, {} requests in {took:?}: admitted {admitted} (A {}, B {}), 429 {} (A {}, B {})",
        2 * N,
        ok[0],
        ok[1],
        limited[0] + limited[1],
        limited[0],
        limited[1]
    );
    // A burst of N passes at once; then one more every 60/N s (the batch takes well under that,
    // but allow the one extra a slow machine might earn).
    assert!(
        (N - 1..=N + 1).contains(&admitted),
        "admitted {admitted} of {} with a limit of {N}",
        2 * N
    );
    assert_eq!(admitted + limited[0] + limited[1], 2 * N);
    assert!(
        ok[0] > 0 && ok[1] > 0,
        "both replicas admitted some: {ok:?}"
    );
}

#[test]
fn a_token_budget_is_overshot_by_at_most_what_was_in_flight() {
    let Some(svc) = services() else { return };
    const LIMIT: u64 = 1_000;
    /// Tokens per answer (`+usage=40,20`).
    const PER: u64 = 60;
    /// Requests in flight at any time: 4 per replica.
    const CONCURRENCY: usize = 8;
    let mut c = Cluster::new(svc, "budget", 2);
    let a = c.start_replica("a");
    let b = c.start_replica("b");
    let s = c.setup(
        a,
        json!({"usage_limits": {"type": "tokens", "credit_limit": LIMIT}}),
        json!({}),
    );
    c.wait_key_known(a, &s.key);
    c.wait_key_known(b, &s.key);

    // Each worker sends until it is refused; answers take 100 ms, so several are in flight on
    // both replicas while the budget runs out.
    let model = "@mock-prov/m+usage=40,20+delay_ms=100";
    let ports = [c.port(a), c.port(b)];
    let barrier = Barrier::new(CONCURRENCY);
    let started = Instant::now();
    let per_worker: Vec<Vec<Resp>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONCURRENCY)
            .map(|i| {
                let (barrier, key) = (&barrier, &s.key);
                scope.spawn(move || {
                    barrier.wait();
                    let mut seen = Vec::new();
                    for _ in 0..60 {
                        let r = chat(ports[i % 2], key, model);
                        let done = r.status != 200;
                        seen.push(r);
                        if done {
                            break;
                        }
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = started.elapsed();
    let mut charged = 0u64;
    let mut ok = 0usize;
    for r in per_worker.iter().flatten() {
        match r.status {
            200 => {
                let used = r.json()["usage"]["total_tokens"].as_u64().unwrap_or(0);
                assert_eq!(used, PER, "{}", r.text());
                charged += used;
                ok += 1;
            }
            412 => assert_eq!(r.json()["error"]["code"], "04", "{}", r.text()),
            other => panic!("unexpected status {other}: {}", r.text()),
        }
    }
    for (i, w) in per_worker.iter().enumerate() {
        assert_eq!(
            w.last().map(|r| r.status),
            Some(412),
            "worker {i} never refused"
        );
    }
    let overshoot = charged as i64 - LIMIT as i64;
    let bound = CONCURRENCY as u64 * PER;
    println!(
        "token budget {LIMIT}: {ok} answers of {PER} tokens in {took:?}, charged {charged}, \
         overshoot {overshoot} (bound {bound} = {CONCURRENCY} in flight x {PER})"
    );
    assert!(
        charged <= LIMIT + bound,
        "charged {charged} > limit {LIMIT} + in flight {bound}"
    );
    // Refusals are not premature either: a refused estimate (~37 tokens) no longer fit.
    assert!(
        charged + PER > LIMIT,
        "refused with only {charged} of {LIMIT} charged"
    );

    // Once everything has settled, both replicas refuse with Portkey's 412 / 04.
    std::thread::sleep(Duration::from_millis(300));
    for (name, port) in [("A", ports[0]), ("B", ports[1])] {
        let r = chat(port, &s.key, "@mock-prov/m+usage=1,1");
        assert_eq!(r.status, 412, "replica {name}: {}", r.text());
        let v = r.json();
        assert_eq!(v["error"]["code"], "04", "replica {name}: {v}");
        assert_eq!(
            v["message"],
            "Portkey Error: Portkey API Key Usage Limit Exceeded. Error Code: 04"
        );
    }
}

#[test]
fn budget_alerts_fire_once_across_both_replicas() {
    let Some(svc) = services() else { return };
    const LIMIT: u64 = 3_000;
    const ALERT: u64 = 1_500;
    /// Tokens per answer (`+usage=200,100`).
    const PER: u64 = 300;
    let hook = common_replicas::hook::Hook::start();
    let mut c = Cluster::new(svc, "alerts", 2);
    c.webhook_url = Some(hook.url.clone());
    let a = c.start_replica("a");
    let b = c.start_replica("b");
    let s = c.setup(
        a,
        json!({"usage_limits": {"type": "tokens", "credit_limit": LIMIT, "alert_threshold": ALERT}}),
        json!({}),
    );
    c.wait_key_known(a, &s.key);
    c.wait_key_known(b, &s.key);

    // 8 workers, 4 per replica, each sending until refused: both lines are crossed while
    // settles from both replicas race.
    let ports = [c.port(a), c.port(b)];
    let barrier = Barrier::new(8);
    let ok: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (barrier, key) = (&barrier, &s.key);
                scope.spawn(move || {
                    barrier.wait();
                    let mut ok = 0;
                    for _ in 0..30 {
                        let r = chat(ports[i % 2], key, "@mock-prov/m+usage=200,100+delay_ms=50");
                        match r.status {
                            200 => ok += 1,
                            412 => break,
                            other => panic!("unexpected status {other}: {}", r.text()),
                        }
                    }
                    ok
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    // Requests after exhaustion, on both replicas, must not alert again.
    std::thread::sleep(Duration::from_millis(300));
    for port in ports {
        assert_eq!(chat(port, &s.key, "@mock-prov/m").status, 412);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while hook.events().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let events = hook.events();
    println!("alerts across replicas: {ok} answers of {PER} tokens, events {events:?}");
    let of = |t: &str| {
        events
            .iter()
            .filter(|e| e["type"] == t)
            .cloned()
            .collect::<Vec<_>>()
    };
    let alerts = of("budget.alert_threshold_reached");
    let exhausted = of("budget.exhausted");
    assert_eq!(alerts.len(), 1, "one threshold alert: {events:#?}");
    assert_eq!(exhausted.len(), 1, "one exhaustion alert: {events:#?}");
    assert_eq!(events.len(), 2, "{events:#?}");
    for e in &events {
        assert_eq!(e["scope"], json!({"kind": "api_key", "id": s.key_id}));
        assert_eq!(e["usage_type"], "tokens");
        assert_eq!(e["limit"], LIMIT);
        assert_eq!(e["period"], "all");
    }
    let spent_at_alert = alerts[0]["spent"].as_u64().unwrap();
    assert!(
        (ALERT..LIMIT + 8 * PER).contains(&spent_at_alert),
        "{spent_at_alert}"
    );
    assert_eq!(alerts[0]["threshold"], ALERT);
    assert!(exhausted[0]["spent"].as_u64().unwrap() >= LIMIT);
    assert_eq!(exhausted[0]["threshold"], LIMIT);
}

#[test]
fn a_key_deleted_on_one_replica_stops_working_on_the_other_within_a_second() {
    let Some(svc) = services() else { return };
    let mut c = Cluster::new(svc, "revoke", 2);
    let a = c.start_replica("a");
    let b = c.start_replica("b");
    let s = c.setup(a, json!({}), json!({}));
    c.wait_key_known(b, &s.key);
    let r = chat(c.port(b), &s.key, "@mock-prov/m");
    assert_eq!(r.status, 200, "{}", r.text());

    c.admin(a, "DELETE", &format!("/v1/api-keys/{}", s.key_id), None);
    let deleted = Instant::now();
    let on_b = propagation(deleted, Duration::from_secs(5), || {
        chat(c.port(b), &s.key, "@mock-prov/m").status == 401
    });
    let on_a = propagation(deleted, Duration::from_secs(5), || {
        chat(c.port(a), &s.key, "@mock-prov/m").status == 401
    });
    println!("key deletion propagation: replica B {on_b:?} (replica A {on_a:?})");
    assert!(
        on_b < Duration::from_secs(1),
        "replica B still accepted the deleted key after {on_b:?}"
    );
    let r = chat(c.port(b), &s.key, "@mock-prov/m");
    assert_eq!(r.json()["error"]["code"], "03", "{}", r.text());
}

#[test]
fn a_key_revoked_with_the_cli_stops_working_on_both_replicas_within_a_second() {
    let Some(svc) = services() else { return };
    let mut c = Cluster::new(svc, "clirevoke", 2);
    let a = c.start_replica("a");
    let b = c.start_replica("b");
    let s = c.setup(a, json!({}), json!({}));
    c.wait_key_known(b, &s.key);
    assert_eq!(chat(c.port(a), &s.key, "@mock-prov/m").status, 200);

    // The CLI writes the shared database directly; the replicas learn of it by notification.
    let out = std::process::Command::new(BIN)
        .args(["keys", "revoke", &s.key_id])
        .args(["--database-url", &c.database_url()])
        .env("PORTCULLIS_MASTER_KEY", MASTER_KEY)
        .output()
        .expect("run portcullis keys revoke");
    assert!(
        out.status.success(),
        "keys revoke failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked = Instant::now();
    for (name, i) in [("A", a), ("B", b)] {
        let took = propagation(revoked, Duration::from_secs(5), || {
            chat(c.port(i), &s.key, "@mock-prov/m").status == 401
        });
        println!("CLI revocation propagation: replica {name} {took:?}");
        assert!(
            took < Duration::from_secs(1),
            "replica {name} still accepted the revoked key after {took:?}"
        );
    }
    // Revoked keys are kept (and listed as such), unlike deleted ones.
    let k = c.admin(a, "GET", &format!("/v1/api-keys/{}", s.key_id), None);
    assert_eq!(k["status"], "revoked", "{k}");
}

#[test]
fn a_key_rotated_on_one_replica_changes_on_the_other_within_a_second() {
    let Some(svc) = services() else { return };
    let mut c = Cluster::new(svc, "rotate", 2);
    let a = c.start_replica("a");
    let b = c.start_replica("b");
    let s = c.setup(a, json!({}), json!({}));
    c.wait_key_known(b, &s.key);

    let rotated = c.admin(
        a,
        "POST",
        &format!("/v1/api-keys/{}/rotate", s.key_id),
        None,
    );
    let at = Instant::now();
    let new_key = rotated["key"].as_str().expect("new secret").to_owned();
    let old_refused = propagation(at, Duration::from_secs(5), || {
        chat(c.port(b), &s.key, "@mock-prov/m").status == 401
    });
    let new_works = propagation(at, Duration::from_secs(5), || {
        chat(c.port(b), &new_key, "@mock-prov/m").status == 200
    });
    println!(
        "key rotation propagation to replica B: old refused {old_refused:?}, new accepted {new_works:?}"
    );
    assert!(old_refused < Duration::from_secs(1), "{old_refused:?}");
    assert!(new_works < Duration::from_secs(1), "{new_works:?}");
}

#[test]
fn a_provider_created_on_one_replica_is_usable_on_the_other_within_a_second() {
    let Some(svc) = services() else { return };
    let mut c = Cluster::new(svc, "provider", 2);
    let a = c.start_replica("a");
    let b = c.start_replica("b");
    let s = c.setup(a, json!({}), json!({}));
    c.wait_key_known(b, &s.key);
    let r = chat(c.port(b), &s.key, "@late-prov/m");
    assert_ne!(r.status, 200, "no such provider yet: {}", r.text());

    c.admin(
        a,
        "POST",
        "/v1/providers",
        Some(json!({"name": "late", "slug": "late-prov", "integration_id": INTEGRATION, "workspace_id": s.workspace_id})),
    );
    let created = Instant::now();
    let on_b = propagation(created, Duration::from_secs(5), || {
        chat(c.port(b), &s.key, "@late-prov/m").status == 200
    });
    println!("provider creation propagation to replica B: {on_b:?}");
    assert!(
        on_b < Duration::from_secs(1),
        "replica B could not use the new provider for {on_b:?}"
    );
}

#[cfg(unix)]
#[test]
fn spend_survives_a_graceful_restart_of_every_replica() {
    let Some(svc) = services() else { return };
    const LIMIT: u64 = 200;
    // Only the flush at exit writes spend (the timer would not fire within the test).
    let mut c = Cluster::new(svc, "durable", 3600);
    let a = c.start_replica("a");
    let b = c.start_replica("b");
    let s = c.setup(
        a,
        json!({"usage_limits": {"type": "tokens", "credit_limit": LIMIT}}),
        json!({}),
    );
    c.wait_key_known(b, &s.key);
    // 60 tokens through each replica: 120 of 200 spent.
    let model = "@mock-prov/m+usage=40,20";
    for i in [a, b] {
        let r = chat(c.port(i), &s.key, model);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        c.stored_spend(),
        vec![],
        "nothing is flushed before the exit"
    );

    let stop = Instant::now();
    for i in [a, b] {
        let code = c.replicas[i].proc.terminate(Duration::from_secs(15));
        assert!(code.success(), "replica exit status {code:?}");
    }
    println!("both replicas stopped in {:?}", stop.elapsed());
    let spend = c.stored_spend();
    println!("stored spend after SIGTERM: {spend:?}");
    let key_spend: i64 = spend
        .iter()
        .filter(|(kind, id, period, _)| {
            kind == "api_key" && *id == s.key_id && period.starts_with("tokens:")
        })
        .map(|(.., units)| units)
        .sum();
    assert_eq!(key_spend, 120, "both replicas flushed their spend at exit");

    // A new replica on the same schema but a Redis that knows nothing (a fresh prefix): the
    // stored 120 is all it has. Two more calls are admitted (→ 180 → 240: a budget refuses
    // only once spent); the third is refused. With the spend lost, the third would pass too;
    // counted twice (240), the first would be refused.
    let fresh = format!("{}fresh:", c.prefix);
    let restarted = Instant::now();
    let d = c.spawn_replica_with_prefix("c", &fresh);
    c.wait_ready(d);
    println!("replica restarted in {:?}", restarted.elapsed());
    let first = chat(c.port(d), &s.key, model);
    std::thread::sleep(Duration::from_millis(300));
    let second = chat(c.port(d), &s.key, model);
    std::thread::sleep(Duration::from_millis(300));
    let third = chat(c.port(d), &s.key, model);
    assert_eq!(
        (first.status, second.status, third.status),
        (200, 200, 412),
        "first: {} second: {} third: {}",
        first.text(),
        second.text(),
        third.text()
    );
    assert_eq!(third.json()["error"]["code"], "04");
    let shown = c.admin(d, "GET", &format!("/v1/api-keys/{}", s.key_id), None);
    println!(
        "GET /v1/api-keys/{{id}} after the restart: status {} usage {}",
        shown["status"], shown["usage"]
    );
}

/// Replicas of a fresh deployment start together: each must come up, not only the one that
/// wins the race to create the default workspace and the bootstrap admin key.
#[test]
fn two_replicas_starting_at_once_on_an_empty_database_both_come_up() {
    let Some(svc) = services() else { return };
    let mut c = Cluster::new(svc, "together", 2);
    let a = c.spawn_replica("a");
    let b = c.spawn_replica("b");
    let ready_a = c.wait_ready(a);
    let ready_b = c.wait_ready(b);
    println!("simultaneous start: A ready in {ready_a:?}, B in {ready_b:?}");
    for i in [a, b] {
        let r = request(
            c.port(i),
            "GET",
            "/v1/admin/workspaces",
            &[("x-portkey-api-key", ADMIN_KEY)],
            None,
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let defaults = r.json()["data"]
            .as_array()
            .map(|ws| {
                ws.iter()
                    .filter(|w| w["is_default"] == 1 || w["is_default"] == true)
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(defaults, 1, "exactly one default workspace: {}", r.text());
    }
}

#[test]
fn an_admin_change_is_served_by_its_replica_when_it_answers() {
    let Some(svc) = services() else { return };
    let mut c = Cluster::new(svc, "ryw", 2);
    let a = c.start_replica("a");
    let s = c.setup(a, json!({}), json!({}));
    // Read-your-writes: no waiting between creating a key and using it on the same replica.
    for i in 0..10 {
        let k = c.admin(
            a,
            "POST",
            "/v1/api-keys/workspace/service",
            Some(json!({"name": format!("ryw-{i}"), "workspace_id": s.workspace_id, "scopes": ["completions.write"]})),
        );
        let key = k["key"].as_str().expect("key secret");
        let r = chat(c.port(a), key, "@mock-prov/m");
        assert_eq!(
            r.status,
            200,
            "key {i} used right after its creation: {}",
            r.text()
        );
    }
}
