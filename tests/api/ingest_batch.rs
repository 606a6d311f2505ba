//! The ingest writer commits concurrent events together (group commit). These tests send
//! bursts of events at once and check that each event still has its own outcome: a failing
//! event is stored as `failed` without undoing its neighbours, a resend inside the burst is
//! one conversion, and nothing is lost.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use affilia::db::DbKind;

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{event, money_shop, verify_ledger};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Makes inserting a conversion for `cus_poison` fail inside the database, the way an
/// unexpected database error would.
async fn poison(app: &TestApp) {
    let statements: &[&str] = match app.db.kind() {
        DbKind::Sqlite => &["CREATE TRIGGER poison BEFORE INSERT ON conversions \
             WHEN NEW.customer_id = 'cus_poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"],
        DbKind::Postgres => &[
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.customer_id = 'cus_poison' THEN RAISE EXCEPTION 'poisoned'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER poison BEFORE INSERT ON conversions \
             FOR EACH ROW EXECUTE FUNCTION poison()",
        ],
    };
    for s in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*s))
            .execute(app.db.pool())
            .await
            .unwrap();
    }
}

async fn cure(app: &TestApp) {
    sqlx::raw_sql("DROP TRIGGER poison ON conversions")
        .execute(app.db.pool())
        .await
        .or(sqlx::raw_sql("DROP TRIGGER poison")
            .execute(app.db.pool())
            .await)
        .unwrap();
}

fn sale(id: &str, customer: &str, amount: i64) -> Value {
    json!({"id": id, "type": "charge.succeeded", "customer_id": customer,
           "amount_cents": amount, "currency": "USD",
           "occurred_at": chrono::Utc::now().to_rfc3339(),
           "metadata": {"affiliate_code": "burst"}})
}

/// Outbox events by type.
async fn outbox(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY type")
        .fetch_all(app.db.pool())
        .await
        .unwrap()
}

async fn count(app: &TestApp, s: &Shop, path: &str) -> i64 {
    let (status, body) = app.call(&s.key, Method::GET, path, None).await;
    assert_eq!(status, 200, "{body}");
    body["total"].as_i64().unwrap()
}

