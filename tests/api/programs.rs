//! Programs and versioned commission terms through the API.

use affilia::domain::tenancy::api_keys::Scope;
use serde_json::{Value, json};

use crate::helpers::vendors::{Vendor, vendor};
use crate::helpers::{TestApp, spawn_app};

async fn send(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    app.call(key, method, path, Some(body)).await
}

#[tokio::test]
async fn the_default_program_pays_twenty_percent_and_new_programs_take_defaults() {
    let app = spawn_app().await;
    let Vendor {
        program_id: default_id,
        key,
        ..
    } = vendor(&app, "Acme").await;

    let list: Value = app
        .api_get(&key, "/api/v1/programs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    let p = &list["data"][0];
    assert_eq!(p["id"], default_id.as_str());
    assert_eq!(p["is_default"], true);
    assert_eq!(p["commission"], json!({"type": "percentage", "bps": 2000}));
    assert_eq!(p["terms_version"], 1);
    assert_eq!(
        (
            p["holding_period_days"].as_i64(),
            p["min_payout_cents"].as_i64()
        ),
        (Some(30), Some(5000))
    );

    let (status, p) = send(
        &app,
        &key,
        reqwest::Method::POST,
        "/api/v1/programs",
        json!({
            "name": "Agency partners",
            "currency": "eur",
            "landing_url": "https://acme.test/pricing?plan=pro",
            "commission": {"type": "recurring", "bps": 3000, "max_cycles": 12},
            "auto_approve": true,
            "attribution_model": "first_touch"
        }),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["slug"], "agency-partners");
    assert_eq!(p["currency"], "EUR");
    assert_eq!(p["status"], "active");
    assert_eq!(p["auto_approve"], true);
    assert_eq!(p["cookie_duration_days"], 30);
    assert_eq!(p["commission"]["max_cycles"], 12);
    let id = p["id"].as_str().unwrap().to_owned();

    let shown: Value = app
        .api_get(&key, &format!("/api/v1/programs/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown, p);
}

#[tokio::test]
async fn patching_commission_creates_the_next_terms_version() {
    let app = spawn_app().await;
    let Vendor {
        program_id: id,
        key,
        ..
    } = vendor(&app, "Acme").await;
    let path = format!("/api/v1/programs/{id}");

    let (status, p) = send(&app, &key, reqwest::Method::PATCH, &path, json!({
        "commission": {"type": "tiered", "bps": 2000, "tiers": [{"min_conversions": 10, "bps": 2500}]},
        "landing_url": "https://acme.test/"
    }))
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["terms_version"], 2);
    assert_eq!(p["commission"]["type"], "tiered");
    assert_eq!(p["name"], "Acme affiliate program", "untouched fields stay");

    // The same terms again do not create a version; other fields do not either.
    let (_, p) = send(&app, &key, reqwest::Method::PATCH, &path, json!({
        "commission": {"type": "tiered", "bps": 2000, "tiers": [{"min_conversions": 10, "bps": 2500}]},
        "holding_period_days": 14,
        "landing_url": null
    }))
    .await;
    assert_eq!(p["terms_version"], 2);
    assert_eq!(p["holding_period_days"], 14);
    assert_eq!(p["landing_url"], Value::Null);

    // Both versions are kept: enrollments stay on the one they joined under.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM program_terms WHERE program_id = '{id}'"
        ))
        .await,
        2
    );
    let audit: Value = app
        .api_get(&key, "/api/v1/audit-log")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "program.updated" && e["details"]["terms_version"] == 2)
    );
}

