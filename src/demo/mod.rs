//! `affilia demo`: fills a vendor's default program with 90 days of a living affiliate
//! program, through the same domain services the dashboard, portal and API call.
//!
//! Every rule, ledger line, rollup and audit row is therefore what real use would leave, and
//! `affilia ledger verify` passes afterwards. To give the rows their dates the generator
//! replays the 90 days on a simulated clock ([`crate::db::simulate_clock`]): day by day,
//! affiliates apply and are reviewed, visitors click (a weekday pattern on a growing trend),
//! some click through to sales (a few renew monthly), refunds (full and partial) arrive a
//! few days later, the vendor approves or rejects some conversions by hand, holding periods
//! end, and payout runs are made and paid at the end of each of the first two months. The
//! run made on the last day (today) is left unpaid: the payouts due now.
//!
//! This is not the benchmark dataset: `affilia admin load-dataset` writes millions of rows
//! straight into storage; this goes through the services and stays in the thousands.
//!
//! A vendor that already has affiliates is refused unless `force` is set; then the new
//! people get addresses tagged with the run so they do not collide with the earlier ones.
//! People are at `demo.example`, a reserved domain that receives no mail.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::Datelike;
use serde_json::json;

use crate::config::Settings;
use crate::dataset::synth::{Alias, Rng};
use crate::db::{self, Db, demo::CensusLine};
use crate::domain::attribution::tracking::{Target, Tracker, Visit, WriterConfig, spill};
use crate::domain::attribution::{deals, links, referrals};
use crate::domain::earnings::billing::IngestWriter;
use crate::domain::earnings::billing::api_event::{self, ApiEvent};
use crate::domain::earnings::conversions;
use crate::domain::partners::{affiliates, applications, payout_settings};
use crate::domain::payouts;
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::mail::Sender;
use crate::domain::tenancy::vendors;
use crate::error::AppError;
use crate::progress::Progress;

const DAY_MS: i64 = 86_400_000;
/// Days of history.
pub const DAYS: i64 = 90;

/// How big a program to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// A few dozen affiliates and a few thousand clicks: seconds.
    Small,
    /// A few thousand affiliates and about 100,000 clicks: a few minutes.
    Large,
}

struct Sizes {
    /// Affiliates already in the program on the first day.
    founders: u64,
    /// Applications over the 90 days.
    applicants: u64,
    /// Clicks over the 90 days.
    clicks: u64,
    /// Share of clicks that become a paying customer.
    conversion_rate: f64,
    /// Deals submitted by affiliates.
    deals: u64,
}

impl Scale {
    fn sizes(self) -> Sizes {
        match self {
            Scale::Small => Sizes {
                founders: 12,
                applicants: 34,
                clicks: 4_000,
                conversion_rate: 0.03,
                deals: 2,
            },
            Scale::Large => Sizes {
                founders: 300,
                applicants: 2_900,
                clicks: 100_000,
                conversion_rate: 0.012,
                deals: 12,
            },
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// How big.
    pub scale: Scale,
    /// Seed of every random choice: the same seed makes the same program.
    pub seed: u64,
    /// Add to a vendor that already has affiliates.
    pub force: bool,
    /// The end of the 90 days (unix ms): now, so the Overview shows a living program.
    pub now_ms: i64,
}

/// What was generated: the vendor's census afterwards.
#[derive(Debug, Clone)]
pub struct Report {
    /// Vendor slug.
    pub slug: String,
    /// Rows by kind and status.
    pub census: Vec<CensusLine>,
    /// The demo program's currency: every amount of the census is in it.
    pub currency: String,
}

/// An affiliate the generator knows.
struct Partner {
    id: String,
    /// Referral target, once active.
    target: Option<Arc<Target>>,
    /// Campaign link id, if it made one.
    link: Option<String>,
    /// Popularity (clicks are drawn in proportion).
    weight: f64,
    active: bool,
}

/// A payment to make on a later day.
struct Sale {
    day: i64,
    customer: String,
    amount_cents: i64,
    /// Whether it renews every 30 days.
    renews: bool,
}

/// A refund to make on a later day.
struct Refund {
    day: i64,
    customer: String,
    charge: String,
    amount_cents: i64,
}

/// A hand review of a conversion on a later day.
struct Review {
    day: i64,
    conversion_id: String,
    approve: bool,
}

struct Ctx<'a> {
    db: &'a Db,
    sender: Sender,
    tracker: Tracker,
    ingest: IngestWriter,
    vendor: db::vendors::VendorRow,
    currency: String,
    landing: String,
    base_url: String,
    tag: String,
    seed: u64,
    clock: i64,
}

impl Ctx<'_> {
    /// Moves the simulated clock to `at` (never backwards: rows keep their order).
    fn at(&mut self, at: i64) {
        self.clock = self.clock.max(at);
        db::simulate_clock(Some(self.clock));
    }

