//! Providers and virtual keys: per-workspace slugs, lookups, paging filters, references.

use portcullis_control::repo::{ListQuery, RepoError, Repository};

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

pub async fn providers_crud_and_lookup(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let wa = s
        .create_workspace(fixtures::workspace("pa"), &a)
        .await
        .unwrap();
    let wb = s
        .create_workspace(fixtures::workspace("pb"), &a)
        .await
        .unwrap();
    let i = s
        .create_integration(fixtures::integration("openai", None), &a)
        .await
        .unwrap();
    let pa = s
        .create_provider(fixtures::provider("openai", &wa.id, Some(&i.id)), &a)
        .await
        .unwrap();
    let pb = s
        .create_provider(fixtures::provider("openai", &wb.id, Some(&i.id)), &a)
        .await
        .unwrap();
    let vk = s
        .create_provider(fixtures::provider("main-vk", &wa.id, None), &a)
        .await
        .unwrap();

    let err = s
        .create_provider(fixtures::provider("openai", &wa.id, None), &a)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RepoError::Conflict(format!(
            "provider slug \"openai\" is already taken in workspace {}",
            wa.id
        ))
    );

    assert_eq!(
        s.get_provider(Some(&wa.id), "openai")
            .await
            .unwrap()
            .as_ref(),
        Some(&pa)
    );
    assert_eq!(
        s.get_provider(Some(&wb.id), "openai")
            .await
            .unwrap()
            .as_ref(),
        Some(&pb)
    );
    assert_eq!(s.get_provider(Some(&wb.id), &pa.id).await.unwrap(), None);
    assert_eq!(
        s.get_provider(None, &pb.id).await.unwrap().as_ref(),
        Some(&pb)
    );
    assert_eq!(
        s.get_provider(None, "main-vk").await.unwrap().as_ref(),
        Some(&vk)
    );
    assert_eq!(s.get_provider(None, "nope").await.unwrap(), None);
    let err = s.get_provider(None, "openai").await.unwrap_err();
    assert!(
        matches!(err, RepoError::Invalid(ref m) if m.contains("several")),
        "{err:?}"
    );

    let all = s
        .list_providers(&ListQuery::default(), false)
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0], vk);
    let vks = s.list_providers(&ListQuery::default(), true).await.unwrap();
    assert_eq!(vks.items, vec![vk.clone()]);
    let in_b = ListQuery {
        workspace_id: Some(wb.id.clone()),
        ..Default::default()
    };
    assert_eq!(
        s.list_providers(&in_b, false).await.unwrap().items,
        vec![pb.clone()]
    );
    let paged = ListQuery {
        page_size: Some(1),
        current_page: 1,
        workspace_id: Some(wa.id.clone()),
        ..Default::default()
    };
    let p = s.list_providers(&paged, false).await.unwrap();
    assert_eq!((p.total, p.items), (2, vec![pa.clone()]));

    let mut changed = vk.clone();
    changed.key_sealed = Some("v1.SEALED-SECRET-rotated".into());
    changed.note = None;
    changed.usage_limits = None;
    changed.expires_at = Some(123);
    s.update_provider(changed.clone(), &a).await.unwrap();
    assert_eq!(s.get_provider(None, &vk.id).await.unwrap(), Some(changed));

    let mut moved = pa.clone();
    moved.workspace_id = wb.id.clone();
    let err = s.update_provider(moved, &a).await.unwrap_err();
    assert!(matches!(err, RepoError::Conflict(_)), "{err:?}");

    s.delete_provider(&pa.id, &a).await.unwrap();
    assert_eq!(s.get_provider(Some(&wa.id), "openai").await.unwrap(), None);
    assert_eq!(s.get_provider(None, "openai").await.unwrap(), Some(pb));
}

pub async fn provider_references_must_exist(ctx: Ctx) {
    let s = &ctx.store;
    let w = s
        .create_workspace(fixtures::workspace("refs"), &actor())
        .await
        .unwrap();
    let err = s
        .create_provider(fixtures::provider("p", &w.id, Some("no-int")), &actor())
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::NotFound("integration no-int".into()));
    let err = s
        .create_provider(fixtures::provider("p", "no-ws", None), &actor())
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::NotFound("workspace no-ws".into()));
    assert_eq!(
        s.list_providers(&ListQuery::default(), false)
            .await
            .unwrap()
            .total,
        0
    );
}
