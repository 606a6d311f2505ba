//! The one pagination rule of every list, JSON and HTML: `?page=&per_page=`, and the API's
//! list envelope `{data, total, page, per_page}`.
//!
//! `page` is 1-based and must be 1 or more; `per_page` must be 1 or more and is clamped to
//! the list's maximum. Anything else is a 422 naming the field. The arithmetic saturates:
//! a page far beyond the end (up to `i64::MAX`) is an empty page, never an overflowing or
//! negative SQL `OFFSET`.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Default page size of the API.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// Largest page size of the API; larger requests are clamped to it.
pub const MAX_PER_PAGE: i64 = 100;

/// The raw query parameters (`limit` is accepted as an alias of `per_page`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number.
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Items per page.
    #[param(minimum = 1)]
    pub per_page: Option<i64>,
    /// Alias of `per_page`.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number, 1 or more.
    pub page: i64,
    /// Items per page, 1 or more.
    pub per_page: i64,
}

impl PageQuery {
    /// The API's page: 20 a page by default, at most 100.
    pub fn resolve(&self) -> Result<Page, AppError> {
        // `per_page` wins over its alias, but a bad alias is still refused, not ignored.
        if self.limit.is_some_and(|l| l < 1) {
            return Err(AppError::invalid("limit", "limit must be 1 or more"));
        }
        Page::new(
            self.page,
            self.per_page.or(self.limit),
            DEFAULT_PER_PAGE,
            MAX_PER_PAGE,
        )
    }
}

impl Page {
    /// Validates a requested page: `page` defaults to 1 and must be 1 or more; `per_page`
    /// defaults to `default_per_page`, must be 1 or more and is clamped to `max_per_page`.
    pub fn new(
        page: Option<i64>,
        per_page: Option<i64>,
        default_per_page: i64,
        max_per_page: i64,
    ) -> Result<Self, AppError> {
        let page = page.unwrap_or(1);
        if page < 1 {
            return Err(AppError::invalid("page", "page must be 1 or more"));
        }
        let per_page = per_page.unwrap_or(default_per_page);
        if per_page < 1 {
            return Err(AppError::invalid("per_page", "per_page must be 1 or more"));
        }
        Ok(Self {
            page,
            per_page: per_page.min(max_per_page.max(1)),
        })
    }

    /// A page of a list with a fixed page size (the dashboard's and portal's tables).
    pub fn fixed(page: Option<i64>, per_page: i64) -> Result<Self, AppError> {
        Self::new(page, None, per_page, per_page)
    }

    /// SQL `OFFSET` of the page: never negative, saturating instead of overflowing.
    pub fn offset(&self) -> i64 {
        self.page
            .saturating_sub(1)
            .max(0)
            .saturating_mul(self.per_page.max(0))
    }

    /// SQL `LIMIT` of the page.
    pub fn limit(&self) -> i64 {
        self.per_page
    }

    /// Whether a list of `total` items has a page after this one.
    pub fn has_next(&self, total: i64) -> bool {
        self.page.saturating_mul(self.per_page) < total
    }

    /// The previous page's number, if there is one.
    pub fn prev(&self) -> Option<i64> {
        (self.page > 1).then(|| self.page - 1)
    }

    /// The next page's number, if a list of `total` items has one.
    pub fn next(&self, total: i64) -> Option<i64> {
        if self.has_next(total) {
            self.page.checked_add(1)
        } else {
            None
        }
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
        assert!(q(Some(i64::MIN), None).resolve().is_err());
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

    #[test]
    fn huge_pages_saturate() {
        let p = Page::fixed(Some(i64::MAX), 50).unwrap();
        assert_eq!(p.offset(), i64::MAX);
        assert!(!p.has_next(i64::MAX));
        assert_eq!(p.next(i64::MAX), None);
        assert_eq!(p.prev(), Some(i64::MAX - 1));
        let q = PageQuery {
            page: Some(i64::MAX),
            per_page: Some(i64::MAX),
            limit: None,
        };
        let p = q.resolve().unwrap();
        assert_eq!(p.per_page, 100);
        assert!(p.offset() > 0);
        let first = Page::fixed(None, 25).unwrap();
        assert_eq!(
            (first.offset(), first.prev(), first.next(26)),
            (0, None, Some(2))
        );
    }
}
