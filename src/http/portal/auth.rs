//! Portal sign-in through invitation links, and sign-out. (Magic-link sign-in by email and
//! signed portal links come with the portal issue and reuse this session.)

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::domain::affiliates;
use crate::error::AppError;
use crate::http::pages::{Chrome, HtmlError, render, see_other};
use crate::http::portal::Portal;
use crate::http::{AppState, session};

#[derive(Template)]
#[template(path = "portal/invite.html")]
struct InvitePage {
    chrome: Chrome,
    vendor_name: String,
    brand_css: String,
    /// The invited address; `None` when the link no longer works.
    email: Option<String>,
    action: String,
}

fn page(portal: &Portal, session: &Session, email: Option<String>, token: &str) -> InvitePage {
    InvitePage {
        chrome: Chrome::new(session, format!("{} partners", portal.vendor.name)),
        vendor_name: portal.vendor.name.clone(),
        brand_css: portal.url("/brand.css"),
        email,
        action: portal.url(&format!("/login/link/{token}")),
    }
}

/// `GET /login/link/{token}`: a button to accept, so link scanners do not use it up.
pub async fn confirm(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    let token = &token.1;
    let affiliate = affiliates::peek_invite(&state.db, &portal.vendor.id, token).await?;
    let status = if affiliate.is_some() {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    render(
        status,
        &page(&portal, &session, affiliate.map(|a| a.email), token),
    )
}

/// `POST /login/link/{token}`: accept the invitation and sign in.
pub async fn accept(
    portal: Portal,
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<(String, String)>,
) -> Result<HttpResponse, HtmlError> {
    match affiliates::accept_invite(&state.db, &portal.vendor.id, &token.1).await {
        Ok(affiliate) => {
            session::sign_in_affiliate(&session, &portal.vendor.id, &affiliate.id)?;
            Ok(see_other(&portal.url("/")))
        }
        Err(AppError::Conflict { .. }) => {
            render(StatusCode::GONE, &page(&portal, &session, None, &token.1))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`.
pub async fn logout(portal: Portal, session: Session) -> HttpResponse {
    session::sign_out_affiliate(&session, &portal.vendor.id);
    see_other(&portal.url("/"))
}
