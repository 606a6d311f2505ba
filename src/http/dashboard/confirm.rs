//! The confirmation step of risky dashboard actions (run payouts, mark a run paid, ban or
//! deactivate an affiliate, revoke a key, delete a webhook). The first post of such a form
//! does nothing but render this page, which names what will happen; only the post from this
//! page (carrying `confirm` and, for money, the figures it showed) acts. The check lives on
//! the server so the step holds with or without JavaScript and HTMX.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use crate::http::dashboard::Staff;
use crate::http::pages::{Chrome, HtmlError, render};

/// The form field a confirmation page posts; its value is the figures the page showed
/// (`yes` when there are none), so an action on money can refuse stale figures.
pub const FIELD: &str = "confirm";

/// What a confirmation page shows and where its button posts.
pub struct Confirm {
    /// Page title and heading ("Run payouts?").
    pub title: String,
    /// What will happen, one sentence per line.
    pub lines: Vec<String>,
    /// Shown above the lines when the figures changed since the person last saw them.
    pub changed: Option<String>,
    /// Where the confirm button posts.
    pub action: String,
    /// Hidden fields posted with the confirmation (the original form's values).
    pub fields: Vec<(String, String)>,
    /// The value of the `confirm` field: the figures shown, or `yes`.
    pub token: String,
    /// The confirm button's words ("Run 3 payouts").
    pub button: String,
    /// Where "Cancel" goes back to.
    pub cancel: String,
}

#[derive(Template)]
#[template(path = "dashboard/confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    vendor_name: String,
    user_email: String,
    c: Confirm,
}

/// Renders the confirmation page (200: nothing was refused, nothing was done).
pub fn page(staff: &Staff, c: Confirm) -> Result<HttpResponse, HtmlError> {
    render(
        StatusCode::OK,
        &ConfirmPage {
            chrome: Chrome::new(&staff.session, c.title.clone()),
            vendor_name: staff.vendor.name.clone(),
            user_email: staff.user.email.clone(),
            c,
        },
    )
}

/// Whether a posted `confirm` value matches the figures the page would show now.
pub fn confirmed(posted: &str, token: &str) -> bool {
    !posted.is_empty() && posted == token
}

/// "1 payout" / "3 payouts".
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A form whose only field (besides the CSRF token) is the confirmation.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ConfirmForm {
    /// `yes` (or the figures) from the confirmation page; empty on a first post.
    pub confirm: String,
}
