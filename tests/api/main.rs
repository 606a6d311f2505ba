#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The one integration-test binary: every test spawns the real server on port 0 with a
//! fresh database (a SQLite file, or a PostgreSQL database created and dropped per test
//! when `TEST_DATABASE_URL` is set).

mod helpers;

mod affiliates;
mod api_auth;
mod api_keys;
mod applications;
mod backup;
mod brand_portal;
mod branding;
mod cli;
mod click_spill;
mod confirmations;
mod dashboard_auth;
mod dataset;
mod deals_links;
mod demo;
mod email;
mod host_routing;
mod ingest_batch;
mod jobs;
mod kernel;
mod layout_words;
mod ledger_props;
mod mcp;
mod me_api;
mod metrics;
mod money;
mod money_bounds;
mod money_dashboard;
mod multi_instance;
mod openapi;
mod overview;
mod payouts;
mod payouts_pages;
mod platform;
mod portability;
mod portal_auth;
mod portal_pages;
mod programs;
mod rate_limits;
mod referrals;
mod retention;
mod rollups;
mod stripe_versions;
mod sweep;
mod team;
mod tracking;
mod webhooks;
