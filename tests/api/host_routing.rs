//! Host routing: dashboard hosts, vendors' portal domains, `/p/{slug}`, unknown hosts.

use affilia::domain::tenancy::audit::Actor;
use affilia::domain::tenancy::vendors;

use crate::helpers::{TestApp, spawn_app};

async fn two_vendors_with_domains() -> TestApp {
    let app = spawn_app().await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    let beta = app.create_vendor("Beta Labs", "owner@beta.test").await;
    let hosts = vec!["127.0.0.1".to_owned()];
    vendors::add_portal_domain(
        &app.db,
        &hosts,
        &acme.vendor.id,
        "Affiliates.Acme.test",
        true,
        &Actor::Cli,
    )
    .await
    .unwrap();
    vendors::add_portal_domain(
        &app.db,
        &hosts,
        &beta.vendor.id,
        "partners.beta.test",
        true,
        &Actor::Cli,
    )
    .await
    .unwrap();
    app
}

#[tokio::test]
async fn each_portal_domain_serves_its_own_vendor() {
    let app = two_vendors_with_domains().await;
    let acme = app.client_for_host("affiliates.acme.test");
    let page = acme
        .get(app.host_url("affiliates.acme.test", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("Partner with Acme"), "{body}");
    assert!(!body.contains("Beta Labs"));
    // Links on the custom domain have no /p/ prefix.
    assert!(body.contains("href=\"/brand.css\""), "{body}");

    let beta = app.client_for_host("partners.beta.test");
    let body = beta
        .get(app.host_url("partners.beta.test", "/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Partner with Beta Labs"));
    assert!(!body.contains("Acme"));

    let css = acme
        .get(app.host_url("affiliates.acme.test", "/brand.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.text().await.unwrap().contains("--brand: #4f46e5"));
}

#[tokio::test]
async fn a_portal_domain_never_reaches_another_vendor_or_the_dashboard() {
    let app = two_vendors_with_domains().await;
    let acme = app.client_for_host("affiliates.acme.test");
    for path in ["/p/beta-labs/", "/dashboard", "/setup", "/nope"] {
        let res = acme
            .get(app.host_url("affiliates.acme.test", path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(!res.text().await.unwrap().contains("Beta"), "{path}");
    }
    // `/login` there is the portal's magic-link sign-in, never the staff password form.
    let login = acme
        .get(app.host_url("affiliates.acme.test", "/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let login = login.text().await.unwrap();
    assert!(login.contains("Email me a sign-in link"));
    assert!(!login.contains("type=\"password\"") && !login.contains("Beta"));
    // Shared paths still work there.
    let res = acme
        .get(app.host_url("affiliates.acme.test", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = acme
        .get(app.host_url("affiliates.acme.test", "/api/v1/vendor"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn main_host_serves_portals_by_slug() {
    let app = two_vendors_with_domains().await;
    let res = app.get("/p/acme/").await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Partner with Acme"));
    assert!(body.contains("href=\"/p/acme/brand.css\""));
    let res = app.get("/p/ACME").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/p/acme/");
    assert_eq!(app.get("/p/nobody/").await.status(), 404);
    assert_eq!(app.get("/p/acme/nothing-here").await.status(), 404);
}

#[tokio::test]
async fn unknown_hosts_get_404_and_no_vendor_data() {
    let app = two_vendors_with_domains().await;
    let client = app.client_for_host("evil.example");
    for path in ["/", "/p/acme/", "/login", "/api/v1/vendor"] {
        let res = client
            .get(app.host_url("evil.example", path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains("Acme"), "{path}");
    }
    // Probes answer on any host.
    let res = client
        .get(app.host_url("evil.example", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn forwarded_host_is_ignored_unless_a_proxy_is_trusted() {
    let app = two_vendors_with_domains().await;
    let res = app
        .client
        .get(app.url("/"))
        .header("X-Forwarded-Host", "affiliates.acme.test")
        .send()
        .await
        .unwrap();
    // Still the dashboard host: the root redirects to sign-in, not the Acme portal.
    assert_eq!(res.status(), 303);

    let trusted = crate::helpers::spawn_app_with(|s| s.trusted_proxy = true).await;
    let acme = trusted.create_vendor("Acme", "owner@acme.test").await;
    vendors::add_portal_domain(
        &trusted.db,
        &[],
        &acme.vendor.id,
        "affiliates.acme.test",
        true,
        &Actor::Cli,
    )
    .await
    .unwrap();
    let res = trusted
        .client
        .get(trusted.url("/"))
        .header("X-Forwarded-Host", "affiliates.acme.test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Partner with Acme"));
}

#[tokio::test]
async fn portal_domains_are_validated_and_unique() {
    let app = spawn_app().await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    let beta = app.create_vendor("Beta", "owner@beta.test").await;
    let dash = vec!["127.0.0.1".to_owned(), "dash.example.com".to_owned()];
    vendors::add_portal_domain(
        &app.db,
        &dash,
        &acme.vendor.id,
        "aff.acme.test",
        true,
        &Actor::Cli,
    )
    .await
    .unwrap();
    let err = vendors::add_portal_domain(
        &app.db,
        &dash,
        &beta.vendor.id,
        "AFF.acme.test.",
        true,
        &Actor::Cli,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "duplicate");
    for bad in [
        "not a host",
        "localhost",
        "-x.test",
        "a..b",
        "dash.example.com",
    ] {
        let err =
            vendors::add_portal_domain(&app.db, &dash, &beta.vendor.id, bad, true, &Actor::Cli)
                .await
                .unwrap_err();
        assert_eq!(err.code(), "invalid", "{bad}");
    }
}
