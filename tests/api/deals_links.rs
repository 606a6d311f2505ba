//! Affiliate tokens, the /me self-service API (links, deals), deal review by the vendor in
//! the API and the dashboard, and deals turning into referrals.

use affilia::domain::access::affiliate_tokens::Signer;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::affiliates::{affiliate, set_status};
use crate::helpers::tracking::click;
use crate::helpers::vendors::{Shop, patch_program, shop, shop_named};
use crate::helpers::{TestApp, spawn_app};

async fn token(app: &TestApp, shop: &Shop, affiliate_id: &str) -> String {
    let (status, t) = app
        .call(
            &shop.key,
            Method::POST,
            &format!("/api/v1/affiliates/{affiliate_id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{t}");
    assert_eq!(t["token_type"], "affiliate");
    t["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn affiliates_create_links_on_the_programs_domains_only() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    patch_program(
        &app,
        &shop,
        json!({"allowed_domains": ["*.acme.test", "acme-docs.test"]}),
    )
    .await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let t = token(&app, &shop, &jane).await;

    let (status, link) = app
        .call(
            &t,
            Method::POST,
            "/api/v1/me/links",
            Some(json!({"name": "Spring sale!", "destination_url": "https://blog.acme.test/spring?x=1", "sub_id": "yt-42"})),
        )
        .await;
    assert_eq!(status, 201, "{link}");
    assert_eq!(link["slug"], "spring-sale");
    assert_eq!(link["url"], app.url("/r/jane/spring-sale"));
    assert_eq!(link["sub_id"], "yt-42");
    let link_id = link["id"].as_str().unwrap().to_owned();

    let (status, location) = click(&app, &app.client, "/r/jane/Spring-Sale?utm_source=yt").await;
    assert_eq!(status, 302);
    assert!(
        location
            .starts_with("https://blog.acme.test/spring?x=1&utm_source=yt&ref=jane&aff_sess=clk_"),
        "{location}"
    );
    app.flush_clicks().await;
    let (stored_link,): (Option<String>,) =
        sqlx::query_as("SELECT link_id FROM clicks ORDER BY created_at DESC LIMIT 1")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(stored_link.as_deref(), Some(link_id.as_str()));

    // An unknown link of a known code still attributes, on the landing page.
    let (_, location) = click(&app, &app.client, "/r/jane/nope").await;
    assert!(
        location.starts_with("https://shop.acme.test/?ref=jane&aff_sess="),
        "{location}"
    );

    let refusals: [(Value, u16, &str); 6] = [
        (
            json!({"name": "x", "destination_url": "https://evil.test/"}),
            422,
            "destination_url",
        ),
        (
            json!({"name": "x", "destination_url": "https://acme.test.evil.test/"}),
            422,
            "destination_url",
        ),
        (
            json!({"name": "x", "destination_url": "javascript:alert(1)"}),
            422,
            "destination_url",
        ),
        (json!({"name": "Spring sale"}), 409, "slug"),
        (json!({"name": "x", "slug": "no spaces"}), 422, "slug"),
        (json!({"name": ""}), 422, "name"),
    ];
    for (body, status, field) in refusals {
        let (got, err) = app
            .call(&t, Method::POST, "/api/v1/me/links", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
    }
    let (status, docs) = app
        .call(
            &t,
            Method::POST,
            "/api/v1/me/links",
            Some(json!({"name": "Docs", "destination_url": "https://acme-docs.test/start"})),
        )
        .await;
    assert_eq!(status, 201, "{docs}");
    let (status, list) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    // Once the vendor drops a domain, links to it fall back to the landing page.
    patch_program(&app, &shop, json!({"allowed_domains": []})).await;
    let (_, location) = click(&app, &app.client, "/r/jane/spring-sale").await;
    assert!(
        location.starts_with("https://shop.acme.test/?ref=jane&aff_sess="),
        "{location}"
    );
}

#[tokio::test]
async fn the_me_api_takes_valid_affiliate_tokens_only() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let t = token(&app, &shop, &jane).await;
    let body = json!({"name": "Launch"});

    let (status, err) = app
        .call(
            &shop.key,
            Method::POST,
            "/api/v1/me/links",
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 401, "an API key is not an affiliate: {err}");
    let (status, _) = app
        .call("afft_forged.sig", Method::GET, "/api/v1/me/links", None)
        .await;
    assert_eq!(status, 401);
    let secret = hex::decode(&app.secret_hex).unwrap();
    let expired = Signer::new(&secret).mint(&shop.vendor_id, &jane, affilia::db::now_ms() - 1);
    let (status, _) = app
        .call(&expired, Method::GET, "/api/v1/me/links", None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(status, 200);

    // Token requests: unknown or other vendors' affiliates are 404, bad TTLs 422.
    let rival = shop_named(&app, "Rival").await;
    let (status, _) = app
        .call(
            &rival.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/token"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, err) = app
        .call(
            &shop.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/token"),
            Some(json!({"ttl_seconds": 10})),
        )
        .await;
    assert_eq!(status, 422, "{err}");

    // Paused affiliates keep their token but cannot create links; deactivated ones lose it.
    set_status(&app, &shop, &jane, "paused").await;
    let (status, err) = app
        .call(&t, Method::POST, "/api/v1/me/links", Some(body.clone()))
        .await;
    assert_eq!(status, 409, "{err}");
    set_status(&app, &shop, &jane, "deactivated").await;
    let (status, _) = app.call(&t, Method::GET, "/api/v1/me/links", None).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .call(
            &shop.key,
            Method::POST,
            &format!("/api/v1/affiliates/{jane}/token"),
            None,
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn an_accepted_deal_becomes_a_referral_when_the_customer_is_reported() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let john = affiliate(&app, &shop, "john@partners.test", "john").await;
    let t = token(&app, &shop, &jane).await;
    let lead = json!({"lead_email": "CTO@BigCorp.test", "lead_name": "Ada Lovelace", "company": "BigCorp", "notes": "Met at the conference"});

    let (status, deal) = app
        .call(&t, Method::POST, "/api/v1/me/deals", Some(lead.clone()))
        .await;
    assert_eq!(status, 201, "{deal}");
    assert_eq!(deal["status"], "pending");
    assert_eq!(deal["affiliate_id"], jane.as_str());
    let id = deal["id"].as_str().unwrap().to_owned();
    // The same lead again, by anyone, is a duplicate while the deal is open.
    let (status, err) = app
        .call(&t, Method::POST, "/api/v1/me/deals", Some(lead.clone()))
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["field"], "lead_email");
    let john_token = token(&app, &shop, &john).await;
    let (status, _) = app
        .call(
            &john_token,
            Method::POST,
            "/api/v1/me/deals",
            Some(json!({"lead_email": "cto@bigcorp.test", "lead_name": "Ada"})),
        )
        .await;
    assert_eq!(status, 409);
    for (body, field) in [
        (
            json!({"lead_email": "nope", "lead_name": "A"}),
            "lead_email",
        ),
        (
            json!({"lead_email": "a@b.test", "lead_name": " "}),
            "lead_name",
        ),
        (
            json!({"lead_email": "a@b.test", "lead_name": "A", "notes": "n".repeat(5001)}),
            "notes",
        ),
    ] {
        let (status, err) = app
            .call(&t, Method::POST, "/api/v1/me/deals", Some(body))
            .await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["error"]["field"], field);
    }
    let (_, mine) = app
        .call(&john_token, Method::GET, "/api/v1/me/deals", None)
        .await;
    assert_eq!(mine["total"], 0, "john sees none of jane's deals");

    // Before acceptance, reporting the lead attributes nothing.
    let report = json!({"customer_id": "cus_big", "email": "cto@bigcorp.test"});
    let (status, r) = app
        .call(
            &shop.key,
            Method::POST,
            "/api/v1/referrals",
            Some(report.clone()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(r["attributed"], false);

    let list: Value = app
        .api_get(&shop.key, "/api/v1/deals?status=pending")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["lead_name"], "Ada Lovelace");
    let (status, reviewed) = app
        .call(
            &shop.key,
            Method::POST,
            &format!("/api/v1/deals/{id}/review"),
            Some(json!({"decision": "accept"})),
        )
        .await;
    assert_eq!(status, 200, "{reviewed}");
    assert_eq!(reviewed["status"], "accepted");
    let (subject, text): (String, String) = sqlx::query_as(
        "SELECT subject, body_text FROM email_outbox WHERE kind = 'deal_accepted' \
         AND to_email = 'jane@partners.test'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(subject, "Your deal for Ada Lovelace was accepted");
    assert!(
        text.contains("cto@bigcorp.test") || text.contains("CTO@BigCorp.test"),
        "{text}"
    );
    let (status, _) = app
        .call(
            &shop.key,
            Method::POST,
            &format!("/api/v1/deals/{id}/review"),
            Some(json!({"decision": "reject"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = app
        .call(
            &shop.key,
            Method::POST,
            &format!("/api/v1/deals/{id}/review"),
            Some(json!({"decision": "maybe"})),
        )
        .await;
    assert_eq!(status, 422);

    let (status, r) = app
        .call(
            &shop.key,
            Method::POST,
            "/api/v1/referrals",
            Some(report.clone()),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["referral"]["source"], "deal");
    assert_eq!(r["referral"]["affiliate_id"], jane.as_str());
    let (_, deal) = app
        .call(&shop.key, Method::GET, &format!("/api/v1/deals/{id}"), None)
        .await;
    assert_eq!(deal["referral_id"], r["referral"]["id"]);

    // Other vendors cannot see or review it.
    let rival = shop_named(&app, "Rival").await;
    let (status, _) = app
        .call(
            &rival.key,
            Method::GET,
            &format!("/api/v1/deals/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            &rival.key,
            Method::POST,
            &format!("/api/v1/deals/{id}/review"),
            Some(json!({"decision": "reject"})),
        )
        .await;
    assert_eq!(status, 404);
    let rival_list: Value = app
        .api_get(&rival.key, "/api/v1/deals")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rival_list["total"], 0);
}

#[tokio::test]
async fn the_dashboard_lists_deals_and_reviews_them_inline() {
    let app = spawn_app().await;
    let shop = shop(&app, "Acme", "https://shop.acme.test/").await;
    let jane = affiliate(&app, &shop, "jane@partners.test", "jane").await;
    let t = token(&app, &shop, &jane).await;
    let (_, deal) = app
        .call(
            &t,
            Method::POST,
            "/api/v1/me/deals",
            Some(json!({"lead_email": "lead@x.test", "lead_name": "<b>Lead</b>"})),
        )
        .await;
    let id = deal["id"].as_str().unwrap().to_owned();

    let staff = app
        .signed_in_client("owner@acme.test", crate::helpers::OWNER_PASSWORD)
        .await;
    let page = staff
        .get(app.url("/dashboard/deals"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Lead") && !page.contains("<b>Lead</b>"),
        "escaped lead name"
    );
    assert!(page.contains("jane@partners.test"));
    let token = crate::helpers::csrf_from(&page);
    let res = staff
        .post(app.url(&format!("/dashboard/deals/{id}/review")))
        .header("hx-request", "true")
        .header("x-csrf-token", &token)
        .form(&[
            ("decision", "reject"),
            ("reason", "Already in our pipeline"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let row = res.text().await.unwrap();
    assert!(row.contains(&format!("id=\"deal-{id}\"")));
    assert!(
        row.contains("rejected") && row.contains("Already in our pipeline"),
        "{row}"
    );
    let (text,): (String,) = sqlx::query_as(
        "SELECT body_text FROM email_outbox WHERE kind = 'deal_rejected' \
         AND to_email = 'jane@partners.test'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert!(text.contains("Reason: Already in our pipeline"), "{text}");
    // Without the CSRF token nothing happens.
    let res = staff
        .post(app.url(&format!("/dashboard/deals/{id}/review")))
        .form(&[("decision", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Another vendor's staff gets 404.
    shop_named(&app, "Rival").await;
    let other = app
        .signed_in_client("owner@rival.test", crate::helpers::OWNER_PASSWORD)
        .await;
    let page = other
        .get(app.url("/dashboard/deals?status=rejected"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("lead@x.test"));
    let token = crate::helpers::csrf_from(&page);
    let res = other
        .post(app.url(&format!("/dashboard/deals/{id}/review")))
        .header("x-csrf-token", &token)
        .form(&[("decision", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // The decision also shows on the rejected tab of the owner.
    let page = staff
        .get(app.url("/dashboard/deals?status=rejected"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("lead@x.test"));
    let res = staff
        .get(app.url("/dashboard/deals?status=bogus"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
}
