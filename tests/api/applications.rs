//! Applications (seed 001): submit, duplicates, status, review, events, emails.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;
use crate::helpers::vendors::vendor;

fn jane() -> Value {
    json!({"email": "partner@example.test", "name": "Jane Smith", "company": "Acme Inc",
           "website": "https://acme.test", "reason": "I have a large audience in the SaaS space"})
}

#[tokio::test]
async fn seed_001_apply_status_and_approve() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;

    let (status, body) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(jane()))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending");
    assert!(body["message"].is_string());
    let id = body["id"].as_str().unwrap().to_owned();

    // A second open application from the same email (any case) is refused.
    let mut again = jane();
    again["email"] = json!("PARTNER@example.test");
    let (status, err) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(again))
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("duplicate"))
    );

    let (_, st) = app
        .call(
            &key,
            Method::GET,
            "/api/v1/applications/status?email=Partner@Example.test",
            None,
        )
        .await;
    assert_eq!(
        (st["applied"].as_bool(), st["status"].as_str()),
        (Some(true), Some("pending"))
    );
    let (_, none) = app
        .call(
            &key,
            Method::GET,
            "/api/v1/applications/status?email=nobody@example.test",
            None,
        )
        .await;
    assert_eq!(none["applied"], false);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications").await,
        1,
        "status lookups have no side effects"
    );

    let (_, list) = app
        .call(
            &key,
            Method::GET,
            "/api/v1/applications?status=pending",
            None,
        )
        .await;
    assert_eq!(list["total"], 1);
    assert_eq!(
        list["data"][0]["reason"],
        "I have a large audience in the SaaS space"
    );

    let (status, reviewed) = app
        .call(
            &key,
            Method::POST,
            &format!("/api/v1/applications/{id}/review"),
            Some(json!({"action": "approve", "code": "JANE20"})),
        )
        .await;
    assert_eq!(status, 200, "{reviewed}");
    assert_eq!(reviewed["status"], "approved");
    assert_eq!(reviewed["affiliate"]["code"], "jane20");
    let affiliate_id = reviewed["affiliate"]["id"].as_str().unwrap().to_owned();
    let (_, a) = app
        .call(
            &key,
            Method::GET,
            &format!("/api/v1/affiliates/{affiliate_id}"),
            None,
        )
        .await;
    assert_eq!(a["status"], "active");
    assert_eq!(a["company"], "Acme Inc");
    assert_eq!(a["enrollments"][0]["status"], "active");

    // Reviewing again changes nothing.
    let (status, _) = app
        .call(
            &key,
            Method::POST,
            &format!("/api/v1/applications/{id}/review"),
            Some(json!({"action": "reject"})),
        )
        .await;
    assert_eq!(status, 409);
    let (_, st) = app
        .call(
            &key,
            Method::GET,
            "/api/v1/applications/status?email=partner@example.test",
            None,
        )
        .await;
    assert_eq!(st["status"], "approved");
    // Still refused while approved.
    let (status, _) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(jane()))
        .await;
    assert_eq!(status, 409);

    // The welcome email and the event were written with the decision.
    let (subject,): (String,) =
        sqlx::query_as("SELECT subject FROM email_outbox WHERE kind = 'application_approved'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(subject, "Welcome to the Acme partner program");
    let (payload,): (String,) =
        sqlx::query_as("SELECT payload FROM events WHERE type = 'partner_application_approved'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload["application"]["email"], "partner@example.test");
    assert_eq!(
        payload["affiliate"],
        json!({"id": affiliate_id, "code": "jane20", "customer_id": null})
    );
}

#[tokio::test]
async fn rejection_emails_the_reason_and_allows_a_new_application() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let (_, body) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(jane()))
        .await;
    let id = body["id"].as_str().unwrap();
    let (status, r) = app
        .call(
            &key,
            Method::POST,
            &format!("/api/v1/applications/{id}/review"),
            Some(json!({"action": "reject", "rejectionReason": "Not a good fit at this time"})),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "rejected");
    let (_, st) = app
        .call(
            &key,
            Method::GET,
            "/api/v1/applications/status?email=partner@example.test",
            None,
        )
        .await;
    assert_eq!(
        st,
        json!({"applied": true, "id": id, "status": "rejected", "rejection_reason": "Not a good fit at this time"})
    );
    let (text,): (String,) =
        sqlx::query_as("SELECT body_text FROM email_outbox WHERE kind = 'application_rejected'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(text.contains("Reason: Not a good fit at this time"));
    let (payload,): (String,) =
        sqlx::query_as("SELECT payload FROM events WHERE type = 'partner_application_rejected'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(payload.contains("\"reason\":\"Not a good fit at this time\""));
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 0);

    let (status, _) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(jane()))
        .await;
    assert_eq!(status, 201, "a rejected applicant may apply again");
}

