//! The large-dataset loader behind `affilia admin load-dataset`: fills one vendor's default
//! program with a year of generated activity straight through the storage layer (not the
//! HTTP API), fast enough for 100k affiliates / 10M clicks / 1M conversions in minutes.
//!
//! What it writes, deterministically for a seed and a `now`:
//! - affiliates in mixed states (active, invited, paused, banned, deactivated), each enrolled
//!   in the program with a referral code, most with PayPal payout details; campaign links,
//!   applications and deals beside them;
//! - clicks spread over the 12 months before `now` (growing over the year), a few flagged as
//!   bots or repeats, drawn from a heavy-tailed popularity (a few affiliates bring most of
//!   the traffic and sales, as in real programs);
//! - referred customers with one or more monthly payments each, every payment a conversion
//!   with its commission under the program's terms;
//! - the life of each commission in time order — the holding period, rejections, full and
//!   partial refunds (clawbacks after payout included) — and monthly payout runs (paid, a
//!   few failed, a few still processing), each step with exactly the ledger lines the
//!   domain's postings make (`domain::earnings::ledger`), so `affilia ledger verify` passes;
//! - the last payout run is four months old, so at `now` tens of thousands of affiliates
//!   (at full scale) have a payable balance for the next run.
//!
//! A generator thread makes the rows and a writer on one database connection inserts them
//! with multi-row INSERTs in large transactions, so generation and writing overlap.

pub mod synth;

use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::db::bulk::{self, Table, Val};
use crate::db::{self, Db, DbKind};
use crate::domain::earnings::commission_rules::{self, Facts};
use crate::domain::earnings::ledger::{AVAILABLE, EXPENSE, FEES, IN_PAYOUT, PAID, PENDING};
use crate::domain::partners::terms::Commission;

use synth::{Alias, DAY_MS, Rng};

/// How much to load.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Affiliates to create.
    pub affiliates: u64,
    /// Clicks over the year.
    pub clicks: u64,
    /// Conversions over the year.
    pub conversions: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// The end of the generated year, unix ms (the same seed and `now` give the same rows).
    pub now_ms: i64,
}

/// What a load wrote, and where to point a benchmark.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The vendor filled.
    pub vendor_id: String,
    /// Its default program.
    pub program_id: String,
    /// Rows written per table.
    pub rows: Vec<(String, u64)>,
    /// Active affiliates with payout details and an available balance at or above the
    /// program's minimum: what the next payout run pays.
    pub payable_affiliates: u64,
    /// The affiliate with the most clicks and conversions (worst case for per-affiliate
    /// pages).
    pub busiest_affiliate_id: String,
    /// Its email.
    pub busiest_affiliate_email: String,
    /// An active affiliate of median activity.
    pub typical_affiliate_id: String,
    /// Its email.
    pub typical_affiliate_email: String,
    /// Seconds spent loading rows.
    pub load_seconds: f64,
    /// Seconds spent rebuilding the click rollups and refreshing planner statistics afterwards.
    pub analyze_seconds: f64,
}

/// The program facts the generator needs.
#[derive(Debug, Clone)]
struct Program {
    vendor_id: String,
    id: String,
    currency: String,
    landing_url: String,
    holding_ms: i64,
    min_payout_cents: i64,
    fee_bps: i64,
    terms_version: i64,
    terms: Commission,
}

