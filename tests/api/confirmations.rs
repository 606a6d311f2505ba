//! Issue 20: risky dashboard actions (run payouts, mark a run paid, ban, deactivate, revoke a
//! key, delete a webhook) act only after a confirmation page that names what will happen;
//! posting without the confirmation, or with figures that changed since, changes nothing.

use reqwest::{Client, Method};
use serde_json::json;

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::{earn, money_shop};
use crate::helpers::vendors::{Shop, patch_program};
use crate::helpers::{OWNER_PASSWORD, TestApp, spawn_app};
use crate::payouts_pages::confirm_token;

async fn post(
    app: &TestApp,
    client: &Client,
    path: &str,
    token_page: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let res = app.post_form_as(client, path, token_page, fields).await;
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

/// A shop paying 10 % with a minimum payout of 1.00 and an affiliate `name` with PayPal set
/// who earned `cents` worth of sales.
async fn paid_affiliate(app: &TestApp, s: &Shop, name: &str, cents: i64) -> String {
    let id = affiliate(app, s, &format!("{name}@partners.test"), name).await;
    let (status, body) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{id}"),
            Some(json!({"payout_method": "paypal", "payout_email": format!("{name}@paypal.test")})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    earn(app, s, &id, cents, Some(&format!("inv-{name}"))).await;
    id
}

async fn shop(app: &TestApp) -> Shop {
    let s = money_shop(app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    patch_program(app, &s, json!({"min_payout_cents": 100})).await;
    s
}

const RUN: &[(&str, &str)] = &[("program_id", ""), ("currency", ""), ("action", "run")];

#[tokio::test]
async fn running_payouts_shows_the_figures_first_and_refuses_stale_ones() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    paid_affiliate(&app, &s, "ann", 20_000).await;
    paid_affiliate(&app, &s, "ben", 5_000).await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;

    // Without the confirmation: the page names the count, the money and the program.
    let (status, _, html) = post(
        &app,
        &staff,
        "/dashboard/payouts/run",
        "/dashboard/payouts",
        RUN,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Run payouts?"), "{html}");
    assert!(
        html.contains(
            "This creates 2 payouts totalling 25.00 USD for every active program (Partners)"
        ) || html.contains("This creates 2 payouts totalling 25.00 USD for every active program"),
        "{html}"
    );
    assert!(html.contains("holding period ended by now"), "{html}");
    assert!(html.contains(">Run 2 payouts</button>"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM payouts").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM payout_runs").await, 0);
    let seen = confirm_token(&html);

    // A made-up confirmation is not one either.
    let mut forged = RUN.to_vec();
    forged.push(("confirm", "yes"));
    let (status, _, html) = post(
        &app,
        &staff,
        "/dashboard/payouts/run",
        "/dashboard/payouts",
        &forged,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("The figures changed since you looked"),
        "{html}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payouts").await, 0);

    // Meanwhile another affiliate earns: the old figures are refused and the new shown.
    paid_affiliate(&app, &s, "cat", 10_000).await;
    let mut stale = RUN.to_vec();
    stale.push(("confirm", &seen));
    let (status, _, html) = post(
        &app,
        &staff,
        "/dashboard/payouts/run",
        "/dashboard/payouts",
        &stale,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("The figures changed since you looked"),
        "{html}"
    );
    assert!(html.contains("3 payouts totalling 35.00 USD"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM payouts").await, 0);

    // The figures shown, confirmed: the run is made.
    let fresh = confirm_token(&html);
    let mut ok = RUN.to_vec();
    ok.push(("confirm", &fresh));
    let (status, location, _) = post(
        &app,
        &staff,
        "/dashboard/payouts/run",
        "/dashboard/payouts",
        &ok,
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("/dashboard/payouts/runs/"),
        "{location}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM payouts").await, 3);

    // Marking the run paid: the count and total first, nothing changes without it.
    let (status, _, html) = post(
        &app,
        &staff,
        &format!("{location}/paid"),
        &location,
        &[("reference", "PP-9")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Mark the run paid?"), "{html}");
    assert!(html.contains("This marks 3 payouts"), "{html}");
    assert!(html.contains("totalling 35.00 USD"), "{html}");
    assert!(html.contains("PP-9"), "{html}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payouts WHERE status = 'paid'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'payout_paid'")
            .await,
        0
    );
    let token = confirm_token(&html);
    let (status, _, _) = post(
        &app,
        &staff,
        &format!("{location}/paid"),
        &location,
        &[("reference", "PP-9"), ("confirm", &token)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM payouts WHERE status = 'paid' AND reference = 'PP-9'")
            .await,
        3
    );

    // Another vendor gets a 404, never a confirmation naming this vendor's figures.
    app.create_vendor("Beta", "owner@beta.test").await;
    let beta = app
        .signed_in_client("owner@beta.test", OWNER_PASSWORD)
        .await;
    let (status, _, html) = post(
        &app,
        &beta,
        &format!("{location}/paid"),
        "/dashboard/payouts",
        &[("reference", "")],
    )
    .await;
    assert_eq!(status, 404);
    assert!(!html.contains("35.00"), "{html}");
}

#[tokio::test]
async fn ban_deactivate_revoke_and_delete_ask_first_and_name_what_they_act_on() {
    let app = spawn_app().await;
    let s = shop(&app).await;
    let (status, a) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@partners.test", "name": "Jane Doe", "send_invite": false})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let jane = a["id"].as_str().unwrap().to_owned();
    crate::helpers::affiliates::set_status(&app, &s, &jane, "active").await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let detail = format!("/dashboard/affiliates/{jane}");
    let status_of = || async {
        crate::helpers::pages::one(&app, "SELECT status FROM affiliates WHERE id = $1", &jane).await
    };
    let before = status_of().await;

    for (status_value, verb) in [("banned", "Ban"), ("deactivated", "Deactivate")] {
        let (code, _, html) = post(
            &app,
            &staff,
            &format!("{detail}/status"),
            &detail,
            &[("status", status_value)],
        )
        .await;
        assert_eq!(code, 200, "{html}");
        assert!(html.contains(&format!("{verb} Jane Doe?")), "{html}");
        assert!(html.contains("jane@partners.test"), "{html}");
        assert!(
            html.contains(&format!(">{verb} Jane Doe</button>")),
            "{html}"
        );
        assert_eq!(
            status_of().await,
            before,
            "nothing changed before the confirmation"
        );
    }
    // Another vendor's affiliate: 404, not a confirmation naming them.
    app.create_vendor("Beta", "owner@beta.test").await;
    let beta = app
        .signed_in_client("owner@beta.test", OWNER_PASSWORD)
        .await;
    let (code, _, html) = post(
        &app,
        &beta,
        &format!("{detail}/status"),
        "/dashboard",
        &[("status", "banned")],
    )
    .await;
    assert_eq!(code, 404);
    assert!(!html.contains("Jane"), "{html}");
    // Confirmed: banned.
    let (code, _, _) = post(
        &app,
        &staff,
        &format!("{detail}/status"),
        &detail,
        &[("status", "banned"), ("confirm", "yes")],
    )
    .await;
    assert_eq!(code, 303);
    assert_eq!(status_of().await, "banned");
    // Pausing and reactivating are not destructive: one click.
    let (code, _, _) = post(
        &app,
        &staff,
        &format!("{detail}/status"),
        &detail,
        &[("status", "active")],
    )
    .await;
    assert_eq!(code, 303);
    assert_eq!(status_of().await, "active");

    // Revoking a key: a first post names the key and revokes nothing.
    let key_id = crate::helpers::pages::one(
        &app,
        "SELECT id FROM api_keys WHERE vendor_id = $1",
        &s.vendor_id,
    )
    .await;
    let path = format!("/dashboard/developers/keys/{key_id}/revoke");
    let (code, _, html) = post(&app, &staff, &path, "/dashboard/developers", &[]).await;
    assert_eq!(code, 200, "{html}");
    assert!(
        html.contains("Revoke the key") && html.contains("This cannot be undone"),
        "{html}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NOT NULL")
            .await,
        0
    );
    let res = app.api_get(&s.key, "/api/v1/affiliates").await;
    assert_eq!(res.status(), 200, "the key still works");

    // Deleting a webhook endpoint: the same.
    let (code, body) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "https://hooks.example.com/affilia", "events": ["*"]})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let hook = body["id"].as_str().unwrap().to_owned();
    let path = format!("/dashboard/developers/webhooks/{hook}/delete");
    let (code, _, html) = post(&app, &staff, &path, "/dashboard/developers/webhooks", &[]).await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains("https://hooks.example.com/affilia"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_endpoints").await, 1);
    let (code, _, _) = post(
        &app,
        &staff,
        &path,
        "/dashboard/developers/webhooks",
        &[("confirm", "yes")],
    )
    .await;
    assert_eq!(code, 303);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_endpoints").await, 0);
}