#[tokio::test]
async fn a_burst_of_events_keeps_each_events_own_outcome() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Burst", json!({"type": "percentage", "bps": 1000})).await;
    affiliate(&app, &s, "burst@aff.example", "burst").await;
    poison(&app).await;

    // 30 sales, the poisoned one, and one sale sent twice, all at once.
    let mut bodies: Vec<Value> = (0..30)
        .map(|i| sale(&format!("evt_{i}"), &format!("cus_{i}"), 1000 + i))
        .collect();
    bodies.push(sale("evt_poison", "cus_poison", 5000));
    bodies.push(sale("evt_twice", "cus_twice", 7000));
    bodies.push(sale("evt_twice", "cus_twice", 7000));
    let answers = join_all(bodies.iter().map(|b| event(&app, &s, b.clone()))).await;

    for (b, (status, body)) in bodies.iter().zip(&answers) {
        match b["id"].as_str().unwrap() {
            "evt_poison" => {
                assert_eq!(*status, 201, "{body}");
                assert_eq!(body["status"], "failed", "{body}");
                assert!(
                    body["result"]["error"].to_string().contains("poisoned"),
                    "{body}"
                );
            }
            "evt_twice" => assert!(*status == 200 || *status == 201, "{body}"),
            _ => {
                assert_eq!(*status, 201, "{body}");
                assert_eq!(body["status"], "processed", "{body}");
                assert!(body["conversion_id"].is_string(), "{body}");
            }
        }
    }
    let twice: Vec<&Value> = bodies
        .iter()
        .zip(&answers)
        .filter(|(b, _)| b["id"] == "evt_twice")
        .map(|(_, (_, body))| body)
        .collect();
    assert_eq!(
        twice.iter().filter(|b| b["duplicate"] == true).count(),
        1,
        "{twice:?}"
    );
    assert_eq!(twice[0]["conversion_id"], twice[1]["conversion_id"]);

    // 31 conversions and commissions; 33 events stored once each, one of them failed.
    assert_eq!(count(&app, &s, "/api/v1/conversions").await, 31);
    assert_eq!(count(&app, &s, "/api/v1/commissions").await, 31);
    assert_eq!(count(&app, &s, "/api/v1/events").await, 32);
    assert_eq!(count(&app, &s, "/api/v1/events?status=failed").await, 1);
    // Each stored sale announced its referral, conversion and commission once (a batch
    // writes its outbox events at its end); the failed one announced nothing.
    assert_eq!(
        outbox(&app).await,
        vec![
            ("affiliate.created".to_owned(), 1),
            ("affiliate.updated".to_owned(), 1),
            ("commission.created".to_owned(), 31),
            ("conversion.created".to_owned(), 31),
            ("referral.created".to_owned(), 31),
        ]
    );
    verify_ledger(&app).await;

    // Once the cause is gone, the failed event is replayed into its conversion.
    cure(&app).await;
    let failed = answers
        .iter()
        .find(|(_, b)| b["status"] == "failed")
        .map(|(_, b)| b["id"].as_str().unwrap().to_owned())
        .unwrap();
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/events/{failed}/replay"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "processed", "{body}");
    assert_eq!(count(&app, &s, "/api/v1/conversions").await, 32);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_burst_of_repeats_changes_nothing() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Repeats", json!({"type": "percentage", "bps": 1000})).await;
    affiliate(&app, &s, "rep@aff.example", "burst").await;
    let bodies: Vec<Value> = (0..10)
        .map(|i| sale(&format!("evt_{i}"), &format!("cus_{i}"), 1000))
        .collect();
    let first = join_all(bodies.iter().map(|b| event(&app, &s, b.clone()))).await;
    assert!(first.iter().all(|(status, _)| *status == 201), "{first:?}");
    // The same ten again, twice over, at once: each answered as a repeat with its result.
    let again = join_all(
        bodies
            .iter()
            .chain(bodies.iter())
            .map(|b| event(&app, &s, b.clone())),
    )
    .await;
    for (status, body) in &again {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["duplicate"], true, "{body}");
        assert!(body["conversion_id"].is_string(), "{body}");
    }
    assert_eq!(count(&app, &s, "/api/v1/conversions").await, 10);
    assert_eq!(count(&app, &s, "/api/v1/events").await, 10);
    verify_ledger(&app).await;
}

/// On PostgreSQL several writer lanes commit in parallel; the events of one customer stay in
/// one lane, in order. Many payments of few customers at once under "first payment only":
/// each customer converts exactly once, every event is stored once, and the ledger holds.
#[tokio::test]
async fn parallel_lanes_keep_one_customers_events_in_order() {
    let app = spawn_app_with(|s| s.ingest_lanes = Some(4)).await;
    let s = money_shop(&app, "Lanes", json!({"type": "percentage", "bps": 1000})).await;
    affiliate(&app, &s, "lanes@aff.example", "burst").await;
    patch_program(&app, &s, json!({"conversion_kind": "first_payment"})).await;

    // 8 customers, 6 payments each, all sent at once (and one resend of each first one).
    let mut bodies: Vec<Value> = (0..48)
        .map(|i| sale(&format!("evt_{i}"), &format!("cus_{}", i % 8), 1000 + i))
        .collect();
    bodies.extend((0..8).map(|i| sale(&format!("evt_{i}"), &format!("cus_{i}"), 1000 + i)));
    let answers = join_all(bodies.iter().map(|b| event(&app, &s, b.clone()))).await;
    for (status, body) in &answers {
        assert!(*status == 200 || *status == 201, "{body}");
        assert_ne!(body["status"], "failed", "{body}");
    }
    assert_eq!(count(&app, &s, "/api/v1/conversions").await, 8);
    assert_eq!(count(&app, &s, "/api/v1/commissions").await, 8);
    assert_eq!(count(&app, &s, "/api/v1/events").await, 48);
    assert_eq!(count(&app, &s, "/api/v1/events?status=processed").await, 8);
    verify_ledger(&app).await;
}
