//! Portal-domain ownership: a claimed domain serves nothing until the server has found its
//! TXT record (looked up through a local DNS server the test controls), IP literals and
//! the installation's own hosts are refused, a verified domain stays its owner's, and a
//! released one must be proven again by whoever claims it next.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{OWNER_PASSWORD, TestApp, spawn_app, spawn_app_with};
use affilia::domain::tenancy::api_keys::Scope;

const HOST: &str = "affiliates.acme.test";

struct Shop {
    key: String,
}

async fn shop(app: &TestApp, name: &str) -> Shop {
    let email = format!("owner@{}.test", name.to_ascii_lowercase());
    let v = app.create_vendor(name, &email).await;
    Shop {
        key: app.api_key(&v.vendor.id, Scope::Full).await,
    }
}

async fn claim(app: &TestApp, s: &Shop, hosts: &[&str]) -> (u16, Value) {
    app.call(
        &s.key,
        Method::PATCH,
        "/api/v1/vendor",
        Some(json!({ "portal_domains": hosts })),
    )
    .await
}

async fn domain(app: &TestApp, s: &Shop, host: &str) -> Value {
    let (status, v) = app.call(&s.key, Method::GET, "/api/v1/vendor", None).await;
    assert_eq!(status, 200, "{v}");
    v["portal_domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["host"] == host)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn verify(app: &TestApp, s: &Shop, host: &str) -> (u16, Value) {
    app.call(
        &s.key,
        Method::POST,
        &format!("/api/v1/vendor/domains/{host}/verify"),
        None,
    )
    .await
}

/// The status of the portal's home page requested under `host`.
async fn portal_status(app: &TestApp, host: &str) -> u16 {
    app.state.portal_hosts.forget_all();
    app.client_for_host(host)
        .get(app.host_url(host, "/"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_claimed_domain_serves_only_after_its_txt_record_is_verified() {
    let app = spawn_app().await;
    let acme = shop(&app, "Acme").await;
    let (status, v) = claim(&app, &acme, &[HOST]).await;
    assert_eq!(status, 200, "{v}");
    let d = &v["portal_domains"][0];
    assert_eq!(d["host"], HOST);
    assert_eq!(d["verified"], false);
    assert_eq!(d["verified_at"], Value::Null);
    // The existing CNAME record is kept; the TXT record sits beside it.
    assert_eq!(d["dns"]["type"], "CNAME");
    assert_eq!(d["dns"]["name"], HOST);
    assert_eq!(d["verification"]["type"], "TXT");
    assert_eq!(
        d["verification"]["name"],
        "_affilia-challenge.affiliates.acme.test"
    );
    let value = d["verification"]["value"].as_str().unwrap().to_owned();
    let token = value.strip_prefix("affilia-verify=").expect(&value);
    assert_eq!(token.len(), 32, "{token}");
    // Pending: the portal URL stays on the main host and the domain serves nothing.
    assert!(
        v["portal_url"].as_str().unwrap().ends_with("/p/acme/"),
        "{v}"
    );
    assert_eq!(portal_status(&app, HOST).await, 404);

    // No record yet: 422 on host, still pending.
    let (status, err) = verify(&app, &acme, HOST).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "host");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("_affilia-challenge.affiliates.acme.test"),
        "{err}"
    );
    assert_eq!(portal_status(&app, HOST).await, 404);

    // A wrong token stays pending, and the answer says what was found.
    app.dns.set_txt(
        "_affilia-challenge.affiliates.acme.test",
        &[
            "affilia-verify=0123456789abcdef0123456789abcdef",
            "v=spf1 -all",
        ],
    );
    let (status, err) = verify(&app, &acme, HOST).await;
    assert_eq!(status, 422, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("0123456789abcdef"),
        "{err}"
    );
    let d = domain(&app, &acme, HOST).await;
    assert_eq!(d["verified"], false);
    assert!(d["checked_at"].is_string(), "{d}");
    assert_eq!(portal_status(&app, HOST).await, 404);

    // The right token (among other records) verifies it.
    app.dns.set_txt(
        "_affilia-challenge.affiliates.acme.test",
        &["v=spf1 -all", &value],
    );
    let (status, d) = verify(&app, &acme, HOST).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["verified"], true);
    assert!(d["verified_at"].is_string(), "{d}");
    assert_eq!(portal_status(&app, HOST).await, 200);
    let (_, v) = app
        .call(&acme.key, Method::GET, "/api/v1/vendor", None)
        .await;
    assert_eq!(
        v["portal_url"],
        format!("http://{HOST}:{}/", app.addr.port())
    );
    // Asking again is harmless; a host the vendor does not list is 404.
    assert_eq!(verify(&app, &acme, HOST).await.0, 200);
    assert_eq!(verify(&app, &acme, "other.acme.test").await.0, 404);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'vendor.domain_verified'")
            .await,
        1
    );
}