/// Rows for one table, or a marker for the writer.
#[derive(Debug)]
enum Msg {
    Rows(&'static Table, Vec<Val>),
    /// Payouts per run, known once every affiliate has been simulated.
    RunCounts(Vec<(String, i64)>),
}

/// Fills the vendor (id or slug) with `spec`'s dataset, then rebuilds its click rollups and
/// refreshes the planner's statistics. The vendor must have no affiliates yet.
pub async fn load(db: &Db, vendor: &str, spec: &Spec) -> anyhow::Result<Report> {
    let vendor = crate::domain::tenancy::vendors::find(db, vendor)
        .await
        .map_err(|_| {
            anyhow::anyhow!("no vendor {vendor:?} (create it with `affilia admin create-vendor`)")
        })?;
    if bulk::vendor_has_affiliates(db.pool(), &vendor.id).await? {
        anyhow::bail!(
            "vendor {} already has affiliates; load the dataset into a new vendor",
            vendor.slug
        );
    }
    let p = db::programs::default_for(db.pool(), &vendor.id)
        .await?
        .context("the vendor has no program")?;
    let terms = Commission::from_stored(&p.commission).unwrap_or_else(Commission::default_terms);
    let program = Program {
        vendor_id: vendor.id.clone(),
        id: p.id.clone(),
        currency: p.currency.clone(),
        landing_url: p
            .landing_url
            .clone()
            .unwrap_or_else(|| "https://www.example.com/".into()),
        holding_ms: p.holding_period_days.max(0) * DAY_MS,
        min_payout_cents: p.min_payout_cents,
        fee_bps: p.platform_fee_bps,
        terms_version: p.current_terms_version,
        terms,
    };
    let prefix: String = vendor.slug.chars().take(20).collect();
    let code_prefix = format!("{}-", prefix.trim_end_matches('-'));
    if crate::db::affiliates::code_taken(db.pool(), &format!("{code_prefix}0")).await? {
        anyhow::bail!("referral code {code_prefix}0 is taken; load into a new vendor");
    }

    let started = Instant::now();
    let (tx, rx) = mpsc::channel::<Msg>(8);
    let spec_gen = spec.clone();
    let program_gen = program.clone();
    let generator =
        std::thread::spawn(move || Generator::new(spec_gen, program_gen, code_prefix).run(&tx));
    let mut conn = db.pool().acquire().await?;
    bulk::tune_for_load(&mut conn, db.kind()).await?;
    // Progress counts the rows of the three tables the spec sizes; the others follow them.
    let mut progress = crate::progress::Progress::start(
        "load-dataset",
        "affiliates, clicks and conversions",
        spec.affiliates + spec.clicks + spec.conversions,
    );
    let written = write_all(&mut conn, db.kind(), rx, &mut progress).await;
    progress.finish();
    let summary = generator
        .join()
        .map_err(|_| anyhow::anyhow!("the dataset generator panicked"))?;
    let rows = written?;
    let load_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    // The loader writes clicks straight into the table, past `insert_batch`, which keeps the
    // click rollups in step: rebuild them so analytics and `ledger verify` agree. The same
    // for the journal's kept line count (the ledger list's `total`), the money rollups
    // (conversions and commissions are written in bulk too) and the referral rollup.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    crate::db::rollups::rebuild(&mut tx, &vendor.id).await?;
    crate::db::ledger::recount(&mut tx, &vendor.id).await?;
    crate::db::money_rollups::rebuild(&mut tx, &vendor.id).await?;
    crate::db::referral_rollups::rebuild(&mut tx, &vendor.id).await?;
    tx.commit().await?;
    bulk::analyze(&mut conn, db.kind()).await?;
    bulk::untune(&mut conn, db.kind()).await?;
    let analyze_seconds = started.elapsed().as_secs_f64();
    Ok(Report {
        vendor_id: vendor.id,
        program_id: program.id,
        rows,
        payable_affiliates: summary.payable,
        busiest_affiliate_id: summary.busiest.0,
        busiest_affiliate_email: summary.busiest.1,
        typical_affiliate_id: summary.typical.0,
        typical_affiliate_email: summary.typical.1,
        load_seconds,
        analyze_seconds,
    })
}

/// Rows per transaction: large (few commits) but bounded (SQLite's WAL and PostgreSQL's
/// undo stay small).
const ROWS_PER_TXN: u64 = 200_000;

/// Writes every message on one connection; returns the rows written per table.
async fn write_all(
    conn: &mut db::Conn,
    kind: DbKind,
    mut rx: mpsc::Receiver<Msg>,
    progress: &mut crate::progress::Progress,
) -> anyhow::Result<Vec<(String, u64)>> {
    let begin = match kind {
        DbKind::Sqlite => "BEGIN IMMEDIATE",
        DbKind::Postgres => "BEGIN",
    };
    let mut counts: Vec<(String, u64)> = Vec::new();
    let mut tx = sqlx::Connection::begin_with(&mut *conn, begin).await?;
    let mut in_txn = 0;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Rows(table, values) => {
                let n = bulk::insert(&mut tx, kind, table, &values)
                    .await
                    .with_context(|| format!("inserting into {}", table.name))?;
                match counts.iter_mut().find(|(t, _)| t == table.name) {
                    Some((_, c)) => *c += n,
                    None => counts.push((table.name.to_owned(), n)),
                }
                in_txn += n;
                if matches!(table.name, "affiliates" | "clicks" | "conversions") {
                    progress.advance(n);
                }
            }
            Msg::RunCounts(runs) => {
                for (run_id, n) in runs {
                    db::payouts::set_run_count(&mut *tx, &run_id, n).await?;
                }
            }
        }
        if in_txn >= ROWS_PER_TXN {
            tx.commit().await?;
            tx = sqlx::Connection::begin_with(&mut *conn, begin).await?;
            in_txn = 0;
        }
    }
    tx.commit().await?;
    Ok(counts)
}

/// One generated affiliate.
#[derive(Debug, Clone)]
struct Aff {
    id: String,
    enrollment_id: String,
    code: String,
    email: String,
    status: &'static str,
    has_method: bool,
    created_at: i64,
}

/// What the generator reports back.
#[derive(Debug, Default)]
struct Summary {
    payable: u64,
    busiest: (String, String),
    typical: (String, String),
}

/// Buffers rows per table and sends them in statement-sized batches.
struct Out<'a> {
    tx: &'a mpsc::Sender<Msg>,
    buffers: Vec<(&'static Table, Vec<Val>)>,
    failed: bool,
}

impl<'a> Out<'a> {
    fn new(tx: &'a mpsc::Sender<Msg>) -> Self {
        Self {
            tx,
            buffers: Vec::new(),
            failed: false,
        }
    }

    /// Adds one row (its values in the table's column order).
    fn row(&mut self, table: &'static Table, values: impl IntoIterator<Item = Val>) {
        let i = match self
            .buffers
            .iter()
            .position(|(t, _)| std::ptr::eq(*t, table))
        {
            Some(i) => i,
            None => {
                self.buffers.push((table, Vec::new()));
                self.buffers.len() - 1
            }
        };
        let buf = &mut self.buffers[i].1;
        let before = buf.len();
        buf.extend(values);
        debug_assert_eq!(buf.len() - before, table.columns.len(), "{}", table.name);
        let _ = before;
        if buf.len() >= bulk::rows_per_statement(table) * table.columns.len() * 4 {
            // Everything, in order: a child row must not reach the database before the
            // parent row still waiting in another buffer.
            self.flush();
        }
    }

    fn flush_table(&mut self, i: usize) {
        let (table, buf) = &mut self.buffers[i];
        if buf.is_empty() {
            return;
        }
        let values = std::mem::take(buf);
        if self.tx.blocking_send(Msg::Rows(table, values)).is_err() {
            self.failed = true;
        }
    }

    /// Sends everything buffered, parents before children (in the order tables were first
    /// used), so foreign keys hold at every statement.
    fn flush(&mut self) {
        for i in 0..self.buffers.len() {
            self.flush_table(i);
        }
    }

    fn send(&mut self, msg: Msg) {
        if self.tx.blocking_send(msg).is_err() {
            self.failed = true;
        }
    }
}

/// Affiliate statuses and their shares (per mille).
const STATUSES: &[(&str, u32)] = &[
    ("active", 820),
    ("invited", 60),
    ("paused", 40),
    ("banned", 20),
    ("deactivated", 60),
];

