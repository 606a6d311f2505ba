//! The affiliate's personal API tokens (`/api-tokens`): create one for the self-service API
//! (shown once), see when each was last used, revoke. Rules in `domain::access::personal_tokens`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::access::personal_tokens;
use crate::http::AppState;
use crate::http::pages::{Chrome, HtmlError, render, see_other, when};
use crate::http::portal::layout::{FormError, Shell, SignedIn};

struct TokenView {
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
    revoke_url: String,
}

#[derive(Template)]
#[template(path = "portal/api_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    shell: Shell,
    tokens: Vec<TokenView>,
    action: String,
    api_base: String,
    /// A token just created: shown this once.
    created: Option<String>,
    error: Option<FormError>,
    name: String,
}

async fn page(
    me: &SignedIn,
    state: &AppState,
    created: Option<String>,
    error: Option<FormError>,
    name: String,
) -> Result<TokensPage, HtmlError> {
    let portal = &me.portal;
    let tokens = personal_tokens::list(&state.db, me.vendor_id(), &me.affiliate.id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            revoke_url: portal.url(&format!("/api-tokens/{}/revoke", t.id)),
            name: t.name,
            prefix: t.prefix,
            created: when(t.created_at),
            last_used: t.last_used_at.map_or_else(|| "never".into(), when),
            revoked: t.revoked_at.map(when),
        })
        .collect();
    // The API answers on every portal domain too (host routing shares `/api/`): affiliates
    // are pointed at the portal's own domain (the one they are on, else the vendor's
    // first), by the same rule as every other portal URL, never at the dashboard host.
    let domain = match &portal.host {
        Some(h) => Some(h.clone()),
        None => crate::domain::attribution::links::portal_domain(&state.db, me.vendor_id()).await?,
    };
    let api_base = format!(
        "{}/api/v1/me",
        crate::domain::tenancy::vendors::site_root(&state.sender.base_url, domain.as_deref())
    );
    Ok(TokensPage {
        chrome: Chrome::new(&me.session, format!("API tokens · {}", portal.name())),
        vendor_name: portal.name().to_owned(),
        brand_css: portal.url("/brand.css"),
        shell: Shell::new(portal, &me.affiliate, "profile"),
        tokens,
        action: portal.url("/api-tokens"),
        api_base,
        created,
        error,
        name,
    })
}

/// `GET /api-tokens`.
pub async fn list(me: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, HtmlError> {
    render(
        StatusCode::OK,
        &page(&me, &state, None, None, String::new()).await?,
    )
}

/// The create form.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
}

/// `POST /api-tokens`: creates a token and shows it once.
pub async fn create(
    me: SignedIn,
    state: web::Data<AppState>,
    form: crate::http::extract::Form<CreateForm>,
) -> Result<HttpResponse, HtmlError> {
    match personal_tokens::create(&state.db, me.vendor_id(), &me.affiliate.id, &form.name).await {
        Ok((secret, _)) => render(
            StatusCode::CREATED,
            &page(&me, &state, Some(secret), None, String::new()).await?,
        ),
        Err(e) => match FormError::of(&e) {
            Some(err) => render(
                e.status_code(),
                &page(&me, &state, None, Some(err), form.name.clone()).await?,
            ),
            None => Err(e.into()),
        },
    }
}

/// `POST /api-tokens/{id}/revoke`.
pub async fn revoke(
    me: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    personal_tokens::revoke(&state.db, me.vendor_id(), &me.affiliate.id, &path.1).await?;
    Ok(see_other(&me.portal.url("/api-tokens")))
}