#[tokio::test]
async fn auto_approve_programs_approve_on_submit() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let (_, programs) = app.call(&key, Method::GET, "/api/v1/programs", None).await;
    let pid = programs["data"][0]["id"].as_str().unwrap().to_owned();
    app.call(
        &key,
        Method::PATCH,
        &format!("/api/v1/programs/{pid}"),
        Some(json!({"auto_approve": true})),
    )
    .await;
    let (status, body) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(jane()))
        .await;
    assert_eq!((status, body["status"].as_str()), (201, Some("approved")));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE status = 'active'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type = 'partner_application_approved'")
            .await,
        1
    );
}

#[tokio::test]
async fn approval_reuses_an_existing_affiliate_and_code_conflicts_change_nothing() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let (_, second) = app
        .call(
            &key,
            Method::POST,
            "/api/v1/programs",
            Some(json!({"name": "Agencies"})),
        )
        .await;
    let agencies = second["id"].as_str().unwrap().to_owned();
    // Jane is already an affiliate of the default program; she applies to the second one.
    app.call(
        &key,
        Method::POST,
        "/api/v1/affiliates",
        Some(json!({"email": "partner@example.test", "code": "taken-code", "send_invite": false})),
    )
    .await;
    let mut body = jane();
    body["program_id"] = json!(agencies);
    let (status, created) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(body))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/applications/{id}/review");
    let (status, err) = app
        .call(
            &key,
            Method::POST,
            &path,
            Some(json!({"action": "approve", "code": "taken-code"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (409, Some("code"))
    );
    let (_, st) = app
        .call(
            &key,
            Method::GET,
            "/api/v1/applications/status?email=partner@example.test",
            None,
        )
        .await;
    assert_eq!(
        st["status"], "pending",
        "the failed approval changed nothing"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type LIKE 'partner_application_%' AND type <> 'partner_application_submitted'")
            .await,
        0
    );

    let (status, ok) = app
        .call(
            &key,
            Method::POST,
            &path,
            Some(json!({"action": "approve"})),
        )
        .await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates").await,
        1,
        "reused by email"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM enrollments").await, 2);
    // Already enrolled in the default program: applying there is refused.
    let (status, _) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(jane()))
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn bad_applications_and_reviews_are_refused() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let beta_key = vendor(&app, "Beta").await.key;
    for (body, status, field) in [
        (json!({"name": "Jane"}), 422, "email"),
        (json!({"email": "bad", "name": "Jane"}), 422, "email"),
        (json!({"email": "a@x.test"}), 422, "name"),
        (
            json!({"email": "a@x.test", "name": "J", "reason": "r".repeat(2001)}),
            422,
            "reason",
        ),
        (
            json!({"email": "a@x.test", "name": "J", "program_id": "prg_nope"}),
            422,
            "program_id",
        ),
        (
            json!({"email": "a@x.test", "name": "J", "favourite": "x"}),
            400,
            "",
        ),
    ] {
        let (got, err) = app
            .call(
                &key,
                Method::POST,
                "/api/v1/applications",
                Some(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{body} {err}");
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field);
        }
    }
    let (_, created) = app
        .call(&key, Method::POST, "/api/v1/applications", Some(jane()))
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/applications/{id}/review");
    let (status, err) = app
        .call(&key, Method::POST, &path, Some(json!({"action": "maybe"})))
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("action"))
    );
    let (status, _) = app
        .call(
            &key,
            Method::POST,
            &path,
            Some(json!({"action": "approve", "code": "bad code!"})),
        )
        .await;
    assert_eq!(status, 422);
    // Another vendor cannot see or review it.
    let (status, _) = app
        .call(
            &beta_key,
            Method::POST,
            &path,
            Some(json!({"action": "approve"})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = app
        .call(&beta_key, Method::GET, "/api/v1/applications", None)
        .await;
    assert_eq!(list["total"], 0);
    let (_, st) = app
        .call(
            &beta_key,
            Method::GET,
            "/api/v1/applications/status?email=partner@example.test",
            None,
        )
        .await;
    assert_eq!(st["applied"], false);
    let (status, _) = app
        .call(&key, Method::GET, "/api/v1/applications?status=lost", None)
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE status = 'pending'")
            .await,
        1
    );
}

