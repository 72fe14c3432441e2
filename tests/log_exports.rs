//! Log export jobs and `portcullis serve`'s graceful shutdown, on PostgreSQL: a job still
//! counting at SIGTERM is recorded failed before the gateway exits, and another replica starts
//! it again.

// Shared with `replicas.rs`, which uses the parts this file does not.
#[allow(dead_code, unused_imports)]
mod common_replicas;

use std::time::Duration;

use common_replicas::pg::Pg;
use common_replicas::*;
use serde_json::json;

#[test]
fn sigterm_records_a_running_export_failed() {
    let Some(svc) = services() else { return };
    let pg = svc.pg.clone();
    let mut c = Cluster::new(svc, "export_stop", 2);
    let a = c.start_replica("a");
    let job = c.admin(a, "POST", "/v1/logs/exports", Some(json!({"filters": {}})));
    let id = job["id"].as_str().expect("export id").to_owned();
    let schema = c.schema.clone();
    // The count blocks on the locked log tables, so the job is still running at SIGTERM.
    let mut lock = Pg::connect(&pg).expect("lock connection");
    lock.query(&format!(
        "BEGIN; LOCK TABLE {schema}.request_logs, {schema}.request_log_rollups \
         IN ACCESS EXCLUSIVE MODE"
    ))
    .expect("lock the log tables");
    let started = c.admin(a, "POST", &format!("/v1/logs/exports/{id}/start"), None);
    assert_eq!(started["status"], "in_progress", "{started}");

    let stored = |pg: &mut Pg| {
        let rows = pg
            .query(&format!(
                "SELECT status, error FROM {schema}.request_log_exports WHERE id = '{id}'"
            ))
            .expect("read the job");
        let row = rows.into_iter().next().expect("the job is stored");
        (
            row[0].clone().unwrap_or_default(),
            row[1].clone().unwrap_or_default(),
        )
    };
    let mut read = Pg::connect(&pg).expect("read connection");
    assert_eq!(stored(&mut read).0, "in_progress");
    c.replicas[a].proc.sigterm();
    // Recorded before the gateway finishes exiting (its log store still waits on the lock).
    wait_until(
        Duration::from_secs(10),
        "the job is recorded failed",
        || stored(&mut read).0 == "failed",
    );
    let (_, why) = stored(&mut read);
    assert!(
        why.contains("gateway stopped during the export") && why.contains("start it again"),
        "{why}"
    );
    lock.query("ROLLBACK").expect("unlock");
    drop(lock);
    let code = c.replicas[a].proc.wait_exit(Duration::from_secs(20));
    assert!(code.success(), "exit status {code}");

    // Any replica starts it again; it exports what the first start froze.
    let b = c.start_replica("b");
    let again = c.admin(b, "POST", &format!("/v1/logs/exports/{id}/start"), None);
    assert_eq!(again["status"], "success", "{again}");
    let job = c.admin(b, "GET", &format!("/v1/logs/exports/{id}"), None);
    assert_eq!(job["status"], "success", "{job}");
    assert_eq!(job["total_records"], 0, "{job}");
}
