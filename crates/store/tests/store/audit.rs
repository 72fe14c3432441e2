//! The audit log: one event per mutation, free of secrets; filters and paging; direct records.

use portcullis_control::model::AuditEvent;
use portcullis_control::repo::{AuditQuery, RepoError, Repository};
use serde_json::json;

use crate::fixtures::{self, SECRET_MARKERS, actor};
use crate::harness::Ctx;

pub async fn audit_events_for_every_mutation_without_secrets(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let v0 = s.version().await.unwrap();

    let w = s
        .create_workspace(fixtures::workspace("audited"), &a)
        .await
        .unwrap();
    let mut w2 = w.clone();
    w2.name = "Audited Team".into();
    s.update_workspace(w2, &a).await.unwrap();
    let k = s
        .create_api_key(fixtures::api_key("k", Some(&w.id)), &a)
        .await
        .unwrap();
    let mut k2 = k.clone();
    k2.key_hash = "HASH-SECRET-rotated".into();
    s.update_api_key(k2, &a).await.unwrap();
    let i = s
        .create_integration(fixtures::integration("int", None), &a)
        .await
        .unwrap();
    let mut i2 = i.clone();
    i2.key_sealed = Some("v1.SEALED-SECRET-2".into());
    i2.configurations
        .insert("client_secret".into(), json!("v1.CONF-SECRET-2"));
    s.update_integration(i2, &a).await.unwrap();
    s.set_grants(&i.id, vec![fixtures::grant(&i.id, &w.id)], false, &a)
        .await
        .unwrap();
    let p = s
        .create_provider(fixtures::provider("vk", &w.id, None), &a)
        .await
        .unwrap();
    let mut p2 = p.clone();
    p2.key_sealed = Some("v1.SEALED-SECRET-3".into());
    s.update_provider(p2, &a).await.unwrap();
    let c = s
        .create_config(fixtures::config("pc-audit", Some(&w.id)), &a)
        .await
        .unwrap();
    let mut c2 = c.clone();
    c2.version_id = fixtures::id();
    c2.config = json!({"api_key": "BODY-SECRET-2"});
    s.update_config(c2, &a).await.unwrap();
    s.delete_config(&c.id, &a).await.unwrap();
    s.delete_provider(&p.id, &a).await.unwrap();
    s.delete_api_key(&k.id, &a).await.unwrap();
    s.set_grants(&i.id, vec![], true, &a).await.unwrap();
    s.delete_integration(&i.id, &a).await.unwrap();
    s.delete_workspace(&w.id, &a).await.unwrap();

    let expected = [
        ("create", "workspace", &w.id),
        ("update", "workspace", &w.id),
        ("create", "api_key", &k.id),
        ("update", "api_key", &k.id),
        ("create", "integration", &i.id),
        ("update", "integration", &i.id),
        ("grants.update", "integration", &i.id),
        ("create", "provider", &p.id),
        ("update", "provider", &p.id),
        ("create", "config", &c.id),
        ("update", "config", &c.id),
        ("delete", "config", &c.id),
        ("delete", "provider", &p.id),
        ("delete", "api_key", &k.id),
        ("grants.update", "integration", &i.id),
        ("delete", "integration", &i.id),
        ("delete", "workspace", &w.id),
    ];
    assert_eq!(s.version().await.unwrap(), v0 + expected.len() as i64);
    let log = s.list_audit(&AuditQuery::default()).await.unwrap();
    assert_eq!(log.total, expected.len() as u64);
    let got: Vec<_> = log
        .items
        .iter()
        .rev()
        .map(|e| (e.action.as_str(), e.resource_type.as_str(), &e.resource_id))
        .collect();
    assert_eq!(got, expected);
    for e in &log.items {
        assert_eq!(
            (e.actor_id.as_str(), e.actor_name.as_str()),
            ("key-admin", "Test Admin")
        );
        if e.resource_type != "integration" {
            assert_eq!(e.workspace_id.as_deref(), Some(w.id.as_str()), "{e:?}");
        }
        let text = e.details.to_string();
        for marker in SECRET_MARKERS {
            assert!(
                !text.contains(marker),
                "audit details leak {marker}: {text}"
            );
        }
        assert!(!text.contains(&k.key_hash));
    }
    // Secret changes are named, not shown.
    let key_update = &log.items[log.items.len() - 4];
    assert_eq!(key_update.details["changed"], json!(["key"]));
    let int_update = &log.items[log.items.len() - 6];
    assert_eq!(
        int_update.details["changed"],
        json!(["key", "configurations"])
    );
    let ws_update = &log.items[log.items.len() - 2];
    assert_eq!(ws_update.details["changed"], json!(["name"]));
    assert_eq!(ws_update.details["after"]["name"], json!("Audited Team"));
}