fn apply_fields<'a>(email: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("email", email),
        ("name", "Jane Smith"),
        ("company", ""),
        ("website", ""),
        ("reason", "Blog"),
        ("nickname", ""),
    ];
    f.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    f.extend_from_slice(extra);
    f
}

#[tokio::test]
async fn the_public_form_works_on_the_portal_and_the_custom_domain() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let acme = affilia::db::vendors::by_slug(app.db.pool(), "acme")
        .await
        .unwrap()
        .unwrap();
    affilia::domain::tenancy::vendors::add_portal_domain(
        &app.db,
        &[],
        &acme.id,
        "partners.acme.test",
        true,
        &affilia::domain::tenancy::audit::Actor::Cli,
    )
    .await
    .unwrap();

    assert!(
        app.text("/p/acme/")
            .await
            .contains("href=\"/p/acme/apply\"")
    );
    let form = app.text("/p/acme/apply").await;
    assert!(form.contains("Apply to Acme affiliate program"));
    let res = app
        .post_form(
            "/p/acme/apply",
            "/p/acme/apply",
            &apply_fields("jane@x.test", &[]),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("was received"));
    let (source,): (String,) = sqlx::query_as("SELECT source FROM applications")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(source, "portal");

    // The same person again: the same answer as anyone (no enumeration), one application,
    // and an email telling them they already applied.
    let res = app
        .post_form(
            "/p/acme/apply",
            "/p/acme/apply",
            &apply_fields("JANE@x.test", &[]),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("was received"));
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'already_applied'")
            .await,
        1
    );

    // Invalid input is shown back with the field marked, and nothing is stored.
    let res = app
        .post_form(
            "/p/acme/apply",
            "/p/acme/apply",
            &apply_fields("not-an-email", &[]),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("aria-invalid"));

    // The custom domain serves the same form, with its own cookies.
    let custom = app.client_for_host("partners.acme.test");
    let page = custom
        .get(app.host_url("partners.acme.test", "/apply"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("action=\"/apply\""));
    let token = crate::helpers::csrf_from(&page);
    let mut fields = apply_fields("bob@x.test", &[]);
    fields.push(("csrf_token", &token));
    let res = custom
        .post(app.host_url("partners.acme.test", "/apply"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, list) = app
        .call(&key, Method::GET, "/api/v1/applications", None)
        .await;
    assert_eq!(list["total"], 2);
}

#[tokio::test]
async fn bots_and_floods_are_kept_out_of_the_public_form() {
    let app = spawn_app().await;
    vendor(&app, "Acme").await;
    let res = app
        .post_form(
            "/p/acme/apply",
            "/p/acme/apply",
            &apply_fields("bot@x.test", &[("nickname", "spam")]),
        )
        .await
        .text()
        .await
        .unwrap();
    let res_ok = res.contains("Thank you");
    assert!(res_ok, "bots see the same thank-you page");
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);

    for i in 0..10 {
        let email = format!("person{i}@x.test");
        let res = app
            .post_form("/p/acme/apply", "/p/acme/apply", &apply_fields(&email, &[]))
            .await;
        assert_eq!(res.status(), 200, "{i}");
    }
    let res = app
        .post_form(
            "/p/acme/apply",
            "/p/acme/apply",
            &apply_fields("eleven@x.test", &[]),
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("Too many attempts"));
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 10);
}

