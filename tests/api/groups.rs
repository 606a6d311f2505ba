//! Partner groups (issue 23): a two-group program whose affiliate moves up on its own after
//! N approved conversions (on approval and by the worker), its next conversion earning the
//! new group's terms while earlier ones keep theirs; moves by hand audited and emailed; a
//! promotion evaluated twice or concurrently moves once; isolation, bad input and viewers;
//! the portal shows the group and the next step; the group's settings and the backtest.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use affilia::domain::tenancy::api_keys::Scope;

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{convert, earn, money_shop, verify_ledger};
use crate::helpers::vendors::Shop;
use crate::helpers::{OWNER_PASSWORD, TestApp, second_instance, spawn_app};

const DAY_MS: i64 = 86_400_000;

async fn text(app: &TestApp, sql: &str) -> String {
    let (v,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    v
}

/// Gold (30 %, no holding period, own landing page) beside the default group; returns
/// (default group id, gold group id).
async fn two_groups(app: &TestApp, s: &Shop) -> (String, String) {
    let (status, gold) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/programs/{}/groups", s.program_id),
            Some(
                json!({"name": "Gold", "commission": {"type": "percentage", "bps": 3000},
                        "holding_period_days": 0, "landing_url": "https://gold.example.com/vip"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{gold}");
    assert_eq!(gold["is_default"], false, "{gold}");
    assert_eq!(gold["terms_version"], 1, "{gold}");
    let (status, list) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/programs/{}/groups", s.program_id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 2, "{list}");
    assert_eq!(list["data"][0]["is_default"], true, "{list}");
    (
        list["data"][0]["id"].as_str().unwrap().to_owned(),
        gold["id"].as_str().unwrap().to_owned(),
    )
}

async fn rule(app: &TestApp, s: &Shop, body: Value) -> (u16, Value) {
    app.call(
        &s.key,
        Method::POST,
        &format!("/api/v1/programs/{}/group-rules", s.program_id),
        Some(body),
    )
    .await
}

async fn group_of(app: &TestApp, affiliate_id: &str) -> String {
    text(
        app,
        &format!("SELECT group_id FROM enrollments WHERE affiliate_id = '{affiliate_id}'"),
    )
    .await
}

async fn direct_cents(app: &TestApp, conversion_id: &str) -> i64 {
    app.count(&format!(
        "SELECT amount_cents FROM commissions WHERE conversion_id = '{conversion_id}' AND level = 0"
    ))
    .await
}

async fn moves_audited(app: &TestApp, affiliate_id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'affiliate.group_changed' \
         AND object_id = '{affiliate_id}'"
    ))
    .await
}

#[tokio::test]
async fn an_affiliate_moves_up_on_approval_and_its_next_conversion_earns_the_new_terms() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Grow", json!({"type": "percentage", "bps": 2000})).await;
    let (default_group, gold) = two_groups(&app, &s).await;
    let (status, r) = rule(
        &app,
        &s,
        json!({"from_group_id": default_group, "to_group_id": gold,
               "metric": "approved_conversions", "threshold": 3}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let jane = affiliate(&app, &s, "jane@grow.test", "grow-jane").await;
    assert_eq!(group_of(&app, &jane).await, default_group);

    let first = earn(&app, &s, &jane, 10_000, Some("o1")).await;
    earn(&app, &s, &jane, 10_000, Some("o2")).await;
    assert_eq!(group_of(&app, &jane).await, default_group, "2 of 3");
    // The third approval reaches the threshold: moved in the approving transaction.
    let third = earn(&app, &s, &jane, 10_000, Some("o3")).await;
    assert_eq!(group_of(&app, &jane).await, gold);
    // Recorded before the move: Default's 20 %.
    assert_eq!(direct_cents(&app, &first).await, 2000);
    assert_eq!(direct_cents(&app, &third).await, 2000);
    // The next conversion earns Gold's 30 %, with Gold's holding period (none).
    let next = convert(&app, &s, &jane, 10_000, Some("o4"), false).await;
    assert_eq!(direct_cents(&app, &next).await, 3000);
    assert_eq!(
        app.count(&format!(
            "SELECT available_at - occurred_at FROM conversions WHERE id = '{next}'"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT available_at - occurred_at FROM conversions WHERE id = '{first}'"
        ))
        .await,
        30 * DAY_MS
    );
    // Once: audited, announced, emailed.
    assert_eq!(moves_audited(&app, &jane).await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type = 'affiliate.group_changed'")
            .await,
        1
    );
    app.run_jobs().await;
    let subject = text(
        &app,
        "SELECT subject FROM email_outbox WHERE kind = 'group_changed' AND to_email = 'jane@grow.test'",
    )
    .await;
    assert!(subject.contains("Gold"), "{subject}");
    // The group's landing page is where the member's links now lead.
    let res = app
        .client
        .get(app.url("/r/grow-jane"))
        .send()
        .await
        .unwrap();
    let location = res
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        location.starts_with("https://gold.example.com/vip"),
        "{location}"
    );
    verify_ledger(&app).await;
}

#[tokio::test]
async fn the_worker_promotes_and_an_evaluation_twice_or_concurrently_moves_once() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Sweep", json!({"type": "percentage", "bps": 2000})).await;
    let (default_group, gold) = two_groups(&app, &s).await;
    let ann = affiliate(&app, &s, "ann@sweep.test", "sweep-ann").await;
    let bob = affiliate(&app, &s, "bob@sweep.test", "sweep-bob").await;
    // Approved before any rule existed: only the worker's sweep can promote them.
    earn(&app, &s, &ann, 10_000, Some("a1")).await;
    earn(&app, &s, &ann, 10_000, Some("a2")).await;
    earn(&app, &s, &bob, 10_000, Some("b1")).await;
    let (status, r) = rule(
        &app,
        &s,
        json!({"from_group_id": default_group, "to_group_id": gold,
               "metric": "approved_revenue", "threshold": 15_000, "window_days": 90}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["window_days"], 90, "{r}");
    assert_eq!(group_of(&app, &ann).await, default_group);

    // Two instances' workers and four direct sweeps at once, then again.
    let second = second_instance(&app).await;
    let now = affilia::db::now_ms();
    let sweeps =
        join_all((0..4).map(|_| affilia::domain::partners::groups::promotion::sweep(&app.db, now)));
    let (_, _, swept) = tokio::join!(app.run_jobs(), second.run_jobs(), sweeps);
    for s in &swept {
        assert!(s.is_ok(), "{s:?}");
    }
    app.run_jobs().await;
    second.run_jobs().await;
    assert_eq!(group_of(&app, &ann).await, gold);
    assert_eq!(group_of(&app, &bob).await, default_group, "10,000 < 15,000");
    assert_eq!(moves_audited(&app, &ann).await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type = 'affiliate.group_changed'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'group_changed'")
            .await,
        1
    );
    verify_ledger(&app).await;
}

#[tokio::test]
async fn a_demotion_rule_moves_an_affiliate_back_when_it_falls_below() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Demote", json!({"type": "percentage", "bps": 2000})).await;
    let (default_group, gold) = two_groups(&app, &s).await;
    let (status, r) = rule(
        &app,
        &s,
        json!({"from_group_id": default_group, "to_group_id": gold,
               "metric": "approved_conversions", "threshold": 1, "window_days": 30,
               "demote": true}),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    let cy = affiliate(&app, &s, "cy@demote.test", "demote-cy").await;
    earn(&app, &s, &cy, 10_000, Some("c1")).await;
    assert_eq!(group_of(&app, &cy).await, gold);
    // 31 days later the conversion left the window: the worker moves it back.
    app.run_jobs_at(affilia::db::now_ms() + 31 * DAY_MS).await;
    assert_eq!(group_of(&app, &cy).await, default_group);
    assert_eq!(moves_audited(&app, &cy).await, 2);
}

#[tokio::test]
async fn moves_by_hand_are_audited_emailed_and_other_vendors_get_404() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Hand", json!({"type": "percentage", "bps": 2000})).await;
    let other = money_shop(&app, "Other", json!({"type": "percentage", "bps": 2000})).await;
    let (default_group, gold) = two_groups(&app, &s).await;
    let jane = affiliate(&app, &s, "jane@hand.test", "hand-jane").await;
    let olly = affiliate(&app, &other, "olly@other.test", "other-olly").await;
    let path = format!("/api/v1/affiliates/{jane}/group");

    let (status, moved) = app
        .call(&s.key, Method::PUT, &path, Some(json!({"group_id": gold})))
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["moved"], true, "{moved}");
    assert_eq!(moved["group_name"], "Gold", "{moved}");
    let (_, again) = app
        .call(&s.key, Method::PUT, &path, Some(json!({"group_id": gold})))
        .await;
    assert_eq!(again["moved"], false, "{again}");
    assert_eq!(moves_audited(&app, &jane).await, 1);
    app.run_jobs().await;
    let body = text(
        &app,
        "SELECT body_text FROM email_outbox WHERE kind = 'group_changed' AND to_email = 'jane@hand.test'",
    )
    .await;
    assert!(body.contains("Default group to the Gold group"), "{body}");
    // The terms of the group it joined, at its current version.
    let (_, a) = app
        .call(&s.key, Method::GET, &format!("/api/v1/groups/{gold}"), None)
        .await;
    assert_eq!(a["members"], 1, "{a}");

    // Another vendor: every group object is a 404, and its own affiliate cannot join ours.
    let before = app.count("SELECT COUNT(*) FROM audit_log").await;
    for (method, p, body) in [
        (Method::GET, format!("/api/v1/groups/{gold}"), None),
        (
            Method::PATCH,
            format!("/api/v1/groups/{gold}"),
            Some(json!({"name": "Mine"})),
        ),
        (
            Method::GET,
            format!("/api/v1/programs/{}/groups", s.program_id),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/programs/{}/groups", s.program_id),
            Some(json!({"name": "Mine"})),
        ),
        (
            Method::GET,
            format!("/api/v1/programs/{}/group-rules", s.program_id),
            None,
        ),
        (
            Method::PUT,
            path.clone(),
            Some(json!({"group_id": default_group})),
        ),
    ] {
        let (status, b) = app.call(&other.key, method.clone(), &p, body).await;
        assert_eq!(status, 404, "{method} {p}: {b}");
        assert_eq!(b["error"]["code"], "not_found", "{b}");
    }
    let (status, b) = app
        .call(
            &other.key,
            Method::PUT,
            &format!("/api/v1/affiliates/{olly}/group"),
            Some(json!({"group_id": gold})),
        )
        .await;
    assert_eq!(status, 422, "{b}");
    assert_eq!(b["error"]["field"], "group_id", "{b}");
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log").await, before);
    assert_eq!(group_of(&app, &jane).await, gold);
}

