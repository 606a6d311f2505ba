//! The JSON API under `/api/v1`: the vendor's backend (API keys), the affiliate's
//! self-service under `/me` (affiliate tokens), and the public click API (`/track`).
//!
//! Every handler takes an [`auth::ApiAuth`] and scopes every query by its vendor, so another
//! tenant's object is a 404. Errors use the envelope of [`crate::error::AppError`].

pub mod accounting;
pub mod affiliate_access;
pub mod affiliates;
pub mod api_keys;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod bonuses;
pub mod consumers;
pub mod deals;
pub mod fraud;
pub mod json;
pub mod kernel;
pub mod lazy_json;
pub mod me;
pub mod money;
pub use crate::http::pagination;
pub mod groups;
pub mod payouts;
pub mod programs;
pub mod promo_codes;
pub mod referrals;
pub mod tracking;
pub mod vendor;
pub mod webhooks;

use actix_web::dev::HttpServiceFactory;
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::web;

/// A query parameter with surrounding space removed; empty is absent.
pub fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The `/api/v1` scope, behind the credential and rate-limit middleware.
pub fn scope() -> impl HttpServiceFactory {
    web::scope("/api/v1")
        .wrap(from_fn(crate::http::middleware::rate_limit::rate_limit))
        .route("/api-keys", web::get().to(api_keys::list))
        .route("/api-keys", web::post().to(api_keys::create))
        .route("/api-keys/{id}", web::delete().to(api_keys::revoke))
        .route("/vendor", web::get().to(vendor::show))
        .route("/vendor", web::patch().to(vendor::update))
        .route("/vendor/logo", web::put().to(vendor::put_logo))
        .route("/vendor/logo", web::delete().to(vendor::delete_logo))
        .route(
            "/vendor/domains/{host}/verify",
            web::post().to(vendor::verify_domain),
        )
        .route("/audit-log", web::get().to(audit::list))
        .route("/consumers", web::get().to(consumers::list))
        .route("/consumers", web::post().to(consumers::create))
        .route("/consumers/{id}", web::get().to(consumers::show))
        .route("/consumers/{id}", web::patch().to(consumers::update))
        .route(
            "/consumers/{id}/rotate-secret",
            web::post().to(consumers::rotate_secret),
        )
        .route(
            "/kernel/affiliates/provision",
            web::post().to(kernel::provision),
        )
        .route("/kernel/events", web::post().to(kernel::events))
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
        .route(
            "/affiliates/{id}/code",
            web::put().to(affiliates::change_code),
        )
        .route(
            "/affiliates/{id}/token",
            web::post().to(affiliate_access::token),
        )
        .route(
            "/affiliates/{id}/portal-link",
            web::post().to(affiliate_access::portal_link),
        )
        .route(
            "/affiliates/{id}/embed-token",
            web::post().to(affiliate_access::embed_token),
        )
        .route(
            "/affiliates/{id}/promo-codes",
            web::get().to(promo_codes::list),
        )
        .route(
            "/affiliates/{id}/promo-codes",
            web::post().to(promo_codes::create),
        )
        .route("/promo-codes/{id}", web::get().to(promo_codes::show))
        .route("/promo-codes/{id}", web::patch().to(promo_codes::update))
        .route("/promo-codes/{id}", web::delete().to(promo_codes::delete))
        .route(
            "/affiliates/{id}/tax-details",
            web::get().to(accounting::affiliate_tax_details),
        )
        .route(
            "/affiliates/{id}/tax-details",
            web::put().to(accounting::set_affiliate_tax_details),
        )
        .route("/me/tax-details", web::get().to(accounting::my_tax_details))
        .route(
            "/me/tax-details",
            web::put().to(accounting::set_my_tax_details),
        )
        .route("/accounting/journal", web::get().to(accounting::journal))
        .route(
            "/accounting/paid-totals",
            web::get().to(accounting::paid_totals),
        )
        .route(
            "/programs/{id}/terms/backtest",
            web::post().to(accounting::backtest),
        )
        .route("/affiliates/{id}/bonuses", web::post().to(bonuses::create))
        .route("/bonuses", web::get().to(bonuses::list))
        .route("/track", web::post().to(tracking::track))
        .route(
            "/track",
            web::method(Method::OPTIONS).to(tracking::track_preflight),
        )
        .route("/clicks", web::get().to(tracking::list))
        .route("/referrals", web::post().to(referrals::create))
        .route("/referrals", web::get().to(referrals::list))
        .route("/referrals/{id}", web::get().to(referrals::show))
        .route("/deals", web::get().to(deals::list))
        .route("/deals/{id}", web::get().to(deals::show))
        .route("/deals/{id}/review", web::post().to(deals::review))
        .route("/fraud/reviews", web::get().to(fraud::list))
        .route("/fraud/reviews/{id}", web::get().to(fraud::show))
        .route(
            "/fraud/reviews/{id}/approve",
            web::post().to(fraud::approve),
        )
        .route("/fraud/reviews/{id}/reject", web::post().to(fraud::reject))
        .route("/me", web::get().to(me::profile))
        .route("/me/programs", web::get().to(me::programs))
        .route("/me/referral", web::get().to(me::referral))
        .route("/me/stats", web::get().to(me::stats))
        .route("/me/balance", web::get().to(me::balance))
        .route("/me/payouts", web::get().to(me::payouts))
        .route("/me/commissions", web::get().to(me::commissions))
        .route("/me/payout-settings", web::get().to(me::payout_settings))
        .route(
            "/me/payout-settings",
            web::put().to(me::set_payout_settings),
        )
        .route("/me/links", web::get().to(me::links))
        .route("/me/links", web::post().to(me::create_link))
        .route("/me/links/{id}", web::patch().to(me::update_link))
        .route("/me/links/{id}/archive", web::post().to(me::archive_link))
        .route("/me/links/{id}/restore", web::post().to(me::restore_link))
        .route("/me/promo-codes", web::get().to(promo_codes::mine))
        .route("/me/deals", web::get().to(me::deals))
        .route("/me/deals", web::post().to(me::create_deal))
        .route("/applications", web::get().to(applications::list))
        .route("/applications", web::post().to(applications::submit))
        .route(
            "/applications",
            web::method(Method::OPTIONS).to(tracking::applications_preflight),
        )
        .route("/applications/status", web::get().to(applications::status))
        .route(
            "/applications/{id}/review",
            web::post().to(applications::review),
        )
        .route("/events", web::post().to(money::ingest))
        .route("/events", web::get().to(money::events))
        .route("/events/{id}", web::get().to(money::event))
        .route("/events/{id}/replay", web::post().to(money::replay))
        .route("/conversions", web::post().to(money::create_conversion))
        .route("/conversions", web::get().to(money::conversions_list))
        .route("/conversions/{id}", web::get().to(money::conversion))
        .route("/conversions/{id}/approve", web::post().to(money::approve))
        .route("/conversions/{id}/reject", web::post().to(money::reject))
        .route("/commissions", web::get().to(money::commissions))
        .route("/ledger", web::get().to(money::ledger_list))
        .route("/analytics", web::get().to(money::analytics))
        .route("/payouts/run", web::post().to(payouts::run))
        .route("/payouts", web::get().to(payouts::list))
        .route("/payouts/export", web::get().to(payouts::export))
        .route("/payouts/{id}", web::get().to(payouts::show))
        .route(
            "/payouts/{id}/mark-paid",
            web::post().to(payouts::mark_paid),
        )
        .route(
            "/payouts/{id}/mark-failed",
            web::post().to(payouts::mark_failed),
        )
        .route(
            "/payouts/{id}/mark-processing",
            web::post().to(payouts::mark_processing),
        )
        .route("/payouts/{id}/send", web::post().to(payouts::send))
        .route("/payout-runs", web::get().to(payouts::runs))
        .route("/payout-runs/{id}", web::get().to(payouts::run_show))
        .route(
            "/payout-runs/{id}/mark-processing",
            web::post().to(payouts::run_processing),
        )
        .route(
            "/payout-runs/{id}/mark-paid",
            web::post().to(payouts::run_paid),
        )
        .route("/payout-runs/{id}/send", web::post().to(payouts::run_send))
        .route("/programs", web::get().to(programs::list))
        .route("/programs", web::post().to(programs::create))
        .route("/programs/{id}/groups", web::get().to(groups::list))
        .route("/programs/{id}/groups", web::post().to(groups::create))
        .route("/groups/{id}", web::get().to(groups::show))
        .route("/groups/{id}", web::patch().to(groups::update))
        .route("/programs/{id}/group-rules", web::get().to(groups::rules))
        .route(
            "/programs/{id}/group-rules",
            web::post().to(groups::create_rule),
        )
        .route("/group-rules/{id}", web::delete().to(groups::delete_rule))
        .route(
            "/affiliates/{id}/group",
            web::put().to(groups::move_affiliate),
        )
        .route("/me/groups", web::get().to(groups::mine))
        .route("/programs/{id}", web::get().to(programs::show))
        .route("/programs/{id}", web::patch().to(programs::update))
        .route(
            "/programs/{id}/migrate-enrollments",
            web::post().to(programs::migrate),
        )
        .route("/webhook-endpoints", web::get().to(webhooks::list))
        .route("/webhook-endpoints", web::post().to(webhooks::create))
        .route("/webhook-endpoints/{id}", web::get().to(webhooks::show))
        .route("/webhook-endpoints/{id}", web::patch().to(webhooks::update))
        .route(
            "/webhook-endpoints/{id}",
            web::delete().to(webhooks::delete),
        )
        .route(
            "/webhook-endpoints/{id}/deliveries",
            web::get().to(webhooks::deliveries),
        )
        .route(
            "/webhook-endpoints/{id}/test",
            web::post().to(webhooks::test),
        )
        .route(
            "/webhook-deliveries/{id}/redeliver",
            web::post().to(webhooks::redeliver),
        )
        .default_service(web::to(crate::http::not_found))
}
