//! One Stripe payment is one conversion on every API version Stripe has served since 2019,
//! whatever events arrive and in whatever order: a table of every combination and order of
//! `checkout.session.completed`, `invoice.paid` and `charge.succeeded`, each in its old and
//! new shapes, then partial and full refunds through `charge.refunded`, `refund.created` and
//! `refund.updated`. Object shapes follow tests/fixtures/stripe (old: 2019–2020 events;
//! basil: the clearstats events; clover/dahlia: Stripe's OpenAPI fixtures).

use serde_json::{Value, json};

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{SECRET, money_shop, post_stripe, refer, verify_ledger};
use crate::helpers::spawn_app;
use crate::helpers::vendors::{Shop, patch_program};

const AMOUNT: i64 = 4900;
/// 20 % of 4,900.
const COMMISSION: i64 = 980;

/// The ids of one payment in one scenario.
struct Payment {
    n: usize,
    customer: String,
    invoice: String,
    intent: String,
    charge: String,
    subscription: String,
}

impl Payment {
    fn new(n: usize) -> Self {
        Self {
            n,
            customer: format!("cus_v{n}"),
            invoice: format!("in_v{n}"),
            intent: format!("pi_v{n}"),
            charge: format!("ch_v{n}"),
            subscription: format!("sub_v{n}"),
        }
    }
}

/// Shapes of the three payment events.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Subscription-mode session before it named its invoice (2020): binds the customer.
    SessionOld,
    /// Basil session naming its invoice.
    SessionBasil,
    /// 2020 invoice naming its charge and payment intent.
    InvoiceOld,
    /// Basil invoice with its payments list expanded (payment intent).
    InvoiceBasilPayments,
    /// Basil invoice as webhooks send it: no payments list at all.
    InvoiceBasilBare,
    /// Clover invoice with its payments list naming the charge.
    InvoiceClover,
    /// 2020 charge naming its invoice.
    ChargeOld,
    /// Basil and later charge: no `invoice` field.
    ChargeBasil,
}