#[tokio::test]
async fn ip_literals_and_the_installations_own_hosts_are_refused() {
    let app = spawn_app_with(|s| s.dashboard_hosts.push("app.affilia.test".into())).await;
    let acme = shop(&app, "Acme").await;
    for bad in [
        "127.1",
        "0.0.0.0",
        "127.0.0.1",
        "[::1]",
        "::1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "10.0.0.1.",
        "localhost",
        "portal.localhost",
        "app.affilia.test",
    ] {
        let (status, err) = claim(&app, &acme, &["ok.acme.test", bad]).await;
        assert_eq!(status, 422, "{bad}: {err}");
        assert_eq!(err["error"]["field"], "portal_domains", "{bad}: {err}");
    }
    let (status, err) = claim(&app, &acme, &["127.1"]).await;
    assert_eq!(status, 422);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("IP address"),
        "{err}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vendor_domains").await,
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn a_verified_domain_stays_its_owners_and_a_released_one_needs_new_proof() {
    let app = spawn_app().await;
    let acme = shop(&app, "Acme").await;
    let beta = shop(&app, "Beta").await;

    // Pending claims block nobody: both may claim, so nobody squats a domain by claiming it.
    assert_eq!(claim(&app, &acme, &[HOST]).await.0, 200);
    assert_eq!(claim(&app, &beta, &[HOST]).await.0, 200);
    let acme_value = domain(&app, &acme, HOST).await["verification"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let beta_value = domain(&app, &beta, HOST).await["verification"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(acme_value, beta_value);
    // The record carries Acme's token: Beta cannot verify with it, Acme can.
    app.dns
        .set_txt("_affilia-challenge.affiliates.acme.test", &[&acme_value]);
    assert_eq!(verify(&app, &beta, HOST).await.0, 422);
    assert_eq!(verify(&app, &acme, HOST).await.0, 200);
    assert_eq!(portal_status(&app, HOST).await, 200);
    // Beta's claim is gone, and claiming it again is a conflict while Acme holds it.
    assert_eq!(domain(&app, &beta, HOST).await, Value::Null);
    let (status, err) = claim(&app, &beta, &[HOST]).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["field"], "portal_domains");

    // Acme releases it: it stops serving, and Beta must prove control anew.
    assert_eq!(claim(&app, &acme, &[]).await.0, 200);
    assert_eq!(portal_status(&app, HOST).await, 404);
    let (status, v) = claim(&app, &beta, &[HOST]).await;
    assert_eq!(status, 200, "{v}");
    let d = domain(&app, &beta, HOST).await;
    assert_eq!(d["verified"], false);
    let new_value = d["verification"]["value"].as_str().unwrap().to_owned();
    assert_ne!(new_value, acme_value);
    assert_ne!(new_value, beta_value, "a new claim gets a new token");
    // The old record (Acme's token) does not prove anything for Beta.
    assert_eq!(verify(&app, &beta, HOST).await.0, 422);
    assert_eq!(portal_status(&app, HOST).await, 404);
    app.dns
        .set_txt("_affilia-challenge.affiliates.acme.test", &[&new_value]);
    assert_eq!(verify(&app, &beta, HOST).await.0, 200);
    assert_eq!(portal_status(&app, HOST).await, 200);
    let html = app
        .client_for_host(HOST)
        .get(app.host_url(HOST, "/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Beta"), "{html}");
}

#[tokio::test]
async fn the_worker_rechecks_pending_domains_spaced_and_bounded() {
    let app = spawn_app().await;
    let acme = shop(&app, "Acme").await;
    assert_eq!(
        claim(&app, &acme, &[HOST, "partners.acme.test"]).await.0,
        200
    );
    let value = domain(&app, &acme, HOST).await["verification"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    app.dns
        .set_txt("_affilia-challenge.affiliates.acme.test", &[&value]);
    let now = affilia::db::now_ms();
    let asked = app.dns.questions();
    app.run_jobs_at(now).await;
    assert_eq!(domain(&app, &acme, HOST).await["verified"], true);
    assert_eq!(
        domain(&app, &acme, "partners.acme.test").await["verified"],
        false
    );
    assert_eq!(portal_status(&app, HOST).await, 200);
    let after_first = app.dns.questions();
    assert!(after_first > asked, "the worker asked DNS");
    // The still-pending one is not asked about again before the spacing has passed ...
    app.run_jobs_at(now + 1_000).await;
    assert_eq!(app.dns.questions(), after_first);
    // ... is asked again after it ...
    app.run_jobs_at(now + 6 * 60_000).await;
    assert!(app.dns.questions() > after_first);
    // ... and no longer once the claim is over a week old.
    let later = app.dns.questions();
    app.run_jobs_at(now + 8 * 24 * 3_600_000).await;
    assert_eq!(app.dns.questions(), later);
}

#[tokio::test]
async fn the_dashboard_shows_the_txt_record_and_verifies_on_request() {
    let app = spawn_app().await;
    let acme = shop(&app, "Acme").await;
    assert_eq!(claim(&app, &acme, &[HOST]).await.0, 200);
    let value = domain(&app, &acme, HOST).await["verification"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let html = browser
        .get(app.url("/dashboard/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<code>_affilia-challenge.affiliates.acme.test</code>"),
        "{html}"
    );
    assert!(html.contains(&format!("<code>{value}</code>")), "{html}");
    assert!(html.contains(">Verify now</button>"), "{html}");
    assert!(html.contains("not serving until verified"), "{html}");

    let res = app
        .post_form_as(
            &browser,
            "/dashboard/settings/domains/verify",
            "/dashboard/settings",
            &[("host", HOST)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("no TXT record found at _affilia-challenge.affiliates.acme.test"),
        "{html}"
    );

    app.dns
        .set_txt("_affilia-challenge.affiliates.acme.test", &[&value]);
    let res = app
        .post_form_as(
            &browser,
            "/dashboard/settings/domains/verify",
            "/dashboard/settings",
            &[("host", HOST)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let html = browser
        .get(app.url("/dashboard/settings?saved=domain_verified"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Domain verified"), "{html}");
    assert!(!html.contains(">Verify now</button>"), "{html}");
    assert_eq!(portal_status(&app, HOST).await, 200);
}

#[tokio::test]
async fn domains_added_before_the_upgrade_keep_serving() {
    let (url, _guard) = crate::helpers::fresh_database().await;
    let db = affilia::db::Db::connect(&url).await.unwrap();
    // The schema as it was before ownership checks (migration 0022), with a live domain.
    let mut before = sqlx::migrate!("./migrations");
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 22)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(db.pool()).await.unwrap();
    sqlx::query(
        "INSERT INTO vendors (id, name, slug, default_currency, created_at, updated_at) \
         VALUES ('ven_old', 'Old', 'old', 'USD', 1, 1)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO vendor_domains (id, vendor_id, host, created_at) \
         VALUES ('dom_old', 'ven_old', 'partners.old.test', 1)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    assert!(
        affilia::db::vendors::by_portal_host(db.pool(), "partners.old.test")
            .await
            .is_err(),
        "the verified column does not exist yet"
    );
    db.migrate().await.unwrap();
    let (vendor, _) = affilia::db::vendors::by_portal_host(db.pool(), "partners.old.test")
        .await
        .unwrap()
        .expect("an existing domain still serves after the upgrade");
    assert_eq!(vendor.id, "ven_old");
    let rows = affilia::db::vendors::domain_rows(db.pool(), "ven_old")
        .await
        .unwrap();
    assert_eq!(rows[0].verified_at, Some(1));
    assert_eq!(rows[0].verification_token, None);
    db.pool().close().await;
}
