//! The referral redirect: `/r/{code}[/{slug}]` → the program's site with `ref` and
//! `aff_sess`, recording the click on the way.

use url::Url;

use crate::db::Db;
use crate::domain::attribution::tracking::{
    Target, Tracker, Visit, is_click_id, normalize_code, normalize_slug,
};
use crate::domain::tenancy::vendors::portal_url_from;
use crate::domain::values::destination::{self, Attribution};

/// Name of the first-party cookie the redirect host sets: `{code}~{click id}`.
pub const COOKIE: &str = "affilia_ref";

/// The referral cookie to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefCookie {
    /// `{code}~{click id}`.
    pub value: String,
    /// Lifetime (the program's cookie duration).
    pub days: i64,
}

/// What the handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 302 to `location`, setting the cookie when present.
    Redirect {
        /// Where to.
        location: String,
        /// Referral cookie.
        cookie: Option<RefCookie>,
    },
    /// The "link not found" page.
    NotFound,
}

/// A referral-link request.
#[derive(Debug, Clone)]
pub struct LinkRequest<'a> {
    /// The code segment as requested.
    pub code: &'a str,
    /// The link segment, if any.
    pub slug: Option<&'a str>,
    /// The raw query string (forwarded to the destination).
    pub query: Option<&'a str>,
    /// The visitor.
    pub visit: Visit<'a>,
    /// The vendor whose portal domain the request came to, with its slug.
    pub portal_vendor: Option<(&'a str, &'a str)>,
    /// The referral cookie the visitor sent, if any.
    pub cookie: Option<&'a str>,
    /// The installation's base URL (portal fallback).
    pub base_url: &'a str,
}

/// Resolves a referral link, records the click, and says where to send the visitor.
pub async fn follow(
    tracker: &Tracker,
    db: &Db,
    req: LinkRequest<'_>,
) -> Result<Outcome, sqlx::Error> {
    let target = match normalize_code(req.code) {
        Some(code) => tracker.cache.code(db, &code).await?,
        None => None,
    };
    let Some(target) = target else {
        return unknown_code(tracker, db, &req).await;
    };
    let link = match req.slug.and_then(normalize_slug) {
        Some(slug) => tracker.cache.link(db, &target.code, &slug).await?,
        None => None,
    };
    let destination = destination_of(
        &target,
        link.as_ref().and_then(|l| l.destination_url.as_deref()),
    );
    let Some(destination) = destination else {
        // A program without a landing URL: send the visitor to the vendor's portal rather
        // than anywhere we cannot vouch for.
        let location = portal_root(&req, &target);
        return Ok(Outcome::Redirect {
            location,
            cookie: None,
        });
    };
    if !target.attributable {
        return Ok(Outcome::Redirect {
            location: destination::redirect_url(&destination, req.query, None),
            cookie: None,
        });
    }
    // `None` only when the click could be neither queued nor spilled (a full disk): the
    // visitor still gets where they were going, with `ref` but no click id that would name
    // nothing (the loss is logged and counted by the writer).
    let click_id = tracker
        .record_click(
            &target,
            link.as_ref().map(|l| l.link_id.as_str()),
            destination.as_str(),
            &req.visit,
            "redirect",
            None,
        )
        .await
        .ok();
    // First touch: a visitor who already carries a click of this program keeps it, so the
    // vendor's site sees the first affiliate again. The new click is still recorded.
    let earlier = if target.first_touch {
        earlier_touch(tracker, db, req.cookie, &target).await?
    } else {
        None
    };
    let (code, aff_sess, cookie) = match (&earlier, &click_id) {
        (Some((code, click)), _) => (code.as_str(), click.as_str(), None),
        (None, Some(click_id)) => (
            target.code.as_str(),
            click_id.as_str(),
            Some(RefCookie {
                value: format!("{}~{click_id}", target.code),
                days: target.cookie_days,
            }),
        ),
        (None, None) => (target.code.as_str(), "", None),
    };
    let location = destination::redirect_url(
        &destination,
        req.query,
        Some(Attribution {
            code,
            click_id: aff_sess,
        }),
    );
    Ok(Outcome::Redirect { location, cookie })
}

/// The link's destination if the program still allows it, else the landing URL.
fn destination_of(target: &Target, link_destination: Option<&str>) -> Option<Url> {
    link_destination
        .and_then(|d| Url::parse(d).ok())
        .filter(|u| target.domains.allows(u))
        .or_else(|| {
            target
                .landing_url
                .as_deref()
                .and_then(|d| Url::parse(d).ok())
                .filter(|u| target.domains.allows(u))
        })
}

fn portal_root(req: &LinkRequest<'_>, target: &Target) -> String {
    match req.portal_vendor {
        Some(_) => "/".into(),
        None => portal_url_from(req.base_url, &target.vendor_slug, None),
    }
}

/// On a vendor's portal domain an unknown code still lands on the vendor's site (without
/// attribution); on the main host there is nowhere sensible to go.
async fn unknown_code(
    tracker: &Tracker,
    db: &Db,
    req: &LinkRequest<'_>,
) -> Result<Outcome, sqlx::Error> {
    let Some((vendor_id, _)) = req.portal_vendor else {
        return Ok(Outcome::NotFound);
    };
    let landing = tracker
        .cache
        .default_landing(db, vendor_id)
        .await?
        .and_then(|u| Url::parse(&u).ok());
    let location = match landing {
        Some(u) => destination::redirect_url(&u, req.query, None),
        None => "/".into(),
    };
    Ok(Outcome::Redirect {
        location,
        cookie: None,
    })
}

/// The code and click of the visitor's cookie, if it belongs to the same program and still
/// counts.
async fn earlier_touch(
    tracker: &Tracker,
    db: &Db,
    cookie: Option<&str>,
    target: &Target,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let Some((code, click)) = cookie.and_then(|c| c.split_once('~')) else {
        return Ok(None);
    };
    let Some(code) = normalize_code(code) else {
        return Ok(None);
    };
    if !is_click_id(click) {
        return Ok(None);
    }
    let earlier = tracker.cache.code(db, &code).await?;
    Ok(earlier
        .filter(|t| t.program_id == target.program_id && t.attributable)
        .map(|t| (t.code.clone(), click.to_owned())))
}
