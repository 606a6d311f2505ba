//! Fraud review (issue 23): per-program rules (off / flag / hold / reject) on the signals of
//! each sale; held sales wait in the review queue and are not paid until approved, rejected
//! ones are reversed in the ledger, flagged ones are paid and listed; decisions are audited,
//! viewers and other vendors cannot decide, the affiliate sees "under review" only, and a
//! retried billing event makes one review item.

use affilia::domain::tenancy::password;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::{affiliate, payout_settings};
use crate::helpers::money::{event, money_shop, refer, verify_ledger};
use crate::helpers::tracking::{aff_sess, click};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{OWNER_PASSWORD, TestApp, new_client, spawn_app};

fn sale(id: &str, customer: &str, email: &str) -> Value {
    json!({"id": id, "type": "charge.succeeded", "customer_id": customer, "amount_cents": 10_000,
           "currency": "USD", "charge_id": format!("ch_{id}"), "email": email})
}

/// A shop paying 20 % with no holding period, `rules` as its fraud rules, and an affiliate
/// whose customer `cus_1` is referred; returns (shop, affiliate id).
async fn fraud_shop(app: &TestApp, name: &str, rules: Value) -> (Shop, String) {
    let s = money_shop(app, name, json!({"type": "percentage", "bps": 2000})).await;
    patch_program(
        app,
        &s,
        json!({"holding_period_days": 0, "min_payout_cents": 1, "fraud_rules": rules}),
    )
    .await;
    let code = format!("{}-jane", name.to_lowercase());
    let jane = affiliate(
        app,
        &s,
        &format!("jane@{}.test", name.to_lowercase()),
        &code,
    )
    .await;
    payout_settings(
        app,
        &s,
        &jane,
        json!({"payout_method": "paypal", "payout_email": "payee@paypal.test"}),
    )
    .await;
    refer(app, &s, "cus_1", &code).await;
    (s, jane)
}

