//! The affiliate's profile (`GET/POST /profile`): name, company and website, changed by
//! the affiliate through the same service as the vendor's edits (audited as theirs). The
//! email is shown, not editable. Personal API tokens have their own section at the bottom
//! of the page (`portal/tokens_partial.html`), leading to their page (`api_tokens`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::partners::affiliates::{self, AffiliateInput};
use crate::domain::tenancy::audit::Actor;
use crate::domain::values::text;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::portal::layout::{FormError, Shell, SignedIn};

/// The profile form, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    /// Display name.
    pub name: String,
    /// Company (empty: none).
    pub company: String,
    /// Website (empty: none).
    pub website: String,
}

impl ProfileForm {
    fn of(a: &crate::db::affiliates::AffiliateRow) -> Self {
        Self {
            name: a.name.clone(),
            company: a.company.clone().unwrap_or_default(),
            website: a.website.clone().unwrap_or_default(),
        }
    }

    /// Only the profile fields: nothing else an affiliate could send reaches the service.
    fn to_input(&self) -> Result<AffiliateInput, AppError> {
        let name = text::required("name", &self.name, text::NAME_MAX)?;
        let some = |s: &str| Some(Some(s.trim().to_owned()).filter(|s| !s.is_empty()));
        Ok(AffiliateInput {
            name: Some(name),
            company: some(&self.company),
            website: some(&self.website),
            ..AffiliateInput::default()
        })
    }
}

#[derive(Template)]
#[template(path = "portal/profile.html")]
struct ProfilePage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    shell: Shell,
    action: String,
    email: String,
    f: ProfileForm,
    notice: Option<String>,
    error: Option<FormError>,
    /// The personal API tokens page, linked from the tokens section.
    tokens_url: String,
}

impl ProfilePage {
    fn error_field(&self) -> &str {
        self.error.as_ref().map(|e| e.field.as_str()).unwrap_or("")
    }
}

fn page(
    who: &SignedIn,
    f: ProfileForm,
    notice: Option<String>,
    error: Option<FormError>,
) -> ProfilePage {
    ProfilePage {
        chrome: Chrome::new(&who.session, format!("Profile · {}", who.portal.name())),
        vendor_name: who.portal.name().to_owned(),
        brand_css: who.portal.url("/brand.css"),
        shell: Shell::new(&who.portal, &who.affiliate, "profile"),
        action: who.portal.url("/profile"),
        email: who.affiliate.email.clone(),
        tokens_url: who.portal.url("/api-tokens"),
        f,
        notice,
        error,
    }
}

/// `?saved=1` after a save.
#[derive(Debug, Default, Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

/// `GET /profile`.
pub async fn show(
    who: SignedIn,
    q: crate::http::extract::Query<Saved>,
) -> Result<HttpResponse, HtmlError> {
    let notice = q.saved.as_ref().map(|_| "Profile saved.".to_owned());
    let f = ProfileForm::of(&who.affiliate);
    render(StatusCode::OK, &page(&who, f, notice, None))
}

/// `POST /profile`: saves name, company and website; a refused value is shown with the
/// form as typed.
pub async fn save(
    who: SignedIn,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<ProfileForm>,
) -> Result<HttpResponse, HtmlError> {
    let f = form.into_inner();
    let saved = match f.to_input() {
        Ok(input) => {
            affiliates::update(
                &state.db,
                &state.sender,
                &who.portal.vendor,
                &who.affiliate.id,
                &input,
                &Actor::Affiliate(who.affiliate.id.clone()),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(see_other(&who.portal.url("/profile?saved=1"))),
        Err(e) => match FormError::of(&e) {
            Some(err) => render(e.status_code(), &page(&who, f, None, Some(err))),
            None => Err(e.into()),
        },
    }
}