fn envelope(id: String, kind: &str, version: &str, object: Value) -> String {
    json!({"id": id, "object": "event", "api_version": version,
           "created": chrono::Utc::now().timestamp(), "type": kind,
           "data": {"object": object}})
    .to_string()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn basil_invoice(p: &Payment, payments: Option<Value>) -> Value {
    let mut o = json!({
        "id": p.invoice, "object": "invoice", "customer": p.customer,
        "amount_due": AMOUNT, "amount_paid": AMOUNT, "amount_remaining": 0, "currency": "usd",
        "billing_reason": "subscription_create", "status": "paid",
        "parent": {"type": "subscription_details", "quote_details": null,
                   "subscription_details": {"metadata": {}, "subscription": p.subscription}},
        "status_transitions": {"finalized_at": now(), "paid_at": now(),
                               "marked_uncollectible_at": null, "voided_at": null},
        "lines": {"object": "list", "data": [{"id": "il_1", "amount": AMOUNT, "metadata": {},
                  "parent": {"type": "subscription_item_details"}}]},
        "metadata": {}
    });
    if let Some(list) = payments {
        o["payments"] = json!({"object": "list", "data": [list], "has_more": false});
    }
    o
}

fn basil_charge(p: &Payment, refunded: i64) -> Value {
    json!({
        "id": p.charge, "object": "charge", "amount": AMOUNT, "amount_captured": AMOUNT,
        "amount_refunded": refunded, "refunded": refunded == AMOUNT, "captured": true,
        "currency": "usd", "customer": p.customer, "payment_intent": p.intent,
        "paid": true, "status": "succeeded", "created": now(),
        "billing_details": {"email": null}, "metadata": {}, "description": "Subscription creation"
    })
}

fn old_charge(p: &Payment, refunded: i64) -> Value {
    let mut c = basil_charge(p, refunded);
    c["invoice"] = json!(p.invoice);
    c
}

/// The event body of `shape` for payment `p`.
fn payment_event(shape: Shape, p: &Payment) -> String {
    let n = p.n;
    match shape {
        Shape::SessionOld => envelope(
            format!("evt_cs_old_{n}"),
            "checkout.session.completed",
            "2020-08-27",
            json!({"id": format!("cs_{n}"), "object": "checkout.session", "mode": "subscription",
                   "customer": p.customer, "subscription": p.subscription,
                   "payment_intent": null, "amount_total": AMOUNT, "currency": "usd",
                   "payment_status": "paid", "metadata": {}}),
        ),
        Shape::SessionBasil => envelope(
            format!("evt_cs_basil_{n}"),
            "checkout.session.completed",
            "2025-03-31.basil",
            json!({"id": format!("cs_{n}"), "object": "checkout.session", "mode": "subscription",
                   "customer": p.customer, "subscription": p.subscription,
                   "invoice": p.invoice, "payment_intent": null, "amount_total": AMOUNT,
                   "currency": "usd", "payment_status": "paid", "status": "complete",
                   "discounts": [], "metadata": {}}),
        ),
        Shape::InvoiceOld => envelope(
            format!("evt_in_old_{n}"),
            "invoice.paid",
            "2020-03-02",
            json!({"id": p.invoice, "object": "invoice", "customer": p.customer,
                   "charge": p.charge, "payment_intent": p.intent,
                   "subscription": p.subscription, "amount_paid": AMOUNT, "currency": "usd",
                   "paid": true, "status": "paid", "metadata": {}}),
        ),
        Shape::InvoiceBasilPayments => envelope(
            format!("evt_in_basil_{n}"),
            "invoice.paid",
            "2025-03-31.basil",
            basil_invoice(
                p,
                Some(
                    json!({"id": format!("inpay_{n}"), "object": "invoice_payment",
                            "invoice": p.invoice, "status": "paid", "amount_paid": AMOUNT,
                            "payment": {"type": "payment_intent",
                                        "payment_intent": p.intent}}),
                ),
            ),
        ),
        Shape::InvoiceBasilBare => envelope(
            format!("evt_in_bare_{n}"),
            "invoice.payment_succeeded",
            "2025-03-31.basil",
            basil_invoice(p, None),
        ),
        Shape::InvoiceClover => envelope(
            format!("evt_in_clover_{n}"),
            "invoice.paid",
            "2025-09-30.clover",
            basil_invoice(
                p,
                Some(
                    json!({"id": format!("inpay_{n}"), "object": "invoice_payment",
                            "invoice": p.invoice, "status": "paid", "amount_paid": AMOUNT,
                            "payment": {"type": "charge", "charge": p.charge}}),
                ),
            ),
        ),
        Shape::ChargeOld => envelope(
            format!("evt_ch_old_{n}"),
            "charge.succeeded",
            "2020-08-27",
            old_charge(p, 0),
        ),
        Shape::ChargeBasil => envelope(
            format!("evt_ch_basil_{n}"),
            "charge.succeeded",
            "2025-03-31.basil",
            basil_charge(p, 0),
        ),
    }
}

/// Every ordering of `items`.
fn permutations<T: Copy>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            out.push(tail);
        }
    }
    out
}

/// Every scenario: each non-empty subset of {session, invoice, charge}, each shape of each
/// member, each order.
fn scenarios() -> Vec<Vec<Shape>> {
    let sessions = [Shape::SessionOld, Shape::SessionBasil];
    let invoices = [
        Shape::InvoiceOld,
        Shape::InvoiceBasilPayments,
        Shape::InvoiceBasilBare,
        Shape::InvoiceClover,
    ];
    let charges = [Shape::ChargeOld, Shape::ChargeBasil];
    let mut out = Vec::new();
    for mask in 1..8u8 {
        let s_opts: Vec<Option<Shape>> = if mask & 1 != 0 {
            sessions.iter().copied().map(Some).collect()
        } else {
            vec![None]
        };
        let i_opts: Vec<Option<Shape>> = if mask & 2 != 0 {
            invoices.iter().copied().map(Some).collect()
        } else {
            vec![None]
        };
        let c_opts: Vec<Option<Shape>> = if mask & 4 != 0 {
            charges.iter().copied().map(Some).collect()
        } else {
            vec![None]
        };
        for s in &s_opts {
            for i in &i_opts {
                for c in &c_opts {
                    let set: Vec<Shape> = [*s, *i, *c].into_iter().flatten().collect();
                    out.extend(permutations(&set));
                }
            }
        }
    }
    out
}

/// Whether the scenario's events carry the money: an old subscription-mode session alone
/// only binds the customer (its payment is the invoice's).
fn converts(shapes: &[Shape]) -> bool {
    shapes.iter().any(|s| !matches!(s, Shape::SessionOld))
}

