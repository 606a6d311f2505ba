//! Affiliates through the API: invitations, lists, updates, soft delete, isolation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::vendors::vendor;
use crate::helpers::{new_client, spawn_app};

#[tokio::test]
async fn an_invited_affiliate_gets_an_email_and_activates_on_first_sign_in() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let (status, a) = app
        .call(
            &key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({
                "email": "Jane.Smith@Example.test", "first_name": "Jane", "last_name": "Smith",
                "payout_method": "paypal", "payout_email": "jane@paypal.test",
                "metadata": {"source": "conference"}, "customer_id": "cus_123"
            })),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["status"], "invited");
    assert_eq!(a["name"], "Jane Smith");
    let code = a["code"].as_str().unwrap().to_owned();
    assert!(
        code.starts_with("jane-smith-") && code.len() == "jane-smith-".len() + 4,
        "{code}"
    );
    assert_eq!(a["enrollments"][0]["status"], "invited");
    assert_eq!(a["enrollments"][0]["terms_version"], 1);
    assert_eq!(
        a["stats"],
        json!({"conversions": 0, "commissions": 0, "currency": "USD", "total_commissions": 0,
               "total_earned_cents": 0, "pending_cents": 0, "approved_cents": 0,
               "paid_cents": 0, "balances": []})
    );
    assert_eq!(a["metadata"]["source"], "conference");
    let id = a["id"].as_str().unwrap().to_owned();

    // The invitation is in the outbox, with a portal link.
    assert_eq!(app.run_jobs().await, 1);
    let (subject, text): (String, String) = sqlx::query_as(
        "SELECT subject, body_text FROM email_outbox WHERE to_email = 'Jane.Smith@Example.test'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(subject, "You're invited to the Acme partner program");
    let start = text.find("http://").unwrap();
    let link = text[start..].split_whitespace().next().unwrap().to_owned();
    assert!(link.contains("/p/acme/login/link/"), "{link}");

    // Accepting signs in on the portal and activates the affiliate and its enrollment.
    let browser = new_client();
    let page = browser.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let token = crate::helpers::csrf_from(&page.text().await.unwrap());
    let path = link.trim_start_matches(&app.url(""));
    let res = browser
        .post(app.url(path))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/p/acme/");
    let home = browser
        .get(app.url("/p/acme/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("Signed in as <strong>Jane.Smith@Example.test</strong>"),
        "{home}"
    );
    assert!(home.contains(&code));
    let (_, a) = app
        .call(&key, Method::GET, &format!("/api/v1/affiliates/{id}"), None)
        .await;
    assert_eq!(a["status"], "active");
    assert_eq!(a["enrollments"][0]["status"], "active");
    assert!(a["activated_at"].is_string());
    // The link works once; a used link offers no sign-in.
    let again = new_client().get(&link).send().await.unwrap();
    assert_eq!(again.status(), 410);

    // Resending is only for affiliates that have not accepted.
    let (status, _) = app
        .call(
            &key,
            Method::POST,
            &format!("/api/v1/affiliates/{id}/invite"),
            None,
        )
        .await;
    assert_eq!(status, 409);

    // Lookup by the vendor's customer id.
    let (_, found) = app
        .call(
            &key,
            Method::GET,
            "/api/v1/affiliates/by-customer/cus_123",
            None,
        )
        .await;
    assert_eq!(found["enrolled"], true);
    assert_eq!(found["code"], code.as_str());
    assert_eq!(found["status"], "active");
    assert_eq!(found["conversions"], 0);
    assert_eq!(found["balances"], json!([]));
    assert_eq!(found["total_earned_cents"], 0);
    let (_, missing) = app
        .call(
            &key,
            Method::GET,
            "/api/v1/affiliates/by-customer/cus_unknown",
            None,
        )
        .await;
    assert_eq!(missing, json!({"enrolled": false}));
}

#[tokio::test]
async fn list_searches_filters_sorts_and_paginates() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    for (email, name, code) in [
        ("ann@x.test", "Ann Archer", "ann_100%"),
        ("bob@x.test", "Bob Baker", "bobby"),
        ("cy@x.test", "Cy Cole", "cy-code"),
    ] {
        let code = if code.contains('%') { None } else { Some(code) };
        let mut body = json!({"email": email, "name": name, "send_invite": false});
        if let Some(c) = code {
            body["code"] = json!(c);
        }
        let (status, a) = app
            .call(&key, Method::POST, "/api/v1/affiliates", Some(body))
            .await;
        assert_eq!(status, 201, "{a}");
    }
    let bob: Value = app
        .api_get(&key, "/api/v1/affiliates?search=BOBBY")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bob["total"], 1);
    assert_eq!(bob["data"][0]["email"], "bob@x.test");
    let by_name: Value = app
        .api_get(&key, "/api/v1/affiliates?search=cole")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_name["data"][0]["email"], "cy@x.test");
    // LIKE wildcards in the search are literal.
    let none: Value = app
        .api_get(&key, "/api/v1/affiliates?search=%25")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["total"], 0);
    let sorted: Value = app
        .api_get(&key, "/api/v1/affiliates?sort=email&per_page=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sorted["total"], 3);
    assert_eq!(sorted["data"].as_array().unwrap().len(), 2);
    assert_eq!(sorted["data"][0]["email"], "ann@x.test");
    let page2: Value = app
        .api_get(&key, "/api/v1/affiliates?sort=email&per_page=2&page=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["data"][0]["email"], "cy@x.test");
    let newest: Value = app
        .api_get(&key, "/api/v1/affiliates")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(newest["data"][0]["email"], "cy@x.test");

    let bob_id = bob["data"][0]["id"].as_str().unwrap().to_owned();
    app.call(
        &key,
        Method::PATCH,
        &format!("/api/v1/affiliates/{bob_id}"),
        Some(json!({"status": "paused"})),
    )
    .await;
    let paused: Value = app
        .api_get(&key, "/api/v1/affiliates?status=paused")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paused["total"], 1);
    let res = app
        .api_get(&key, "/api/v1/affiliates?status=sleeping")
        .await;
    assert_eq!(res.status(), 422);
    let res = app.api_get(&key, "/api/v1/affiliates?sort=salary").await;
    assert_eq!(res.status(), 422);

    let program: Value = app
        .api_get(&key, "/api/v1/programs")
        .await
        .json()
        .await
        .unwrap();
    let pid = program["data"][0]["id"].as_str().unwrap();
    let in_program: Value = app
        .api_get(&key, &format!("/api/v1/affiliates?program_id={pid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(in_program["total"], 3);
}

#[tokio::test]
async fn duplicates_are_conflicts_and_bad_input_names_the_field() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let beta_key = vendor(&app, "Beta").await.key;
    let (status, a) = app
        .call(
            &key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@x.test", "code": "JANE20", "send_invite": false})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(a["code"], "jane20", "codes are stored lower case");

    let (status, err) = app
        .call(
            &key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "JANE@x.test"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (409, Some("email"))
    );
    // Codes are unique across the installation, whatever the case.
    let (status, err) = app
        .call(
            &beta_key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "other@x.test", "code": "Jane20"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (409, Some("code"))
    );

    let beta_program: Value = app
        .api_get(&beta_key, "/api/v1/programs")
        .await
        .json()
        .await
        .unwrap();
    let beta_pid = beta_program["data"][0]["id"].as_str().unwrap().to_owned();
    let cases = [
        (json!({"email": "not-an-email"}), 422, "email"),
        (json!({}), 422, "email"),
        (
            json!({"email": "a@x.test", "name": "n".repeat(121)}),
            422,
            "name",
        ),
        (
            json!({"email": "a@x.test", "code": "no spaces"}),
            422,
            "code",
        ),
        (json!({"email": "a@x.test", "code": "ab"}), 422, "code"),
        (
            json!({"email": "a@x.test", "code": "é-accent"}),
            422,
            "code",
        ),
        (
            json!({"email": "a@x.test", "program_id": "prg_nope"}),
            422,
            "program_id",
        ),
        (
            json!({"email": "a@x.test", "program_id": beta_pid}),
            422,
            "program_id",
        ),
        (
            json!({"email": "a@x.test", "payout_method": "cheque"}),
            422,
            "payout_method",
        ),
        (
            json!({"email": "a@x.test", "metadata": [1, 2]}),
            422,
            "metadata",
        ),
        (
            json!({"email": "a@x.test", "commission_override": {"type": "percentage", "bps": 20000}}),
            422,
            "commission_override.bps",
        ),
        (
            json!({"email": "a@x.test", "status": "active"}),
            422,
            "status",
        ),
        (
            json!({"email": "a@x.test", "send_invite": "yes"}),
            400,
            "send_invite",
        ),
        (json!({"email": "a@x.test", "nickname": "J"}), 400, ""),
    ];
    for (body, status, field) in cases {
        let (got, err) = app
            .call(&key, Method::POST, "/api/v1/affiliates", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body} → {err}");
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field, "{body} → {err}");
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM email_outbox").await, 0);
}

#[tokio::test]
async fn updates_validate_status_and_delete_is_a_soft_deactivation() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let (_, a) = app
        .call(
            &key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@x.test", "name": "Jane"})),
        )
        .await;
    let id = a["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/affiliates/{id}");

    let (status, a) = app.call(&key, Method::PATCH, &path, Some(json!({
        "last_name": "Doe", "company": "Doe LLC", "commission_override": {"type": "percentage", "bps": 3000}, "status": "active"
    })))
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["status"], "active");
    assert_eq!(a["name"], "Jane Doe");
    assert_eq!(a["enrollments"][0]["commission_override"]["bps"], 3000);
    let (_, a) = app
        .call(
            &key,
            Method::PATCH,
            &path,
            Some(json!({"commission_override": null, "company": null})),
        )
        .await;
    assert_eq!(a["enrollments"][0]["commission_override"], Value::Null);
    assert_eq!(a["company"], Value::Null);

    for (body, field) in [
        (json!({"status": "invited"}), "status"),
        (json!({"status": "gone"}), "status"),
        (json!({"code": "new-code"}), "code"),
        (json!({"email": "bad"}), "email"),
    ] {
        let (status, err) = app
            .call(&key, Method::PATCH, &path, Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(err["error"]["field"], field);
    }
    for status in ["paused", "banned", "active"] {
        let (_, a) = app
            .call(&key, Method::PATCH, &path, Some(json!({"status": status})))
            .await;
        assert_eq!(a["status"], status);
        assert_eq!(a["enrollments"][0]["status"], status);
    }

    let (status, a) = app.call(&key, Method::DELETE, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(a["status"], "deactivated");
    let (status, a) = app.call(&key, Method::GET, &path, None).await;
    assert_eq!(
        (status, a["status"].as_str()),
        (200, Some("deactivated")),
        "history is kept"
    );
    let audit: Value = app
        .api_get(&key, "/api/v1/audit-log?per_page=100")
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "affiliate.created",
        "affiliate.updated",
        "affiliate.paused",
        "affiliate.banned",
        "affiliate.deactivated",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn a_deactivated_affiliate_cannot_use_its_invitation() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let (_, a) = app
        .call(
            &key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@x.test"})),
        )
        .await;
    let id = a["id"].as_str().unwrap();
    app.run_jobs().await;
    let (text,): (String,) = sqlx::query_as("SELECT body_text FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let start = text.find("http://").unwrap();
    let link = text[start..].split_whitespace().next().unwrap().to_owned();
    app.call(
        &key,
        Method::DELETE,
        &format!("/api/v1/affiliates/{id}"),
        None,
    )
    .await;
    let res = new_client().get(&link).send().await.unwrap();
    assert_eq!(res.status(), 410);
}

#[tokio::test]
async fn other_vendors_affiliates_are_404_everywhere() {
    let app = spawn_app().await;
    let acme_key = vendor(&app, "Acme").await.key;
    let beta_key = vendor(&app, "Beta").await.key;
    let (_, a) = app
        .call(
            &acme_key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@x.test", "customer_id": "cus_1"})),
        )
        .await;
    let id = a["id"].as_str().unwrap();
    let path = format!("/api/v1/affiliates/{id}");
    assert_eq!(app.call(&beta_key, Method::GET, &path, None).await.0, 404);
    assert_eq!(
        app.call(
            &beta_key,
            Method::PATCH,
            &path,
            Some(json!({"status": "banned"}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.call(&beta_key, Method::DELETE, &path, None).await.0,
        404
    );
    assert_eq!(
        app.call(&beta_key, Method::POST, &format!("{path}/invite"), None)
            .await
            .0,
        404
    );
    let (_, found) = app
        .call(
            &beta_key,
            Method::GET,
            "/api/v1/affiliates/by-customer/cus_1",
            None,
        )
        .await;
    assert_eq!(found, json!({"enrolled": false}));
    let list: Value = app
        .api_get(&beta_key, "/api/v1/affiliates")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);
    // Beta's portal cannot use Acme's invitation link.
    app.run_jobs().await;
    let (text,): (String,) = sqlx::query_as("SELECT body_text FROM email_outbox")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let start = text.find("/login/link/").unwrap();
    let token = text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches("/login/link/")
        .to_owned();
    let res = new_client()
        .get(app.url(&format!("/p/beta/login/link/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let (_, a) = app.call(&acme_key, Method::GET, &path, None).await;
    assert_eq!(a["status"], "invited");
}

#[tokio::test]
async fn the_dashboard_invites_lists_and_manages_affiliates() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;
    let res = app
        .post_form(
            "/dashboard/affiliates",
            "/dashboard/affiliates/new",
            &[
                ("email", "jane@x.test"),
                ("first_name", "Jane"),
                ("last_name", "Smith"),
                ("code", "jane"),
                ("send_invite", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let detail_path = res.headers()["location"].to_str().unwrap().to_owned();
    let detail = app.text(&detail_path).await;
    assert!(
        detail.contains("Jane Smith")
            && detail.contains("<code>jane</code>")
            && detail.contains("20% of every payment")
    );
    // Recent activity in words, not audit codes.
    assert!(
        detail.contains("added the affiliate Jane Smith") && !detail.contains("affiliate.created"),
        "recent activity: {detail}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'affiliate_invite'")
            .await,
        1
    );

    // A duplicate email is shown on the form.
    let res = app
        .post_form(
            "/dashboard/affiliates",
            "/dashboard/affiliates/new",
            &[("email", "JANE@x.test")],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("already exists"));

    for i in 0..30 {
        let email = format!("p{i:02}@y.test");
        app.post_form(
            "/dashboard/affiliates",
            "/dashboard/affiliates/new",
            &[("email", &email)],
        )
        .await;
    }
    // Full page first; HTMX gets only the table, with the filters kept in the page links.
    let page = app.text("/dashboard/affiliates?sort=email").await;
    assert!(
        page.contains("<html") && page.contains("31 affiliate(s)"),
        "{page}"
    );
    let res = app
        .client
        .get(app.url("/dashboard/affiliates?search=y.test&sort=email"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    let table = res.text().await.unwrap();
    assert!(!table.contains("<html"));
    assert!(
        table.contains("30 affiliate(s)")
            && table.contains("p00@y.test")
            && !table.contains("p29@y.test")
    );
    assert!(
        table.contains("/dashboard/affiliates?search=y.test&#38;sort=email&#38;page=2"),
        "{table}"
    );
    let page2 = app
        .text("/dashboard/affiliates?search=y.test&sort=email&page=2")
        .await;
    assert!(page2.contains("p29@y.test"));
    assert!(
        app.text("/dashboard/affiliates?status=active")
            .await
            .contains("0 affiliate(s)")
    );

    // Actions: override, pause, reactivate, deactivate; resend only while invited.
    let id = detail_path
        .trim_start_matches("/dashboard/affiliates/")
        .to_owned();
    let res = app
        .post_form(
            &format!("/dashboard/affiliates/{id}/invite"),
            &detail_path,
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'affiliate_invite' AND to_email = 'jane@x.test'").await, 2);
    app.post_form(
        &format!("/dashboard/affiliates/{id}/override"),
        &detail_path,
        &[("percent", "35")],
    )
    .await;
    assert!(
        app.text(&detail_path)
            .await
            .contains("35% of every payment (override)")
    );
    let res = app
        .post_form(
            &format!("/dashboard/affiliates/{id}/override"),
            &detail_path,
            &[("percent", "350")],
        )
        .await;
    assert_eq!(res.status(), 422);
    for status in ["paused", "active", "deactivated"] {
        let res = app
            .post_form(
                &format!("/dashboard/affiliates/{id}/status"),
                &detail_path,
                &[("status", status), ("confirm", "yes")],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert!(
            app.text(&detail_path)
                .await
                .contains(&format!("status-{status}\">{status}"))
        );
    }
    let res = app
        .post_form(
            &format!("/dashboard/affiliates/{id}/invite"),
            &detail_path,
            &[],
        )
        .await;
    assert_eq!(res.status(), 409);
    let res = app
        .post_form(
            &format!("/dashboard/affiliates/{id}/status"),
            &detail_path,
            &[("status", "invited")],
        )
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn dashboard_affiliates_are_per_vendor() {
    let app = spawn_app().await;
    let acme_key = vendor(&app, "Acme").await.key;
    vendor(&app, "Beta").await;
    let (_, a) = app
        .call(
            &acme_key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@x.test", "send_invite": false})),
        )
        .await;
    let id = a["id"].as_str().unwrap();
    app.login("owner@beta.test", crate::helpers::OWNER_PASSWORD)
        .await;
    assert!(
        app.text("/dashboard/affiliates")
            .await
            .contains("0 affiliate(s)")
    );
    assert_eq!(
        app.get(&format!("/dashboard/affiliates/{id}"))
            .await
            .status(),
        404
    );
    for (path, fields) in [
        ("status", vec![("status", "banned")]),
        ("invite", vec![]),
        ("override", vec![("percent", "50")]),
    ] {
        let res = app
            .post_form(
                &format!("/dashboard/affiliates/{id}/{path}"),
                "/dashboard/affiliates",
                &fields,
            )
            .await;
        assert_eq!(res.status(), 404, "{path}");
    }
    let (_, a) = app
        .call(
            &acme_key,
            Method::GET,
            &format!("/api/v1/affiliates/{id}"),
            None,
        )
        .await;
    assert_eq!(a["status"], "invited");
}

#[tokio::test]
async fn a_referral_code_is_changed_and_the_old_one_stops_resolving() {
    use crate::helpers::affiliates::affiliate;
    use crate::helpers::vendors::shop;
    let app = spawn_app().await;
    let acme = shop(&app, "Acme", "https://shop.acme.test/").await;
    let other = shop(&app, "Other", "https://shop.other.test/").await;
    let jane = affiliate(&app, &acme, "jane@acme.test", "jane20").await;
    affiliate(&app, &other, "olga@other.test", "olga20").await;
    let path = format!("/api/v1/affiliates/{jane}/code");
    assert_eq!(app.get("/r/jane20").await.status(), 302);

    for (body, status, field) in [
        (json!({"code": "no"}), 422, "code"),
        (json!({"code": "OLGA20"}), 409, "code"),
        (
            json!({"code": "jane-new", "program_id": other.program_id}),
            422,
            "program_id",
        ),
        (json!({"code": "jane-new", "extra": 1}), 400, ""),
    ] {
        let (got, err) = app.call(&acme.key, Method::PUT, &path, Some(body)).await;
        assert_eq!(got, status, "{err}");
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field, "{err}");
        }
    }
    // Another vendor's affiliate is not found.
    let (status, _) = app
        .call(
            &other.key,
            Method::PUT,
            &path,
            Some(json!({"code": "x-y-z"})),
        )
        .await;
    assert_eq!(status, 404);

    let (status, body) = app
        .call(
            &acme.key,
            Method::PUT,
            &path,
            Some(json!({"code": "Jane-New", "program_id": acme.program_id})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "jane-new");
    assert_eq!(body["enrollments"][0]["code"], "jane-new");
    let res = app.get("/r/jane-new").await;
    assert_eq!(res.status(), 302);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("ref=jane-new")
    );
    assert_eq!(app.get("/r/jane20").await.status(), 404, "the old code");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'affiliate.code_changed'")
            .await,
        1
    );
    // The same code again changes nothing; the freed code can be taken again.
    let (status, _) = app
        .call(
            &acme.key,
            Method::PUT,
            &path,
            Some(json!({"code": "jane-new"})),
        )
        .await;
    assert_eq!(status, 200);
    affiliate(&app, &other, "olaf@other.test", "jane20").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'affiliate.code_changed'")
            .await,
        1
    );
}

/// Every page of every order, filtered or not, is the matching affiliates in that order:
/// a page's ids are found first and its rows read after (`db::affiliates::page`), so the
/// walk through the pages must give back the whole list, each affiliate once, in order.
#[tokio::test]
async fn pages_of_every_order_walk_the_whole_list_in_order() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let names = [
        "delta", "Alpha", "charlie", "Bravo", "echo", "alpha", "Foxtrot", "golf", "Hotel", "india",
        "Juliet", "kilo", "Lima",
    ];
    for (i, name) in names.iter().enumerate() {
        // Emails run against the names' order, so the two sorts differ.
        let email = format!("{}{i}@walk.test", (b'z' - i as u8) as char);
        let (status, a) = app
            .call(
                &key,
                Method::POST,
                "/api/v1/affiliates",
                Some(json!({"email": email, "name": name, "send_invite": false})),
            )
            .await;
        assert_eq!(status, 201, "{a}");
        if i % 3 == 0 {
            let id = a["id"].as_str().unwrap();
            let (status, _) = app
                .call(
                    &key,
                    Method::PATCH,
                    &format!("/api/v1/affiliates/{id}"),
                    Some(json!({"status": "paused"})),
                )
                .await;
            assert_eq!(status, 200);
        }
    }
    let get = |path: String| {
        let app = &app;
        let key = &key;
        async move {
            let body: Value = app.api_get(key, &path).await.json().await.unwrap();
            body
        }
    };
    for filter in [
        "",
        "&status=paused",
        "&search=a",
        "&search=walk.test&status=invited",
    ] {
        for sort in ["-created_at", "created_at", "email", "name"] {
            let whole = get(format!(
                "/api/v1/affiliates?per_page=100&sort={sort}{filter}"
            ))
            .await;
            let all = whole["data"].as_array().unwrap().clone();
            assert_eq!(whole["total"], all.len(), "{sort}{filter}");
            assert!(!all.is_empty(), "{sort}{filter}");
            // The whole list is in the order asked for, ties broken by id.
            let key_of = |a: &Value| -> (String, String) {
                let field = match sort {
                    "email" => a["email"].as_str().unwrap().to_lowercase(),
                    "name" => a["name"].as_str().unwrap().to_lowercase(),
                    _ => a["created_at"].as_str().unwrap().to_owned(),
                };
                (field, a["id"].as_str().unwrap().to_owned())
            };
            let mut expected = all.clone();
            expected.sort_by_key(key_of);
            if sort == "-created_at" {
                expected.reverse();
            }
            let ids = |v: &[Value]| -> Vec<String> {
                v.iter()
                    .map(|a| a["id"].as_str().unwrap().to_owned())
                    .collect()
            };
            assert_eq!(ids(&all), ids(&expected), "order of {sort}{filter}");
            // Pages of 3 walk the same list.
            let mut walked = Vec::new();
            for page in 1..=all.len().div_ceil(3) {
                let body = get(format!(
                    "/api/v1/affiliates?per_page=3&page={page}&sort={sort}{filter}"
                ))
                .await;
                assert_eq!(body["total"], all.len(), "page {page} of {sort}{filter}");
                walked.extend(body["data"].as_array().unwrap().iter().cloned());
            }
            assert_eq!(ids(&walked), ids(&all), "pages of {sort}{filter}");
        }
    }
}
