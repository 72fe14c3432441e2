//! Workspaces: CRUD, lookups by id and slug, paging and filters, uniqueness, guarded deletes.

use portcullis_control::repo::{ListQuery, RepoError, Repository};
use portcullis_store::Backend;

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

pub async fn workspaces_crud(ctx: Ctx) {
    let s = &ctx.store;
    let w = s
        .create_workspace(fixtures::workspace("search"), &actor())
        .await
        .unwrap();
    assert_eq!(s.get_workspace(&w.id).await.unwrap().as_ref(), Some(&w));
    assert_eq!(s.get_workspace("search").await.unwrap().as_ref(), Some(&w));
    assert_eq!(s.get_workspace("nope").await.unwrap(), None);

    let mut changed = w.clone();
    changed.name = "Search Team".into();
    changed.description = None;
    changed.usage_limits = None;
    changed.rate_limits = vec![];
    changed.defaults = None;
    changed.updated_at += 10;
    s.update_workspace(changed.clone(), &actor()).await.unwrap();
    assert_eq!(s.get_workspace(&w.id).await.unwrap(), Some(changed.clone()));

    let mut ghost = fixtures::workspace("ghost");
    ghost.id = "missing-id".into();
    let err = s.update_workspace(ghost, &actor()).await.unwrap_err();
    assert!(
        matches!(err, RepoError::NotFound(ref m) if m.contains("missing-id")),
        "{err:?}"
    );

    s.delete_workspace(&w.id, &actor()).await.unwrap();
    assert_eq!(s.get_workspace(&w.id).await.unwrap(), None);
    let err = s.delete_workspace(&w.id, &actor()).await.unwrap_err();
    assert!(matches!(err, RepoError::NotFound(_)), "{err:?}");
}

/// An id that equals another workspace's slug still finds the workspace with that id.
pub async fn workspace_lookup_prefers_id(ctx: Ctx) {
    let s = &ctx.store;
    let a = s
        .create_workspace(fixtures::workspace("alpha"), &actor())
        .await
        .unwrap();
    let mut b = fixtures::workspace("beta");
    b.slug = a.id.clone();
    let b = s.create_workspace(b, &actor()).await.unwrap();
    assert_eq!(
        s.get_workspace(&a.id).await.unwrap().map(|w| w.id),
        Some(a.id.clone())
    );
    assert_eq!(s.get_workspace("beta").await.unwrap(), None);
    assert_eq!(
        s.get_workspace(&b.id).await.unwrap().map(|w| w.id),
        Some(b.id)
    );
}

pub async fn workspace_conflicts_write_nothing(ctx: Ctx) {
    let s = &ctx.store;
    let a = s
        .create_workspace(fixtures::workspace("team"), &actor())
        .await
        .unwrap();
    let version = s.version().await.unwrap();
    let audit = s.list_audit(&Default::default()).await.unwrap().total;

    let err = s
        .create_workspace(fixtures::workspace("team"), &actor())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RepoError::Conflict("workspace slug \"team\" is already taken".into())
    );
    let mut same_id = fixtures::workspace("other");
    same_id.id = a.id.clone();
    let err = s.create_workspace(same_id, &actor()).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Conflict(ref m) if m.contains("id")),
        "{err:?}"
    );

    let mut d1 = fixtures::workspace("default-1");
    d1.is_default = true;
    s.create_workspace(d1, &actor()).await.unwrap();
    let mut d2 = fixtures::workspace("default-2");
    d2.is_default = true;
    let err = s.create_workspace(d2, &actor()).await.unwrap_err();
    assert_eq!(
        err,
        RepoError::Conflict("a default workspace already exists".into())
    );

    let b = s
        .create_workspace(fixtures::workspace("b"), &actor())
        .await
        .unwrap();
    let mut renamed = b.clone();
    renamed.slug = "team".into();
    let err = s.update_workspace(renamed, &actor()).await.unwrap_err();
    assert_eq!(
        err,
        RepoError::Conflict("workspace slug \"team\" is already taken".into())
    );
    assert_eq!(s.get_workspace(&b.id).await.unwrap(), Some(b));

    // Two successful creates since the snapshot; the failures left no trace.
    assert_eq!(s.version().await.unwrap(), version + 2);
    assert_eq!(
        s.list_audit(&Default::default()).await.unwrap().total,
        audit + 2
    );
    assert_eq!(
        s.list_workspaces(&ListQuery::default())
            .await
            .unwrap()
            .total,
        3
    );
}

