//! `?page=&per_page=` and the list envelope `{data, total, page, per_page}`.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Default page size.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// Largest page size; larger requests are clamped to it.
pub const MAX_PER_PAGE: i64 = 100;

/// The raw query parameters (`limit` is accepted as an alias of `per_page`).
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page.
    pub per_page: Option<i64>,
    /// Alias of `per_page`.
    pub limit: Option<i64>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: i64,
    /// Items per page, 1..=100.
    pub per_page: i64,
}

impl PageQuery {
    /// Validates: page ≥ 1, per_page ≥ 1 (above 100 is clamped to 100).
    pub fn resolve(&self) -> Result<Page, AppError> {
        let page = self.page.unwrap_or(1);
        if page < 1 {
            return Err(AppError::invalid("page", "page must be 1 or more"));
        }
        let per_page = self.per_page.or(self.limit).unwrap_or(DEFAULT_PER_PAGE);
        if per_page < 1 {
            return Err(AppError::invalid("per_page", "per_page must be 1 or more"));
        }
        Ok(Page {
            page,
            per_page: per_page.min(MAX_PER_PAGE),
        })
    }
}

impl Page {
    /// SQL OFFSET of the page.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// The list envelope.
#[derive(Debug, Serialize)]
pub struct List<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Items across all pages.
    pub total: i64,
    /// This page's number.
    pub page: i64,
    /// Page size used.
    pub per_page: i64,
}

impl<T> List<T> {
    /// Wraps one page of items.
    pub fn new(data: Vec<T>, total: i64, page: Page) -> Self {
        Self {
            data,
            total,
            page: page.page,
            per_page: page.per_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_validates() {
        let q = |page, per_page| PageQuery {
            page,
            per_page,
            limit: None,
        };
        assert_eq!(
            q(None, None).resolve().unwrap(),
            Page {
                page: 1,
                per_page: 20
            }
        );
        assert_eq!(
            q(Some(3), Some(500)).resolve().unwrap(),
            Page {
                page: 3,
                per_page: 100
            }
        );
        assert!(q(Some(0), None).resolve().is_err());
        assert!(q(None, Some(0)).resolve().is_err());
        assert_eq!(
            Page {
                page: 3,
                per_page: 20
            }
            .offset(),
            40
        );
    }
}
