//! Per-group application form fields (issue 23): a group's questions on the portal's
//! `/apply?group=` form and through the API, answers validated beside the field, stored,
//! shown in the review queue in words and in the API, approval enrolling in the group;
//! bad field definitions and another vendor's group refused.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::money::money_shop;
use crate::helpers::vendors::Shop;
use crate::helpers::{OWNER_PASSWORD, TestApp, spawn_app};

/// Gold with two questions (one required); returns its id.
async fn gold(app: &TestApp, s: &Shop) -> String {
    let (status, g) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/programs/{}/groups", s.program_id),
            Some(json!({"name": "Gold", "application_fields": [
                {"key": "audience", "label": "Who is your audience?", "required": true, "type": "textarea"},
                {"key": "channel", "label": "Your channel", "required": false, "type": "url"},
            ]})),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    assert_eq!(g["application_fields"][0]["key"], "audience", "{g}");
    assert_eq!(g["application_fields"][1]["type"], "url", "{g}");
    g["id"].as_str().unwrap().to_owned()
}

fn form<'a>(
    email: &'a str,
    group: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("email", email),
        ("name", "Jane Smith"),
        ("company", ""),
        ("website", ""),
        ("reason", "Blog"),
        ("nickname", ""),
        ("group", group),
    ];
    f.extend_from_slice(extra);
    f
}