pub async fn workspace_delete_refused_while_in_use(ctx: Ctx) {
    let s = &ctx.store;
    let a = actor();
    let w = s
        .create_workspace(fixtures::workspace("busy"), &a)
        .await
        .unwrap();
    let key = s
        .create_api_key(fixtures::api_key("k", Some(&w.id)), &a)
        .await
        .unwrap();
    let vk = s
        .create_provider(fixtures::provider("vk", &w.id, None), &a)
        .await
        .unwrap();
    let cfg = s
        .create_config(fixtures::config("pc-busy", Some(&w.id)), &a)
        .await
        .unwrap();
    let wi = s
        .create_integration(fixtures::integration("ws-int", Some(&w.id)), &a)
        .await
        .unwrap();
    let org = s
        .create_integration(fixtures::integration("org-int", None), &a)
        .await
        .unwrap();
    s.set_grants(&org.id, vec![fixtures::grant(&org.id, &w.id)], false, &a)
        .await
        .unwrap();

    let err = s.delete_workspace(&w.id, &a).await.unwrap_err();
    let RepoError::Conflict(msg) = err else {
        panic!("expected a conflict, got {err:?}")
    };
    for what in [
        "busy",
        "1 API key",
        "1 provider",
        "1 config",
        "1 workspace integration",
        "1 integration access grant",
    ] {
        assert!(msg.contains(what), "{msg:?} should name {what:?}");
    }

    s.delete_api_key(&key.id, &a).await.unwrap();
    s.delete_provider(&vk.id, &a).await.unwrap();
    s.delete_config(&cfg.id, &a).await.unwrap();
    s.delete_integration(&wi.id, &a).await.unwrap();
    let err = s.delete_workspace(&w.id, &a).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Conflict(ref m) if m.contains("grant")),
        "{err:?}"
    );
    s.set_grants(&org.id, vec![], true, &a).await.unwrap();
    s.delete_workspace(&w.id, &a).await.unwrap();

    let mut d = fixtures::workspace("main");
    d.is_default = true;
    let d = s.create_workspace(d, &a).await.unwrap();
    let err = s.delete_workspace(&d.id, &a).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Conflict(ref m) if m.contains("default")),
        "{err:?}"
    );
}

pub async fn workspace_paging_and_filters(ctx: Ctx) {
    let s = &ctx.store;
    for slug in ["a", "b", "c", "d", "e"] {
        s.create_workspace(fixtures::workspace(slug), &actor())
            .await
            .unwrap();
    }
    let slugs = |p: portcullis_control::repo::Page<portcullis_control::model::Workspace>| {
        (
            p.total,
            p.items.into_iter().map(|w| w.slug).collect::<Vec<_>>(),
        )
    };
    let q = |size: Option<u32>, page: u32| ListQuery {
        page_size: size,
        current_page: page,
        ..Default::default()
    };
    assert_eq!(
        slugs(s.list_workspaces(&q(Some(2), 0)).await.unwrap()),
        (5, vec!["e".into(), "d".into()])
    );
    assert_eq!(
        slugs(s.list_workspaces(&q(Some(2), 1)).await.unwrap()),
        (5, vec!["c".into(), "b".into()])
    );
    assert_eq!(
        slugs(s.list_workspaces(&q(Some(2), 2)).await.unwrap()),
        (5, vec!["a".into()])
    );
    assert_eq!(
        slugs(s.list_workspaces(&q(Some(2), 3)).await.unwrap()),
        (5, vec![])
    );
    assert_eq!(s.list_workspaces(&q(None, 0)).await.unwrap().items.len(), 5);
    let err = s.list_workspaces(&q(Some(0), 0)).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
    // A NUL character (JSON's `\u0000`) is the client's to fix where it cannot be stored
    // (PostgreSQL); SQLite stores it.
    let nul = ListQuery {
        name: Some("a\0".into()),
        ..Default::default()
    };
    match ctx.backend() {
        Backend::Sqlite => assert_eq!(s.list_workspaces(&nul).await.unwrap().total, 0),
        Backend::Postgres => {
            let err = s.list_workspaces(&nul).await.unwrap_err();
            assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
        }
    }

    // `name` is a case-sensitive substring, `exact_name` an exact match.
    let by_name = |name: &str| ListQuery {
        name: Some(name.into()),
        ..Default::default()
    };
    assert_eq!(s.list_workspaces(&by_name("Team")).await.unwrap().total, 5);
    assert_eq!(s.list_workspaces(&by_name("team")).await.unwrap().total, 0);
    assert_eq!(s.list_workspaces(&by_name("m c")).await.unwrap().total, 1);
    assert_eq!(s.list_workspaces(&by_name("%")).await.unwrap().total, 0);
    let exact = |name: &str| ListQuery {
        exact_name: Some(name.into()),
        ..Default::default()
    };
    assert_eq!(
        slugs(s.list_workspaces(&exact("Team b")).await.unwrap()),
        (1, vec!["b".into()])
    );
    assert_eq!(s.list_workspaces(&exact("Team")).await.unwrap().total, 0);
    // Last: SQLite stores it, and the workspace would count above.
    let created = s
        .create_workspace(fixtures::workspace("nul\0slug"), &actor())
        .await;
    match ctx.backend() {
        Backend::Sqlite => assert!(created.is_ok(), "{created:?}"),
        Backend::Postgres => {
            assert!(matches!(created, Err(RepoError::Invalid(_))), "{created:?}")
        }
    }
}

/// Rows created within one millisecond still list newest first.
pub async fn paging_is_stable_within_a_millisecond(ctx: Ctx) {
    let s = &ctx.store;
    let at = fixtures::tick();
    for slug in ["x1", "x2", "x3"] {
        let mut w = fixtures::workspace(slug);
        w.created_at = at;
        s.create_workspace(w, &actor()).await.unwrap();
    }
    let page = s.list_workspaces(&ListQuery::default()).await.unwrap();
    let slugs: Vec<_> = page.items.iter().map(|w| w.slug.as_str()).collect();
    assert_eq!(slugs, ["x3", "x2", "x1"]);
}
