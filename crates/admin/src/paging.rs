//! Query strings and Portkey's 0-indexed paging: both `page_size`/`pageSize` spellings, the
//! SDK's `None` text treated as absent, and the `{object, total, data}` list envelope.

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

/// The decoded query string of a request.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

impl Params {
    pub fn parse(query: &str) -> Params {
        Params(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Parameters given as pairs (a JSON body's filters, say) rather than a query string.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params(pairs)
    }

    /// The first of `names` given with a real value (`""` and the SDK's `None` are "not given").
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| {
            self.0
                .iter()
                .find(|(k, v)| k == n && !v.is_empty() && v != "None" && v != "NOT_GIVEN")
                .map(|(_, v)| v.as_str())
        })
    }

    /// Every `(name, value)` pair given with a real value, in order (repeated names included).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .filter(|(_, v)| !v.is_empty() && v != "None" && v != "NOT_GIVEN")
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first of `names` given with a real value, with the name it was given under.
    pub fn named<'a>(&'a self, names: &[&'a str]) -> Option<(&'a str, &'a str)> {
        names.iter().find_map(|n| self.get(&[n]).map(|v| (*n, v)))
    }

    fn number(&self, names: &[&str]) -> ApiResult<Option<u32>> {
        self.get(names)
            .map(|v| {
                v.parse::<u32>().map_err(|_| {
                    ApiError::field(
                        names[0],
                        format!("{} must be a whole number ≥ 0 (got {v:?})", names[0]),
                    )
                })
            })
            .transpose()
    }

    /// The page asked for; `default_size` when none is given (`None`: every row).
    pub fn page(&self, default_size: Option<u32>, max_size: u32) -> ApiResult<PageReq> {
        let size = self.number(&["page_size", "pageSize"])?.or(default_size);
        if size == Some(0) {
            return Err(ApiError::field("page_size", "page_size must be at least 1"));
        }
        if size.is_some_and(|s| s > max_size) {
            return Err(ApiError::field(
                "page_size",
                format!("page_size must be at most {max_size}"),
            ));
        }
        let current = self.number(&["current_page", "currentPage"])?.unwrap_or(0);
        Ok(PageReq { size, current })
    }
}

/// A page request: `size` rows (all when `None`) of page `current` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageReq {
    pub size: Option<u32>,
    pub current: u32,
}

impl PageReq {
    /// This page of `rows` (already filtered and in order) and the total.
    pub fn slice<T>(self, rows: Vec<T>) -> (u64, Vec<T>) {
        let total = rows.len() as u64;
        let items = match self.size {
            None => rows,
            Some(size) => {
                let skip = (self.current as usize).saturating_mul(size as usize);
                rows.into_iter().skip(skip).take(size as usize).collect()
            }
        };
        (total, items)
    }
}

/// `{"object": "list", "total": N, "data": [...]}`.
pub fn list_envelope<T: Serialize>(total: u64, data: Vec<T>) -> Value {
    json!({ "object": "list", "total": total, "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_spellings_and_ignores_none() {
        let p = Params::parse("pageSize=2&currentPage=1&workspace_id=None&name=");
        assert_eq!(
            p.page(None, 100).unwrap(),
            PageReq {
                size: Some(2),
                current: 1
            }
        );
        assert_eq!(p.get(&["workspace_id"]), None);
        assert_eq!(p.get(&["name"]), None);
        let p = Params::parse("page_size=5&current_page=0&workspace_id=ws-1");
        assert_eq!(p.page(Some(50), 100).unwrap().size, Some(5));
        assert_eq!(p.get(&["workspace_id"]), Some("ws-1"));
        assert_eq!(
            Params::parse("").page(Some(50), 100).unwrap().size,
            Some(50)
        );
    }

    #[test]
    fn bad_numbers_name_the_param() {
        let e = Params::parse("page_size=abc").page(None, 100).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("page_size"));
        assert!(Params::parse("page_size=0").page(None, 100).is_err());
        assert!(Params::parse("page_size=101").page(None, 100).is_err());
        assert!(Params::parse("current_page=-1").page(None, 100).is_err());
    }

    #[test]
    fn slices_pages() {
        let rows: Vec<u32> = (0..7).collect();
        let req = PageReq {
            size: Some(3),
            current: 2,
        };
        assert_eq!(req.slice(rows.clone()), (7, vec![6]));
        let req = PageReq {
            size: None,
            current: 5,
        };
        assert_eq!(req.slice(rows.clone()).1.len(), 7);
        let req = PageReq {
            size: Some(3),
            current: 9,
        };
        assert_eq!(req.slice(rows), (7, vec![]));
    }
}