fn event(at: i64, kind: &str, id: &str, ws: Option<&str>) -> AuditEvent {
    AuditEvent {
        id: fixtures::id(),
        at,
        actor_id: "system".into(),
        actor_name: "limiter".into(),
        action: "budget.alert".into(),
        resource_type: kind.into(),
        resource_id: id.into(),
        workspace_id: ws.map(str::to_owned),
        details: json!({"spent": 40}),
    }
}

pub async fn audit_filters_and_paging(ctx: Ctx) {
    let s = &ctx.store;
    let v0 = s.version().await.unwrap();
    let events = [
        event(1_000, "api_key", "k1", Some("w1")),
        event(2_000, "api_key", "k2", Some("w1")),
        event(3_000, "workspace", "w1", Some("w1")),
        event(4_000, "api_key", "k1", Some("w2")),
        event(4_000, "budget", "b1", None),
    ];
    for e in &events {
        s.record_audit(e.clone()).await.unwrap();
    }
    // Recording is not a catalog change.
    assert_eq!(s.version().await.unwrap(), v0);
    let err = s.record_audit(events[0].clone()).await.unwrap_err();
    assert!(matches!(err, RepoError::Conflict(_)), "{err:?}");

    let ids = |q: AuditQuery| async move {
        let p = s.list_audit(&q).await.unwrap();
        (
            p.total,
            p.items.into_iter().map(|e| e.id).collect::<Vec<_>>(),
        )
    };
    let all = ids(AuditQuery::default()).await;
    // Newest first; equal times in insertion order, newest first.
    let expect: Vec<_> = events.iter().rev().map(|e| e.id.clone()).collect();
    assert_eq!(all, (5, expect));
    assert_eq!(
        events[0],
        s.list_audit(&AuditQuery::default()).await.unwrap().items[4]
    );

    let q = AuditQuery {
        resource_type: Some("api_key".into()),
        ..Default::default()
    };
    assert_eq!(ids(q).await.0, 3);
    let q = AuditQuery {
        resource_id: Some("k1".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(q).await,
        (2, vec![events[3].id.clone(), events[0].id.clone()])
    );
    let q = AuditQuery {
        workspace_id: Some("w1".into()),
        ..Default::default()
    };
    assert_eq!(ids(q).await.0, 3);
    let q = AuditQuery {
        since: Some(3_000),
        ..Default::default()
    };
    assert_eq!(ids(q).await.0, 3);
    let q = AuditQuery {
        resource_type: Some("api_key".into()),
        workspace_id: Some("w1".into()),
        since: Some(1_500),
        ..Default::default()
    };
    assert_eq!(ids(q).await, (1, vec![events[1].id.clone()]));
    let q = AuditQuery {
        page_size: Some(2),
        current_page: 1,
        ..Default::default()
    };
    assert_eq!(
        ids(q).await,
        (5, vec![events[2].id.clone(), events[1].id.clone()])
    );
}

pub async fn audit_prune_deletes_only_older_events(ctx: Ctx) {
    let s = &ctx.store;
    // More than one prune batch (1,000) of old events, written by a few tasks at once.
    let mut tasks = Vec::new();
    for t in 0..4_i64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..265_i64 {
                s.record_audit(event(1 + t * 265 + n, "budget", "b", None))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let keep = event(5_000, "budget", "keep", None);
    s.record_audit(keep.clone()).await.unwrap();
    assert_eq!(s.prune_audit(5_000).await.unwrap(), 1_060);
    let left = s.list_audit(&AuditQuery::default()).await.unwrap();
    assert_eq!((left.total, left.items), (1, vec![keep]));
    assert_eq!(s.prune_audit(5_000).await.unwrap(), 0);
}
