//! Affiliates of a shop through the vendor API.

use reqwest::Method;
use serde_json::{Value, json};

use super::TestApp;
use super::vendors::Shop;

/// An active affiliate with `code`; returns its id.
pub async fn affiliate(app: &TestApp, shop: &Shop, email: &str, code: &str) -> String {
    let (status, a) = app
        .call(
            &shop.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": email, "name": email, "code": code, "send_invite": false})),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    set_status(app, shop, &id, "active").await;
    id
}

/// Sets an affiliate's status through the API; expects 200.
pub async fn set_status(app: &TestApp, shop: &Shop, id: &str, status: &str) {
    let (code, body) = app
        .call(
            &shop.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{id}"),
            Some(json!({ "status": status })),
        )
        .await;
    assert_eq!(code, 200, "{body}");
}

/// PATCHes an affiliate's payout settings (or any affiliate fields) with `body`; expects 200.
pub async fn payout_settings(app: &TestApp, s: &Shop, id: &str, body: Value) {
    let (status, b) = app
        .call(
            &s.key,
            Method::PATCH,
            &format!("/api/v1/affiliates/{id}"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{b}");
}