#[tokio::test]
async fn a_groups_questions_are_asked_checked_stored_shown_and_approval_enrolls_in_it() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    let gold = gold(&app, &s).await;
    let page = format!("/p/acme/apply?group={gold}");
    let html = app.text(&page).await;
    assert!(html.contains("Who is your audience?"), "{html}");
    assert!(html.contains("name=\"answer_channel\""));
    // Without ?group= the default group's form: no such question.
    assert!(
        !app.text("/p/acme/apply")
            .await
            .contains("Who is your audience?")
    );

    // The required answer missing: the error beside the field, nothing stored.
    let res = app
        .post_form("/p/acme/apply", &page, &form("jane@x.test", &gold, &[]))
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("data-test=\"field-error\">Who is your audience? is required"),
        "{body}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    // A bad URL: refused beside its field.
    let res = app
        .post_form(
            "/p/acme/apply",
            &page,
            &form(
                "jane@x.test",
                &gold,
                &[("answer_audience", "Cooks"), ("answer_channel", "nope")],
            ),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your channel must be an http(s) address")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);

    // Both answered: stored with the group.
    let res = app
        .post_form(
            "/p/acme/apply",
            &page,
            &form(
                "jane@x.test",
                &gold,
                &[
                    ("answer_audience", "Home cooks"),
                    ("answer_channel", "https://yt.example/jane"),
                ],
            ),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, list) = app
        .call(&s.key, Method::GET, "/api/v1/applications", None)
        .await;
    assert_eq!(status, 200, "{list}");
    let a = &list["data"][0];
    assert_eq!(a["group_id"], gold.as_str(), "{a}");
    assert_eq!(
        a["answers"],
        json!({"audience": "Home cooks", "channel": "https://yt.example/jane"})
    );
    let id = a["id"].as_str().unwrap().to_owned();

    // The review queue shows it in words.
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let queue = staff
        .get(app.url("/dashboard/applications"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains("<strong>Who is your audience?:</strong> Home cooks"),
        "{queue}"
    );
    assert!(queue.contains("Group: Gold"));

    // Approval enrolls in Gold, not the default group.
    let (status, done) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/applications/{id}/review"),
            Some(json!({"action": "approve"})),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let affiliate = done["affiliate_id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM enrollments WHERE affiliate_id = '{affiliate}' AND group_id = '{gold}'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn the_api_takes_answers_and_refuses_bad_fields_and_other_vendors_groups() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    let other = money_shop(&app, "Other", json!({"type": "percentage", "bps": 2000})).await;
    let gold = gold(&app, &s).await;
    let theirs = gold_of_other(&app, &other).await;

    let submit = |body: Value| {
        let key = s.key.clone();
        let app = &app;
        async move {
            app.call(&key, Method::POST, "/api/v1/applications", Some(body))
                .await
        }
    };
    // Missing the required answer; an unknown key; another vendor's group: 422, nothing.
    for (body, field) in [
        (
            json!({"email": "a@x.test", "name": "A", "group_id": gold}),
            "answers.audience",
        ),
        (
            json!({"email": "a@x.test", "name": "A", "group_id": gold,
                   "answers": {"audience": "x", "zzz": "y"}}),
            "answers",
        ),
        (
            json!({"email": "a@x.test", "name": "A", "group_id": theirs,
                   "answers": {"audience": "x"}}),
            "group_id",
        ),
        (
            json!({"email": "a@x.test", "name": "A", "group_id": gold,
                   "answers": {"audience": "x".repeat(2001)}}),
            "answers.audience",
        ),
    ] {
        let (status, b) = submit(body.clone()).await;
        assert_eq!(status, 422, "{body}: {b}");
        assert_eq!(b["error"]["field"], field, "{b}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, 0);
    let (status, b) = submit(json!({"email": "a@x.test", "name": "A", "group_id": gold,
                                    "answers": {"audience": "Gamers"}}))
    .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM applications WHERE group_id = '{gold}' AND answers = '{{\"audience\":\"Gamers\"}}'"
        ))
        .await,
        1
    );
    // Another vendor's group on the portal: 404.
    let res = app
        .client
        .get(app.url(&format!("/p/acme/apply?group={theirs}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Bad field definitions: 422 with the envelope (a wrong shape: the 400 envelope),
    // nothing changed.
    let path = format!("/api/v1/groups/{gold}");
    let f = |key: &str, label: &str| json!({"key": key, "label": label, "required": true, "type": "text"});
    for (fields, want) in [
        (json!([f("Bad", "x")]), 422),
        (json!([f("a", "")]), 422),
        (json!([f("a", &"x".repeat(101))]), 422),
        (json!([f("a", "x"), f("a", "y")]), 422),
        (
            Value::Array((0..11).map(|i| f(&format!("k{i}"), "x")).collect()),
            422,
        ),
        (
            json!([{"key": "a", "label": "x", "required": true, "type": "checkbox"}]),
            400,
        ),
        (json!([{"key": "a", "label": "x", "type": "text"}]), 400),
    ] {
        let (status, b) = app
            .call(
                &s.key,
                Method::PATCH,
                &path,
                Some(json!({"application_fields": fields})),
            )
            .await;
        assert_eq!(status, want, "{fields}: {b}");
        assert!(b["error"]["code"].is_string(), "{b}");
        assert!(
            b["error"]["field"]
                .as_str()
                .unwrap()
                .starts_with("application_fields"),
            "{b}"
        );
    }
    let (status, g) = app.call(&s.key, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(g["application_fields"].as_array().unwrap().len(), 2, "{g}");
    // Another vendor cannot change ours.
    let (status, _) = app
        .call(
            &other.key,
            Method::PATCH,
            &path,
            Some(json!({"application_fields": []})),
        )
        .await;
    assert_eq!(status, 404);
}

async fn gold_of_other(app: &TestApp, s: &Shop) -> String {
    gold(app, s).await
}

#[tokio::test]
async fn the_dashboard_sets_questions_and_backtests_a_group() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    let gold = gold(&app, &s).await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let page = format!("/dashboard/groups/{gold}");
    let edit = staff
        .get(app.url(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        edit.contains("audience | Who is your audience? | required | textarea"),
        "{edit}"
    );
    let fields = [
        ("name", "Gold"),
        ("commission_type", "percentage"),
        ("commission_percent", "30"),
        (
            "application_fields",
            "niche | Your niche | required\nBad key | x",
        ),
    ];
    let res = app.post_form_as(&staff, &page, &page, &fields).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Bad key"));
    let fields = [
        ("name", "Gold"),
        ("commission_type", "percentage"),
        ("commission_percent", "30"),
        ("application_fields", "niche | Your niche | required"),
    ];
    let res = app.post_form_as(&staff, &page, &page, &fields).await;
    assert_eq!(res.status(), 303);
    let (_, g) = app
        .call(&s.key, Method::GET, &format!("/api/v1/groups/{gold}"), None)
        .await;
    assert_eq!(
        g["application_fields"],
        json!([{"key": "niche", "label": "Your niche", "required": true, "type": "text"}])
    );

    // The program page's backtest offers the groups and replays the chosen one.
    let program = format!("/dashboard/programs/{}", s.program_id);
    let html = staff
        .get(app.url(&program))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"backtest_group\""), "{html}");
    assert!(html.contains(&format!("<option value=\"{gold}\">Gold</option>")));
    let res = app
        .post_form_as(
            &staff,
            &format!("{program}/backtest"),
            &program,
            &[
                ("name", "Acme affiliate program"),
                ("commission_type", "percentage"),
                ("commission_percent", "25"),
                ("backtest_group", gold.as_str()),
            ],
        )
        .await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("<option value=\"{gold}\" selected>Gold</option>")));
}