#[tokio::test]
async fn program_terms_must_be_accepted_and_inactive_programs_take_no_applications() {
    let app = spawn_app().await;
    let key = vendor(&app, "Acme").await.key;
    let (_, programs) = app.call(&key, Method::GET, "/api/v1/programs", None).await;
    let pid = programs["data"][0]["id"].as_str().unwrap().to_owned();
    app.call(
        &key,
        Method::PATCH,
        &format!("/api/v1/programs/{pid}"),
        Some(json!({"terms_text": "No spam. No brand bidding."})),
    )
    .await;
    app.call(
        &key,
        Method::POST,
        "/api/v1/programs",
        Some(json!({"name": "Agencies", "slug": "agencies"})),
    )
    .await;
    app.call(
        &key,
        Method::POST,
        "/api/v1/programs",
        Some(json!({"name": "Old", "slug": "old", "status": "archived"})),
    )
    .await;

    let page = app.text("/p/acme/apply").await;
    assert!(page.contains("No spam. No brand bidding."));
    assert!(page.contains("?program=agencies"));
    assert!(!page.contains("?program=old"));
    let res = app
        .post_form(
            "/p/acme/apply",
            "/p/acme/apply",
            &apply_fields("jane@x.test", &[("program", "default")]),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("accept the program terms")
    );
    let res = app
        .post_form(
            "/p/acme/apply",
            "/p/acme/apply",
            &apply_fields(
                "jane@x.test",
                &[("program", "default"), ("accept_terms", "on")],
            ),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post_form(
            "/p/acme/apply",
            "/p/acme/apply?program=agencies",
            &apply_fields("jane@x.test", &[("program", "agencies")]),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "the second program has no terms to accept"
    );
    assert_eq!(app.get("/p/acme/apply?program=old").await.status(), 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 2);
}

#[tokio::test]
async fn the_dashboard_queue_reviews_inline_and_in_bulk() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;
    for email in ["a@x.test", "b@x.test", "c@x.test", "d@x.test"] {
        let other = crate::helpers::new_client();
        let res = app
            .post_form_as(
                &other,
                "/p/acme/apply",
                "/p/acme/apply",
                &apply_fields(email, &[]),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let page = app.text("/dashboard/applications").await;
    assert!(page.contains("id=\"pending-count\">4<"), "{page}");
    let ids: Vec<String> =
        sqlx::query_as::<_, (String,)>("SELECT id FROM applications ORDER BY email")
            .fetch_all(app.db.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|(id,)| id)
            .collect();
    let token = crate::helpers::csrf_from(&page);
    let hx = |path: String, form: Vec<(&'static str, &'static str)>| {
        app.client
            .post(app.url(&path))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &token)
            .form(&form)
            .send()
    };

    // Inline approve with a chosen code: the row and the counts come back.
    let res = hx(
        format!("/dashboard/applications/{}/review", ids[0]),
        vec![("action", "approve"), ("code", "Alpha-1")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("id=\"application-{}\"", ids[0])));
    assert!(html.contains("status-approved"));
    assert!(
        html.contains("hx-swap-oob=\"true\"") && html.contains("id=\"pending-count\">3<"),
        "{html}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM enrollments WHERE code = 'alpha-1'")
            .await,
        1
    );

    // A taken code: a toast, and the application stays pending.
    let res = hx(
        format!("/dashboard/applications/{}/review", ids[1]),
        vec![("action", "approve"), ("code", "alpha-1")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.headers()["hx-retarget"], "#toasts");
    // Reviewing a decided one again: a toast too.
    let res = hx(
        format!("/dashboard/applications/{}/review", ids[0]),
        vec![("action", "reject")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);

    // Bulk: reject two with a reason; one of them was approved already and is counted as failed.
    let res = app
        .client
        .post(app.url("/dashboard/applications/bulk"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("ids", &ids[0]),
            ("ids", &ids[1]),
            ("ids", &ids[2]),
            ("action", "reject"),
            ("rejection_reason", "Full for now"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/dashboard/applications?done=2&failed=1"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications WHERE status = 'rejected' AND rejection_reason = 'Full for now'").await, 2);
    let page = app.text("/dashboard/applications?done=2&failed=1").await;
    assert!(page.contains("2 application(s) decided; 1 could not be"));
    assert!(
        app.text("/dashboard/applications?status=rejected")
            .await
            .contains("Full for now")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'application_rejected'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type IN ('partner_application_approved', 'partner_application_rejected')")
            .await,
        3
    );
}

#[tokio::test]
async fn the_dashboard_queue_is_per_vendor() {
    let app = spawn_app().await;
    let acme_key = vendor(&app, "Acme").await.key;
    vendor(&app, "Beta").await;
    let (_, created) = app
        .call(
            &acme_key,
            Method::POST,
            "/api/v1/applications",
            Some(jane()),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    app.login("owner@beta.test", crate::helpers::OWNER_PASSWORD)
        .await;
    assert!(
        !app.text("/dashboard/applications")
            .await
            .contains("partner@example.test")
    );
    let res = app
        .post_form(
            &format!("/dashboard/applications/{id}/review"),
            "/dashboard/applications",
            &[("action", "approve")],
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_form(
            "/dashboard/applications/bulk",
            "/dashboard/applications",
            &[("ids", id), ("action", "approve")],
        )
        .await;
    assert_eq!(
        res.headers()["location"],
        "/dashboard/applications?done=0&failed=1"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM applications WHERE status = 'pending'")
            .await,
        1
    );
}
