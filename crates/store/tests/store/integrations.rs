//! Integrations: CRUD, scopes, slug conflicts, grants (upsert and replace_all), guarded deletes.

use portcullis_control::repo::{IntegrationScope, ListQuery, RepoError, Repository};

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

pub async fn integrations_crud_and_scope(ctx: Ctx) {
    let s = &ctx.store;
    let w = s
        .create_workspace(fixtures::workspace("ints"), &actor())
        .await
        .unwrap();
    let org = s
        .create_integration(fixtures::integration("openai-prod", None), &actor())
        .await
        .unwrap();
    let ws = s
        .create_integration(fixtures::integration("ws-only", Some(&w.id)), &actor())
        .await
        .unwrap();
    assert_eq!(
        s.get_integration("openai-prod").await.unwrap().as_ref(),
        Some(&org)
    );
    assert_eq!(
        s.get_integration(&org.id).await.unwrap().as_ref(),
        Some(&org)
    );
    assert_eq!(s.get_integration("nope").await.unwrap(), None);

    let q = ListQuery::default();
    let total = |scope| async move {
        s.list_integrations(&ListQuery::default(), scope)
            .await
            .unwrap()
            .total
    };
    assert_eq!(total(IntegrationScope::All).await, 2);
    assert_eq!(total(IntegrationScope::Organisation).await, 1);
    assert_eq!(total(IntegrationScope::Workspace).await, 1);
    let in_ws = ListQuery {
        workspace_id: Some(w.id.clone()),
        ..q.clone()
    };
    let p = s
        .list_integrations(&in_ws, IntegrationScope::All)
        .await
        .unwrap();
    assert_eq!(p.items, vec![ws.clone()]);

    let err = s
        .create_integration(fixtures::integration("openai-prod", None), &actor())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RepoError::Conflict("integration slug \"openai-prod\" is already taken".into())
    );
    let mut clash = ws.clone();
    clash.slug = "openai-prod".into();
    let err = s.update_integration(clash, &actor()).await.unwrap_err();
    assert!(matches!(err, RepoError::Conflict(_)), "{err:?}");

    let mut changed = org.clone();
    changed.key_sealed = Some("v1.SEALED-SECRET-new".into());
    changed.allow_all_models = true;
    changed.models.clear();
    changed.global_workspace_access = true;
    s.update_integration(changed.clone(), &actor())
        .await
        .unwrap();
    assert_eq!(s.get_integration(&org.id).await.unwrap(), Some(changed));

    s.delete_integration(&ws.id, &actor()).await.unwrap();
    assert_eq!(s.get_integration(&ws.id).await.unwrap(), None);
    let err = s
        .create_integration(fixtures::integration("x", Some("no-ws")), &actor())
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::NotFound("workspace no-ws".into()));
}

pub async fn grants_upsert_and_replace_all(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let i = s
        .create_integration(fixtures::integration("shared", None), &a)
        .await
        .unwrap();
    let mut ws = Vec::new();
    for slug in ["g1", "g2", "g3"] {
        ws.push(
            s.create_workspace(fixtures::workspace(slug), &a)
                .await
                .unwrap()
                .id,
        );
    }
    let g = |w: &str| fixtures::grant(&i.id, w);
    let mut sorted = ws.clone();
    sorted.sort();
    let ids = |v: Vec<portcullis_control::model::IntegrationGrant>| {
        v.into_iter().map(|g| g.workspace_id).collect::<Vec<_>>()
    };

    s.set_grants(&i.id, vec![g(&ws[0]), g(&ws[1])], false, &a)
        .await
        .unwrap();
    let mut expect = vec![ws[0].clone(), ws[1].clone()];
    expect.sort();
    assert_eq!(ids(s.list_grants(&i.id).await.unwrap()), expect);

    // Upsert without replace: ws[1] changes, ws[2] is added, ws[0] stays.
    let mut changed = g(&ws[1]);
    changed.enabled = false;
    changed.usage_limits = None;
    changed.rate_limits = vec![];
    s.set_grants("shared", vec![changed.clone(), g(&ws[2])], false, &a)
        .await
        .unwrap();
    let grants = s.list_grants("shared").await.unwrap();
    assert_eq!(ids(grants.clone()), sorted);
    assert!(grants.contains(&changed));
    assert!(grants.contains(&g(&ws[0])));

    s.set_grants(&i.id, vec![g(&ws[2])], true, &a)
        .await
        .unwrap();
    assert_eq!(s.list_grants(&i.id).await.unwrap(), vec![g(&ws[2])]);

    // A grant for a missing workspace fails the whole call.
    let err = s
        .set_grants(&i.id, vec![g(&ws[0]), g("no-ws")], true, &a)
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::NotFound("workspace no-ws".into()));
    assert_eq!(s.list_grants(&i.id).await.unwrap(), vec![g(&ws[2])]);
    let err = s.set_grants("no-int", vec![], true, &a).await.unwrap_err();
    assert!(matches!(err, RepoError::NotFound(_)), "{err:?}");
    let err = s.list_grants("no-int").await.unwrap_err();
    assert!(matches!(err, RepoError::NotFound(_)), "{err:?}");

    s.set_grants(&i.id, vec![], true, &a).await.unwrap();
    assert!(s.list_grants(&i.id).await.unwrap().is_empty());
}

pub async fn integration_delete_refused_while_used(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let w = s
        .create_workspace(fixtures::workspace("uses"), &a)
        .await
        .unwrap();
    let i = s
        .create_integration(fixtures::integration("in-use", None), &a)
        .await
        .unwrap();
    s.set_grants(&i.id, vec![fixtures::grant(&i.id, &w.id)], false, &a)
        .await
        .unwrap();
    let p = s
        .create_provider(fixtures::provider("p", &w.id, Some(&i.id)), &a)
        .await
        .unwrap();
    let err = s.delete_integration(&i.id, &a).await.unwrap_err();
    assert_eq!(
        err,
        RepoError::Conflict(
            "integration \"in-use\" is still used by 1 provider; delete them first".into()
        )
    );
    s.delete_provider(&p.id, &a).await.unwrap();
    s.delete_integration(&i.id, &a).await.unwrap();
    // Its grants went with it, so the workspace can go too.
    s.delete_workspace(&w.id, &a).await.unwrap();
    let err = s.delete_integration(&i.id, &a).await.unwrap_err();
    assert!(matches!(err, RepoError::NotFound(_)), "{err:?}");
}