#[tokio::test]
async fn bad_input_is_422_with_the_envelope_and_viewers_change_nothing() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Strict", json!({"type": "percentage", "bps": 2000})).await;
    let (default_group, gold) = two_groups(&app, &s).await;
    let groups_path = format!("/api/v1/programs/{}/groups", s.program_id);
    let before = app.count("SELECT COUNT(*) FROM partner_groups").await;
    for (body, field, status) in [
        (json!({"name": ""}), "name", 422),
        (json!({"description": "no name"}), "name", 422),
        (
            json!({"name": "Silver", "holding_period_days": 999}),
            "holding_period_days",
            422,
        ),
        (
            json!({"name": "Silver", "min_payout_cents": -1}),
            "min_payout_cents",
            422,
        ),
        (
            json!({"name": "Silver", "landing_url": "javascript:alert(1)"}),
            "landing_url",
            422,
        ),
        (
            json!({"name": "Silver", "commission": {"type": "percentage", "bps": 10001}}),
            "commission.bps",
            422,
        ),
        (json!({"name": "gold"}), "name", 409),
    ] {
        let (got, b) = app
            .call(&s.key, Method::POST, &groups_path, Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {b}");
        assert_eq!(b["error"]["field"], field, "{body}: {b}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM partner_groups").await,
        before
    );
    for (body, field) in [
        (
            json!({"from_group_id": gold, "to_group_id": gold, "metric": "approved_conversions", "threshold": 3}),
            "to_group_id",
        ),
        (
            json!({"from_group_id": default_group, "to_group_id": gold, "metric": "clicks", "threshold": 3}),
            "metric",
        ),
        (
            json!({"from_group_id": default_group, "to_group_id": gold, "metric": "approved_conversions", "threshold": 0}),
            "threshold",
        ),
        (
            json!({"from_group_id": default_group, "to_group_id": gold, "metric": "approved_conversions", "threshold": 3, "window_days": 0}),
            "window_days",
        ),
        (
            json!({"from_group_id": "grp_nope", "to_group_id": gold, "metric": "approved_conversions", "threshold": 3}),
            "from_group_id",
        ),
    ] {
        let (status, b) = rule(&app, &s, body.clone()).await;
        assert_eq!(status, 422, "{body}: {b}");
        assert_eq!(b["error"]["field"], field, "{body}: {b}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM group_rules").await, 0);
    let jane = affiliate(&app, &s, "jane@strict.test", "strict-jane").await;
    let (status, b) = app
        .call(
            &s.key,
            Method::PUT,
            &format!("/api/v1/affiliates/{jane}/group"),
            Some(json!({"group_id": "grp_nope"})),
        )
        .await;
    assert_eq!(status, 422, "{b}");
    assert_eq!(b["error"]["field"], "group_id", "{b}");

    // A read-only key and a viewer change nothing.
    let read = app.api_key(&s.vendor_id, Scope::Read).await;
    let (status, _) = app
        .call(
            &read,
            Method::PUT,
            &format!("/api/v1/affiliates/{jane}/group"),
            Some(json!({"group_id": gold})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            &read,
            Method::POST,
            &groups_path,
            Some(json!({"name": "Ro"})),
        )
        .await;
    assert_eq!(status, 403);
    let hash = affilia::domain::tenancy::password::hash(OWNER_PASSWORD.into())
        .await
        .unwrap();
    affilia::db::users::insert(
        app.db.pool(),
        &s.vendor_id,
        "viewer@strict.test",
        "",
        &hash,
        "viewer",
    )
    .await
    .unwrap();
    let viewer = app
        .signed_in_client("viewer@strict.test", OWNER_PASSWORD)
        .await;
    let page = format!("/dashboard/programs/{}/groups", s.program_id);
    let res = viewer.get(app.url(&page)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    for (path, form) in [
        (
            format!("/dashboard/programs/{}/groups", s.program_id),
            vec![
                ("name", "Viewer group"),
                ("commission_type", "percentage"),
                ("commission_percent", "10"),
            ],
        ),
        (
            format!("/dashboard/affiliates/{jane}/group"),
            vec![("group_id", gold.as_str())],
        ),
    ] {
        let res = app.post_form_as(&viewer, &path, &page, &form).await;
        assert_eq!(res.status(), 403, "{path}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM partner_groups").await,
        before
    );
    assert_eq!(group_of(&app, &jane).await, default_group);
}

#[tokio::test]
async fn the_dashboard_manages_groups_and_the_portal_shows_the_next_step() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 2000})).await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let page = format!("/dashboard/programs/{}/groups", s.program_id);
    // A group made on the dashboard, then a rule.
    let res = app
        .post_form_as(
            &staff,
            &page,
            &page,
            &[
                ("name", "Gold"),
                ("commission_type", "percentage"),
                ("commission_percent", "30"),
                ("min_payout", "10.00"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let gold = text(&app, "SELECT id FROM partner_groups WHERE name = 'Gold'").await;
    let default_group = text(
        &app,
        &format!(
            "SELECT id FROM partner_groups WHERE program_id = '{}' AND is_default = 1",
            s.program_id
        ),
    )
    .await;
    let res = app
        .post_form_as(
            &staff,
            &format!("/dashboard/programs/{}/group-rules", s.program_id),
            &page,
            &[
                ("from_group_id", default_group.as_str()),
                ("to_group_id", gold.as_str()),
                ("metric", "approved_conversions"),
                ("threshold", "3"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    // A bad threshold: a readable message, nothing added.
    let res = app
        .post_form_as(
            &staff,
            &format!("/dashboard/programs/{}/group-rules", s.program_id),
            &page,
            &[
                ("from_group_id", default_group.as_str()),
                ("to_group_id", gold.as_str()),
                ("metric", "approved_conversions"),
                ("threshold", "lots"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("whole number"));
    let html = staff
        .get(app.url(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("30% of every payment"), "{html}");
    assert!(
        html.contains("Default → Gold after 3 approved conversions"),
        "{html}"
    );
    assert!(html.contains("minimum payout 10.00 USD"), "{html}");
    let edit = staff
        .get(app.url(&format!("/dashboard/groups/{gold}")))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);

    // The affiliate's portal: its group and what Gold needs.
    let (jane, browser) =
        crate::portal_pages::portal_affiliate(&app, &s, "jane@acme.test", "acme-jane").await;
    earn(&app, &s, &jane, 10_000, Some("p1")).await;
    let html = browser
        .get(app.url("/p/acme/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("you are in the Default group — 2 more approved conversions to reach Gold"),
        "{html}"
    );
    let (status, token) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let (status, mine) = app
        .call(
            token["token"].as_str().unwrap(),
            Method::GET,
            "/api/v1/me/groups",
            None,
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["data"][0]["group_name"], "Default", "{mine}");
    assert_eq!(mine["data"][0]["next"]["missing"], 2, "{mine}");

    // Moved by hand on the affiliate page.
    let affiliate_page = format!("/dashboard/affiliates/{jane}");
    let html = staff
        .get(app.url(&affiliate_page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Move to this group"), "{html}");
    let res = app
        .post_form_as(
            &staff,
            &format!("/dashboard/affiliates/{jane}/group"),
            &affiliate_page,
            &[("group_id", gold.as_str())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(group_of(&app, &jane).await, gold);
    let html = browser
        .get(app.url("/p/acme/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("you are in the Gold group."), "{html}");
}

#[tokio::test]
async fn the_backtest_replays_one_groups_affiliates() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Draft", json!({"type": "percentage", "bps": 2000})).await;
    let other = money_shop(
        &app,
        "Elsewhere",
        json!({"type": "percentage", "bps": 2000}),
    )
    .await;
    let (_, gold) = two_groups(&app, &s).await;
    let (_, other_gold) = two_groups(&app, &other).await;
    let jane = affiliate(&app, &s, "jane@draft.test", "draft-jane").await;
    let bob = affiliate(&app, &s, "bob@draft.test", "draft-bob").await;
    earn(&app, &s, &jane, 10_000, Some("d1")).await;
    earn(&app, &s, &bob, 10_000, Some("d2")).await;
    let (status, _) = app
        .call(
            &s.key,
            Method::PUT,
            &format!("/api/v1/affiliates/{jane}/group"),
            Some(json!({"group_id": gold})),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/api/v1/programs/{}/terms/backtest", s.program_id);
    let draft = json!({"type": "percentage", "bps": 5000});
    let (status, all) = app
        .call(&s.key, Method::POST, &path, Some(json!({"terms": draft})))
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["conversions"], 2, "{all}");
    assert_eq!(all["group_id"], Value::Null, "{all}");
    let (status, one) = app
        .call(
            &s.key,
            Method::POST,
            &path,
            Some(json!({"terms": draft, "group_id": gold})),
        )
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["conversions"], 1, "{one}");
    assert_eq!(one["group_id"], gold.as_str(), "{one}");
    assert_eq!(one["totals"][0]["backtest_cents"], 5000, "{one}");
    assert_eq!(one["totals"][0]["current_cents"], 2000, "{one}");
    let (status, b) = app
        .call(
            &s.key,
            Method::POST,
            &path,
            Some(json!({"terms": draft, "group_id": other_gold})),
        )
        .await;
    assert_eq!(status, 422, "{b}");
    assert_eq!(b["error"]["field"], "group_id", "{b}");
}
