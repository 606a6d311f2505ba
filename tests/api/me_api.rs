//! The self-service API (`/api/v1/me`, seed 002's shape): each endpoint with access,
//! embed and personal tokens; one affiliate never reaches another's data; vendor API keys
//! and stray affiliate ids are refused.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::{affiliate, set_status};
use crate::helpers::money::{earn, money_shop};
use crate::helpers::vendors::Shop;
use crate::helpers::{TestApp, spawn_app};

async fn token(app: &TestApp, s: &Shop, affiliate_id: &str) -> String {
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

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    app.call(token, Method::GET, path, None).await
}

const READS: [&str; 10] = [
    "/api/v1/me",
    "/api/v1/me/programs",
    "/api/v1/me/referral",
    "/api/v1/me/stats",
    "/api/v1/me/balance",
    "/api/v1/me/payouts",
    "/api/v1/me/commissions",
    "/api/v1/me/payout-settings",
    "/api/v1/me/links",
    "/api/v1/me/deals",
];

#[tokio::test]
async fn each_affiliate_reads_only_its_own_figures() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    earn(&app, &s, &jane, 10_000, Some("inv-1")).await;
    earn(&app, &s, &bob, 50_000, Some("inv-2")).await;
    let tj = token(&app, &s, &jane).await;
    let tb = token(&app, &s, &bob).await;

    for path in READS {
        let (status, body) = get(&app, &tj, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (_, me) = get(&app, &tj, "/api/v1/me").await;
    assert_eq!(me["email"], "jane@partners.test");
    let (_, programs) = get(&app, &tj, "/api/v1/me/programs").await;
    assert_eq!(programs["data"].as_array().unwrap().len(), 1);
    assert_eq!(programs["data"][0]["code"], "jane");
    assert!(
        programs["data"][0]["commission_description"]
            .as_str()
            .unwrap()
            .contains("of every payment")
    );
    let (_, referral) = get(
        &app,
        &tj,
        &format!("/api/v1/me/referral?program_id={}", s.program_id),
    )
    .await;
    assert_eq!(referral["referral_url"], app.url("/r/jane"));
    let (status, err) = get(&app, &tj, "/api/v1/me/referral?program_id=prg_nope").await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("program_id"))
    );

    let (_, balance) = get(&app, &tj, "/api/v1/me/balance").await;
    assert_eq!(balance["data"][0]["available_cents"], 1_000, "{balance}");
    let (_, balance) = get(&app, &tb, "/api/v1/me/balance").await;
    assert_eq!(balance["data"][0]["available_cents"], 5_000);
    let (_, commissions) = get(&app, &tj, "/api/v1/me/commissions").await;
    assert_eq!(commissions["total"], 1);
    assert_eq!(commissions["data"][0]["amount_cents"], 1_000);
    assert_eq!(commissions["data"][0]["affiliate_id"], jane.as_str());
    let (_, stats) = get(&app, &tj, "/api/v1/me/stats").await;
    assert_eq!(stats["conversions"], 1, "{stats}");
    assert_eq!(stats["earnings"][0]["earned_cents"], 1_000, "{stats}");

    // No parameter reaches a peer: affiliate ids are refused, not ignored.
    for path in [
        format!("/api/v1/me/commissions?affiliate_id={bob}"),
        format!("/api/v1/me/payouts?affiliate_id={bob}"),
        format!("/api/v1/me/stats?affiliate_id={bob}"),
        format!("/api/v1/me/referral?affiliate_id={bob}"),
    ] {
        let (status, body) = get(&app, &tj, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
    let (status, _) = get(&app, &tj, &format!("/api/v1/me/{bob}")).await;
    assert_eq!(status, 404);

    // A vendor API key is not an affiliate credential anywhere under /me.
    for path in READS {
        let (status, _) = get(&app, &s.key, path).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = app
        .call(
            &s.key,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_method": "paypal", "payout_email": "x@y.test"})),
        )
        .await;
    assert_eq!(status, 401);

    // Another vendor's affiliate never sees this vendor's data, and a deactivated
    // affiliate's token stops working at once.
    let rival = money_shop(&app, "Rival", json!({"type": "percentage", "bps": 1000})).await;
    let eve = affiliate(&app, &rival, "jane@partners.test", "jane-rival").await;
    let te = token(&app, &rival, &eve).await;
    let (_, commissions) = get(&app, &te, "/api/v1/me/commissions").await;
    assert_eq!(commissions["total"], 0);
    let (_, balance) = get(&app, &te, "/api/v1/me/balance").await;
    assert_eq!(balance["data"].as_array().unwrap().len(), 0);
    set_status(&app, &s, &bob, "deactivated").await;
    let (status, _) = get(&app, &tb, "/api/v1/me/balance").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn payout_settings_links_and_deals_are_written_for_the_caller() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    let tj = token(&app, &s, &jane).await;

    let (status, err) = app
        .call(
            &tj,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_method": "paypal"})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "payout_email");
    let (status, body) = app
        .call(
            &tj,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(json!({"payout_method": "paypal", "payout_email": "jane@paypal.test"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["payout_email"], "jane@paypal.test");
    let (_, a) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane}"),
            None,
        )
        .await;
    assert_eq!(a["payout_method"], "paypal", "{a}");
    let (_, b) = app
        .call(
            &s.key,
            Method::GET,
            &format!("/api/v1/affiliates/{bob}"),
            None,
        )
        .await;
    assert!(b["payout_method"].is_null());
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'affiliate.payout_settings_changed' \
             AND actor_type = 'affiliate'"
        )
        .await,
        1
    );
    // An affiliate id in the body is refused.
    let (status, _) = app
        .call(
            &tj,
            Method::PUT,
            "/api/v1/me/payout-settings",
            Some(
                json!({"affiliate_id": bob, "payout_method": "paypal", "payout_email": "e@x.test"}),
            ),
        )
        .await;
    assert_eq!(status, 400);

    let (status, link) = app
        .call(
            &tj,
            Method::POST,
            "/api/v1/me/links",
            Some(json!({"name": "Newsletter", "sub_id": "nov"})),
        )
        .await;
    assert_eq!(status, 201, "{link}");
    let (status, deal) = app
        .call(
            &tj,
            Method::POST,
            "/api/v1/me/deals",
            Some(json!({"lead_email": "cto@bigco.test", "lead_name": "Big Co"})),
        )
        .await;
    assert_eq!(status, 201, "{deal}");
    let tb = token(&app, &s, &bob).await;
    let (_, links) = get(&app, &tb, "/api/v1/me/links").await;
    assert_eq!(links["data"].as_array().unwrap().len(), 0);
    let (_, deals) = get(&app, &tb, "/api/v1/me/deals").await;
    assert_eq!(deals["total"], 0);
    let (_, deals) = get(&app, &tj, "/api/v1/me/deals").await;
    assert_eq!(deals["total"], 1);
}

#[tokio::test]
async fn personal_tokens_work_until_revoked() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    let (secret, row) =
        affilia::domain::access::personal_tokens::create(&app.db, &s.vendor_id, &jane, "Zapier")
            .await
            .unwrap();
    assert!(secret.starts_with("afpt_"));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM affiliate_api_tokens WHERE token_hash = '{secret}'"
        ))
        .await,
        0,
        "stored hashed"
    );
    let (status, me) = get(&app, &secret, "/api/v1/me").await;
    assert_eq!((status, me["id"].as_str()), (200, Some(jane.as_str())));
    // Bob cannot revoke Jane's token.
    let err =
        affilia::domain::access::personal_tokens::revoke(&app.db, &s.vendor_id, &bob, &row.id)
            .await
            .unwrap_err();
    assert!(matches!(err, affilia::error::AppError::NotFound));
    let (status, _) = get(&app, &secret, "/api/v1/me").await;
    assert_eq!(status, 200);
    affilia::domain::access::personal_tokens::revoke(&app.db, &s.vendor_id, &jane, &row.id)
        .await
        .unwrap();
    let (status, _) = get(&app, &secret, "/api/v1/me").await;
    assert_eq!(status, 401);
    let (status, _) = get(&app, "afpt_0000", "/api/v1/me").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_portal_creates_shows_once_and_revokes_personal_tokens() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Acme", json!({"type": "percentage", "bps": 1000})).await;
    let jane = affiliate(&app, &s, "jane@partners.test", "jane").await;
    let (_, link) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/portal-link"),
            None,
        )
        .await;
    let browser = crate::helpers::new_client();
    let res = browser
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    let page = browser
        .get(app.url("/p/acme/api-tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::helpers::csrf_from(&page);
    let res = browser
        .post(app.url("/p/acme/api-tokens"))
        .form(&[("csrf_token", csrf.as_str()), ("name", "  ")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = browser
        .post(app.url("/p/acme/api-tokens"))
        .form(&[("csrf_token", csrf.as_str()), ("name", "Spreadsheet")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let page = res.text().await.unwrap();
    let marker = "data-test=\"new-token\">";
    let start = page.find(marker).unwrap() + marker.len();
    let secret = page[start..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("afpt_"));
    let (status, me) = get(&app, &secret, "/api/v1/me").await;
    assert_eq!((status, me["id"].as_str()), (200, Some(jane.as_str())));
    // Listed without the secret afterwards.
    let page = browser
        .get(app.url("/p/acme/api-tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Spreadsheet") && !page.contains(&secret));
    let id: (String,) = sqlx::query_as("SELECT id FROM affiliate_api_tokens")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let res = browser
        .post(app.url(&format!("/p/acme/api-tokens/{}/revoke", id.0)))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (status, _) = get(&app, &secret, "/api/v1/me").await;
    assert_eq!(status, 401);
    // Not signed in: no token page.
    let res = crate::helpers::new_client()
        .get(app.url("/p/acme/api-tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}
