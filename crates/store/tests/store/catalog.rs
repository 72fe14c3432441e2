//! `load_catalog`: every entity round-trips intact; snapshots stay consistent under writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use portcullis_control::model::Status;
use portcullis_control::repo::Repository;

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

pub async fn load_catalog_returns_everything(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let mut w = fixtures::workspace("cat");
    w.is_default = true;
    let w = s.create_workspace(w, &a).await.unwrap();
    let k1 = s
        .create_api_key(fixtures::api_key("k1", Some(&w.id)), &a)
        .await
        .unwrap();
    let mut k2 = fixtures::api_key("k2", None);
    k2.status = Status::Exhausted;
    let k2 = s.create_api_key(k2, &a).await.unwrap();
    let i = s
        .create_integration(fixtures::integration("cat-int", None), &a)
        .await
        .unwrap();
    let g = fixtures::grant(&i.id, &w.id);
    s.set_grants(&i.id, vec![g.clone()], false, &a)
        .await
        .unwrap();
    let p = s
        .create_provider(fixtures::provider("cat-p", &w.id, Some(&i.id)), &a)
        .await
        .unwrap();
    let c = s
        .create_config(fixtures::config("pc-cat", Some(&w.id)), &a)
        .await
        .unwrap();

    let cat = s.load_catalog().await.unwrap();
    assert_eq!(cat.version, s.version().await.unwrap());
    assert_eq!(cat.workspaces, vec![w]);
    assert_eq!(cat.api_keys, vec![k1, k2]);
    assert_eq!(cat.integrations, vec![i]);
    assert_eq!(cat.grants, vec![g]);
    assert_eq!(cat.providers, vec![p]);
    assert_eq!(cat.configs, vec![c]);
}

/// Every snapshot taken while keys are being created holds exactly the keys of its version.
pub async fn load_catalog_is_consistent_under_writes(ctx: Ctx) {
    let s = ctx.store.clone();
    let w = s
        .create_workspace(fixtures::workspace("busy"), &actor())
        .await
        .unwrap();
    let base = s.version().await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (s, done, ws) = (s.clone(), done.clone(), w.id.clone());
        tokio::spawn(async move {
            for n in 0..60 {
                s.create_api_key(fixtures::api_key(&format!("k{n}"), Some(&ws)), &actor())
                    .await
                    .unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut snapshots = 0;
    let mut distinct = std::collections::BTreeSet::new();
    while !done.load(Ordering::Acquire) {
        let cat = s.load_catalog().await.unwrap();
        assert_eq!(
            cat.api_keys.len() as i64,
            cat.version - base,
            "torn snapshot"
        );
        distinct.insert(cat.version);
        snapshots += 1;
    }
    writer.await.unwrap();
    let cat = s.load_catalog().await.unwrap();
    assert_eq!(cat.api_keys.len(), 60);
    assert!(snapshots > 0);
    eprintln!(
        "{:?}: {snapshots} snapshots, {} distinct versions",
        ctx.backend(),
        distinct.len()
    );
}
