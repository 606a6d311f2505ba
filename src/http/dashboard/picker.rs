//! The affiliate picker of the dashboard's filters and forms: people type a name, an email
//! or a code and pick from suggestions (HTMX, `GET /dashboard/affiliates/suggest`); the
//! form still sends `affiliate_id`, so links with `?affiliate_id=aff_…` keep working.
//! Without script the typed text is sent as `affiliate` and resolved on the server.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::partners::affiliates;
use crate::http::AppState;
use crate::http::dashboard::Staff;
use crate::http::pages::{HtmlError, person_label, render};

/// Suggestions shown at most.
const SHOWN: i64 = 8;

/// What a picker shows and sends.
#[derive(Debug, Default, Clone)]
pub struct Picked {
    /// The chosen affiliate's id (sent as `affiliate_id`); empty when none.
    pub id: String,
    /// What the text box shows: "Name (email)", or what was typed.
    pub label: String,
    /// A message when typed text named no single affiliate.
    pub problem: Option<String>,
}

/// Matches no affiliate: typed text that named none filters to nothing, not to everyone.
pub const NO_MATCH: &str = "-";

fn label(a: &crate::db::affiliates::AffiliateRow) -> String {
    let name = person_label(&a.name, &a.email);
    if name == a.email {
        a.email.clone()
    } else {
        format!("{name} ({})", a.email)
    }
}

/// Resolves a picker's two fields: the id when given (another vendor's id shows no name
/// and matches nothing), otherwise the typed text (an exact email or the only match).
pub async fn resolve(
    state: &AppState,
    vendor_id: &str,
    id: &str,
    typed: &str,
) -> Result<Picked, HtmlError> {
    let (id, typed) = (id.trim(), typed.trim());
    if !id.is_empty() {
        let found = affiliates::find(&state.db, vendor_id, id).await?;
        return Ok(Picked {
            id: id.to_owned(),
            label: found
                .as_ref()
                .map(label)
                .unwrap_or_else(|| typed.to_owned()),
            problem: found
                .is_none()
                .then(|| "That affiliate does not exist.".to_owned()),
        });
    }
    if typed.is_empty() {
        return Ok(Picked::default());
    }
    Ok(match affiliates::pick(&state.db, vendor_id, typed).await? {
        Some(a) => Picked {
            id: a.id.clone(),
            label: label(&a),
            problem: None,
        },
        None => Picked {
            id: NO_MATCH.to_owned(),
            label: typed.to_owned(),
            problem: Some(format!(
                "No single affiliate matches \u{201c}{typed}\u{201d}: type more of the name or the whole email, then pick from the list."
            )),
        },
    })
}

/// `?affiliate=` typed so far.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SuggestQuery {
    affiliate: String,
}

struct Suggestion {
    id: String,
    label: String,
    name: String,
    email: String,
}

#[derive(Template)]
#[template(path = "dashboard/affiliate_suggest_partial.html")]
struct Suggestions {
    term: String,
    found: Vec<Suggestion>,
}

/// `GET /dashboard/affiliates/suggest?affiliate=`: the vendor's affiliates matching the
/// text, as picker options (HTML, for HTMX). Only this vendor's affiliates are searched.
pub async fn suggest(
    staff: Staff,
    state: web::Data<AppState>,
    q: crate::http::extract::Query<SuggestQuery>,
) -> Result<HttpResponse, HtmlError> {
    let term = q.affiliate.trim().to_owned();
    let found = affiliates::suggest(&state.db, &staff.vendor.id, &term, SHOWN)
        .await?
        .into_iter()
        .map(|a| Suggestion {
            label: label(&a),
            name: person_label(&a.name, &a.email).to_owned(),
            email: a.email,
            id: a.id,
        })
        .collect();
    render(StatusCode::OK, &Suggestions { term, found })
}