/// Days between the historic monthly payout runs, and how many there are.
const RUN_EVERY_DAYS: i64 = 30;
const RUNS: i64 = 7;
/// Days from the last historic payout run to `now`.
const LAST_RUN_DAYS_AGO: i64 = 120;

struct Generator {
    spec: Spec,
    p: Program,
    code_prefix: String,
    affs: Vec<Aff>,
    weights: Vec<f64>,
    /// Historic payout runs: (id, time).
    runs: Vec<(String, i64)>,
}

impl Generator {
    fn new(spec: Spec, p: Program, code_prefix: String) -> Self {
        Self {
            spec,
            p,
            code_prefix,
            affs: Vec::new(),
            weights: Vec::new(),
            runs: Vec::new(),
        }
    }

    fn run(mut self, tx: &mpsc::Sender<Msg>) -> Summary {
        let mut out = Out::new(tx);
        self.affiliates(&mut out);
        self.extras(&mut out);
        self.payout_runs(&mut out);
        out.flush();
        self.clicks(&mut out);
        out.flush();
        let summary = self.money(&mut out);
        out.flush();
        summary
    }

    /// Affiliates, enrollments and their popularity weights.
    fn affiliates(&mut self, out: &mut Out<'_>) {
        let mut rng = Rng::new(self.spec.seed, 1);
        let n = self.spec.affiliates;
        let now = self.spec.now_ms;
        let shares: Vec<u32> = STATUSES.iter().map(|(_, w)| *w).collect();
        // Popularity ranks: a random permutation, weight rank^-0.7 (a Zipf-like tail).
        let mut ranks: Vec<u64> = (0..n).collect();
        for i in (1..ranks.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            ranks.swap(i, j);
        }
        for i in 0..n {
            let status = if i == 0 {
                "active"
            } else {
                STATUSES[rng.weighted(&shares)].0
            };
            // Most joined before the year began; the rest during it, at least a month
            // before `now` (the most popular ones early, so their traffic fits).
            let created_at = if rng.chance(0.6) || ranks[i as usize] < 100 {
                now - rng.range(366 * DAY_MS, 400 * DAY_MS)
            } else {
                now - rng.range(31 * DAY_MS, 365 * DAY_MS)
            };
            let first = *rng.pick(synth::FIRST);
            let last = *rng.pick(synth::LAST);
            let email = format!("{first}.{last}.{i}@{}", rng.pick(synth::DOMAINS));
            let id = synth::id("aff", created_at, &mut rng);
            let has_method = rng.chance(0.9);
            let weight = if status == "invited" {
                0.0
            } else {
                (ranks[i as usize] as f64 + 1.0).powf(-0.7)
            };
            let company = rng
                .chance(0.3)
                .then(|| format!("{} Media", capitalize(last)));
            let website = rng
                .chance(0.4)
                .then(|| format!("https://{first}-{last}-{i}.example.com"));
            let activated = (status != "invited").then_some(created_at + rng.range(0, DAY_MS));
            let updated_at = if status == "active" || status == "invited" {
                activated.unwrap_or(created_at)
            } else {
                now - rng.range(DAY_MS, 200 * DAY_MS)
            };
            out.row(
                &bulk::AFFILIATES,
                [
                    Val::Text(id.clone()),
                    Val::Text(self.p.vendor_id.clone()),
                    Val::Text(email.clone()),
                    Val::Text(format!("{} {}", capitalize(first), capitalize(last))),
                    Val::Text(capitalize(first)),
                    Val::Text(capitalize(last)),
                    company.into(),
                    website.into(),
                    Val::Str(status),
                    Val::from(has_method.then_some("paypal".to_owned())),
                    Val::from(has_method.then(|| email.clone())),
                    Val::Str("{}"),
                    Val::from(activated),
                    Val::Int(created_at),
                    Val::Int(updated_at.max(created_at)),
                ],
            );
            let code = format!("{}{i}", self.code_prefix);
            let enrollment_id = synth::id("enr", created_at, &mut rng);
            out.row(
                &bulk::ENROLLMENTS,
                [
                    Val::Text(enrollment_id.clone()),
                    Val::Text(self.p.vendor_id.clone()),
                    Val::Text(id.clone()),
                    Val::Text(self.p.id.clone()),
                    Val::Text(code.clone()),
                    Val::Str(status),
                    Val::Int(self.p.terms_version),
                    Val::Int(created_at),
                    Val::Int(updated_at.max(created_at)),
                    // Everybody starts in the program's default group.
                    Val::Text(crate::db::groups::default_group_id(&self.p.id)),
                ],
            );
            self.weights.push(weight);
            self.affs.push(Aff {
                id,
                enrollment_id,
                code,
                email,
                status,
                has_method,
                created_at,
            });
        }
    }

