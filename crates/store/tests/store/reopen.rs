//! Opening: migrations are idempotent, data survives a reopen, errors are clear and secret-free.

use portcullis_control::repo::{ListQuery, Repository};
use portcullis_store::{Backend, OpenError, Store};

use crate::fixtures::{self, actor};
use crate::harness::Ctx;

pub async fn reopen_keeps_data_and_migrations_are_idempotent(ctx: Ctx) {
    let s = &ctx.store;
    let w = s
        .create_workspace(fixtures::workspace("kept"), &actor())
        .await
        .unwrap();
    let k = s
        .create_api_key(fixtures::api_key("kept", Some(&w.id)), &actor())
        .await
        .unwrap();
    let version = s.version().await.unwrap();
    s.close().await;

    for _ in 0..2 {
        let again = ctx.open_again().await;
        assert_eq!(again.version().await.unwrap(), version);
        assert_eq!(again.get_workspace("kept").await.unwrap(), Some(w.clone()));
        assert_eq!(again.get_api_key(&k.id).await.unwrap(), Some(k.clone()));
        assert_eq!(
            again.list_audit(&Default::default()).await.unwrap().total,
            2
        );
        again.close().await;
    }
    // Two stores opening at once (two replicas starting) both migrate safely.
    let (a, b) = tokio::join!(ctx.open_again(), ctx.open_again());
    assert_eq!(
        a.list_workspaces(&ListQuery::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(b.version().await.unwrap(), version);
}

#[tokio::test]
async fn open_in_data_dir_creates_the_directory_and_a_wal_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a").join("b");
    let s = Store::open_in_data_dir(&data).await.unwrap();
    assert_eq!(s.backend(), Backend::Sqlite);
    s.create_workspace(fixtures::workspace("first"), &actor())
        .await
        .unwrap();
    assert!(data.join("portcullis.db").is_file());
    assert!(data.join("portcullis.db-wal").is_file(), "WAL mode");
    s.close().await;
    let s = Store::open_in_data_dir(&data).await.unwrap();
    assert!(s.get_workspace("first").await.unwrap().is_some());
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let s = Store::open("sqlite::memory:").await.unwrap();
    s.create_workspace(fixtures::workspace("mem"), &actor())
        .await
        .unwrap();
    assert!(s.get_workspace("mem").await.unwrap().is_some());
}

#[tokio::test]
async fn open_errors_are_clear_and_hide_passwords() {
    let err = Store::open("mysql://localhost/x").await.unwrap_err();
    assert!(
        matches!(err, OpenError::UnsupportedScheme(ref s) if s == "mysql"),
        "{err:?}"
    );
    let err = Store::open("postgres://user:hunter2@127.0.0.1:1/db")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, OpenError::Connect { .. }), "{err:?}");
    assert!(msg.contains("127.0.0.1:1/db"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    let err = Store::open("postgresql://u:hunter2@127.0.0.1:notaport/db")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// `postgresql://` is accepted as well as `postgres://`.
pub async fn postgresql_scheme_is_accepted(ctx: Ctx) {
    if ctx.backend() != Backend::Postgres {
        return;
    }
    let url = ctx.url.replacen("postgres://", "postgresql://", 1);
    assert!(url.starts_with("postgresql://"));
    let s = Store::open(&url).await.unwrap();
    s.create_workspace(fixtures::workspace("alt"), &actor())
        .await
        .unwrap();
    assert!(ctx.store.get_workspace("alt").await.unwrap().is_some());
}