async fn reviews(app: &TestApp, s: &Shop, query: &str) -> Value {
    let (status, body) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/fraud/reviews{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Runs a payout run; returns what it paid the affiliate (0 when nothing was due).
async fn payout_run(app: &TestApp, s: &Shop, affiliate_id: &str) -> i64 {
    let (status, body) = app
        .call(&s.key, Method::POST, "/api/v1/payouts/run", Some(json!({})))
        .await;
    assert!(status == 201 || status == 200, "{body}");
    body["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["payouts"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["affiliate_id"] == affiliate_id)
        .map(|p| p["amount_cents"].as_i64().unwrap_or(0))
        .sum()
}

async fn conversion_status(app: &TestApp, s: &Shop, id: &str) -> String {
    let (status, c) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/conversions/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{c}");
    c["status"].as_str().unwrap().to_owned()
}

async fn me_token(app: &TestApp, s: &Shop, affiliate_id: &str) -> String {
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{affiliate_id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_held_sale_waits_in_the_queue_and_is_not_paid_until_approved() {
    let app = spawn_app().await;
    let (s, jane) = fraud_shop(&app, "FraudHold", json!({"disposable_email": "hold"})).await;

    let (status, body) = event(&app, &s, sale("s1", "cus_1", "buyer@mailinator.com")).await;
    assert_eq!(status, 201, "{body}");
    let conversion = body["conversion_id"].as_str().unwrap().to_owned();
    // The same event again, and the same payment under another event id: one item.
    let (status, again) = event(&app, &s, sale("s1", "cus_1", "buyer@mailinator.com")).await;
    assert_eq!(status, 200, "{again}");
    let mut other_door = sale("s1-again", "cus_1", "buyer@mailinator.com");
    other_door["charge_id"] = json!("ch_s1");
    let (status, matched) = event(&app, &s, other_door).await;
    assert_eq!(status, 201, "{matched}");
    assert_eq!(matched["conversion_id"], conversion.as_str(), "{matched}");
    let queue = reviews(&app, &s, "?status=pending").await;
    assert_eq!(queue["total"], 1, "{queue}");
    let item = &queue["data"][0];
    assert_eq!(item["conversion_id"], conversion.as_str());
    assert_eq!(item["action"], "hold");
    assert_eq!(item["signals"][0]["rule"], "disposable_email", "{item}");
    assert!(
        item["signals"][0]["evidence"]
            .as_str()
            .unwrap()
            .contains("mailinator.com"),
        "{item}"
    );
    let review = item["id"].as_str().unwrap().to_owned();

    // Held: the worker does not mature it, a payout run pays nothing, and approving the
    // conversion by hand is refused.
    app.run_jobs().await;
    assert_eq!(conversion_status(&app, &s, &conversion).await, "pending");
    assert_eq!(payout_run(&app, &s, &jane).await, 0);
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{conversion}/approve"),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "invalid_state", "{body}");

    // The affiliate sees "under review", never the rule.
    let token = me_token(&app, &s, &jane).await;
    let (status, mine) = app
        .call(&token, Method::GET, "/api/v1/me/commissions", None)
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["data"][0]["under_review"], true, "{mine}");
    let text = mine.to_string();
    assert!(
        !text.contains("disposable") && !text.contains("mailinator"),
        "{text}"
    );
    let link = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await
        .1["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let portal = new_client();
    assert_eq!(portal.get(&link).send().await.unwrap().status(), 303);
    let page = portal
        .get(app.url("/p/fraudhold/commissions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("under review"), "{page}");
    assert!(!page.contains("disposable"), "{page}");

    // A viewer cannot decide; the owner's dashboard shows the evidence in words.
    let hash = password::hash(OWNER_PASSWORD.to_owned()).await.unwrap();
    affilia::db::users::insert(
        app.db.pool(),
        &s.vendor_id,
        "viewer@fraudhold.test",
        "Vera",
        &hash,
        "viewer",
    )
    .await
    .unwrap();
    let viewer = app
        .signed_in_client("viewer@fraudhold.test", OWNER_PASSWORD)
        .await;
    let res = app
        .post_form_as(
            &viewer,
            &format!("/dashboard/fraud/{review}/approve"),
            "/dashboard/fraud",
            &[],
        )
        .await;
    assert_eq!(res.status(), 403);
    let owner = app
        .signed_in_client("owner@fraudhold.test", OWNER_PASSWORD)
        .await;
    let html = owner
        .get(app.url("/dashboard/fraud"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("disposable email provider"), "{html}");
    assert!(html.contains("Held: not paid until approved"), "{html}");
    assert_eq!(reviews(&app, &s, "?status=pending").await["total"], 1);

    // Approved on the dashboard (HTMX): audited, it matures and is paid.
    let page = owner
        .get(app.url("/dashboard/fraud"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::helpers::csrf_from(&page);
    let res = owner
        .post(app.url(&format!("/dashboard/fraud/{review}/approve")))
        .header("hx-request", "true")
        .header("x-csrf-token", &token)
        .form(&[("csrf_token", token.as_str()), ("note", "known customer")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("approved"));
    let audited = app
        .count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE vendor_id = '{}' AND action = 'fraud_review.approved'",
            s.vendor_id
        ))
        .await;
    assert_eq!(audited, 1);
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/fraud/reviews/{review}/reject"),
            None,
        )
        .await;
    assert_eq!(status, 409, "decided already: {body}");
    app.run_jobs().await;
    assert_eq!(conversion_status(&app, &s, &conversion).await, "approved");
    assert_eq!(payout_run(&app, &s, &jane).await, 2000);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_reject_rule_rejects_the_sale_and_the_ledger_verifies() {
    let app = spawn_app().await;
    let (s, _jane) = fraud_shop(&app, "FraudReject", json!({"disposable_email": "reject"})).await;
    let (status, body) = event(&app, &s, sale("s1", "cus_1", "buyer@mailinator.com")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["result"]["status"], "rejected", "{body}");
    let conversion = body["conversion_id"].as_str().unwrap();
    assert_eq!(conversion_status(&app, &s, conversion).await, "rejected");
    let (_, commissions) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/commissions?conversion_id={conversion}"),
            None,
        )
        .await;
    assert_eq!(
        commissions["data"][0]["status"], "rejected",
        "{commissions}"
    );
    let done = reviews(&app, &s, "?status=rejected").await;
    assert_eq!(done["total"], 1, "{done}");
    assert_eq!(done["data"][0]["action"], "reject");
    assert_eq!(reviews(&app, &s, "?status=pending").await["total"], 0);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_review_rejection_reverses_a_held_sale_and_is_audited() {
    let app = spawn_app().await;
    let (s, jane) = fraud_shop(&app, "FraudDeny", json!({"email_match": "hold"})).await;
    // The customer writes from the affiliate's own company domain.
    let (_, a) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{jane}"),
            Some(json!({"website": "https://janes-deals.test"})),
        )
        .await;
    assert_eq!(a["website"], "https://janes-deals.test", "{a}");
    let (_, body) = event(&app, &s, sale("s1", "cus_1", "me@janes-deals.test")).await;
    let conversion = body["conversion_id"].as_str().unwrap().to_owned();
    let queue = reviews(&app, &s, "").await;
    assert_eq!(
        queue["data"][0]["signals"][0]["rule"], "email_match",
        "{queue}"
    );
    let review = queue["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, decided) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/fraud/reviews/{review}/reject"),
            Some(json!({"note": "the affiliate bought it"})),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "rejected");
    assert_eq!(decided["conversion_status"], "rejected");
    assert_eq!(conversion_status(&app, &s, &conversion).await, "rejected");
    let audited = app
        .count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE vendor_id = '{}' AND action = 'fraud_review.rejected'",
            s.vendor_id
        ))
        .await;
    assert_eq!(audited, 1);
    assert_eq!(payout_run(&app, &s, &jane).await, 0);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_flagged_sale_is_paid_as_usual_but_listed() {
    let app = spawn_app().await;
    let (s, jane) = fraud_shop(&app, "FraudFlag", json!({"same_ip": "flag"})).await;
    // A click, then a sale from the same address seconds later.
    let (status, location) = click(&app, &new_client(), "/r/fraudflag-jane").await;
    assert_eq!(status, 302, "{location}");
    app.flush_clicks().await;
    let mut body = sale("s1", "cus_2", "someone@example.com");
    body["metadata"] = json!({"aff_sess": aff_sess(&location)});
    body["ip"] = json!("127.0.0.1");
    let (status, done) = event(&app, &s, body).await;
    assert_eq!(status, 201, "{done}");
    let conversion = done["conversion_id"].as_str().unwrap().to_owned();
    let queue = reviews(&app, &s, "?status=pending").await;
    assert_eq!(queue["total"], 1, "{queue}");
    assert_eq!(queue["data"][0]["signals"][0]["rule"], "same_ip", "{queue}");
    // The address itself is not kept in the event log.
    let stored = app
        .count(&format!(
            "SELECT COUNT(*) FROM billing_events WHERE vendor_id = '{}' AND payload LIKE '%127.0.0.1%'",
            s.vendor_id
        ))
        .await;
    assert_eq!(stored, 0);
    app.run_jobs().await;
    assert_eq!(conversion_status(&app, &s, &conversion).await, "approved");
    assert_eq!(payout_run(&app, &s, &jane).await, 2000);
    // A sale from another address is not flagged.
    let mut body = sale("s2", "cus_2", "someone@example.com");
    body["ip"] = json!("203.0.113.9");
    body["metadata"] = json!({"aff_sess": aff_sess(&location)});
    let (status, _) = event(&app, &s, body).await;
    assert_eq!(status, 201);
    assert_eq!(reviews(&app, &s, "").await["total"], 1);
    verify_ledger(&app).await;
}

#[tokio::test]
async fn off_does_nothing_and_other_vendors_and_bad_input_are_refused() {
    let app = spawn_app().await;
    let (quiet, _) = fraud_shop(&app, "FraudOff", json!({})).await;
    let (status, _) = event(&app, &quiet, sale("s1", "cus_1", "buyer@mailinator.com")).await;
    assert_eq!(status, 201);
    assert_eq!(reviews(&app, &quiet, "").await["total"], 0);
    let (_, p) = app
        .call(
            &quiet.key,
            Method::GET,
            &format!("/api/v1/programs/{}", quiet.program_id),
            None,
        )
        .await;
    assert_eq!(p["fraud_rules"]["disposable_email"], "off", "{p}");

    let (s, _) = fraud_shop(&app, "FraudOwn", json!({"disposable_email": "hold"})).await;
    event(&app, &s, sale("s1", "cus_1", "buyer@mailinator.com")).await;
    let review = reviews(&app, &s, "").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path) in [
        (Method::GET, format!("/api/v1/fraud/reviews/{review}")),
        (
            Method::POST,
            format!("/api/v1/fraud/reviews/{review}/approve"),
        ),
        (
            Method::POST,
            format!("/api/v1/fraud/reviews/{review}/reject"),
        ),
    ] {
        let (status, body) = app.call(&quiet.key, method, &path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    assert_eq!(reviews(&app, &s, "?status=pending").await["total"], 1);

    // Bad rules and filters: the error envelope, nothing changed.
    for bad in [
        json!({"fraud_rules": {"same_ip": "maybe"}}),
        json!({"fraud_rules": {"no_such_rule": "flag"}}),
        json!({"fraud_rules": ["hold"]}),
    ] {
        let (status, body) = app
            .call(
                &s.key,
                Method::PATCH,
                &format!("/api/v1/programs/{}", s.program_id),
                Some(bad.clone()),
            )
            .await;
        assert!(status == 400 || status == 422, "{bad}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    let (_, p) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}", s.program_id),
            None,
        )
        .await;
    assert_eq!(p["fraud_rules"]["disposable_email"], "hold", "{p}");
    // The document says exactly which rules and actions the server takes.
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let text = doc.to_string();
    let rules = &doc["components"]["schemas"]["FraudRules"];
    assert_eq!(rules["additionalProperties"], false, "{rules}");
    assert_eq!(rules["properties"].as_object().unwrap().len(), 6, "{rules}");
    assert!(
        text.contains(r#"["off","flag","hold","reject"]"#),
        "the actions are an enum"
    );
    assert!(doc["paths"]["/api/v1/fraud/reviews/{id}/approve"]["post"].is_object());
    let (status, body) = app
        .call(
            &s.key,
            Method::GET,
            "/api/v1/fraud/reviews?status=maybe",
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let mut body = sale("s9", "cus_1", "x@example.com");
    body["ip"] = json!("not an address");
    let (status, body) = event(&app, &s, body).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "ip", "{body}");
}

#[tokio::test]
async fn click_floods_spikes_and_self_referrals_by_payout_email_are_signals() {
    let app = spawn_app().await;
    let (s, _jane) = fraud_shop(
        &app,
        "FraudSignals",
        json!({"click_flood": "flag", "spike": "flag", "self_referral": "flag"}),
    )
    .await;
    patch_program(&app, &s, json!({"allow_self_referral": true})).await;
    let browser = new_client();
    for _ in 0..20 {
        let (status, _) = click(&app, &browser, "/r/fraudsignals-jane").await;
        assert_eq!(status, 302);
    }
    app.flush_clicks().await;
    // Paid by the affiliate's own payout address.
    let (status, first) = event(&app, &s, sale("s1", "cus_1", "payee@paypal.test")).await;
    assert_eq!(status, 201, "{first}");
    for n in 2..=5 {
        let (status, body) =
            event(&app, &s, sale(&format!("s{n}"), "cus_1", "c@example.com")).await;
        assert_eq!(status, 201, "{body}");
    }
    let items = reviews(&app, &s, "?per_page=10").await;
    assert_eq!(items["total"], 5, "{items}");
    let rules = |i: usize| -> Vec<String> {
        items["data"][i]["signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    let first_rules = rules(0);
    assert!(first_rules.contains(&"click_flood".to_owned()), "{items}");
    assert!(first_rules.contains(&"self_referral".to_owned()), "{items}");
    assert!(!rules(3).contains(&"spike".to_owned()), "{items}");
    assert!(rules(4).contains(&"spike".to_owned()), "{items}");
    assert!(!rules(4).contains(&"self_referral".to_owned()), "{items}");
    // Flagged only: every sale is pending as usual, nothing was rejected.
    assert_eq!(items["data"][4]["conversion_status"], "pending", "{items}");
    verify_ledger(&app).await;
}
