//! Budget spend: additive upserts, merged batches, concurrent writers from two stores.

use portcullis_control::model::Spend;
use portcullis_control::repo::Repository;

use crate::harness::Ctx;

fn spend(kind: &str, id: &str, period: &str, units: i64) -> Spend {
    Spend {
        scope_kind: kind.into(),
        scope_id: id.into(),
        period: period.into(),
        units,
    }
}

pub async fn spend_upserts_add_up(ctx: Ctx) {
    let s = &ctx.store;
    let v0 = s.version().await.unwrap();
    s.add_spend(&[]).await.unwrap();
    s.add_spend(&[
        spend("api_key", "k1", "2026-11", 5),
        spend("api_key", "k1", "2026-11", 3),
        spend("workspace", "w1", "all", 7),
        spend("api_key", "k2", "2026-11", 0),
    ])
    .await
    .unwrap();
    s.add_spend(&[
        spend("api_key", "k1", "2026-11", -2),
        spend("api_key", "k1", "2026-12", 1),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.load_spend().await.unwrap(),
        vec![
            spend("api_key", "k1", "2026-11", 6),
            spend("api_key", "k1", "2026-12", 1),
            spend("workspace", "w1", "all", 7),
        ]
    );
    // Spend is not a catalog change.
    assert_eq!(s.version().await.unwrap(), v0);
}

pub async fn concurrent_spend_adds_sum_correctly(ctx: Ctx) {
    let replicas = [ctx.store.clone(), ctx.open_again().await];
    let mut tasks = Vec::new();
    for t in 0..16 {
        let s = replicas[t % 2].clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                // Opposite key orders in alternate tasks: must not deadlock.
                let mut batch = vec![
                    spend("api_key", "hot", "all", 1),
                    spend("workspace", "hot", "all", 2),
                ];
                if t % 2 == 1 {
                    batch.reverse();
                }
                s.add_spend(&batch).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        ctx.store.load_spend().await.unwrap(),
        vec![
            spend("api_key", "hot", "all", 400),
            spend("workspace", "hot", "all", 800)
        ]
    );
}
