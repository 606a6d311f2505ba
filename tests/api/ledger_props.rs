//! Property tests of the money spine: random sequences of sales (through the events API and
//! Stripe), repeated deliveries, full and partial refunds, approvals, rejections,
//! maturation and payouts, against the real database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`). After every sequence:
//! - every ledger transaction sums to zero and `ledger verify` finds nothing;
//! - each affiliate's pending + available + in payouts + paid + fees equals its commissions
//!   minus reversals and rejections, and paid equals the net of the payouts marked paid
//!   (payout runs with a platform fee; some payouts fail and their money returns);
//! - no payment produced two conversions and no conversion two commissions of a level;
//! - replaying the billing event log (with the same actions in between) into a fresh
//!   database reproduces the same ledger.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::json;

use affilia::db::{self, Db, programs::ProgramRow};
use affilia::domain::earnings::billing::{self, Door, api_event::ApiEvent, stripe};
use affilia::domain::tenancy::audit::Actor;
use affilia::domain::{earnings::conversions, earnings::ledger, payouts};

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{money_shop, refer};
use crate::helpers::vendors::patch_program;
use crate::helpers::{TestApp, spawn_app};

const AFFILIATES: usize = 2;
const CUSTOMERS: usize = 4; // the last one was never referred
const PAYMENTS: usize = 5;
const DAY_MS: i64 = 86_400_000;

/// One step of a random sequence.
#[derive(Debug, Clone)]
enum Op {
    /// A payment of `payment` by `customer`; `stripe` picks the door.
    Sale {
        payment: usize,
        customer: usize,
        amount: i64,
        stripe: bool,
    },
    /// A refund of `payment`: `amount` more (API) or `amount` in total (Stripe).
    Refund {
        payment: usize,
        amount: i64,
        stripe: bool,
    },
    /// Deliver the n-th earlier event again.
    Repeat(usize),
    /// Approve / reject the n-th conversion.
    Approve(usize),
    Reject(usize),
    /// Run the maturation sweep `days` after the sales.
    Mature(i64),
    /// Pay out an affiliate's available balance.
    Payout(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..PAYMENTS, 0..CUSTOMERS, 1..200_000i64, any::<bool>())
            .prop_map(|(payment, customer, amount, stripe)| Op::Sale { payment, customer, amount, stripe }),
        2 => (0..PAYMENTS, 1..120_000i64, any::<bool>())
            .prop_map(|(payment, amount, stripe)| Op::Refund { payment, amount, stripe }),
        1 => (0..20usize).prop_map(Op::Repeat),
        1 => (0..6usize).prop_map(Op::Approve),
        1 => (0..6usize).prop_map(Op::Reject),
        1 => (0..60i64).prop_map(Op::Mature),
        1 => (0..AFFILIATES).prop_map(Op::Payout),
    ]
}

/// A delivered event: its door and exact body, for repeats.
#[derive(Debug, Clone)]
struct Sent {
    stripe: bool,
    body: String,
}

/// One vendor under test: its program, affiliates (by index) and what happened.
struct World {
    db: Db,
    state: actix_web::web::Data<affilia::http::AppState>,
    program: ProgramRow,
    vendor_id: String,
    affiliates: Vec<String>,
    conversions: Vec<String>,
    paid_out: BTreeMap<String, i64>,
}

/// A step as recorded for the replay: an event by its stored id, or an action.
#[derive(Debug, Clone)]
enum Step {
    Event(String),
    Approve(usize),
    Reject(usize),
    Mature(i64),
    Payout(usize),
}

static CASE: AtomicUsize = AtomicUsize::new(0);

