//! Vendors and shops: a vendor with a full-scope API key, and a "shop" (a vendor whose
//! default program lands on a given site).

use affilia::domain::tenancy::api_keys::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use super::TestApp;

/// A vendor with a full-scope key.
pub struct Vendor {
    pub id: String,
    pub key: String,
    /// The owner's email, `owner@<name>.test`.
    pub owner: String,
    /// The vendor's default program.
    pub program_id: String,
}

/// Creates vendor `name` owned by `owner@<name lowercased>.test`, with a full-scope API key.
pub async fn vendor(app: &TestApp, name: &str) -> Vendor {
    let owner = format!("owner@{}.test", name.to_lowercase());
    let v = app.create_vendor(name, &owner).await;
    let key = app.api_key(&v.vendor.id, Scope::Full).await;
    Vendor {
        id: v.vendor.id,
        key,
        owner,
        program_id: v.program_id,
    }
}

/// A vendor with an API key whose default program lands on `landing`.
pub struct Shop {
    pub vendor_id: String,
    pub key: String,
    pub program_id: String,
}

/// Creates vendor `name` (owner `owner@<name>.test`) with a full-scope key and points its
/// default program at `landing`.
pub async fn shop(app: &TestApp, name: &str, landing: &str) -> Shop {
    let v = app
        .create_vendor(name, &format!("owner@{}.test", name.to_lowercase()))
        .await;
    let key = app.api_key(&v.vendor.id, Scope::Full).await;
    let (status, programs) = app.call(&key, Method::GET, "/api/v1/programs", None).await;
    assert_eq!(status, 200);
    let program_id = programs["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, p) = app
        .call(
            &key,
            Method::PATCH,
            &format!("/api/v1/programs/{program_id}"),
            Some(json!({"landing_url": landing})),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    Shop {
        vendor_id: v.vendor.id,
        key,
        program_id,
    }
}

/// A shop landing on `https://<name lowercased>.test/`.
pub async fn shop_named(app: &TestApp, name: &str) -> Shop {
    shop(app, name, &format!("https://{}.test/", name.to_lowercase())).await
}

/// PATCHes the shop's program with `body` through the API; expects 200.
pub async fn patch_program(app: &TestApp, shop: &Shop, body: Value) {
    let (status, p) = app
        .call(
            &shop.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", shop.program_id),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{p}");
}
