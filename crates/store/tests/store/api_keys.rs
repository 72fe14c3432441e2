//! Gateway API keys: CRUD, rules, uniqueness of the hash, paging by workspace.

use portcullis_control::model::KeyType;
use portcullis_control::repo::{ListQuery, RepoError, Repository};

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

pub async fn api_keys_crud(ctx: Ctx) {
    let s = &ctx.store;
    let w = s
        .create_workspace(fixtures::workspace("keys"), &actor())
        .await
        .unwrap();
    let org = s
        .create_api_key(fixtures::api_key("admin", None), &actor())
        .await
        .unwrap();
    let wk = s
        .create_api_key(fixtures::api_key("ci", Some(&w.id)), &actor())
        .await
        .unwrap();
    assert_eq!(s.get_api_key(&org.id).await.unwrap().as_ref(), Some(&org));
    assert_eq!(s.get_api_key(&wk.id).await.unwrap().as_ref(), Some(&wk));
    assert_eq!(s.get_api_key("nope").await.unwrap(), None);

    let mut rotated = wk.clone();
    rotated.key_hash = "HASH-SECRET-rotated".into();
    rotated.name = "ci-bot".into();
    rotated.scopes.push("configs.read".into());
    rotated.usage_limits = None;
    rotated.expires_at = None;
    rotated.defaults.config_id = Some("pc-x".into());
    s.update_api_key(rotated.clone(), &actor()).await.unwrap();
    assert_eq!(s.get_api_key(&wk.id).await.unwrap(), Some(rotated));

    s.delete_api_key(&org.id, &actor()).await.unwrap();
    assert_eq!(s.get_api_key(&org.id).await.unwrap(), None);
    let err = s.delete_api_key(&org.id, &actor()).await.unwrap_err();
    assert!(matches!(err, RepoError::NotFound(_)), "{err:?}");
}

pub async fn api_key_rules(ctx: Ctx) {
    let s = &ctx.store;
    let w = s
        .create_workspace(fixtures::workspace("rules"), &actor())
        .await
        .unwrap();
    let k = s
        .create_api_key(fixtures::api_key("one", Some(&w.id)), &actor())
        .await
        .unwrap();

    let mut dup = fixtures::api_key("two", Some(&w.id));
    dup.key_hash = k.key_hash.clone();
    let err = s.create_api_key(dup, &actor()).await.unwrap_err();
    assert_eq!(
        err,
        RepoError::Conflict("this API key is already registered".into())
    );

    let mut no_ws = fixtures::api_key("three", None);
    no_ws.key_type = KeyType::WorkspaceUser;
    let err = s.create_api_key(no_ws, &actor()).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
    let mut org_ws = fixtures::api_key("four", Some(&w.id));
    org_ws.key_type = KeyType::OrganisationService;
    let err = s.create_api_key(org_ws, &actor()).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
    let err = s
        .create_api_key(fixtures::api_key("five", Some("no-such-ws")), &actor())
        .await
        .unwrap_err();
    assert_eq!(err, RepoError::NotFound("workspace no-such-ws".into()));

    assert_eq!(
        s.list_api_keys(&ListQuery::default()).await.unwrap().total,
        1
    );
}

pub async fn api_key_paging_by_workspace(ctx: Ctx) {
    let s = &ctx.store;
    let a = s
        .create_workspace(fixtures::workspace("wa"), &actor())
        .await
        .unwrap();
    let b = s
        .create_workspace(fixtures::workspace("wb"), &actor())
        .await
        .unwrap();
    for n in 0..3 {
        s.create_api_key(fixtures::api_key(&format!("a{n}"), Some(&a.id)), &actor())
            .await
            .unwrap();
    }
    for n in 0..2 {
        s.create_api_key(fixtures::api_key(&format!("b{n}"), Some(&b.id)), &actor())
            .await
            .unwrap();
    }
    s.create_api_key(fixtures::api_key("org", None), &actor())
        .await
        .unwrap();

    let in_a = |size, page| ListQuery {
        page_size: size,
        current_page: page,
        workspace_id: Some(a.id.clone()),
        ..Default::default()
    };
    let p = s.list_api_keys(&in_a(Some(2), 0)).await.unwrap();
    assert_eq!(p.total, 3);
    assert_eq!(
        p.items.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["a2", "a1"]
    );
    let p = s.list_api_keys(&in_a(Some(2), 1)).await.unwrap();
    assert_eq!(
        p.items.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["a0"]
    );
    let all = s.list_api_keys(&ListQuery::default()).await.unwrap();
    assert_eq!(all.total, 6);
    assert_eq!(all.items[0].name, "org");
    let named = ListQuery {
        name: Some("b".into()),
        ..Default::default()
    };
    assert_eq!(s.list_api_keys(&named).await.unwrap().total, 2);
}
