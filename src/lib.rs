//! Affilia: a self-hosted affiliate and partner-program platform.
//!
//! One binary serves the vendor dashboard, the affiliate portal and the JSON API from one
//! service layer. See `DESIGN.md` in the shared folder for the architecture; the module
//! layout follows it:
//!
//! * [`config`]: typed settings (TOML file, `AFFILIA_*` environment, command-line flags);
//! * [`cli`]: the `affilia` subcommands;
//! * [`db`]: the pool, migrations and every SQL statement, one module per aggregate;
//! * [`domain`]: validated types and business services;
//! * [`dataset`]: the large-dataset loader for benchmarks (`affilia admin load-dataset`);
//! * [`http`]: the actix-web application, middleware and the three surfaces;
//! * [`importers`]: importers from Rewardful, FirstPromoter, Tolt and PartnerStack;
//! * [`jobs`]: the background worker (email delivery and, later, other jobs);
//! * [`monitoring`]: Prometheus metrics (names, recorder, scrape text).

pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
pub mod dataset;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod importers;
pub mod jobs;
pub mod monitoring;
pub mod portability;
pub mod progress;
pub mod retention;
pub mod telemetry;