async fn conversions_of(app: &crate::helpers::TestApp, s: &Shop, customer: &str) -> Vec<Value> {
    let (status, body) = app
        .call(
            &s.key,
            reqwest::Method::GET,
            &format!("/api/v1/conversions?customer_id={customer}&per_page=100"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

async fn conversion(app: &crate::helpers::TestApp, s: &Shop, id: &str) -> Value {
    let (status, body) = app
        .call(
            &s.key,
            reqwest::Method::GET,
            &format!("/api/v1/conversions/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn pending_balance(app: &crate::helpers::TestApp, s: &Shop, affiliate_id: &str) -> i64 {
    let (status, body) = app
        .call(
            &s.key,
            reqwest::Method::GET,
            &format!("/api/v1/ledger?affiliate_id={affiliate_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "USD")
        .map_or(0, |b| b["pending_cents"].as_i64().unwrap())
}

async fn deliver(app: &crate::helpers::TestApp, s: &Shop, body: &str, what: &str) -> Value {
    let (status, answer) = post_stripe(app, &s.program_id, body, SECRET).await;
    assert_eq!(status, 200, "{what}: {answer}");
    assert_ne!(answer["status"], "failed", "{what}: {answer}");
    answer
}

/// The refunds of one payment, in the order delivered: a partial refund of 1,000 seen as
/// `charge.refunded` and again as `refund.created` and `refund.updated`, then the remaining
/// 3,900 as `refund.created` and the full `charge.refunded`. `basil` picks the charge shape.
fn refunds(p: &Payment, basil: bool) -> Vec<(String, i64)> {
    let n = p.n;
    let version = if basil {
        "2025-03-31.basil"
    } else {
        "2020-08-27"
    };
    let charge = |refunded| {
        if basil {
            basil_charge(p, refunded)
        } else {
            old_charge(p, refunded)
        }
    };
    let refund = |id: &str, amount: i64| {
        json!({"id": id, "object": "refund", "amount": amount, "charge": p.charge,
               "payment_intent": p.intent, "currency": "usd", "status": "succeeded",
               "created": now(), "metadata": {}})
    };
    vec![
        (
            envelope(
                format!("evt_chr1_{n}"),
                "charge.refunded",
                version,
                charge(1000),
            ),
            1000,
        ),
        (
            envelope(
                format!("evt_rc1_{n}"),
                "refund.created",
                "2025-03-31.basil",
                refund(&format!("re_{n}_1"), 1000),
            ),
            1000,
        ),
        (
            envelope(
                format!("evt_ru1_{n}"),
                "refund.updated",
                "2025-09-30.clover",
                refund(&format!("re_{n}_1"), 1000),
            ),
            1000,
        ),
        (
            envelope(
                format!("evt_rc2_{n}"),
                "refund.created",
                "2025-03-31.basil",
                refund(&format!("re_{n}_2"), AMOUNT - 1000),
            ),
            AMOUNT,
        ),
        (
            envelope(
                format!("evt_chr2_{n}"),
                "charge.refunded",
                version,
                charge(AMOUNT),
            ),
            AMOUNT,
        ),
    ]
}

#[test]
fn the_table_covers_every_subset_shape_and_order() {
    let table = scenarios();
    // 2 + 4 + 2 singles, 16 + 8 + 16 pairs in both orders, 96 triples in six orders.
    assert_eq!(table.len(), 144);
    // Only the old session alone carries no money.
    assert_eq!(table.iter().filter(|s| converts(s)).count(), 143);
}

/// The table is run in four parts, each on its own database, so they run in parallel.
const PARTS: usize = 4;

#[tokio::test]
async fn one_payment_is_one_commission_on_every_api_version_and_order_part_1() {
    run_table(0).await;
}

#[tokio::test]
async fn one_payment_is_one_commission_on_every_api_version_and_order_part_2() {
    run_table(1).await;
}

#[tokio::test]
async fn one_payment_is_one_commission_on_every_api_version_and_order_part_3() {
    run_table(2).await;
}

#[tokio::test]
async fn one_payment_is_one_commission_on_every_api_version_and_order_part_4() {
    run_table(3).await;
}

/// Delivers every scenario `n` with `n % PARTS == part`, then its refunds.
async fn run_table(part: usize) {
    let app = spawn_app().await;
    let s = money_shop(&app, "Versions", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let table = scenarios();
    let mut converted = Vec::new();
    for (n, shapes) in table.iter().enumerate().filter(|(n, _)| n % PARTS == part) {
        let p = Payment::new(n);
        refer(&app, &s, &p.customer, "jane").await;
        for shape in shapes {
            deliver(
                &app,
                &s,
                &payment_event(*shape, &p),
                &format!("{shapes:?} {shape:?}"),
            )
            .await;
        }
        // A resend of every event changes nothing.
        for shape in shapes {
            let again = deliver(&app, &s, &payment_event(*shape, &p), "resend").await;
            assert_eq!(again["duplicate"], true, "{again}");
        }
        let found = conversions_of(&app, &s, &p.customer).await;
        if !converts(shapes) {
            assert!(found.is_empty(), "{shapes:?}: {found:?}");
            continue;
        }
        assert_eq!(found.len(), 1, "{shapes:?}: one conversion, got {found:?}");
        let c = conversion(&app, &s, found[0]["id"].as_str().unwrap()).await;
        assert_eq!(c["amount_cents"], AMOUNT, "{shapes:?}: {c}");
        assert_eq!(c["commission_cents"], COMMISSION, "{shapes:?}: {c}");
        assert_eq!(
            c["commissions"].as_array().unwrap().len(),
            1,
            "{shapes:?}: {c}"
        );
        let basil = shapes
            .iter()
            .any(|s| matches!(s, Shape::ChargeBasil | Shape::InvoiceBasilBare));
        converted.push((p, c["id"].as_str().unwrap().to_owned(), basil, shapes));
    }
    assert_eq!(
        pending_balance(&app, &s, &jane).await,
        COMMISSION * i64::try_from(converted.len()).unwrap()
    );
    verify_ledger(&app).await;

    for (p, id, basil, shapes) in &converted {
        for (body, refunded) in refunds(p, *basil) {
            deliver(&app, &s, &body, &format!("{shapes:?} refund")).await;
            let c = conversion(&app, &s, id).await;
            assert_eq!(c["refunded_cents"], refunded, "{shapes:?}: {c}");
            let expected = COMMISSION * refunded / AMOUNT;
            assert_eq!(
                c["commissions"][0]["reversed_cents"], expected,
                "{shapes:?}: {c}"
            );
        }
        let c = conversion(&app, &s, id).await;
        assert_eq!(c["status"], "reversed", "{shapes:?}: {c}");
        assert_eq!(conversions_of(&app, &s, &p.customer).await.len(), 1);
    }
    assert_eq!(pending_balance(&app, &s, &jane).await, 0);
    verify_ledger(&app).await;
}

/// A bare basil invoice and its charge whose amounts differ (a customer balance paid part
/// of the invoice), so they cannot be paired by amount.
async fn deliver_unpairable_halves(app: &crate::helpers::TestApp, s: &Shop, p: &Payment) {
    deliver(
        app,
        s,
        &payment_event(Shape::InvoiceBasilBare, p),
        "invoice",
    )
    .await;
    let mut charge = basil_charge(p, 0);
    charge["amount"] = json!(AMOUNT - 100);
    let id = format!("evt_ch_{}", p.n);
    let body = envelope(id, "charge.succeeded", "2025-03-31.basil", charge);
    deliver(app, s, &body, "charge").await;
}

#[tokio::test]
async fn invoice_payment_links_join_halves_in_any_order_and_fold_a_duplicate() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Links", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let link = |p: &Payment| {
        envelope(
            format!("evt_inpay_{}", p.n),
            "invoice_payment.paid",
            "2025-03-31.basil",
            json!({"id": format!("inpay_{}", p.n), "object": "invoice_payment",
                   "invoice": p.invoice, "status": "paid", "amount_paid": AMOUNT,
                   "currency": "usd",
                   "payment": {"type": "payment_intent", "payment_intent": p.intent}}),
        )
    };

    // The link first: the bare invoice and the charge then find each other by their ids,
    // even with amounts that differ (a customer balance paid part of the invoice).
    let p = Payment::new(1000);
    refer(&app, &s, &p.customer, "jane").await;
    let linked = deliver(&app, &s, &link(&p), "link").await;
    assert_eq!(linked["status"], "processed", "{linked}");
    deliver_unpairable_halves(&app, &s, &p).await;
    let found = conversions_of(&app, &s, &p.customer).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["payment_intent_id"], p.intent.as_str());

    // Two halves recorded apart (amounts differ, so they cannot be paired): the link folds
    // the later one into the first, reversing its commission.
    let p = Payment::new(1001);
    refer(&app, &s, &p.customer, "jane").await;
    deliver_unpairable_halves(&app, &s, &p).await;
    assert_eq!(conversions_of(&app, &s, &p.customer).await.len(), 2);
    let folded = deliver(&app, &s, &link(&p), "link").await;
    let keep = folded["conversion_id"].as_str().unwrap().to_owned();
    let all = conversions_of(&app, &s, &p.customer).await;
    let live: Vec<&Value> = all.iter().filter(|c| c["status"] != "reversed").collect();
    assert_eq!(live.len(), 1, "{all:?}");
    assert_eq!(live[0]["id"], keep.as_str());
    let gone = all.iter().find(|c| c["id"] != keep.as_str()).unwrap();
    assert!(gone["reason"].as_str().unwrap().contains(&keep), "{gone}");
    let kept = conversion(&app, &s, &keep).await;
    assert_eq!(kept["invoice_id"], p.invoice.as_str());
    assert_eq!(kept["payment_intent_id"], p.intent.as_str());
    assert_eq!(kept["charge_id"], p.charge.as_str());

    // Three sales, one duplicate folded: two commissions of 980 remain pending.
    assert_eq!(pending_balance(&app, &s, &jane).await, 2 * COMMISSION);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn real_basil_payloads_pair_the_invoice_with_its_charge() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Basil", json!({"type": "percentage", "bps": 2000})).await;
    patch_currency(&app, &s).await;
    affiliate(&app, &s, "jane@example.com", "jane").await;
    refer(&app, &s, "cus_SGqVI5XZS5sDjA", "jane").await;
    // clearstats' signed basil invoice.payment_succeeded (49.99 CAD, no payments list),
    // re-dated to now so the signature tolerance and the pairing window hold.
    let raw = std::fs::read_to_string(format!(
        "{}/tests/fixtures/stripe/invoice.payment_succeeded.event.clearstats.signed.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut invoice: Value = serde_json::from_str(&raw).unwrap();
    invoice["created"] = json!(now());
    invoice["data"]["object"]["status_transitions"]["paid_at"] = json!(now());
    let answer = deliver(&app, &s, &invoice.to_string(), "invoice").await;
    assert_eq!(answer["status"], "processed", "{answer}");
    let sale = answer["conversion_id"].as_str().unwrap().to_owned();
    // Its charge, in the basil shape of Stripe's own fixture (no `invoice` field).
    let mut charge: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/stripe/charge.object.stripe-openapi-fixtures3.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(charge.get("invoice").is_none());
    charge["customer"] = json!("cus_SGqVI5XZS5sDjA");
    charge["amount"] = json!(4999);
    charge["currency"] = json!("cad");
    charge["payment_intent"] = json!("pi_clearstats");
    charge["created"] = json!(now());
    let body = envelope(
        "evt_charge_clearstats".into(),
        "charge.succeeded",
        "2025-03-31.basil",
        charge,
    );
    let answer = deliver(&app, &s, &body, "charge").await;
    assert_eq!(answer["conversion_id"], sale.as_str(), "{answer}");
    let found = conversions_of(&app, &s, "cus_SGqVI5XZS5sDjA").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["invoice_id"], "in_1RMgafCMHTTliF5ilpBkRLZf");
    assert_eq!(found[0]["payment_intent_id"], "pi_clearstats");
    assert_eq!(found[0]["amount_cents"], 4999);
    verify_ledger(&app).await;
}

async fn patch_currency(app: &crate::helpers::TestApp, s: &Shop) {
    patch_program(app, s, json!({"currency": "CAD"})).await;
}

#[tokio::test]
async fn a_manual_conversion_naming_the_payment_is_the_one_a_stripe_event_finds() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Manual", json!({"type": "percentage", "bps": 2000})).await;
    let jane = affiliate(&app, &s, "jane@example.com", "jane").await;
    let p = Payment::new(2000);
    refer(&app, &s, &p.customer, "jane").await;
    let (status, manual) = app
        .call(
            &s.key,
            reqwest::Method::POST,
            "/api/v1/conversions",
            Some(
                json!({"affiliate_id": jane, "amount_cents": AMOUNT, "customer_id": p.customer,
                        "invoice_id": p.invoice}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{manual}");
    let id = manual["id"].as_str().unwrap().to_owned();
    // Stripe's invoice and charge of that payment land on it.
    for shape in [Shape::InvoiceOld, Shape::ChargeBasil] {
        let answer = deliver(&app, &s, &payment_event(shape, &p), "stripe").await;
        assert_eq!(answer["conversion_id"], id.as_str(), "{answer}");
    }
    assert_eq!(conversions_of(&app, &s, &p.customer).await.len(), 1);
    // Recording it again by hand, under any of its ids, is a 409 naming it.
    let (status, err) = app
        .call(
            &s.key,
            reqwest::Method::POST,
            "/api/v1/conversions",
            Some(json!({"affiliate_id": jane, "amount_cents": AMOUNT, "charge_id": p.charge})),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["field"], "charge_id", "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains(&id));
    assert_eq!(pending_balance(&app, &s, &jane).await, COMMISSION);
    verify_ledger(&app).await;
}