    /// One second later.
    fn tick(&mut self) {
        self.at(self.clock + 1_000);
    }
}

const FIRST: [&str; 24] = [
    "Ava", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Isla", "Jonas", "Kiara",
    "Liam", "Maya", "Noah", "Olivia", "Pavel", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera",
    "Wen", "Yara",
];
const LAST: [&str; 20] = [
    "Adams", "Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt", "Tanaka",
    "Weber",
];
const SITES: [&str; 6] = [
    "newsletter",
    "youtube",
    "blog",
    "podcast",
    "review-site",
    "community",
];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
];
const PRICES: [i64; 4] = [2_900, 4_900, 9_900, 19_900];

fn person(rng: &mut Rng, n: u64, tag: &str) -> (String, String) {
    let first = *rng.pick(&FIRST);
    let last = *rng.pick(&LAST);
    let email = format!(
        "{}.{}{n}{tag}@demo.example",
        first.to_ascii_lowercase(),
        last.to_ascii_lowercase()
    );
    (format!("{first} {last}"), email)
}

/// Stops the demo only when storage fails: a step the rules refuse (say, rejecting a
/// conversion a refund has already reversed) is skipped, as a real request would be.
fn tolerate<T>(r: Result<T, AppError>) -> anyhow::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(AppError::Internal(e)) => Err(e),
        Err(e) => {
            tracing::debug!(error = %e, "demo: a step the rules refused was skipped");
            Ok(None)
        }
    }
}

/// Generates the demo program for `vendor` (id or slug); see the module docs.
pub async fn run(
    db: &Db,
    settings: &Settings,
    vendor: &str,
    spec: &Spec,
) -> anyhow::Result<Report> {
    let vendor = match vendors::find(db, vendor).await {
        Ok(v) => v,
        Err(AppError::NotFound) => anyhow::bail!(
            "no vendor with the id or slug {vendor:?}; create one on the setup page or with \
             `affilia admin create-vendor`, whose output names its slug"
        ),
        Err(e) => return Err(e.into()),
    };
    let existing =
        db::affiliates::count(db.pool(), &vendor.id, &db::affiliates::Filter::default()).await?;
    if existing > 0 && !spec.force {
        anyhow::bail!(
            "vendor {} already has {existing} affiliate(s); run the demo on a new vendor, or \
             pass --force to add a demo program's worth of people and activity to it",
            vendor.slug
        );
    }
    let program = db::programs::default_for(db.pool(), &vendor.id)
        .await?
        .context("the vendor has no program")?;
    let tracker = Tracker::start(
        db.clone(),
        settings.secret_key.expose(),
        WriterConfig {
            capacity: settings.click_queue,
            wait: settings.click_queue_wait,
            spill_root: spill::root(&settings.data_dir, &settings.database_url),
        },
    );
    let mut ctx = Ctx {
        db,
        sender: Sender::from_settings(settings),
        ingest: IngestWriter::start(db.clone(), settings.ingest_lanes),
        tracker,
        currency: program.currency.clone(),
        landing: program
            .landing_url
            .clone()
            .unwrap_or_else(|| "https://www.demo.example/".into()),
        base_url: settings.base_url.as_str().trim_end_matches('/').to_owned(),
        vendor,
        tag: if existing > 0 {
            format!("+r{existing}")
        } else {
            String::new()
        },
        seed: spec.seed,
        clock: spec.now_ms - DAYS * DAY_MS,
    };
    let result = generate(&mut ctx, spec).await;
    // Whatever happened, the process is back on the real clock and every click is stored.
    db::simulate_clock(None);
    ctx.tracker.clicks.shutdown().await;
    result?;
    let census = db::demo::census(db.pool(), &ctx.vendor.id).await?;
    Ok(Report {
        slug: ctx.vendor.slug.clone(),
        census,
        currency: ctx.currency.clone(),
    })
}

