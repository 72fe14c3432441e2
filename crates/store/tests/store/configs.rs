//! Configs: CRUD by slug and id, versions, slug conflicts, paging by workspace.

use portcullis_control::repo::{ListQuery, RepoError, Repository};
use serde_json::json;

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

pub async fn configs_crud_and_versions(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let c = s
        .create_config(fixtures::config("pc-prod-f-1a2b3c", None), &a)
        .await
        .unwrap();
    assert_eq!(
        s.get_config("pc-prod-f-1a2b3c").await.unwrap().as_ref(),
        Some(&c)
    );
    assert_eq!(s.get_config(&c.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(s.get_config("pc-nope").await.unwrap(), None);
    let v1 = c.version_id.clone();

    let mut v2 = c.clone();
    v2.version_id = fixtures::id();
    v2.config = json!({"retry": {"attempts": 5}});
    v2.updated_at = fixtures::tick();
    s.update_config(v2.clone(), &a).await.unwrap();
    assert_eq!(s.get_config(&c.id).await.unwrap().as_ref(), Some(&v2));
    let versions = s.list_config_versions(&c.id).await.unwrap();
    let ids: Vec<_> = versions.iter().map(|v| v.version_id.clone()).collect();
    assert_eq!(ids, [v2.version_id.clone(), v1.clone()]);
    assert_eq!(versions[1].config, c.config);
    assert_eq!(versions[0].config, v2.config);

    // Same version, same body: only the row changes.
    let mut renamed = v2.clone();
    renamed.name = "renamed".into();
    s.update_config(renamed.clone(), &a).await.unwrap();
    assert_eq!(
        s.list_config_versions("pc-prod-f-1a2b3c")
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.get_config(&c.id).await.unwrap(), Some(renamed.clone()));

    // Same version, different body: refused.
    let mut sneaky = renamed.clone();
    sneaky.config = json!({"cache": {"mode": "simple"}});
    let err = s.update_config(sneaky, &a).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");

    // Back to the first version.
    let mut back = renamed.clone();
    back.version_id = v1.clone();
    back.config = c.config.clone();
    s.update_config(back.clone(), &a).await.unwrap();
    assert_eq!(s.get_config(&c.id).await.unwrap(), Some(back));
    assert_eq!(s.list_config_versions(&c.id).await.unwrap().len(), 2);

    // A version of another config cannot be borrowed.
    let other = s
        .create_config(fixtures::config("pc-other", None), &a)
        .await
        .unwrap();
    let mut borrow = other.clone();
    borrow.version_id = v1.clone();
    borrow.config = c.config.clone();
    let err = s.update_config(borrow, &a).await.unwrap_err();
    assert!(matches!(err, RepoError::Conflict(_)), "{err:?}");

    let err = s
        .create_config(fixtures::config("pc-other", None), &a)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RepoError::Conflict("config slug \"pc-other\" is already taken".into())
    );
    let mut dup_version = fixtures::config("pc-third", None);
    dup_version.version_id = v1.clone();
    let err = s.create_config(dup_version, &a).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Conflict(ref m) if m.contains("version")),
        "{err:?}"
    );
    assert_eq!(s.get_config("pc-third").await.unwrap(), None);

    s.delete_config(&c.id, &a).await.unwrap();
    assert_eq!(s.get_config(&c.id).await.unwrap(), None);
    let err = s.list_config_versions(&c.id).await.unwrap_err();
    assert!(matches!(err, RepoError::NotFound(_)), "{err:?}");
    let err = s.update_config(c, &a).await.unwrap_err();
    assert!(matches!(err, RepoError::NotFound(_)), "{err:?}");
}

pub async fn config_paging_by_workspace(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let w = s
        .create_workspace(fixtures::workspace("cfgs"), &a)
        .await
        .unwrap();
    for n in 0..4 {
        s.create_config(fixtures::config(&format!("pc-w{n}"), Some(&w.id)), &a)
            .await
            .unwrap();
    }
    s.create_config(fixtures::config("pc-org", None), &a)
        .await
        .unwrap();
    let q = ListQuery {
        workspace_id: Some(w.id.clone()),
        page_size: Some(3),
        ..Default::default()
    };
    let p = s.list_configs(&q).await.unwrap();
    assert_eq!(p.total, 4);
    assert_eq!(
        p.items.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(),
        ["pc-w3", "pc-w2", "pc-w1"]
    );
    let exact = ListQuery {
        exact_name: Some("pc-org config".into()),
        ..Default::default()
    };
    assert_eq!(
        s.list_configs(&exact).await.unwrap().items[0].slug,
        "pc-org"
    );
    assert_eq!(
        s.list_configs(&ListQuery::default()).await.unwrap().total,
        5
    );
}
