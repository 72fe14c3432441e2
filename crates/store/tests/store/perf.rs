//! `load_catalog` at scale: 10,000 API keys, 1,000 providers, 1,000 configs (run with
//! `cargo test -p portcullis-store --release -- --ignored --nocapture load_catalog_at_scale`).

use std::time::Instant;

use portcullis_control::repo::Repository;

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

pub async fn load_catalog_at_scale(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let seed = Instant::now();
    let mut workspaces = Vec::new();
    for n in 0..10 {
        workspaces.push(
            s.create_workspace(fixtures::workspace(&format!("perf{n}")), &a)
                .await
                .unwrap()
                .id,
        );
    }
    let i = s
        .create_integration(fixtures::integration("perf", None), &a)
        .await
        .unwrap();
    for n in 0..10_000 {
        let ws = &workspaces[n % workspaces.len()];
        s.create_api_key(fixtures::api_key(&format!("k{n}"), Some(ws)), &a)
            .await
            .unwrap();
    }
    for n in 0..1_000 {
        let ws = &workspaces[n % workspaces.len()];
        let integration = (n % 2 == 0).then_some(i.id.as_str());
        s.create_provider(fixtures::provider(&format!("p{n}"), ws, integration), &a)
            .await
            .unwrap();
        s.create_config(fixtures::config(&format!("pc-{n}"), Some(ws)), &a)
            .await
            .unwrap();
    }
    eprintln!(
        "{:?}: seeded 12,000 rows through the Repository in {:?}",
        ctx.backend(),
        seed.elapsed()
    );

    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let cat = s.load_catalog().await.unwrap();
        times.push(start.elapsed());
        assert_eq!(
            (cat.api_keys.len(), cat.providers.len(), cat.configs.len()),
            (10_000, 1_000, 1_000)
        );
    }
    times.sort();
    eprintln!(
        "{:?}: load_catalog min {:?}, median {:?}, max {:?}",
        ctx.backend(),
        times[0],
        times[2],
        times[4]
    );
    assert!(
        times[2].as_secs_f64() < 1.0,
        "load_catalog is too slow: {times:?}"
    );
}