    /// Campaign links, applications and deals: small tables, present at a realistic size.
    fn extras(&mut self, out: &mut Out<'_>) {
        let mut rng = Rng::new(self.spec.seed, 2);
        let now = self.spec.now_ms;
        for a in &self.affs {
            if a.status == "invited" || !rng.chance(0.15) {
                continue;
            }
            for k in 0..=rng.below(3) {
                let at = rng.range(a.created_at, now);
                let campaign = *rng.pick(&["spring", "newsletter", "youtube", "blog", "webinar"]);
                out.row(
                    &bulk::LINKS,
                    [
                        Val::Text(synth::id("lnk", at, &mut rng)),
                        Val::Text(self.p.vendor_id.clone()),
                        Val::Text(a.enrollment_id.clone()),
                        Val::Text(a.id.clone()),
                        Val::Text(self.p.id.clone()),
                        Val::Text(format!("{campaign}-{k}")),
                        Val::Text(format!("{} campaign", capitalize(campaign))),
                        Val::NullText,
                        Val::from(rng.chance(0.5).then(|| format!("{campaign}{k}"))),
                        Val::Int(at),
                        Val::Int(at),
                    ],
                );
            }
        }
        // Applications: the approved ones became the affiliates above; these are the
        // queue (pending) and the refused.
        let applications = (self.spec.affiliates / 20).max(1);
        for i in 0..applications {
            let at = now - rng.range(0, 365 * DAY_MS);
            let first = *rng.pick(synth::FIRST);
            let last = *rng.pick(synth::LAST);
            let rejected = rng.chance(0.6);
            out.row(
                &bulk::APPLICATIONS,
                [
                    Val::Text(synth::id("apl", at, &mut rng)),
                    Val::Text(self.p.vendor_id.clone()),
                    Val::Text(self.p.id.clone()),
                    Val::Text(format!("{first}.{last}.a{i}@{}", rng.pick(synth::DOMAINS))),
                    Val::Text(format!("{} {}", capitalize(first), capitalize(last))),
                    Val::NullText,
                    Val::from(
                        rng.chance(0.5)
                            .then(|| format!("https://{last}{i}.example.net")),
                    ),
                    Val::Str("I write about SaaS tools for small teams."),
                    Val::Str(if rejected { "rejected" } else { "pending" }),
                    Val::from(rejected.then(|| "Not a fit for the program".to_owned())),
                    Val::Str("form"),
                    Val::from(rejected.then_some(at + DAY_MS)),
                    Val::Int(at),
                    Val::Int(if rejected { at + DAY_MS } else { at }),
                ],
            );
        }
        let deals = (self.spec.affiliates / 10).max(1);
        let active: Vec<&Aff> = self.affs.iter().filter(|a| a.status == "active").collect();
        if active.is_empty() {
            return;
        }
        for i in 0..deals {
            let a = *rng.pick(&active);
            let at = rng.range(a.created_at, now);
            let status = *rng.pick(&["pending", "accepted", "accepted", "rejected"]);
            let last = *rng.pick(synth::LAST);
            out.row(
                &bulk::DEALS,
                [
                    Val::Text(synth::id("del", at, &mut rng)),
                    Val::Text(self.p.vendor_id.clone()),
                    Val::Text(self.p.id.clone()),
                    Val::Text(a.enrollment_id.clone()),
                    Val::Text(a.id.clone()),
                    Val::Text(format!("buyer{i}@{last}-corp.example")),
                    Val::Text(format!("Buyer {i}")),
                    Val::from(Some(format!("{} Corp", capitalize(last)))),
                    Val::NullText,
                    Val::Str(status),
                    Val::from((status == "rejected").then(|| "Already a customer".to_owned())),
                    Val::from((status != "pending").then_some(at + DAY_MS)),
                    Val::Int(at),
                    Val::Int(if status == "pending" { at } else { at + DAY_MS }),
                ],
            );
        }
    }

    /// The historic payout runs (their payout counts are set at the end).
    fn payout_runs(&mut self, out: &mut Out<'_>) {
        let mut rng = Rng::new(self.spec.seed, 3);
        for k in (0..RUNS).rev() {
            let at = self.spec.now_ms - (LAST_RUN_DAYS_AGO + k * RUN_EVERY_DAYS) * DAY_MS;
            let id = synth::id("prun", at, &mut rng);
            out.row(
                &bulk::PAYOUT_RUNS,
                [
                    Val::Text(id.clone()),
                    Val::Text(self.p.vendor_id.clone()),
                    Val::Text(self.p.id.clone()),
                    Val::Str("dashboard"),
                    Val::Int(0),
                    Val::Str("load-dataset"),
                    Val::Int(at),
                ],
            );
            self.runs.push((id, at));
        }
    }

    /// Clicks over the year, in time order, growing from 60 % to 140 % of the mean daily
    /// rate.
    fn clicks(&mut self, out: &mut Out<'_>) {
        if self.spec.clicks == 0 || self.weights.iter().all(|w| *w <= 0.0) {
            return;
        }
        let mut rng = Rng::new(self.spec.seed, 4);
        let table = Alias::new(&self.weights);
        let now = self.spec.now_ms;
        let start = now - 365 * DAY_MS;
        let day_weight = |d: i64| 0.6 + 0.8 * d as f64 / 364.0;
        let total_weight: f64 = (0..365).map(day_weight).sum();
        let mut assigned = 0u64;
        let mut times: Vec<i64> = Vec::new();
        for d in 0..365 {
            let count = if d == 364 {
                self.spec.clicks - assigned
            } else {
                ((self.spec.clicks as f64 * day_weight(d) / total_weight).round() as u64)
                    .min(self.spec.clicks - assigned)
            };
            assigned += count;
            let day_start = start + d * DAY_MS;
            times.clear();
            times.extend((0..count).map(|_| day_start + rng.range(0, DAY_MS)));
            times.sort_unstable();
            for &t in &times {
                let a = self.affiliate_at(&table, t, &mut rng);
                let bot = rng.chance(0.03);
                let agent = if bot {
                    *rng.pick(synth::BOT_AGENTS)
                } else {
                    *rng.pick(synth::USER_AGENTS)
                };
                let source = match rng.below(20) {
                    0 => "api",
                    1 | 2 => "snippet",
                    _ => "redirect",
                };
                out.row(
                    &bulk::CLICKS,
                    [
                        Val::Text(synth::id("clk", t, &mut rng)),
                        Val::Text(self.p.vendor_id.clone()),
                        Val::Text(self.p.id.clone()),
                        Val::Text(a.enrollment_id.clone()),
                        Val::Text(a.id.clone()),
                        Val::NullText,
                        Val::Text(a.code.clone()),
                        Val::Text(format!("{}?ref={}", self.p.landing_url, a.code)),
                        Val::from(rng.pick(synth::REFERRERS).map(str::to_owned)),
                        Val::Str(agent),
                        Val::Text(synth::hex64(&mut rng)),
                        Val::Int(i64::from(bot)),
                        Val::Int(i64::from(!bot && rng.chance(0.05))),
                        Val::Str(source),
                        Val::Int(t),
                    ],
                );
                if out.failed {
                    return;
                }
            }
        }
    }

