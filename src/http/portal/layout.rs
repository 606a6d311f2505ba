//! The signed-in portal: who is signed in ([`SignedIn`]), the shell of its pages (logo,
//! name, navigation), and [`Site`], which writes the URLs and hidden form fields of the
//! page bodies the portal shares with the iframe embeds.

use std::future::Future;
use std::pin::Pin;

use actix_session::Session;
use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use crate::db::affiliates::AffiliateRow;
use crate::domain::partners::affiliates;
use crate::domain::tenancy::sign_ins;
use crate::error::AppError;
use crate::http::pages::{Chrome, HtmlError, see_other};
use crate::http::portal::Portal;
use crate::http::{AppState, session};

/// The affiliate signed in to this portal, if they may still use it.
pub async fn current(
    portal: &Portal,
    state: &AppState,
    session: &Session,
) -> Result<Option<AffiliateRow>, HtmlError> {
    let Some((id, token)) = session::affiliate_sign_in(session, &portal.vendor.id) else {
        return Ok(None);
    };
    // Signed out (here or everywhere) server-side: a copy of the cookie is refused too.
    if !sign_ins::is_live(
        &state.db,
        &portal.vendor.id,
        sign_ins::AFFILIATE,
        &id,
        &token,
    )
    .await?
    {
        session::sign_out_affiliate(&state.db, session, &portal.vendor.id).await;
        return Ok(None);
    }
    Ok(affiliates::signed_in(&state.db, &portal.vendor.id, &id).await?)
}

/// A portal page's signed-in affiliate. Extracting it sends visitors who are not signed in
/// (or whose affiliate may no longer sign in) to the portal's sign-in page; HTMX requests
/// get an `HX-Redirect` there instead.
#[derive(Clone)]
pub struct SignedIn {
    /// The portal (vendor and URL prefix).
    pub portal: Portal,
    /// The affiliate.
    pub affiliate: AffiliateRow,
    /// The session (for the page chrome).
    pub session: Session,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("vendor", &self.portal.vendor.id)
            .field("affiliate", &self.affiliate.id)
            .finish_non_exhaustive()
    }
}

impl SignedIn {
    /// The vendor's id.
    pub fn vendor_id(&self) -> &str {
        &self.portal.vendor.id
    }
}

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let portal = Portal::from_request(req, payload);
        let session = Session::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let htmx = req.headers().contains_key("hx-request");
        Box::pin(async move {
            let portal = portal.await?;
            let session = session.await?;
            let state = state.ok_or(HtmlError::App(AppError::NotFound))?;
            match current(&portal, &state, &session).await? {
                Some(affiliate) => Ok(SignedIn {
                    portal,
                    affiliate,
                    session,
                }),
                None => Err(to_sign_in(&portal, htmx)),
            }
        })
    }
}

fn to_sign_in(portal: &Portal, htmx: bool) -> actix_web::Error {
    let login = portal.url("/login");
    let res = if htmx {
        HttpResponse::Ok()
            .insert_header(("hx-redirect", login))
            .finish()
    } else {
        see_other(&login)
    };
    InternalError::from_response("sign-in required", res).into()
}

/// One entry of the portal navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Shown text.
    pub label: &'static str,
    /// Where it leads.
    pub url: String,
    /// Whether it is the current page (`aria-current`).
    pub current: bool,
}

/// The navigation, in order: (key, label, portal path).
const NAV: [(&str, &str, &str); 6] = [
    ("dashboard", "Dashboard", "/"),
    ("links", "Links", "/links"),
    ("commissions", "Commissions", "/commissions"),
    ("payouts", "Payouts", "/payouts"),
    ("deals", "Deals", "/deals"),
    ("profile", "Profile", "/profile"),
];

/// What `portal/app_base.html` shows around a signed-in page (with the page's
/// `vendor_name`, the portal's name): the vendor's logo, the navigation, who is signed in and the sign-out form.
#[derive(Debug, Clone)]
pub struct Shell {
    /// The vendor's logo, if any.
    pub logo_url: Option<String>,
    /// Portal home.
    pub home_url: String,
    /// The navigation.
    pub nav: Vec<NavItem>,
    /// The signed-in affiliate's email.
    pub email: String,
    /// Target of the sign-out form (a POST with the CSRF token).
    pub logout_url: String,
}

impl Shell {
    /// The shell of a page of the `current` nav entry (`dashboard`, `links`, ...).
    pub fn new(portal: &Portal, affiliate: &AffiliateRow, current: &str) -> Self {
        Self {
            logo_url: portal.logo_url(),
            home_url: portal.url("/"),
            nav: NAV
                .iter()
                .map(|(key, label, path)| NavItem {
                    label,
                    url: portal.url(path),
                    current: *key == current,
                })
                .collect(),
            email: affiliate.email.clone(),
            logout_url: portal.url("/logout"),
        }
    }
}

