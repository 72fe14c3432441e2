//! Walking every matching record, page by page, for JSONL or CSV downloads: memory stays at
//! one page whatever the export's size.

use std::sync::Arc;

use crate::error::LogError;
use crate::query::{LogFilter, PageRequest};
use crate::record::LogRecord;
use crate::store::LogStore;

/// An export in progress: call [`Export::next_page`] until it returns `None`.
pub struct Export {
    store: Arc<dyn LogStore>,
    filter: LogFilter,
    page_size: u32,
    cursor: Option<String>,
    done: bool,
}

impl Export {
    /// Records matching `filter`, newest first, with payloads, `page_size` at a time (0: the
    /// store's default page).
    pub fn new(store: Arc<dyn LogStore>, filter: LogFilter, page_size: u32) -> Export {
        Export {
            store,
            filter,
            page_size,
            cursor: None,
            done: false,
        }
    }

    /// The next page, or `None` when the export is complete.
    pub async fn next_page(&mut self) -> Result<Option<Vec<LogRecord>>, LogError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .export_page(
                &self.filter,
                &PageRequest {
                    limit: self.page_size,
                    cursor: self.cursor.take(),
                },
            )
            .await?;
        self.cursor = page.next_cursor;
        self.done = self.cursor.is_none();
        if page.items.is_empty() {
            self.done = true;
            return Ok(None);
        }
        Ok(Some(page.items))
    }
}
