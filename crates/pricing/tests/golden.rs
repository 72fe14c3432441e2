//! Golden costs: hand-computed from documented prices, in `fixtures/golden.json`.

use portcullis_core::Usage;
use portcullis_pricing::{Overrides, PriceTable};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    cost: Vec<CostCase>,
    estimate: Vec<EstimateCase>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UsageSpec {
    prompt: u64,
    cached: u64,
    cache_write: u64,
    completion: u64,
    reasoning: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Parts {
    input: i64,
    cached: i64,
    cache_write: i64,
    output: i64,
    reasoning: i64,
}

#[derive(Deserialize)]
struct CostCase {
    name: String,
    provider: String,
    model: String,
    usage: UsageSpec,
    #[serde(default)]
    overrides: Option<serde_json::Value>,
    expected: Option<i64>,
    #[serde(default)]
    parts: Option<Parts>,
    #[serde(default)]
    tier: Option<u64>,
}

#[derive(Deserialize)]
struct EstimateCase {
    name: String,
    provider: String,
    model: String,
    prompt: u64,
    max_output: u64,
    #[serde(default)]
    overrides: Option<serde_json::Value>,
    expected: Option<i64>,
}

fn fixtures() -> Fixtures {
    serde_json::from_str(include_str!("fixtures/golden.json")).expect("fixtures parse")
}

fn overrides(v: &Option<serde_json::Value>) -> Overrides {
    v.as_ref().map_or_else(Overrides::new, |v| {
        Overrides::from_json(&v.to_string()).expect("fixture overrides parse")
    })
}

#[test]
fn golden_costs() {
    let table = PriceTable::bundled();
    let cases = fixtures().cost;
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for c in &cases {
        let u = &c.usage;
        let usage = Usage {
            prompt_tokens: u.prompt,
            completion_tokens: u.completion,
            total_tokens: u.prompt + u.completion,
            cached_tokens: u.cached,
            cache_write_tokens: u.cache_write,
            reasoning_tokens: u.reasoning,
        };
        let got = table.cost_with(&c.provider, &c.model, &usage, &overrides(&c.overrides));
        if got.map(|c| c.total_nanos) != c.expected {
            failures.push(format!(
                "{}: {}/{} expected {:?}, got {:?}",
                c.name, c.provider, c.model, c.expected, got
            ));
            continue;
        }
        let Some(got) = got else { continue };
        if let Some(p) = &c.parts {
            let want = (p.input, p.cached, p.cache_write, p.output, p.reasoning);
            let have = (
                got.input_nanos,
                got.cached_nanos,
                got.cache_write_nanos,
                got.output_nanos,
                got.reasoning_nanos,
            );
            if want != have {
                failures.push(format!("{}: parts expected {want:?}, got {have:?}", c.name));
            }
        }
        if got.tier_above_prompt_tokens != c.tier {
            failures.push(format!(
                "{}: tier expected {:?}, got {:?}",
                c.name, c.tier, got.tier_above_prompt_tokens
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn golden_estimates() {
    let table = PriceTable::bundled();
    let mut failures = Vec::new();
    for c in fixtures().estimate {
        let got = table.estimate_with(
            &c.provider,
            &c.model,
            c.prompt,
            c.max_output,
            &overrides(&c.overrides),
        );
        if got != c.expected {
            failures.push(format!(
                "{}: expected {:?}, got {got:?}",
                c.name, c.expected
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn estimate_without_overrides_matches() {
    let t = PriceTable::bundled();
    assert_eq!(t.estimate("openai", "gpt-4o", 1000, 1000), Some(12_500_000));
    assert_eq!(t.estimate("openai", "gpt-nonexistent", 1, 1), None);
}