    /// An affiliate drawn by popularity that existed at `t`.
    fn affiliate_at(&self, table: &Alias, t: i64, rng: &mut Rng) -> &Aff {
        for _ in 0..32 {
            let a = &self.affs[table.draw(rng)];
            if a.created_at <= t {
                return a;
            }
        }
        // The most popular affiliates joined before the year began.
        let top = self
            .weights
            .iter()
            .enumerate()
            .fold(
                (0, f64::MIN),
                |best, (i, w)| if *w > best.1 { (i, *w) } else { best },
            );
        &self.affs[top.0]
    }

    /// Customers, conversions, commissions, refunds, payouts and the ledger, one affiliate
    /// at a time.
    fn money(&mut self, out: &mut Out<'_>) -> Summary {
        let mut summary = Summary::default();
        let mut rng = Rng::new(self.spec.seed, 5);
        let per_affiliate = if self.spec.conversions == 0 || self.weights.iter().all(|w| *w <= 0.0)
        {
            vec![0u64; self.affs.len()]
        } else {
            let table = Alias::new(&self.weights);
            let mut counts = vec![0u64; self.affs.len()];
            for _ in 0..self.spec.conversions {
                counts[table.draw(&mut rng)] += 1;
            }
            counts
        };
        let mut run_counts = vec![0i64; self.runs.len()];
        let mut customer_seq = 0u64;
        let busiest = per_affiliate
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| **c)
            .map_or(0, |(i, _)| i);
        let mut active_counts: Vec<(u64, usize)> = per_affiliate
            .iter()
            .enumerate()
            .filter(|(i, c)| self.affs[*i].status == "active" && **c > 0)
            .map(|(i, c)| (*c, i))
            .collect();
        active_counts.sort_unstable();
        let typical = active_counts
            .get(active_counts.len() / 2)
            .map_or(busiest, |(_, i)| *i);
        let pick = |i: usize| (self.affs[i].id.clone(), self.affs[i].email.clone());
        summary.busiest = pick(busiest);
        summary.typical = pick(typical);
        for (i, count) in per_affiliate.iter().enumerate() {
            let mut sim = Sim::new(&self.p, &self.affs[i], self.spec.now_ms);
            sim.customers(*count, &mut customer_seq, &mut rng, out);
            sim.events(&self.runs, &mut run_counts);
            if sim.payable() {
                summary.payable += 1;
            }
            sim.emit(&self.runs, out);
            if out.failed {
                return summary;
            }
        }
        out.flush();
        out.send(Msg::RunCounts(
            self.runs
                .iter()
                .map(|(id, _)| id.clone())
                .zip(run_counts)
                .collect(),
        ));
        summary
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// One payment of a referred customer and what became of it.
#[derive(Debug, Clone)]
struct Conv {
    id: String,
    referral_id: String,
    customer_id: String,
    subscription_id: Option<String>,
    cycle: i64,
    gross: i64,
    occurred_at: i64,
    available_at: i64,
    status: &'static str,
    reason: Option<&'static str>,
    refunded: i64,
    decided_at: Option<i64>,
    updated_at: i64,
    /// The commission (None when the terms give nothing for this payment).
    com: Option<Com>,
    /// What happens to it: `None`, rejected at, refunded (at, total).
    fate: Fate,
}

#[derive(Debug, Clone)]
struct Com {
    id: String,
    amount: i64,
    bps: Option<i64>,
    rule: String,
    reversed: i64,
    status: &'static str,
    payout: Option<usize>,
    updated_at: i64,
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    Kept,
    Rejected(i64),
    Refunded(i64, i64),
}

#[derive(Debug, Clone)]
struct Payout {
    id: String,
    run: usize,
    amount: i64,
    worth: i64,
    fee: i64,
    status: &'static str,
    created_at: i64,
    settled_at: Option<i64>,
}

/// Things that happen to an affiliate's money, in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Earn(usize),
    Reject(usize),
    Refund(usize),
    Mature(usize),
    Run(usize),
    Settle(usize),
}

/// One affiliate's year, simulated with the domain's rules.
struct Sim<'a> {
    p: &'a Program,
    a: &'a Aff,
    now: i64,
    convs: Vec<Conv>,
    payouts: Vec<Payout>,
    ledger: Vec<Val>,
    refunds: Vec<Val>,
    available: i64,
    rng: Rng,
}

impl<'a> Sim<'a> {
    fn new(p: &'a Program, a: &'a Aff, now: i64) -> Self {
        Self {
            p,
            a,
            now,
            convs: Vec::new(),
            payouts: Vec::new(),
            ledger: Vec::new(),
            refunds: Vec::new(),
            available: 0,
            rng: Rng::new(0, 0),
        }
    }

