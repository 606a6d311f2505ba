//! Health probes, security headers, assets, error pages, request ids.

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    app.db.close().await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    for path in ["/setup", "/healthz", "/api/v1/vendor", "/nowhere"] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h.contains_key("referrer-policy"));
        assert_eq!(h["x-request-id"].to_str().unwrap().len(), 26);
    }
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "<script>");
}

#[tokio::test]
async fn assets_are_embedded_versioned_and_cached() {
    let app = spawn_app().await;
    let page = app.text("/setup").await;
    let start = page.find("/static/app.css?v=").expect("versioned css link");
    let href = &page[start..page[start..].find('"').unwrap() + start];
    let res = app.get(href).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(page.contains("/static/vendor/htmx-2.0.11.min.js?v="));
    let htmx = app.text("/static/vendor/htmx-2.0.11.min.js").await;
    assert!(htmx.contains("htmx"));
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
    assert_eq!(app.get("/static/missing.css").await.status(), 404);
}

#[tokio::test]
async fn unknown_pages_are_readable_404s() {
    let app = spawn_app().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("This page does not exist.")
    );
}