async fn generate(ctx: &mut Ctx<'_>, spec: &Spec) -> anyhow::Result<()> {
    let sizes = spec.scale.sizes();
    let mut rng = Rng::new(spec.seed, 0xDE30);
    let actor = Actor::Cli;
    let start = spec.now_ms - DAYS * DAY_MS;
    let mut partners: Vec<Partner> = Vec::new();
    let mut people = 0u64;
    let mut progress = Progress::start("demo", "days", DAYS as u64);

    // The founders: affiliates the vendor added by hand before the 90 days began.
    ctx.at(start - DAY_MS);
    for _ in 0..sizes.founders {
        people += 1;
        let (name, email) = person(&mut rng, people, &ctx.tag);
        let input = affiliates::AffiliateInput {
            email: Some(email.clone()),
            name: Some(name),
            website: Some(Some(format!("https://{}.demo.example/", rng.pick(&SITES)))),
            payout_method: Some(Some("paypal".into())),
            payout_email: Some(Some(email.clone())),
            send_invite: Some(false),
            ..affiliates::AffiliateInput::default()
        };
        let a = affiliates::create(ctx.db, &ctx.sender, &ctx.vendor, &input, &actor).await?;
        ctx.tick();
        let active = affiliates::AffiliateInput {
            status: Some("active".into()),
            ..affiliates::AffiliateInput::default()
        };
        affiliates::update(ctx.db, &ctx.sender, &ctx.vendor, &a.row.id, &active, &actor).await?;
        let p = activate(ctx, &mut rng, a.row.id).await?;
        partners.push(p);
        ctx.tick();
    }

    // Applications arrive over the 90 days, more as the program grows.
    let mut arrivals: Vec<i64> = (0..sizes.applicants)
        .map(|_| ((rng.unit().sqrt()) * DAYS as f64) as i64)
        .collect();
    arrivals.sort_unstable();
    let mut arrivals = arrivals.into_iter().peekable();
    let mut queue: Vec<(i64, String)> = Vec::new();
    let mut sales: Vec<Sale> = Vec::new();
    let mut refunds: Vec<Refund> = Vec::new();
    let mut reviews: Vec<Review> = Vec::new();
    let mut deals_left = sizes.deals;
    let mut customers = 0u64;
    let mut events = 0u64;
    // Daily click volume: growth from 0.6 to 1.4 of the mean, less at weekends.
    let mean = sizes.clicks as f64 / DAYS as f64;

    for day in 0..DAYS {
        let base = start + day * DAY_MS;
        ctx.at(base);

        // Morning: yesterday's applications are reviewed; today's arrive during the day.
        let due: Vec<(i64, String)> = queue.iter().filter(|(d, _)| *d <= day).cloned().collect();
        queue.retain(|(d, _)| *d > day);
        for (_, id) in due {
            ctx.tick();
            let approve = rng.chance(0.88);
            let input = applications::ReviewInput {
                action: if approve { "approve" } else { "reject" }.into(),
                code: None,
                rejection_reason: (!approve)
                    .then(|| "Your site does not match our audience yet.".to_owned()),
            };
            let Some(app) = tolerate(
                applications::review(ctx.db, &ctx.sender, &ctx.vendor, &id, &input, &actor).await,
            )?
            else {
                continue;
            };
            if let Some(aff) = app.affiliate_id.filter(|_| approve) {
                let p = join(ctx, &mut rng, aff, app.email).await?;
                partners.push(p);
            }
        }
        while arrivals.peek().is_some_and(|d| *d <= day) {
            arrivals.next();
            people += 1;
            ctx.at(base + 6 * 3_600_000 + (people % 600) as i64 * 60_000);
            let (name, email) = person(&mut rng, people, &ctx.tag);
            let input = applications::ApplicationInput {
                email: Some(email),
                name: Some(name),
                company: None,
                website: Some(format!("https://{}.demo.example/", rng.pick(&SITES))),
                reason: Some("I write about tools like yours for a few thousand readers.".into()),
                program_id: None,
                group_id: None,
                answers: None,
            };
            let submitted = applications::submit(
                ctx.db,
                &ctx.sender,
                &ctx.vendor,
                &input,
                applications::Source::Portal,
            )
            .await?;
            let application = submitted.application;
            if application.status == "pending" {
                // Reviewed within a day or three; the last week's wait in the queue.
                if day < DAYS - 7 {
                    queue.push((day + rng.range(1, 4), application.id));
                }
            } else if let Some(aff) = application.affiliate_id {
                // The program approves on its own.
                let p = join(ctx, &mut rng, aff, application.email).await?;
                partners.push(p);
            }
        }

        // The day's clicks, spread over the day and over the active affiliates.
        let weekday = db::from_ms(base).weekday().num_days_from_monday();
        let shape = match weekday {
            5 => 0.7,
            6 => 0.6,
            _ => 1.12,
        };
        let growth = 0.6 + 0.8 * day as f64 / (DAYS - 1) as f64;
        let jitter = 0.9 + 0.2 * rng.unit();
        let n_clicks = (mean * growth * shape * jitter).round() as u64;
        let active: Vec<usize> = (0..partners.len())
            .filter(|i| partners[*i].active && partners[*i].target.is_some())
            .collect();
        let mut converting: Vec<String> = Vec::new();
        if !active.is_empty() {
            let alias = Alias::new(
                &active
                    .iter()
                    .map(|i| partners[*i].weight)
                    .collect::<Vec<_>>(),
            );
            let mut offsets: Vec<i64> = (0..n_clicks)
                .map(|_| rng.range(7 * 3_600_000, 23 * 3_600_000))
                .collect();
            offsets.sort_unstable();
            for offset in offsets {
                ctx.at(base + offset);
                let who = active[alias.draw(&mut rng)];
                let p = &partners[who];
                let Some(target) = p.target.clone() else {
                    continue;
                };
                let link = p.link.clone().filter(|_| rng.chance(0.4));
                let ip = format!("198.51.{}.{}", rng.below(256), rng.below(254) + 1);
                let visit = Visit {
                    ip: &ip,
                    user_agent: Some(*rng.pick(&AGENTS)),
                    referrer: Some("https://www.google.com/"),
                };
                let landing = ctx.landing.clone();
                let click = ctx
                    .tracker
                    .record_click(&target, link.as_deref(), &landing, &visit, "redirect", None)
                    .await
                    .map_err(|_| anyhow::anyhow!("the click writer refused a click"))?;
                if rng.chance(sizes.conversion_rate) {
                    converting.push(click);
                }
            }
        }
        ctx.tracker.clicks.flush().await;

        // Evening: sign-ups from today's clicks, payments due, refunds, reviews.
        ctx.at(base + 23 * 3_600_000);
        for click in converting {
            customers += 1;
            let customer = format!(
                "cus_demo{}_{customers}{}",
                ctx.seed,
                ctx.tag.replace('+', "_")
            );
            let input = referrals::ReferralInput {
                customer_id: customer.clone(),
                email: None,
                aff_sess: Some(click),
                code: None,
            };
            ctx.tick();
            if tolerate(referrals::bind(&ctx.tracker, ctx.db, &ctx.vendor.id, &input).await)?
                .is_none()
            {
                continue;
            }
            sales.push(Sale {
                day,
                customer,
                amount_cents: *rng.pick(&PRICES),
                renews: rng.chance(0.35),
            });
        }
        let due: Vec<usize> = (0..sales.len()).filter(|i| sales[*i].day == day).collect();
        for i in due {
            events += 1;
            let (customer, amount, renews) = (
                sales[i].customer.clone(),
                sales[i].amount_cents,
                sales[i].renews,
            );
            let event_id = format!("evt_demo{}_{events}{}", ctx.seed, ctx.tag.replace('+', "_"));
            ctx.tick();
            let ingested = api_event::receive(
                ctx.db,
                &ctx.tracker,
                &ctx.ingest,
                &ctx.vendor.id,
                &payment(&event_id, &customer, amount, &ctx.currency),
            )
            .await?;
            if renews && day + 30 < DAYS {
                sales[i].day = day + 30;
            }
            if let Some(conversion_id) = ingested.conversion_id {
                let roll = rng.unit();
                if roll < 0.07 {
                    let partial = rng.chance(0.5);
                    refunds.push(Refund {
                        day: day + rng.range(2, 11),
                        customer: customer.clone(),
                        charge: event_id.clone(),
                        amount_cents: if partial {
                            amount * rng.range(20, 61) / 100
                        } else {
                            amount
                        },
                    });
                } else if roll < 0.10 {
                    reviews.push(Review {
                        day: day + rng.range(1, 4),
                        conversion_id,
                        approve: false,
                    });
                } else if roll < 0.16 && day >= DAYS - 25 {
                    reviews.push(Review {
                        day: day + rng.range(1, 3),
                        conversion_id,
                        approve: true,
                    });
                }
            }
        }
        sales.retain(|s| s.day > day);
        for r in refunds.iter().filter(|r| r.day == day) {
            events += 1;
            let event = ApiEvent {
                id: format!("evt_demo{}_{events}{}", ctx.seed, ctx.tag.replace('+', "_")),
                r#type: "refund.processed".into(),
                customer_id: r.customer.clone(),
                amount_cents: r.amount_cents,
                currency: Some(ctx.currency.clone()),
                subscription_id: None,
                charge_id: Some(r.charge.clone()),
                invoice_id: None,
                payment_intent_id: None,
                occurred_at: None,
                metadata: None,
                email: None,
                program_id: None,
                coupon_code: None,
                ip: None,
            };
            ctx.tick();
            tolerate(
                api_event::receive(ctx.db, &ctx.tracker, &ctx.ingest, &ctx.vendor.id, &event).await,
            )?;
        }
        refunds.retain(|r| r.day > day);
        for r in reviews.iter().filter(|r| r.day == day) {
            ctx.tick();
            if r.approve {
                tolerate(
                    conversions::approve(ctx.db, &ctx.vendor.id, &r.conversion_id, &actor).await,
                )?;
            } else {
                tolerate(
                    conversions::reject(
                        ctx.db,
                        &ctx.vendor.id,
                        &r.conversion_id,
                        Some("The customer was a duplicate account."),
                        &actor,
                    )
                    .await,
                )?;
            }
        }
        reviews.retain(|r| r.day > day);

        // A deal now and then, from an affiliate with a lead.
        if deals_left > 0 && day >= DAYS / 2 && day % 9 == 0 && !active.is_empty() {
            deals_left -= 1;
            let who = &partners[*rng.pick(&active)];
            people += 1;
            let (lead_name, lead_email) = person(&mut rng, people, &ctx.tag);
            let input = deals::DealInput {
                program_id: None,
                lead_email,
                lead_name,
                company: Some("Northwind Traders".into()),
                notes: Some("Met at a meetup; a team of 40 looking to switch.".into()),
            };
            ctx.tick();
            if let Some(deal) =
                tolerate(deals::submit(ctx.db, &ctx.vendor.id, &who.id, &input).await)?
                && deals_left % 2 == 1
            {
                let review = deals::ReviewInput {
                    decision: "accept".into(),
                    reason: None,
                };
                ctx.tick();
                tolerate(
                    deals::review(ctx.db, &ctx.sender, &ctx.vendor, &deal.id, &review, &actor)
                        .await,
                )?;
            }
        }

        // Some affiliates leave or break the rules late in the quarter.
        if day == DAYS - 20 {
            for (i, status) in [(3usize, "deactivated"), (5, "banned"), (7, "paused")] {
                let picks: Vec<usize> = active.iter().copied().filter(|j| j % 19 == i).collect();
                for j in picks.into_iter().take(1 + partners.len() / 60) {
                    ctx.tick();
                    let input = affiliates::AffiliateInput {
                        status: Some(status.into()),
                        ..affiliates::AffiliateInput::default()
                    };
                    if tolerate(
                        affiliates::update(
                            ctx.db,
                            &ctx.sender,
                            &ctx.vendor,
                            &partners[j].id,
                            &input,
                            &actor,
                        )
                        .await,
                    )?
                    .is_some()
                    {
                        partners[j].active = false;
                    }
                }
            }
        }

        // Holding periods end; at each month's end the vendor pays, today's run stays due.
        ctx.at(base + 23 * 3_600_000 + 50 * 60_000);
        conversions::mature_due(ctx.db, ctx.clock).await?;
        if day == 29 || day == 59 || day == DAYS - 1 {
            ctx.tick();
            let request = payouts::RunRequest {
                program_id: None,
                currency: None,
                dry_run: false,
            };
            let runs = payouts::run(
                ctx.db,
                &ctx.vendor.id,
                &request,
                payouts::Trigger::Dashboard,
                &actor,
            )
            .await?;
            if day != DAYS - 1 {
                for run in runs.into_iter().filter_map(|r| r.run) {
                    ctx.tick();
                    let reference = format!("PAYPAL-BATCH-{}", 1000 + day);
                    payouts::run_paid(
                        ctx.db,
                        &ctx.sender,
                        &ctx.vendor.id,
                        &run.id,
                        Some(&reference),
                        &actor,
                    )
                    .await?;
                }
            }
        }
        progress.set(day as u64 + 1);
    }

    // A few people invited by hand who have not signed in yet.
    ctx.at(spec.now_ms - 2 * 3_600_000);
    for _ in 0..(2 + sizes.founders / 6) {
        people += 1;
        let (name, email) = person(&mut rng, people, &ctx.tag);
        let input = affiliates::AffiliateInput {
            email: Some(email),
            name: Some(name),
            ..affiliates::AffiliateInput::default()
        };
        ctx.tick();
        affiliates::create(ctx.db, &ctx.sender, &ctx.vendor, &input, &actor).await?;
    }
    progress.finish();
    Ok(())
}

