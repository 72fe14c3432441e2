//! Budget usage resets: a catalog change (new version, audit event), strictly later each time,
//! in the catalog snapshot's source, seen by another store on the same database.

use portcullis_control::model::UsageReset;
use portcullis_control::repo::{AuditQuery, RepoError, Repository};

use crate::fixtures::actor;
use crate::harness::Ctx;

pub async fn usage_resets_are_catalog_changes(ctx: Ctx) {
    let s = &ctx.store;
    let v0 = s.version().await.unwrap();
    let before = now_ms();
    let first = s
        .reset_usage("api_key", "k1", Some("w1"), &actor())
        .await
        .unwrap();
    assert!(first >= before, "{first} < {before}");
    assert_eq!(s.version().await.unwrap(), v0 + 1);
    // Twice in a row (within one millisecond, say): still later each time.
    let mut last = first;
    for _ in 0..3 {
        let next = s
            .reset_usage("api_key", "k1", Some("w1"), &actor())
            .await
            .unwrap();
        assert!(next > last, "{next} <= {last}");
        last = next;
    }
    let grant = s
        .reset_usage("integration", "i1:w1", Some("w1"), &actor())
        .await
        .unwrap();
    assert!(matches!(
        s.reset_usage("", "k1", None, &actor()).await,
        Err(RepoError::Invalid(_))
    ));

    let resets = |c: portcullis_control::model::CatalogData| c.usage_resets;
    let want = vec![
        UsageReset {
            scope_kind: "api_key".into(),
            scope_id: "k1".into(),
            reset_at: last,
        },
        UsageReset {
            scope_kind: "integration".into(),
            scope_id: "i1:w1".into(),
            reset_at: grant,
        },
    ];
    assert_eq!(resets(s.load_catalog().await.unwrap()), want);
    let other = ctx.open_again().await;
    assert_eq!(resets(other.load_catalog().await.unwrap()), want);

    let log = s
        .list_audit(&AuditQuery {
            resource_id: Some("k1".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(log.total, 4);
    let e = &log.items[0];
    assert_eq!(
        (e.action.as_str(), e.resource_type.as_str()),
        ("reset_usage", "api_key")
    );
    assert_eq!(e.workspace_id.as_deref(), Some("w1"));
    assert_eq!(e.details["reset_at"], last);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
