//! Asynchronous log exports (Portkey's `/v1/logs/exports`): a job names its filters and
//! fields while a draft, is frozen when started (an upper time bound is added, so the file
//! does not grow while it is downloaded), and is then read back from the store page by page
//! whenever its file is downloaded. Jobs live in the log store, so every replica sees them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::query::LogFilter;

/// Where a job is in its life: `draft` → `in_progress` → `success` | `failed`, or `stopped`
/// (cancelled) from `draft` or `in_progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    Draft,
    InProgress,
    Success,
    Failed,
    Stopped,
}

impl ExportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Draft => "draft",
            ExportStatus::InProgress => "in_progress",
            ExportStatus::Success => "success",
            ExportStatus::Failed => "failed",
            ExportStatus::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<ExportStatus> {
        Some(match s {
            "draft" => ExportStatus::Draft,
            "in_progress" => ExportStatus::InProgress,
            "success" => ExportStatus::Success,
            "failed" => ExportStatus::Failed,
            "stopped" => ExportStatus::Stopped,
            _ => return None,
        })
    }
}

/// One export job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportJob {
    pub id: String,
    /// The workspace whose logs it exports; `None` for an organisation-wide export.
    pub workspace_id: Option<String>,
    /// The filters as the client wrote them (Portkey's names), echoed back on reads.
    pub filters: Value,
    /// What they mean, the caller's visibility included; gains its upper bound at start.
    pub filter: LogFilter,
    /// The fields each exported row carries, in order.
    pub requested_data: Vec<String>,
    pub description: Option<String>,
    pub status: ExportStatus,
    /// The number of matching records, counted when the job ran.
    pub total_records: Option<u64>,
    /// Why the job failed.
    pub error: Option<String>,
    /// The API key that created it.
    pub created_by: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}