fn payment(id: &str, customer: &str, amount_cents: i64, currency: &str) -> ApiEvent {
    ApiEvent {
        id: id.to_owned(),
        r#type: "charge.succeeded".into(),
        customer_id: customer.to_owned(),
        amount_cents,
        currency: Some(currency.to_owned()),
        subscription_id: None,
        charge_id: None,
        invoice_id: None,
        payment_intent_id: None,
        occurred_at: None,
        metadata: Some(json!({"source": "affilia demo"})),
        email: None,
        program_id: None,
        coupon_code: None,
        ip: None,
    }
}

/// An approved applicant settles in: sets where to be paid (as they would in the portal).
async fn join(
    ctx: &mut Ctx<'_>,
    rng: &mut Rng,
    id: String,
    email: String,
) -> anyhow::Result<Partner> {
    ctx.tick();
    let input = payout_settings::PayoutInput {
        payout_method: Some(Some("paypal".into())),
        payout_email: Some(Some(email.clone())),
        ..payout_settings::PayoutInput::default()
    };
    payout_settings::update(
        ctx.db,
        &ctx.sender,
        &ctx.vendor,
        &id,
        &input,
        &Actor::Affiliate(id.clone()),
    )
    .await?;
    activate(ctx, rng, id).await
}

/// An active affiliate: its referral target, and for some a campaign link.
async fn activate(ctx: &mut Ctx<'_>, rng: &mut Rng, id: String) -> anyhow::Result<Partner> {
    let a = affiliates::get(ctx.db, &ctx.vendor.id, &id).await?;
    let code = a
        .enrollments
        .first()
        .map(|e| e.code.clone())
        .context("an affiliate without an enrollment")?;
    let target = ctx.tracker.cache.code(ctx.db, &code).await?;
    let link = if rng.chance(0.3) {
        let site = *rng.pick(&SITES);
        let input = links::LinkInput {
            program_id: None,
            name: format!("{} campaign", capitalized(site)),
            slug: Some(site.to_owned()),
            destination_url: None,
            sub_id: None,
        };
        ctx.tick();
        tolerate(links::create(ctx.db, &ctx.base_url, &ctx.vendor.id, &id, &input).await)?
            .map(|l| l.id)
    } else {
        None
    };
    // A long tail: a few affiliates bring most of the traffic.
    let weight = 1.0 / (1.0 + rng.unit() * 30.0).powf(1.3);
    Ok(Partner {
        id,
        target,
        link,
        weight,
        active: true,
    })
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c)
            .collect::<String>()
            .replace('-', " "),
        None => String::new(),
    }
}

/// The census as lines of text, one kind per line, e.g.
/// `conversions: 120 (approved 80, pending 30, reversed 4, rejected 6)`.
pub fn describe(census: &[CensusLine], currency: &str) -> Vec<String> {
    let mut kinds: BTreeMap<&str, Vec<&CensusLine>> = BTreeMap::new();
    for line in census {
        kinds.entry(line.kind.as_str()).or_default().push(line);
    }
    kinds
        .into_iter()
        .map(|(kind, lines)| {
            let total: i64 = lines.iter().map(|l| l.count).sum();
            let cents: i64 = lines.iter().map(|l| l.cents).sum();
            let money = if cents != 0 {
                format!(
                    ", {} in all",
                    crate::domain::values::money::format_amount(cents, currency)
                )
            } else {
                String::new()
            };
            let parts: Vec<String> = lines
                .iter()
                .filter(|l| l.status != "all")
                .map(|l| format!("{} {}", l.status, l.count))
                .collect();
            if parts.is_empty() {
                format!("{kind}: {total}{money}")
            } else {
                format!("{kind}: {total} ({}){money}", parts.join(", "))
            }
        })
        .collect()
}