async fn world(app: &TestApp, case: usize) -> World {
    let s = money_shop(
        app,
        &format!("Prop{case}"),
        json!({"type": "percentage", "bps": 2000}),
    )
    .await;
    let mut affiliates = Vec::new();
    for i in 0..AFFILIATES {
        let code = format!("p{case}a{i}");
        affiliates.push(affiliate(app, &s, &format!("a{i}@p{case}.test"), &code).await);
    }
    for c in 0..CUSTOMERS - 1 {
        refer(
            app,
            &s,
            &format!("cus_{c}"),
            &format!("p{case}a{}", c % AFFILIATES),
        )
        .await;
    }
    // Payable from the first cent, with a 2.5 % platform fee; everyone paid by PayPal.
    patch_program(
        app,
        &s,
        json!({"min_payout_cents": 1, "platform_fee_bps": 250}),
    )
    .await;
    for (i, a) in affiliates.iter().enumerate() {
        let (status, body) = app
            .call(
                &s.key,
                reqwest::Method::PATCH,
                &format!("/api/v1/affiliates/{a}"),
                Some(
                    json!({"payout_method": "paypal", "payout_email": format!("a{i}@paypal.test")}),
                ),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let program = db::programs::by_id(app.db.pool(), &s.vendor_id, &s.program_id)
        .await
        .unwrap()
        .unwrap();
    World {
        db: app.db.clone(),
        state: app.state.clone(),
        program,
        vendor_id: s.vendor_id,
        affiliates,
        conversions: Vec::new(),
        paid_out: BTreeMap::new(),
    }
}

impl World {
    /// Delivers a body through its door; returns the stored event id.
    async fn deliver(&mut self, sent: &Sent) -> String {
        let done = if sent.stripe {
            let (env, event) = stripe::normalize(&sent.body).unwrap();
            let door = Door {
                source: "stripe",
                event_id: &env.id,
                event_type: &env.r#type,
                payload: &sent.body,
            };
            billing::ingest(
                &self.db,
                &self.state.tracker,
                &self.state.ingest,
                &self.program,
                &door,
                &event,
            )
            .await
            .unwrap()
        } else {
            let e: ApiEvent = serde_json::from_str(&sent.body).unwrap();
            billing::api_event::receive(
                &self.db,
                &self.state.tracker,
                &self.state.ingest,
                &self.vendor_id,
                &e,
            )
            .await
            .unwrap()
        };
        assert_ne!(done.status, "failed", "{:?}", done.result);
        if let Some(c) = &done.conversion_id
            && !self.conversions.contains(c)
        {
            self.conversions.push(c.clone());
        }
        done.id
    }

    async fn act(&mut self, step: &Step, base: i64) {
        match step {
            Step::Event(_) => unreachable!("events are delivered"),
            Step::Approve(i) | Step::Reject(i) => {
                let Some(id) = self.conversions.get(*i).cloned() else {
                    return;
                };
                let actor = affilia::domain::tenancy::audit::Actor::System;
                let r = if matches!(step, Step::Approve(_)) {
                    conversions::approve(&self.db, &self.vendor_id, &id, &actor)
                        .await
                        .map(|_| ())
                } else {
                    conversions::reject(&self.db, &self.vendor_id, &id, None, &actor)
                        .await
                        .map(|_| ())
                };
                // From a wrong state the answer is a 409 and nothing changes.
                if let Err(e) = r {
                    assert!(
                        matches!(e, affilia::error::AppError::Conflict { .. }),
                        "{e:?}"
                    );
                }
            }
            Step::Mature(days) => {
                conversions::mature_due(&self.db, base + days * DAY_MS)
                    .await
                    .unwrap();
            }
            Step::Payout(i) => {
                // A payout run; the payouts are then paid, except that an odd step fails
                // the first one (its money returns to available).
                let req = payouts::RunRequest {
                    program_id: Some(self.program.id.clone()),
                    ..payouts::RunRequest::default()
                };
                let runs = payouts::run(
                    &self.db,
                    &self.vendor_id,
                    &req,
                    payouts::Trigger::Api,
                    &Actor::System,
                )
                .await
                .unwrap();
                for (n, (row, _)) in runs.iter().flat_map(|r| r.payouts.iter()).enumerate() {
                    let p = row.as_ref().unwrap();
                    if i % 2 == 1 && n == 0 {
                        payouts::mark_failed(
                            &self.db,
                            &self.state.sender,
                            &self.vendor_id,
                            &p.id,
                            Some("account closed"),
                            &Actor::System,
                        )
                        .await
                        .unwrap();
                    } else {
                        let paid = payouts::mark_paid(
                            &self.db,
                            &self.state.sender,
                            &self.vendor_id,
                            &p.id,
                            Some("batch-1"),
                            &Actor::System,
                        )
                        .await
                        .unwrap();
                        *self.paid_out.entry(paid.affiliate_id).or_default() += paid.net_cents;
                    }
                }
            }
        }
    }

    /// The ledger with ids replaced by positions, as a sorted list of transactions.
    async fn normalized_ledger(&self) -> Vec<Vec<String>> {
        let entries = db::ledger::all_for_vendor(self.db.pool(), &self.vendor_id)
            .await
            .unwrap();
        let commissions = db::commissions::all_for_vendor(self.db.pool(), &self.vendor_id)
            .await
            .unwrap();
        let who = |a: &Option<String>| match a {
            Some(a) => format!(
                "aff{}",
                self.affiliates.iter().position(|x| x == a).unwrap()
            ),
            None => "vendor".into(),
        };
        let conv = |c: &Option<String>| match c {
            Some(c) => format!(
                "cnv{}",
                self.conversions.iter().position(|x| x == c).unwrap()
            ),
            None => "-".into(),
        };
        let com = |c: &Option<String>| match c {
            Some(id) => {
                let m = commissions.iter().find(|m| &m.id == id).unwrap();
                format!("L{}", m.level)
            }
            None => "-".into(),
        };
        let mut txns: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &entries {
            txns.entry(e.txn_id.clone()).or_default().push(format!(
                "{} {} {} {} {} {} {}",
                e.kind,
                e.account,
                who(&e.affiliate_id),
                e.currency,
                e.amount_cents,
                conv(&e.conversion_id),
                com(&e.commission_id)
            ));
        }
        let mut out: Vec<Vec<String>> = txns
            .into_values()
            .map(|mut lines| {
                lines.sort();
                lines
            })
            .collect();
        out.sort();
        out
    }

    /// The invariants of the module docs.
    async fn check(&self) {
        let violations = ledger::verify_vendor(&self.db, &self.vendor_id)
            .await
            .unwrap();
        assert!(violations.is_empty(), "{violations:?}");
        let commissions = db::commissions::all_for_vendor(self.db.pool(), &self.vendor_id)
            .await
            .unwrap();
        for a in &self.affiliates {
            let kept: i64 = commissions
                .iter()
                .filter(|c| &c.affiliate_id == a)
                .map(|c| c.net_cents())
                .sum();
            let b = ledger::balances(&self.db, &self.vendor_id, a)
                .await
                .unwrap();
            let usd = b
                .iter()
                .find(|b| b.currency == "USD")
                .cloned()
                .unwrap_or_default();
            assert_eq!(usd.earned_cents, kept, "{a}: {usd:?}");
            assert_eq!(usd.in_payout_cents, 0, "{a}: {usd:?}");
            assert_eq!(
                usd.paid_cents,
                self.paid_out.get(a).copied().unwrap_or(0),
                "{a}"
            );
        }
        // No payment converted twice; no commission twice.
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT charge_id FROM conversions WHERE vendor_id = $1")
                .bind(&self.vendor_id)
                .fetch_all(self.db.pool())
                .await
                .unwrap();
        let mut charges: Vec<_> = rows.into_iter().map(|(c,)| c).collect();
        let n = charges.len();
        charges.sort();
        charges.dedup();
        assert_eq!(charges.len(), n, "a payment converted twice");
        let mut levels: Vec<_> = commissions
            .iter()
            .map(|c| (c.conversion_id.clone(), c.level))
            .collect();
        let n = levels.len();
        levels.sort();
        levels.dedup();
        assert_eq!(levels.len(), n, "a commission created twice");
        // 20 % of each conversion, rounded half-up once.
        for c in &commissions {
            let conversion =
                db::conversions::by_id(self.db.pool(), &self.vendor_id, &c.conversion_id)
                    .await
                    .unwrap()
                    .unwrap();
            assert_eq!(
                c.amount_cents,
                (conversion.amount_cents * 2000 + 5000) / 10_000
            );
        }
    }
}

fn body(op: &Op, n: usize, base: i64) -> Option<Sent> {
    let at = chrono::DateTime::from_timestamp_millis(base).unwrap();
    match *op {
        Op::Sale {
            payment,
            customer,
            amount,
            stripe: false,
        } => Some(Sent {
            stripe: false,
            body: json!({"id": format!("api_{n}"), "type": "charge.succeeded",
                         "customer_id": format!("cus_{customer}"), "amount_cents": amount,
                         "currency": "USD", "charge_id": format!("ch_{payment}"),
                         "occurred_at": at.to_rfc3339()})
            .to_string(),
        }),
        Op::Sale {
            payment,
            customer,
            amount,
            stripe: true,
        } => Some(Sent {
            stripe: true,
            body: json!({"id": format!("evt_{n}"), "object": "event", "created": base / 1000,
                         "type": "charge.succeeded",
                         "data": {"object": {"id": format!("ch_{payment}"), "object": "charge",
                                  "amount": amount, "currency": "usd",
                                  "customer": format!("cus_{customer}"),
                                  "payment_intent": format!("pi_{payment}"), "metadata": {}}}})
            .to_string(),
        }),
        Op::Refund {
            payment,
            amount,
            stripe: false,
        } => Some(Sent {
            stripe: false,
            body:
                json!({"id": format!("api_{n}"), "type": "refund.processed", "customer_id": "cus_x",
                         "amount_cents": amount, "currency": "USD",
                         "charge_id": format!("ch_{payment}"), "occurred_at": at.to_rfc3339()})
                .to_string(),
        }),
        Op::Refund {
            payment,
            amount,
            stripe: true,
        } => Some(Sent {
            stripe: true,
            body: json!({"id": format!("evt_{n}"), "object": "event", "created": base / 1000,
                         "type": "charge.refunded",
                         "data": {"object": {"id": format!("ch_{payment}"), "object": "charge",
                                  "amount": amount, "amount_refunded": amount, "currency": "usd"}}})
            .to_string(),
        }),
        _ => None,
    }
}

async fn run_case(first: &TestApp, second: &TestApp, ops: &[Op]) {
    let case = CASE.fetch_add(1, Ordering::Relaxed);
    let base = db::now_ms() - 90 * DAY_MS;
    let mut w = world(first, case).await;
    let mut sent: Vec<Sent> = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let step = match op {
            Op::Repeat(_) if sent.is_empty() => continue,
            Op::Repeat(i) => {
                let s = sent[i % sent.len()].clone();
                Step::Event(w.deliver(&s).await)
            }
            Op::Sale { .. } | Op::Refund { .. } => {
                let s = body(op, n, base).unwrap_or_else(|| unreachable!());
                let id = w.deliver(&s).await;
                sent.push(s);
                Step::Event(id)
            }
            Op::Approve(i) => Step::Approve(*i),
            Op::Reject(i) => Step::Reject(*i),
            Op::Mature(d) => Step::Mature(*d),
            Op::Payout(i) => Step::Payout(*i),
        };
        if !matches!(step, Step::Event(_)) {
            w.act(&step, base).await;
        }
        steps.push(step);
    }
    w.check().await;

    // Replay the stored log (and the same actions) into a fresh database.
    let mut r = world(second, case).await;
    for step in &steps {
        match step {
            Step::Event(id) => {
                let row = db::billing_events::by_id(w.db.pool(), &w.vendor_id, id)
                    .await
                    .unwrap()
                    .unwrap();
                r.deliver(&Sent {
                    stripe: row.source == "stripe",
                    body: row.payload,
                })
                .await;
            }
            other => r.act(other, base).await,
        }
    }
    r.check().await;
    assert_eq!(
        w.normalized_ledger().await,
        r.normalized_ledger().await,
        "the replay differs"
    );
}

#[test]
fn random_money_sequences_keep_every_invariant() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (first, second) = rt.block_on(async { (spawn_app().await, spawn_app().await) });
    let config = ProptestConfig {
        cases: 24,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..30))| {
        rt.block_on(run_case(&first, &second, &ops));
    });
}