#[tokio::test]
async fn invalid_programs_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let Vendor {
        program_id: id,
        key,
        ..
    } = vendor(&app, "Acme").await;
    let cases = [
        (json!({"name": ""}), 422, "name"),
        (json!({"name": "x".repeat(121)}), 422, "name"),
        (json!({"name": "P", "currency": "XXX"}), 422, "currency"),
        (
            json!({"name": "P", "landing_url": "javascript:alert(1)"}),
            422,
            "landing_url",
        ),
        (
            json!({"name": "P", "landing_url": "/relative"}),
            422,
            "landing_url",
        ),
        (json!({"name": "P", "status": "deleted"}), 422, "status"),
        (
            json!({"name": "P", "holding_period_days": -1}),
            422,
            "holding_period_days",
        ),
        (
            json!({"name": "P", "cookie_duration_days": 0}),
            422,
            "cookie_duration_days",
        ),
        (
            json!({"name": "P", "min_payout_cents": -5}),
            422,
            "min_payout_cents",
        ),
        (
            json!({"name": "P", "attribution_model": "linear"}),
            422,
            "attribution_model",
        ),
        (json!({"name": "P", "slug": "Not A Slug"}), 422, "slug"),
        (
            json!({"name": "P", "commission": {"type": "percentage", "bps": 10001}}),
            422,
            "commission.bps",
        ),
        (
            json!({"name": "P", "commission": {"type": "flat", "amount_cents": -1}}),
            422,
            "commission.amount_cents",
        ),
        (
            json!({"name": "P", "commission": {"type": "tiered", "bps": 100, "tiers": [{"min_conversions": 5, "bps": 200}, {"min_conversions": 5, "bps": 300}]}}),
            422,
            "commission.tiers[1].min_conversions",
        ),
        (
            json!({"name": "P", "commission": {"type": "percentage", "bps": 100, "multi_level": [{"level": 1, "bps": 20000}]}}),
            422,
            "commission.multi_level[0].bps",
        ),
        (
            json!({"name": "P", "commission": {"type": "bitcoin"}}),
            422,
            "commission",
        ),
        (
            json!({"name": "P", "holding_period_days": "thirty"}),
            400,
            "holding_period_days",
        ),
        (json!({"name": "P", "colour": "red"}), 400, ""),
        (json!({}), 422, "name"),
    ];
    for (body, status, field) in cases {
        let (got, err) = send(
            &app,
            &key,
            reqwest::Method::POST,
            "/api/v1/programs",
            body.clone(),
        )
        .await;
        assert_eq!(got, status, "{body} → {err}");
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field, "{body} → {err}");
        }
    }
    let res = app
        .client
        .post(app.url("/api/v1/programs"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "bad_request");
    assert_eq!(app.count("SELECT COUNT(*) FROM programs").await, 1);

    // A duplicate slug is a conflict.
    send(
        &app,
        &key,
        reqwest::Method::POST,
        "/api/v1/programs",
        json!({"name": "Pro", "slug": "pro"}),
    )
    .await;
    let (status, err) = send(
        &app,
        &key,
        reqwest::Method::POST,
        "/api/v1/programs",
        json!({"name": "Pro 2", "slug": "pro"}),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(err["error"]["field"], "slug");
    let (status, _) = send(
        &app,
        &key,
        reqwest::Method::PATCH,
        &format!("/api/v1/programs/{id}"),
        json!({"slug": "pro"}),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn programs_of_other_vendors_are_404_and_read_keys_cannot_write() {
    let app = spawn_app().await;
    let acme_program = vendor(&app, "Acme").await.program_id;
    let beta_key = vendor(&app, "Beta").await.key;
    let path = format!("/api/v1/programs/{acme_program}");
    assert_eq!(app.api_get(&beta_key, &path).await.status(), 404);
    let (status, _) = send(
        &app,
        &beta_key,
        reqwest::Method::PATCH,
        &path,
        json!({"name": "Hijacked"}),
    )
    .await;
    assert_eq!(status, 404);
    let list: Value = app
        .api_get(&beta_key, "/api/v1/programs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_ne!(list["data"][0]["id"], acme_program.as_str());

    let beta = affilia::db::vendors::by_slug(app.db.pool(), "beta")
        .await
        .unwrap()
        .unwrap();
    let read_key = app.api_key(&beta.id, Scope::Read).await;
    let (status, err) = send(
        &app,
        &read_key,
        reqwest::Method::POST,
        "/api/v1/programs",
        json!({"name": "X"}),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(app.count("SELECT COUNT(*) FROM programs").await, 2);
}

pub(crate) fn form<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", "Agency partners"),
        ("slug", ""),
        ("currency", "USD"),
        ("landing_url", "https://acme.test/"),
        ("status", "active"),
        ("holding_period_days", "30"),
        ("min_payout", "50.00"),
        ("cookie_duration_days", "60"),
        ("attribution_model", "first_touch"),
        ("attribution_window_days", "45"),
        ("terms_text", "Be nice."),
        ("commission_type", "tiered"),
        ("commission_percent", "12.5"),
        ("commission_amount", ""),
        ("max_cycles", ""),
        ("tiers", "10: 15\n50: 20"),
        ("upline", "5, 2.5"),
    ];
    for (k, v) in overrides {
        fields.retain(|(key, _)| key != k);
        fields.push((k, v));
    }
    fields
}

#[tokio::test]
async fn dashboard_creates_and_edits_programs_with_exact_decimal_terms() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;
    assert!(
        app.text("/dashboard/programs")
            .await
            .contains("20% of every payment")
    );

    let res = app
        .post_form(
            "/dashboard/programs",
            "/dashboard/programs/new",
            &form(&[("auto_approve", "on")]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("?saved=1"));
    let id = location
        .trim_start_matches("/dashboard/programs/")
        .trim_end_matches("?saved=1")
        .to_owned();
    let page = app.text(&location).await;
    assert!(page.contains("Saved."));
    assert!(page.contains("10: 15\n50: 20"), "{page}");

    let program = affilia::domain::partners::programs::get(&app.db, &app_vendor(&app).await, &id)
        .await
        .unwrap();
    let expected = json!({"type": "tiered", "bps": 1250, "tiers": [{"min_conversions": 10, "bps": 1500}, {"min_conversions": 50, "bps": 2000}],
                          "multi_level": [{"level": 1, "bps": 500}, {"level": 2, "bps": 250}]});
    assert_eq!(serde_json::to_value(&program.commission).unwrap(), expected);
    assert_eq!(program.row.auto_approve, 1);
    assert_eq!(program.row.cookie_duration_days, 60);
    assert_eq!(program.row.slug, "agency-partners");

    // Editing the terms creates version 2; the list shows it.
    let res = app
        .post_form(
            &format!("/dashboard/programs/{id}"),
            &format!("/dashboard/programs/{id}"),
            &form(&[
                ("commission_type", "flat"),
                ("commission_amount", "15.50"),
                ("upline", ""),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let program = affilia::domain::partners::programs::get(&app.db, &app_vendor(&app).await, &id)
        .await
        .unwrap();
    assert_eq!(program.row.current_terms_version, 2);
    assert_eq!(
        serde_json::to_value(&program.commission).unwrap(),
        json!({"type": "flat", "amount_cents": 1550})
    );
    assert_eq!(
        program.row.auto_approve, 0,
        "an unticked box turns the setting off"
    );
    assert!(
        app.text("/dashboard/programs")
            .await
            .contains("15.50 per conversion")
    );
}

async fn app_vendor(app: &TestApp) -> String {
    let (id,): (String,) = sqlx::query_as("SELECT id FROM vendors")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn dashboard_form_errors_are_shown_and_change_nothing() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;
    for (overrides, message) in [
        (vec![("commission_percent", "150")], "between 0 and 100"),
        (
            vec![("commission_percent", "12.345")],
            "at most two decimals",
        ),
        (vec![("tiers", "ten: 15")], "conversions: percent"),
        (vec![("tiers", "10: 15\n5: 20")], "strictly ascending"),
        (vec![("holding_period_days", "forever")], "whole number"),
        (
            vec![("landing_url", "ftp://acme.test")],
            "absolute http(s) URL",
        ),
        (vec![("name", "")], "name is required"),
    ] {
        let res = app
            .post_form(
                "/dashboard/programs",
                "/dashboard/programs/new",
                &form(&overrides),
            )
            .await;
        assert_eq!(res.status(), 422, "{overrides:?}");
        let body = res.text().await.unwrap();
        assert!(body.contains(message), "{message}: {body}");
        assert!(body.contains("aria-invalid"), "{overrides:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM programs").await, 1);
}

#[tokio::test]
async fn dashboard_programs_are_per_vendor_and_need_sign_in() {
    let app = spawn_app().await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    app.create_vendor("Beta", "owner@beta.test").await;
    let path = format!("/dashboard/programs/{}", acme.program_id);
    assert_eq!(app.get(&path).await.status(), 303, "signed out → sign-in");
    app.login("owner@beta.test", crate::helpers::OWNER_PASSWORD)
        .await;
    assert_eq!(app.get(&path).await.status(), 404);
    let res = app
        .post_form(&path, "/dashboard/programs", &form(&[]))
        .await;
    assert_eq!(res.status(), 404);
    assert!(!app.text("/dashboard/programs").await.contains("Acme"));
}

#[tokio::test]
async fn enrollments_keep_their_terms_until_the_vendor_migrates_them() {
    let app = spawn_app().await;
    let Vendor {
        program_id: pid,
        key,
        ..
    } = vendor(&app, "Acme").await;
    let (_, early) = send(
        &app,
        &key,
        reqwest::Method::POST,
        "/api/v1/affiliates",
        json!({"email": "early@x.test", "send_invite": false}),
    )
    .await;
    let (_, invited) = send(
        &app,
        &key,
        reqwest::Method::POST,
        "/api/v1/affiliates",
        json!({"email": "late@x.test"}),
    )
    .await;
    let early_id = early["id"].as_str().unwrap().to_owned();
    send(
        &app,
        &key,
        reqwest::Method::PATCH,
        &format!("/api/v1/affiliates/{early_id}"),
        json!({"status": "active"}),
    )
    .await;
    send(
        &app,
        &key,
        reqwest::Method::PATCH,
        &format!("/api/v1/programs/{pid}"),
        json!({"commission": {"type": "percentage", "bps": 2500}}),
    )
    .await;

    let version = |a: &Value| a["enrollments"][0]["terms_version"].as_i64().unwrap();
    let (_, a) = send(
        &app,
        &key,
        reqwest::Method::GET,
        &format!("/api/v1/affiliates/{early_id}"),
        json!(null),
    )
    .await;
    assert_eq!(version(&a), 1, "grandfathered");

    // The invited affiliate activates after the change: it joins under version 2.
    app.run_jobs().await;
    let (text,): (String,) =
        sqlx::query_as("SELECT body_text FROM email_outbox WHERE to_email = 'late@x.test'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    let start = text.find("http://").unwrap();
    let link = text[start..].split_whitespace().next().unwrap().to_owned();
    let browser = crate::helpers::new_client();
    let page = browser
        .get(&link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::helpers::csrf_from(&page);
    browser
        .post(&link)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let (_, a) = send(
        &app,
        &key,
        reqwest::Method::GET,
        &format!("/api/v1/affiliates/{}", invited["id"].as_str().unwrap()),
        json!(null),
    )
    .await;
    assert_eq!((a["status"].as_str(), version(&a)), (Some("active"), 2));

    let (status, moved) = send(
        &app,
        &key,
        reqwest::Method::POST,
        &format!("/api/v1/programs/{pid}/migrate-enrollments"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved, json!({"migrated": 1, "terms_version": 2}));
    let (_, a) = send(
        &app,
        &key,
        reqwest::Method::GET,
        &format!("/api/v1/affiliates/{early_id}"),
        json!(null),
    )
    .await;
    assert_eq!(version(&a), 2);
}