    /// Referred customers paying `count` times in all; referrals are written at once.
    fn customers(&mut self, mut count: u64, seq: &mut u64, rng: &mut Rng, out: &mut Out<'_>) {
        self.rng = Rng::new(rng.next_u64(), 9);
        let rng = &mut self.rng;
        let earliest = self.a.created_at.max(self.now - 365 * DAY_MS) + DAY_MS;
        let latest = self.now - DAY_MS / 24;
        let plan_weights: Vec<u32> = synth::PLANS.iter().map(|(_, w)| *w).collect();
        while count > 0 {
            let wanted = *rng.pick(&[1u64, 1, 1, 1, 2, 2, 3, 4, 6, 9, 12]);
            let mut cycles = wanted.min(count);
            // The payments must fit between the first touch and `now`.
            let span = latest - earliest;
            while cycles > 1 && (cycles as i64 - 1) * 30 * DAY_MS >= span {
                cycles -= 1;
            }
            count -= cycles;
            *seq += 1;
            let customer_id = format!("cus_ld{:010}", *seq);
            let first = rng.range(earliest, latest - (cycles as i64 - 1) * 30 * DAY_MS);
            let touched = (first - rng.range(0, 3 * DAY_MS)).max(self.a.created_at);
            let referral_id = synth::id("ref", touched, rng);
            out.row(
                &bulk::REFERRALS,
                [
                    Val::Text(referral_id.clone()),
                    Val::Text(self.p.vendor_id.clone()),
                    Val::Text(self.p.id.clone()),
                    Val::Text(self.a.enrollment_id.clone()),
                    Val::Text(self.a.id.clone()),
                    Val::Text(customer_id.clone()),
                    Val::Text(format!("{customer_id}@customers.example")),
                    Val::NullText,
                    Val::Text(self.a.code.clone()),
                    Val::Str("code"),
                    Val::Int(touched),
                    Val::Int(touched),
                    Val::Int(touched),
                ],
            );
            let gross = synth::PLANS[rng.weighted(&plan_weights)].0;
            let subscription_id = (cycles > 1).then(|| format!("sub_ld{:010}", *seq));
            for c in 0..cycles as i64 {
                let occurred_at = (first + c * 30 * DAY_MS + rng.range(0, DAY_MS / 12)).min(latest);
                self.convs.push(Conv {
                    id: synth::id("cnv", occurred_at, rng),
                    referral_id: referral_id.clone(),
                    customer_id: customer_id.clone(),
                    subscription_id: subscription_id.clone(),
                    cycle: c + 1,
                    gross,
                    occurred_at,
                    available_at: occurred_at + self.p.holding_ms,
                    status: "pending",
                    reason: None,
                    refunded: 0,
                    decided_at: None,
                    updated_at: occurred_at,
                    com: None,
                    fate: Fate::Kept,
                });
            }
        }
        self.convs.sort_by_key(|c| c.occurred_at);
        // Commissions under the program's terms (tiered terms count the earlier payments
        // as approved ones: close enough for a benchmark dataset).
        for (prior, c) in self.convs.iter_mut().enumerate() {
            let facts = Facts {
                gross_cents: c.gross,
                cycle: c.cycle,
                prior_approved: prior as i64,
            };
            match commission_rules::direct(&self.p.terms.rate, &facts) {
                Ok(e) => {
                    c.com = Some(Com {
                        id: synth::id("com", c.occurred_at, &mut self.rng),
                        amount: e.amount_cents,
                        bps: e.bps,
                        rule: e.rule,
                        reversed: 0,
                        status: "pending",
                        payout: None,
                        updated_at: c.occurred_at,
                    });
                }
                Err(reason) => {
                    c.status = "rejected";
                    c.reason = Some(if reason.starts_with("recurring_limit") {
                        "recurring_limit"
                    } else {
                        "no_commission"
                    });
                    c.decided_at = Some(c.occurred_at);
                }
            }
            // 2 % rejected by the vendor while held, 3 % refunded in full and 4 % in part
            // within two months.
            let u = self.rng.unit();
            let t = c.occurred_at;
            let hold_end = c.available_at.min(self.now);
            c.fate = if c.com.is_some() && u < 0.02 && hold_end - t > 2 * DAY_MS / 24 {
                Fate::Rejected(self.rng.range(t + DAY_MS / 24, hold_end))
            } else if u < 0.09 {
                let at = t + self.rng.range(DAY_MS, 60 * DAY_MS);
                if at >= self.now {
                    Fate::Kept
                } else if u < 0.05 {
                    Fate::Refunded(at, c.gross)
                } else {
                    let pct = self.rng.range(10, 61);
                    Fate::Refunded(at, commission_rules::ratio(c.gross, pct, 100).max(1))
                }
            } else {
                Fate::Kept
            };
        }
    }

    /// Replays the year in time order: holding periods, decisions, refunds and payouts.
    fn events(&mut self, runs: &[(String, i64)], run_counts: &mut [i64]) {
        let mut evs: Vec<(i64, Ev)> = Vec::with_capacity(self.convs.len() * 2 + runs.len());
        for (i, c) in self.convs.iter().enumerate() {
            evs.push((c.occurred_at, Ev::Earn(i)));
            match c.fate {
                Fate::Rejected(at) => evs.push((at, Ev::Reject(i))),
                Fate::Refunded(at, _) => evs.push((at, Ev::Refund(i))),
                Fate::Kept => {}
            }
            if c.available_at <= self.now {
                evs.push((c.available_at, Ev::Mature(i)));
            }
        }
        // Only active affiliates with payout details are ever paid (the others are
        // skipped by every run: inactive, or no payout method).
        if self.a.status == "active" && self.a.has_method {
            for (r, (_, at)) in runs.iter().enumerate() {
                if *at > self.a.created_at {
                    evs.push((*at, Ev::Run(r)));
                }
            }
        }
        evs.sort_unstable();
        let mut i = 0;
        while i < evs.len() {
            let (at, ev) = evs[i];
            i += 1;
            match ev {
                Ev::Earn(c) => self.earn(c),
                Ev::Reject(c) => self.reject(c, at),
                Ev::Refund(c) => self.refund(c, at),
                Ev::Mature(c) => self.mature(c),
                Ev::Run(r) => {
                    if let Some(p) = self.run(r, at, r + 1 == runs.len()) {
                        run_counts[r] += 1;
                        if let Some(settled) = self.payouts[p].settled_at {
                            // Keep the queue sorted: insert the settlement in place.
                            let pos = evs[i..]
                                .iter()
                                .position(|e| *e > (settled, Ev::Settle(p)))
                                .map_or(evs.len(), |k| i + k);
                            evs.insert(pos, (settled, Ev::Settle(p)));
                        }
                    }
                }
                Ev::Settle(p) => self.settle(p, at),
            }
        }
    }

