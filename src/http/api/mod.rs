//! The JSON API under `/api/v1`, for the vendor's backend (API keys).
//!
//! Every handler takes an [`auth::ApiAuth`] and scopes every query by its vendor, so another
//! tenant's object is a 404. Errors use the envelope of [`crate::error::AppError`].

pub mod affiliates;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod json;
pub mod pagination;
pub mod programs;
pub mod vendor;

use actix_web::{Scope, web};

/// The `/api/v1` scope.
pub fn scope() -> Scope {
    web::scope("/api/v1")
        .route("/vendor", web::get().to(vendor::show))
        .route("/audit-log", web::get().to(audit::list))
        .route("/affiliates", web::get().to(affiliates::list))
        .route("/affiliates", web::post().to(affiliates::create))
        .route(
            "/affiliates/by-customer/{customer_id}",
            web::get().to(affiliates::by_customer),
        )
        .route("/affiliates/{id}", web::get().to(affiliates::show))
        .route("/affiliates/{id}", web::patch().to(affiliates::update))
        .route("/affiliates/{id}", web::delete().to(affiliates::delete))
        .route(
            "/affiliates/{id}/invite",
            web::post().to(affiliates::invite),
        )
        .route("/applications", web::get().to(applications::list))
        .route("/applications", web::post().to(applications::submit))
        .route("/applications/status", web::get().to(applications::status))
        .route(
            "/applications/{id}/review",
            web::post().to(applications::review),
        )
        .route("/programs", web::get().to(programs::list))
        .route("/programs", web::post().to(programs::create))
        .route("/programs/{id}", web::get().to(programs::show))
        .route("/programs/{id}", web::patch().to(programs::update))
        .route(
            "/programs/{id}/migrate-enrollments",
            web::post().to(programs::migrate),
        )
        .default_service(web::to(crate::http::not_found))
}
