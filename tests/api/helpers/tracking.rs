//! Clicks on referral links as a browser makes them.

use reqwest::header::{LOCATION, USER_AGENT};

use super::TestApp;

/// A desktop browser's user agent (bots are recorded but not counted).
pub const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// Follows `/r/...` as a browser; returns (status, Location).
pub async fn click(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let res = client
        .get(app.url(path))
        .header(USER_AGENT, BROWSER)
        .send()
        .await
        .unwrap();
    let location = res
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), location)
}

/// The `aff_sess` of a redirect location.
pub fn aff_sess(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "aff_sess")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
