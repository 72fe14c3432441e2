//! The bundled table: it parses, it is fast, it covers the registry; lookup and error rules.

use std::time::Instant;

use portcullis_core::Usage;
use portcullis_pricing::{BUNDLED_JSON, Overrides, PriceSource, PriceTable, PricingError};
use portcullis_providers::registry::PROVIDERS;

/// Registry providers with hosted models but no priced chat model in the open data (LiteLLM
/// has no rows for them, nor does Portkey's public price data; for `nvidia-nim` LiteLLM lists
/// only free rerankers). Costs for their models are `None` unless an integration configures
/// custom prices. Kept exact: a provider that gains rows must leave the list.
const UNPRICED_HOSTED: &[&str] = &[
    "302ai",
    "cometapi",
    "featherless-ai",
    "inference-net",
    "kluster-ai",
    "lemonfox-ai",
    "nvidia-nim",
    "siliconflow",
    "upstage",
];

/// A model a chat request can be priced with: token prices, not all zero, a text mode.
fn priced_chat_model(m: &portcullis_pricing::ModelPrice) -> bool {
    let text = matches!(m.mode.as_deref(), Some("chat" | "completion" | "responses"));
    text && m.tokens.is_some_and(|t| t.input > 0 || t.output > 0)
}

/// Providers priced through another's rows rather than their own (see the lookup rules),
/// with a model each must resolve.
const PRICED_THROUGH: &[(&str, &str)] = &[("github", "gpt-4o"), ("openrouter", "openai/gpt-4o")];

#[test]
fn bundled_table_parses_with_a_reasonable_model_count() {
    let t = PriceTable::bundled();
    let providers: Vec<&str> = t.providers().collect();
    println!(
        "bundled price table: {} models, {} providers, source {} (litellm {}, imported {})",
        t.len(),
        providers.len(),
        t.meta().source,
        t.meta().source_version,
        t.meta().imported
    );
    assert!(t.len() > 1000, "only {} models", t.len());
    assert!(providers.len() >= 20);
    assert!(t.meta().license.contains("MIT"));
    assert!(!t.meta().source_version.is_empty());
}

#[test]
fn bundled_table_parses_quickly() {
    // Warm up, then take the best of a few runs (a debug build is several times slower than
    // release; the release figure is in data/README.md).
    let _ = PriceTable::from_json(BUNDLED_JSON).unwrap();
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            let t = PriceTable::from_json(BUNDLED_JSON).unwrap();
            assert!(!t.is_empty());
            start.elapsed()
        })
        .min()
        .unwrap();
    println!("parse time: {best:?} ({} bytes)", BUNDLED_JSON.len());
    let limit_ms = if cfg!(debug_assertions) { 250 } else { 50 };
    assert!(best.as_millis() < limit_ms, "parse took {best:?}");
}

#[test]
fn every_hosted_registry_provider_is_priced_or_listed_as_unpriced() {
    let t = PriceTable::bundled();
    let mut missing = Vec::new();
    let mut listed_but_priced = Vec::new();
    for p in PROVIDERS {
        let slug = p.slug;
        if p.local {
            let cost = t.cost(
                slug,
                "any-model",
                &Usage {
                    prompt_tokens: 10,
                    completion_tokens: 10,
                    ..Usage::default()
                },
            );
            assert_eq!(
                cost.map(|c| c.total_nanos),
                Some(0),
                "{slug} is local: free"
            );
            continue;
        }
        let through = PRICED_THROUGH.iter().find(|(s, _)| *s == slug);
        let priced = match through {
            Some((_, model)) => t.lookup(slug, model).is_some(),
            None => t
                .iter()
                .any(|m| &*m.provider == slug && priced_chat_model(m)),
        };
        let listed = UNPRICED_HOSTED.contains(&slug);
        if !priced && !listed {
            missing.push(slug);
        }
        if priced && listed {
            listed_but_priced.push(slug);
        }
    }
    assert!(
        missing.is_empty(),
        "hosted providers without a priced model: {missing:?}"
    );
    assert!(
        listed_but_priced.is_empty(),
        "now priced, remove from UNPRICED_HOSTED: {listed_but_priced:?}"
    );
    for slug in UNPRICED_HOSTED {
        assert!(
            PROVIDERS.iter().any(|p| p.slug == *slug),
            "{slug} is not a registry provider"
        );
    }
    // Every provider in the table is a registry provider.
    for slug in t.providers() {
        assert!(
            PROVIDERS.iter().any(|p| p.slug == slug),
            "table provider {slug} is not in the registry"
        );
    }
}

#[test]
fn provider_slugs_are_case_insensitive() {
    let t = PriceTable::bundled();
    assert!(t.lookup("OpenAI", "gpt-4o").is_some());
    assert_eq!(
        t.lookup("openai", "GPT-4o").map(|m| &*m.model),
        Some("gpt-4o")
    );
}

#[test]
fn quote_reports_its_source() {
    let t = PriceTable::bundled();
    let o = Overrides::new()
        .with_model(portcullis_pricing::ModelPrice::per_million_usd("mine", 1.0, 2.0).unwrap())
        .unwrap()
        .with_multiplier(0.9)
        .unwrap();
    let q = t.quote("openai", "gpt-4o", Some(&o)).unwrap();
    assert_eq!((q.source, q.multiplier_ppm), (PriceSource::Table, 900_000));
    let q = t.quote("openai", "mine", Some(&o)).unwrap();
    assert_eq!(
        (q.source, q.multiplier_ppm),
        (PriceSource::Custom, 1_000_000)
    );
    let q = t.quote("lm-studio", "whatever", None).unwrap();
    assert_eq!(q.source, PriceSource::Free);
}

