//! Pages as a browser sees them, the money pages' dashboard fixture, and one-value SQL reads.

use reqwest::Client;
use serde_json::json;

use super::affiliates::affiliate;
use super::vendors::{Shop, patch_program, shop};
use super::{OWNER_PASSWORD, TestApp, csrf_from};

/// GETs `path` on the test server with `client`: (status, body).
pub async fn page(app: &TestApp, client: &Client, path: &str) -> (u16, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The one text value `sql` (one `$1` parameter, bound to `bind`) selects.
pub async fn one(app: &TestApp, sql: &str, bind: &str) -> String {
    let (v,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(bind)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    v
}

/// A shop paying 10 % with a 30-day holding period (conversions stay pending), an active
/// affiliate `jane`, and the owner signed in to the dashboard.
pub async fn setup(app: &TestApp) -> (Shop, String, Client) {
    let s = shop(app, "Acme", "https://shop.acme.test/").await;
    patch_program(
        app,
        &s,
        json!({"commission": {"type": "percentage", "bps": 1000}, "holding_period_days": 30}),
    )
    .await;
    let jane = affiliate(app, &s, "jane@partners.test", "jane").await;
    let staff = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    (s, jane, staff)
}

/// Submits the manual conversion form as a browser does: (status, Location, body).
pub async fn submit(
    app: &TestApp,
    staff: &Client,
    fields: Vec<(&'static str, String)>,
) -> (u16, String, String) {
    let (_, html) = page(app, staff, "/dashboard/conversions").await;
    let mut form = vec![("csrf_token", csrf_from(&html))];
    form.extend(fields);
    let res = staff
        .post(app.url("/dashboard/conversions"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}