/// Declares the page of a signed-in portal section whose body is a view shared with its
/// HTMX partial and its embed (deals, links): the page struct around `portal/app_base.html`
/// (chrome, portal name, brand stylesheet, shell, site, the view) and its constructor
/// `$name::new(who, chrome, site, v)`, so each such page is one line.
macro_rules! signed_in_page {
    ($(#[$meta:meta])* $name:ident, $path:literal, $view:ty, $nav:literal) => {
        $(#[$meta])*
        #[derive(askama::Template)]
        #[template(path = $path)]
        struct $name {
            chrome: crate::http::pages::Chrome,
            vendor_name: String,
            brand_css: String,
            shell: crate::http::portal::layout::Shell,
            site: crate::http::portal::layout::Site,
            v: $view,
        }

        impl $name {
            fn new(
                who: &crate::http::portal::layout::SignedIn,
                chrome: crate::http::pages::Chrome,
                site: crate::http::portal::layout::Site,
                v: $view,
            ) -> Self {
                Self {
                    vendor_name: who.portal.name().to_owned(),
                    brand_css: who.portal.url("/brand.css"),
                    shell: crate::http::portal::layout::Shell::new(
                        &who.portal,
                        &who.affiliate,
                        $nav,
                    ),
                    chrome,
                    site,
                    v,
                }
            }
        }
    };
}
pub(crate) use signed_in_page;

/// Where a shared page body is shown, which decides its URLs and hidden form fields.
#[derive(Debug, Clone)]
pub enum Site {
    /// The portal: URLs under its prefix; forms that post carry the session's CSRF token.
    Portal {
        /// The portal's path prefix (see [`Portal::url`]).
        base: String,
        /// The session's CSRF token.
        csrf: String,
    },
    /// An iframe embed: only the embeddable surfaces are reachable, and every URL and form
    /// carries the access token (iframes get no cookies).
    Embed {
        /// The signed access token.
        token: String,
    },
}

impl Site {
    /// The portal site of a page.
    pub fn portal(portal: &Portal, chrome: &Chrome) -> Self {
        Self::Portal {
            base: portal.url(""),
            csrf: chrome.csrf.clone(),
        }
    }

    /// Whether this is an embed.
    pub fn is_embed(&self) -> bool {
        matches!(self, Self::Embed { .. })
    }

    /// The URL of the portal page `path` (`/`, `/links`, `/payouts/{id}`, ...) with
    /// `query` (pairs with empty values left out); `None` when the page is not reachable
    /// here (an embed reaches only its surfaces).
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Option<String> {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in query.iter().filter(|(_, v)| !v.is_empty()) {
            q.append_pair(k, v);
        }
        let page = match self {
            Self::Portal { base, .. } => format!("{base}{path}"),
            Self::Embed { token } => {
                let surface = match path {
                    "/" => "dashboard".to_owned(),
                    "/links" => "links".to_owned(),
                    "/payouts" => "payouts".to_owned(),
                    // A link's edit page and its archive/restore forms.
                    _ if path.starts_with("/links/") => path[1..].to_owned(),
                    _ => return None,
                };
                q.append_pair("token", token);
                format!("/embed/{surface}")
            }
        };
        let q = q.finish();
        Some(if q.is_empty() {
            page
        } else {
            format!("{page}?{q}")
        })
    }

    /// Hidden fields of a form that posts (the CSRF token, or the access token).
    pub fn post_fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Portal { csrf, .. } => vec![(crate::http::middleware::csrf::FIELD, csrf.clone())],
            Self::Embed { token } => vec![("token", token.clone())],
        }
    }

    /// Hidden fields of a form that gets (the access token in an embed).
    pub fn get_fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Portal { .. } => Vec::new(),
            Self::Embed { token } => vec![("token", token.clone())],
        }
    }
}

/// A refusal a form shows above its fields: a 422 (invalid value) or a 409 (duplicate,
/// wrong state). Other errors are not the form's and render as error pages.
#[derive(Debug, Clone, Default)]
pub struct FormError {
    /// What is wrong, for a person.
    pub message: String,
    /// The field at fault (empty when none), for `aria-invalid`.
    pub field: String,
}

impl FormError {
    /// The form's view of `e`, if it is one a form shows.
    pub fn of(e: &AppError) -> Option<Self> {
        match e {
            AppError::Invalid { .. } | AppError::Conflict { .. } => Some(Self {
                message: e.public_message(),
                field: e.field().unwrap_or_default().to_owned(),
            }),
            _ => None,
        }
    }
}

/// Whether a request came from HTMX (which then gets the page body only).
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("hx-request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_reach_their_surfaces_only_and_carry_the_token() {
        let embed = Site::Embed {
            token: "afft_a.b".into(),
        };
        assert_eq!(
            embed
                .url("/", &[("period", "7d"), ("program", "")])
                .as_deref(),
            Some("/embed/dashboard?period=7d&token=afft_a.b")
        );
        assert_eq!(embed.url("/profile", &[]), None);
        assert_eq!(
            embed.url("/links/lnk_1/archive", &[]).as_deref(),
            Some("/embed/links/lnk_1/archive?token=afft_a.b")
        );
        assert_eq!(embed.post_fields(), vec![("token", "afft_a.b".to_owned())]);
        let portal = Site::Portal {
            base: "/p/acme".into(),
            csrf: "c".into(),
        };
        assert_eq!(portal.url("/links", &[]).as_deref(), Some("/p/acme/links"));
        assert_eq!(
            portal
                .url("/commissions", &[("status", "paid & more")])
                .as_deref(),
            Some("/p/acme/commissions?status=paid+%26+more")
        );
        assert!(portal.get_fields().is_empty());
    }
}