const SMALL: &str = r#"{"meta":{"source":"test","source_version":"0","license":"MIT","imported":"2026-01-01","model_count":5},
"models":[
{"provider":"p","model":"m","input":1,"output":2},
{"provider":"p","model":"m-2024-01-01","input":1,"output":2},
{"provider":"p","model":"x-2024-01-01","input":1,"output":2},
{"provider":"p","model":"x-2024-06-01","input":5,"output":5},
{"provider":"p","model":"y-20240101","input":3,"output":3,"cache_write":3.75,"cache_write_1h":6,"units":{"per_request":0.005}}
]}"#;

#[test]
fn ambiguous_normal_forms_are_unpriced_not_guessed() {
    let t = PriceTable::from_json(SMALL).unwrap();
    // undated row owns its normal form
    assert_eq!(t.lookup("p", "m-2099-01-01").map(|m| &*m.model), Some("m"));
    // two dated rows with different prices share "x": no answer
    assert!(t.lookup("p", "x").is_none());
    assert!(t.lookup("p", "x-2030-01-01").is_none());
    // exact ids still resolve
    assert_eq!(
        t.lookup("p", "x-2024-06-01").map(|m| &*m.model),
        Some("x-2024-06-01")
    );
    // a single dated row claims its undated form
    assert_eq!(t.lookup("p", "y").map(|m| &*m.model), Some("y-20240101"));
}

#[test]
fn per_request_fee_and_five_minute_cache_writes() {
    let t = PriceTable::from_json(SMALL).unwrap();
    let u = Usage {
        prompt_tokens: 1000,
        cache_write_tokens: 1000,
        ..Usage::default()
    };
    let c = t.cost("p", "y", &u).unwrap();
    // 1000 × $3.75/M (5-minute write price, not the 1-hour one) + $0.005 per request
    assert_eq!(c.cache_write_nanos, 3_750_000);
    assert_eq!(c.request_nanos, 5_000_000);
    assert_eq!(c.total_nanos, 8_750_000);
}

#[test]
fn inconsistent_usage_is_clamped() {
    let t = PriceTable::from_json(SMALL).unwrap();
    // cached > prompt, reasoning > completion: parts never go negative
    let u = Usage {
        prompt_tokens: 100,
        cached_tokens: 500,
        cache_write_tokens: 50,
        completion_tokens: 10,
        reasoning_tokens: 40,
        total_tokens: 110,
    };
    let c = t.cost("p", "m", &u).unwrap();
    assert_eq!(c.input_nanos, 0);
    assert_eq!(c.cached_nanos, 100_000); // 100 × $1/M, no cached price: input price
    assert_eq!(c.cache_write_nanos, 0);
    assert_eq!(c.output_nanos, 0);
    assert_eq!(c.reasoning_nanos, 20_000); // 10 × $2/M
    assert_eq!(c.total_nanos, 120_000);
}

fn err(json: &str) -> String {
    PriceTable::from_json(json).unwrap_err().to_string()
}

const HEAD: &str =
    r#"{"meta":{"source":"t","source_version":"0","license":"MIT","imported":"x"},"models":["#;

#[test]
fn errors_name_the_model_and_field() {
    let e = err(&format!(
        r#"{HEAD}{{"provider":"p","model":"a","input":1,"output":-2}}]}}"#
    ));
    assert!(e.contains("p/a") && e.contains("output"), "{e}");

    let e = err(&format!(
        r#"{HEAD}{{"provider":"p","model":"a","input":"1","output":2}}]}}"#
    ));
    assert!(e.contains("models[0] (p/a).input"), "{e}");

    let e = err(&format!(
        r#"{HEAD}{{"provider":"p","model":"a","input":1,"output":2}},{{"provider":"p","model":"b","input":1,"output":2,"cahced_input":1}}]}}"#
    ));
    assert!(e.contains("p/b") && e.contains("cahced_input"), "{e}");

    let e = err(&format!(
        r#"{HEAD}{{"provider":"p","model":"a","input":1,"output":2,"units":{{"per_gallon":1}}}}]}}"#
    ));
    assert!(e.contains("p/a") && e.contains("units.per_gallon"), "{e}");

    let e = err(&format!(
        r#"{HEAD}{{"provider":"p","model":"a","input":1,"output":2,"tiers":[{{"above_prompt_tokens":2,"input":1,"output":1}},{{"above_prompt_tokens":1,"input":1,"output":1}}]}}]}}"#
    ));
    assert!(
        e.contains("p/a") && e.contains("tiers[1].above_prompt_tokens"),
        "{e}"
    );

    let e = err(&format!(
        r#"{HEAD}{{"provider":"p","model":"a","input":1}}]}}"#
    ));
    assert!(e.contains("p/a") && e.contains("output"), "{e}");

    let e = err(&format!(
        r#"{HEAD}{{"provider":"p","model":"a","input":0.0000000001,"output":1}}]}}"#
    ));
    assert!(e.contains("p/a") && e.contains("nano"), "{e}");

    let e = err(&format!(
        r#"{HEAD}{{"provider":"p","model":"a","input":1,"output":1}},{{"provider":"p","model":"a","input":1,"output":1}}]}}"#
    ));
    assert!(matches!(
        PriceTable::from_json(&format!(
            r#"{HEAD}{{"provider":"p","model":"a","input":1,"output":1}},{{"provider":"p","model":"a","input":1,"output":1}}]}}"#
        )),
        Err(PricingError::Duplicate { .. })
    ));
    assert!(e.contains("p/a"), "{e}");

    let truncated = r#"{"meta":{"model_count":2},"models":[{"provider":"p","model":"a","input":1,"output":1}]}"#;
    assert!(matches!(
        PriceTable::from_json(truncated),
        Err(PricingError::Count {
            declared: 2,
            actual: 1
        })
    ));
}