    /// One balanced transaction (lines with a zero amount are left out, as `post` does).
    #[allow(clippy::too_many_arguments)]
    fn post(
        &mut self,
        at: i64,
        kind: &'static str,
        memo: &'static str,
        conv: Option<usize>,
        payout: Option<usize>,
        lines: &[(&'static str, i64)],
    ) {
        debug_assert_eq!(lines.iter().map(|l| l.1).sum::<i64>(), 0);
        let txn = synth::id("ltx", at, &mut self.rng);
        for &(account, amount) in lines {
            if amount == 0 {
                continue;
            }
            let (conversion_id, commission_id) = match conv.map(|c| &self.convs[c]) {
                Some(c) => (
                    Val::Text(c.id.clone()),
                    c.com
                        .as_ref()
                        .map_or(Val::NullText, |m| Val::Text(m.id.clone())),
                ),
                None => (Val::NullText, Val::NullText),
            };
            let payout_id = payout.map_or(Val::NullText, |p| Val::Text(self.payouts[p].id.clone()));
            let affiliate = if account == EXPENSE {
                Val::NullText
            } else {
                Val::Text(self.a.id.clone())
            };
            let id = synth::id("led", at, &mut self.rng);
            self.ledger.extend([
                Val::Text(id),
                Val::Text(self.p.vendor_id.clone()),
                Val::Text(txn.clone()),
                Val::Str(kind),
                Val::Str(account),
                affiliate,
                Val::Text(self.p.currency.clone()),
                Val::Int(amount),
                Val::Text(self.p.id.clone()),
                conversion_id,
                commission_id,
                payout_id,
                Val::Str(memo),
                Val::Int(at),
            ]);
        }
    }

    fn earn(&mut self, c: usize) {
        let at = self.convs[c].occurred_at;
        if let Some(x) = self.convs[c].com.as_ref().map(|m| m.amount) {
            self.post(
                at,
                "commission",
                "commission earned",
                Some(c),
                None,
                &[(EXPENSE, -x), (PENDING, x)],
            );
        }
    }

    fn reject(&mut self, c: usize, at: i64) {
        let conv = &mut self.convs[c];
        if conv.status != "pending" {
            return;
        }
        conv.status = "rejected";
        conv.reason = Some("duplicate order");
        conv.decided_at = Some(at);
        conv.updated_at = at;
        let Some(m) = conv.com.as_mut() else {
            return;
        };
        if m.status != "pending" {
            return;
        }
        m.status = "rejected";
        m.updated_at = at;
        let net = m.amount - m.reversed;
        self.post(
            at,
            "rejection",
            "conversion rejected",
            Some(c),
            None,
            &[(PENDING, -net), (EXPENSE, net)],
        );
    }

    fn refund(&mut self, c: usize, at: i64) {
        let Fate::Refunded(_, refunded) = self.convs[c].fate else {
            return;
        };
        let conv = &mut self.convs[c];
        if conv.status == "rejected" {
            return;
        }
        let gross = conv.gross;
        let fully = refunded >= gross;
        conv.refunded = refunded;
        conv.updated_at = at;
        if fully && (conv.status == "pending" || conv.status == "approved") {
            conv.status = "reversed";
            conv.reason = Some("refunded");
            conv.decided_at = Some(at);
        }
        let conv_id = conv.id.clone();
        let mut line = None;
        if let Some(m) = conv.com.as_mut()
            && m.status != "rejected"
        {
            let target = commission_rules::reversed_total(m.amount, refunded, gross);
            let delta = target - m.reversed;
            if delta > 0 {
                let from = if m.status == "pending" {
                    PENDING
                } else {
                    AVAILABLE
                };
                m.reversed = target;
                if fully && (m.status == "pending" || m.status == "available") {
                    m.status = "reversed";
                }
                m.updated_at = at;
                line = Some((from, delta));
            }
        }
        let rfd = synth::id("rfd", at, &mut self.rng);
        let key = synth::id("re", at, &mut self.rng);
        self.refunds.extend([
            Val::Text(rfd),
            Val::Text(self.p.vendor_id.clone()),
            Val::Text(conv_id),
            Val::Text(key),
            Val::Int(0),
            Val::Int(refunded),
            Val::Int(at),
            Val::Int(at),
        ]);
        if let Some((from, delta)) = line {
            if from == AVAILABLE {
                self.available -= delta;
            }
            self.post(
                at,
                "reversal",
                "refund",
                Some(c),
                None,
                &[(from, -delta), (EXPENSE, delta)],
            );
        }
    }

    fn mature(&mut self, c: usize) {
        let conv = &mut self.convs[c];
        if conv.status != "pending" {
            return;
        }
        let at = conv.available_at;
        conv.status = "approved";
        conv.decided_at = Some(at);
        conv.updated_at = at;
        let Some(m) = conv.com.as_mut() else {
            return;
        };
        if m.status != "pending" {
            return;
        }
        m.status = "available";
        m.updated_at = at;
        let net = m.amount - m.reversed;
        self.available += net;
        self.post(
            at,
            "maturation",
            "holding period ended",
            Some(c),
            None,
            &[(PENDING, -net), (AVAILABLE, net)],
        );
    }

    /// A payout run at `at`; the last run leaves a few payouts failed or still processing.
    fn run(&mut self, r: usize, at: i64, last: bool) -> Option<usize> {
        if self.available < self.p.min_payout_cents {
            return None;
        }
        let p = self.payouts.len();
        let amount = self.available;
        let mut worth = 0;
        for conv in &mut self.convs {
            if let Some(m) = conv.com.as_mut()
                && m.status == "available"
                && m.payout.is_none()
            {
                m.payout = Some(p);
                m.updated_at = at;
                worth += m.amount - m.reversed;
            }
        }
        let fee = commission_rules::apply_bps(amount, self.p.fee_bps);
        let u = self.rng.unit();
        let (status, settled_at) = if last && u < 0.01 {
            ("processing", None)
        } else if last && u < 0.04 {
            ("failed", Some(at + 2 * DAY_MS))
        } else {
            ("paid", Some(at + 2 * DAY_MS))
        };
        self.payouts.push(Payout {
            id: synth::id("pay", at, &mut self.rng),
            run: r,
            amount,
            worth,
            fee,
            status,
            created_at: at,
            settled_at,
        });
        self.available = 0;
        self.post(
            at,
            "payout",
            "payout created",
            None,
            Some(p),
            &[(AVAILABLE, -amount), (IN_PAYOUT, amount)],
        );
        Some(p)
    }

    fn settle(&mut self, p: usize, at: i64) {
        let (amount, fee, status) = {
            let po = &self.payouts[p];
            (po.amount, po.fee, po.status)
        };
        if status == "paid" {
            for conv in &mut self.convs {
                if let Some(m) = conv.com.as_mut()
                    && m.payout == Some(p)
                    && m.status == "available"
                {
                    m.status = "paid";
                    m.updated_at = at;
                }
            }
            self.post(
                at,
                "payout_paid",
                "payout paid",
                None,
                Some(p),
                &[(IN_PAYOUT, -amount), (PAID, amount - fee), (FEES, fee)],
            );
        } else {
            for conv in &mut self.convs {
                if let Some(m) = conv.com.as_mut()
                    && m.payout == Some(p)
                    && m.status == "available"
                {
                    m.payout = None;
                    m.updated_at = at;
                }
            }
            self.available += amount;
            self.post(
                at,
                "payout_failed",
                "payout failed",
                None,
                Some(p),
                &[(IN_PAYOUT, -amount), (AVAILABLE, amount)],
            );
        }
    }

    /// Whether the next payout run pays this affiliate.
    fn payable(&self) -> bool {
        self.a.status == "active" && self.a.has_method && self.available >= self.p.min_payout_cents
    }

    /// Writes the affiliate's rows, parents first.
    fn emit(self, runs: &[(String, i64)], out: &mut Out<'_>) {
        let p = self.p;
        let a = self.a;
        for c in &self.convs {
            out.row(
                &bulk::CONVERSIONS,
                [
                    Val::Text(c.id.clone()),
                    Val::Text(p.vendor_id.clone()),
                    Val::Text(p.id.clone()),
                    Val::Text(a.enrollment_id.clone()),
                    Val::Text(a.id.clone()),
                    Val::Text(c.referral_id.clone()),
                    Val::Text(c.customer_id.clone()),
                    Val::Str("stripe"),
                    Val::Str("invoice.paid"),
                    Val::Text(format!("in_{}", &c.id[4..])),
                    Val::Text(format!("pi_{}", &c.id[4..])),
                    Val::Text(format!("ch_{}", &c.id[4..])),
                    Val::from(c.subscription_id.clone()),
                    Val::Int(c.gross),
                    Val::Int(c.refunded),
                    Val::Text(p.currency.clone()),
                    Val::Str(c.status),
                    Val::from(c.reason.map(str::to_owned)),
                    Val::Int(c.occurred_at),
                    Val::Int(c.available_at),
                    Val::from(c.decided_at),
                    Val::Int(c.occurred_at),
                    Val::Int(c.updated_at),
                ],
            );
        }
        let refunds_per_row = bulk::CONVERSION_REFUNDS.columns.len();
        for row in self.refunds.chunks(refunds_per_row) {
            out.row(&bulk::CONVERSION_REFUNDS, row.iter().cloned());
        }
        for c in &self.convs {
            let Some(m) = &c.com else { continue };
            out.row(
                &bulk::COMMISSIONS,
                [
                    Val::Text(m.id.clone()),
                    Val::Text(p.vendor_id.clone()),
                    Val::Text(p.id.clone()),
                    Val::Text(c.id.clone()),
                    Val::Text(a.id.clone()),
                    Val::Int(0),
                    Val::Text(p.currency.clone()),
                    Val::Int(m.amount),
                    Val::Int(m.reversed),
                    Val::from(m.bps),
                    Val::Text(m.rule.clone()),
                    Val::Str(m.status),
                    Val::Int(c.available_at),
                    Val::Int(c.occurred_at),
                    Val::Int(m.updated_at),
                ],
            );
        }
        for po in &self.payouts {
            let paid = po.status == "paid";
            let failed = po.status == "failed";
            let processing_at = po.created_at + DAY_MS;
            out.row(
                &bulk::PAYOUTS,
                [
                    Val::Text(po.id.clone()),
                    Val::Text(p.vendor_id.clone()),
                    Val::Text(p.id.clone()),
                    Val::Text(runs[po.run].0.clone()),
                    Val::Text(a.id.clone()),
                    Val::Text(p.currency.clone()),
                    Val::Int(po.amount),
                    Val::Int(po.worth),
                    Val::Int(p.fee_bps),
                    Val::Int(po.fee),
                    Val::Int(po.amount - po.fee),
                    Val::Str("paypal"),
                    Val::Text(a.email.clone()),
                    Val::Str(po.status),
                    Val::from(paid.then(|| format!("PP-{}", &po.id[4..16]))),
                    Val::from(failed.then(|| "PayPal account closed".to_owned())),
                    Val::Int(po.created_at),
                    Val::Int(processing_at),
                    Val::from(paid.then_some(po.settled_at).flatten()),
                    Val::from(failed.then_some(po.settled_at).flatten()),
                    Val::Int(po.settled_at.unwrap_or(processing_at)),
                ],
            );
        }
        // After the payouts they name (the buffers are flushed in the order they were
        // first used).
        for c in &self.convs {
            let Some((m, payout)) = c.com.as_ref().and_then(|m| Some((m, m.payout?))) else {
                continue;
            };
            out.row(
                &bulk::PAYOUT_CLAIMS,
                [
                    Val::Text(m.id.clone()),
                    Val::Text(p.vendor_id.clone()),
                    Val::Text(self.payouts[payout].id.clone()),
                ],
            );
        }
        for row in self.ledger.chunks(bulk::LEDGER_ENTRIES.columns.len()) {
            out.row(&bulk::LEDGER_ENTRIES, row.iter().cloned());
        }
    }
}
