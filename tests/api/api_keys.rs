//! API keys (seed 004): the Developers page, `/api/v1/api-keys`, the CLI, scopes, and the
//! publishable key for browsers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{affilia, stderr, stdout};
use crate::helpers::affiliates::affiliate;
use crate::helpers::pages::page;
use crate::helpers::vendors::{shop, vendor};
use crate::helpers::{OWNER_PASSWORD, TestApp, second_instance, spawn_app};

/// The key shown once on the page after creating it.
fn shown_key(html: &str) -> String {
    let marker = "data-test=\"new-key\">";
    let start = html.find(marker).expect("the new key is shown") + marker.len();
    let end = start + html[start..].find('<').unwrap();
    html[start..end].to_owned()
}

/// The id of the key row named `name` on the Developers page.
fn row_id(html: &str, prefix: &str) -> String {
    let at = html.find(prefix).expect("key listed");
    let marker = "data-key-id=\"";
    let start = html[..at].rfind(marker).unwrap() + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
    ))
    .await
}

#[tokio::test]
async fn a_key_made_on_the_dashboard_is_shown_once_works_and_is_revoked_on_every_instance() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let staff = app.signed_in_client(&acme.owner, OWNER_PASSWORD).await;
    let other = second_instance(&app).await;

    let (status, html) = page(&app, &staff, "/dashboard/developers").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"href="/dashboard/developers""#), "nav link");
    assert!(html.contains("/dashboard/developers/consumers"));
    assert!(html.contains("/dashboard/developers/webhooks"));

    let res = app
        .post_form_as(
            &staff,
            "/dashboard/developers/keys",
            "/dashboard/developers",
            &[("name", "Billing backend"), ("scope", "write")],
        )
        .await;
    assert_eq!(res.status(), 201);
    let html = res.text().await.unwrap();
    let key = shown_key(&html);
    assert!(key.starts_with("afk_") && key.len() == 52, "{key}");
    assert!(html.contains("will not be shown again"));
    assert!(
        html.contains(&format!(r#"data-copy="{key}""#)),
        "copy button"
    );

    // It works on the API, on both instances, with its write scope.
    let res = app.api_get(&key, "/api/v1/affiliates").await;
    assert_eq!(res.status(), 200);
    let res = other.api_get(&key, "/api/v1/affiliates").await;
    assert_eq!(res.status(), 200);
    let (status, _) = app.call(&key, Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(status, 403, "write key on a full-scope route");

    // Listed by prefix, never in full; its last use is recorded.
    let (_, html) = page(&app, &staff, "/dashboard/developers").await;
    let prefix = &key[..12];
    assert!(html.contains(&format!("{prefix}…")), "{html}");
    assert!(!html.contains(&key), "the key is shown only once");
    assert!(html.contains("Billing backend"));
    let id = row_id(&html, prefix);
    let row = &html[html.find(&format!("data-key-id=\"{id}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(!row.contains("never"), "last used is shown: {row}");
    assert!(row.contains("write"));

    // Revoke (the page asks for confirmation first) → refused at once on both instances.
    assert!(row.contains("Revoke key"));
    let res = app
        .post_form_as(
            &staff,
            &format!("/dashboard/developers/keys/{id}/revoke"),
            "/dashboard/developers",
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), 303);
    for instance in [&other, &app] {
        let res = instance.api_get(&key, "/api/v1/affiliates").await;
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let (_, html) = page(&app, &staff, "/dashboard/developers?done=revoked").await;
    assert!(html.contains("Key revoked"));
    assert!(html.contains("revoked "));
    assert_eq!(audit_count(&app, "api_key.created").await, 2);
    assert_eq!(audit_count(&app, "api_key.revoked").await, 1);
}

#[tokio::test]
async fn viewers_see_keys_but_cannot_create_or_revoke_them() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let hash = affilia::domain::tenancy::password::hash(OWNER_PASSWORD.into())
        .await
        .unwrap();
    affilia::db::users::insert(
        app.db.pool(),
        &acme.id,
        "viewer@acme.test",
        "",
        &hash,
        "viewer",
    )
    .await
    .unwrap();
    let viewer = app
        .signed_in_client("viewer@acme.test", OWNER_PASSWORD)
        .await;
    let (status, html) = page(&app, &viewer, "/dashboard/developers").await;
    assert_eq!(status, 200);
    assert!(html.contains(&acme.key[..12]));
    assert!(!html.contains("Create key"));
    let res = app
        .post_form_as(
            &viewer,
            "/dashboard/developers/keys",
            "/dashboard/developers",
            &[("name", "x"), ("scope", "full")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let (_, list) = app
        .call(&acme.key, Method::GET, "/api/v1/api-keys", None)
        .await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn the_api_creates_lists_and_revokes_keys_with_full_scope_only() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let beta = vendor(&app, "Beta").await;

    let (status, created) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Reporting", "scope": "read"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let read_key = created["key"].as_str().unwrap().to_owned();
    let read_id = created["id"].as_str().unwrap().to_owned();
    assert!(read_key.starts_with("afk_"));
    assert_eq!(created["prefix"], &read_key[..12]);
    assert_eq!(created["scope"], "read");
    assert_eq!(created["name"], "Reporting");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created["last_used_at"], Value::Null);
    assert_eq!(created["revoked_at"], Value::Null);

    let (_, created) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Sync", "scope": "write"})),
        )
        .await;
    let write_key = created["key"].as_str().unwrap().to_owned();

    // Scopes: read and write keys cannot manage keys; read cannot write; write cannot
    // change vendor settings.
    for k in [&read_key, &write_key] {
        let (status, body) = app.call(k, Method::GET, "/api/v1/api-keys", None).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
        let (status, _) = app
            .call(
                k,
                Method::POST,
                "/api/v1/api-keys",
                Some(json!({"name": "x", "scope": "full"})),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = app
            .call(
                k,
                Method::DELETE,
                &format!("/api/v1/api-keys/{read_id}"),
                None,
            )
            .await;
        assert_eq!(status, 403);
    }
    let (status, _) = app
        .call(
            &read_key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "a@x.test", "name": "A"})),
        )
        .await;
    assert_eq!(status, 403, "read key on a write route");
    let (status, _) = app
        .call(
            &write_key,
            Method::PATCH,
            "/api/v1/vendor",
            Some(json!({"primary_color": "#112233"})),
        )
        .await;
    assert_eq!(status, 403, "write key on a full-scope route");

    let (status, body) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "x", "scope": "root"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("scope"))
    );

    // Another vendor's key id is 404, and stays live.
    let (status, _) = app
        .call(
            &beta.key,
            Method::DELETE,
            &format!("/api/v1/api-keys/{read_id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.api_get(&read_key, "/api/v1/vendor").await.status(), 200);

    let (status, revoked) = app
        .call(
            &acme.key,
            Method::DELETE,
            &format!("/api/v1/api-keys/{read_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        revoked["last_used_at"].is_string(),
        "it was used: {revoked}"
    );
    assert_eq!(app.api_get(&read_key, "/api/v1/vendor").await.status(), 401);

    let (status, list) = app
        .call(&acme.key, Method::GET, "/api/v1/api-keys?per_page=2", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (list["total"].as_i64(), list["per_page"].as_i64()),
        (Some(3), Some(2))
    );
    let (_, list) = app
        .call(&acme.key, Method::GET, "/api/v1/api-keys", None)
        .await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for k in data {
        assert!(
            k.get("key").is_none(),
            "secret keys are never shown again: {k}"
        );
        assert!(k["prefix"].as_str().unwrap().starts_with("afk_"));
        for field in [
            "id",
            "name",
            "scope",
            "created_at",
            "last_used_at",
            "revoked_at",
        ] {
            assert!(k.get(field).is_some(), "{field} in {k}");
        }
    }
    let listed = data.iter().find(|k| k["id"] == read_id.as_str()).unwrap();
    assert!(listed["revoked_at"].is_string());
    let (_, beta_list) = app
        .call(&beta.key, Method::GET, "/api/v1/api-keys", None)
        .await;
    assert_eq!(beta_list["total"], 1, "each vendor sees only its keys");

    // A key may revoke itself; its next call is refused.
    let (_, me) = app
        .call(
            &acme.key,
            Method::GET,
            "/api/v1/api-keys?per_page=100",
            None,
        )
        .await;
    let own_id = me["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["prefix"] == acme.key[..12])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .call(
            &acme.key,
            Method::DELETE,
            &format!("/api/v1/api-keys/{own_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(&acme.key, Method::GET, "/api/v1/api-keys", None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'api_key.revoked' AND actor_type = 'api_key'")
            .await,
        2
    );
}

#[tokio::test]
async fn the_cli_lists_and_revokes_keys() {
    let app = spawn_app().await;
    let acme = vendor(&app, "Acme").await;
    let out = affilia(&app, &["admin", "list-api-keys", "--vendor", "acme"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&acme.key[..12]), "{text}");
    assert!(!text.contains(&acme.key));
    let id = text
        .lines()
        .find(|l| l.contains(&acme.key[..12]))
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("key_"));

    let out = affilia(
        &app,
        &["admin", "revoke-api-key", "--vendor", &acme.id, "--id", &id],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("revoked"));
    assert_eq!(app.api_get(&acme.key, "/api/v1/vendor").await.status(), 401);
    let text = stdout(&affilia(&app, &["admin", "list-api-keys", "--vendor", "acme"]).await);
    let line = text.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.ends_with('Z'), "revoked_at shown: {line}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'api_key.revoked' AND actor_type = 'cli'"
        )
        .await,
        1
    );

    let beta = vendor(&app, "Beta").await;
    let out = affilia(
        &app,
        &["admin", "revoke-api-key", "--vendor", "beta", "--id", &id],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "another vendor's key");
    assert_eq!(app.api_get(&beta.key, "/api/v1/vendor").await.status(), 200);
}

async fn browser_post(
    app: &TestApp,
    key: &str,
    origin: Option<&str>,
    path: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app.client.post(app.url(path)).bearer_auth(key).json(&body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_publishable_key_tracks_and_applies_from_the_site_origins_only() {
    let app = spawn_app().await;
    let acme = shop(&app, "Acme", "https://shop.acme.test/").await;
    affiliate(&app, &acme, "jane@partners.test", "jane").await;
    let (status, _) = app
        .call(
            &acme.key,
            Method::PATCH,
            "/api/v1/vendor",
            Some(json!({"site_origins": ["https://www.acme.test"]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, created) = app
        .call(
            &acme.key,
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Website", "scope": "publishable"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let pk = created["key"].as_str().unwrap().to_owned();
    assert!(pk.starts_with("afp_"), "{pk}");
    // Public by nature: the list shows it again.
    let (_, list) = app
        .call(&acme.key, Method::GET, "/api/v1/api-keys", None)
        .await;
    let listed = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scope"] == "publishable")
        .unwrap()
        .clone();
    assert_eq!(listed["key"], pk.as_str());

    let site = Some("https://www.acme.test");
    let click = json!({"code": "jane", "url": "https://www.acme.test/pricing"});
    let (status, headers, body) =
        browser_post(&app, &pk, site, "/api/v1/track", click.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://www.acme.test"
    );
    assert!(body["click_id"].is_string() || body.is_object(), "{body}");

    let application = json!({"email": "new@partner.test", "name": "New Partner"});
    let (status, _, body) =
        browser_post(&app, &pk, site, "/api/v1/applications", application.clone()).await;
    assert_eq!(status, 201, "{body}");

    // Another origin, or none, is refused, and nothing is written.
    let before = app.count("SELECT COUNT(*) FROM applications").await;
    for origin in [Some("https://evil.test"), None] {
        let (status, headers, body) = browser_post(
            &app,
            &pk,
            origin,
            "/api/v1/applications",
            json!({"email": "x@evil.test", "name": "X"}),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert!(!headers.contains_key("access-control-allow-origin"));
        let (status, _, _) = browser_post(&app, &pk, origin, "/api/v1/track", click.clone()).await;
        assert_eq!(status, 403);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM applications").await, before);

    // Every other route is refused, reads included.
    for (method, path) in [
        (Method::GET, "/api/v1/affiliates"),
        (Method::GET, "/api/v1/vendor"),
        (Method::GET, "/api/v1/api-keys"),
        (Method::GET, "/api/v1/applications"),
        (Method::POST, "/api/v1/conversions"),
        (Method::POST, "/api/v1/api-keys"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&pk)
            .header("origin", "https://www.acme.test")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{method} {path}");
    }

    // Preflight: answered for the site origin (with Authorization allowed), not others.
    let res = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/applications"))
        .header("origin", "https://www.acme.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://www.acme.test"
    );
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    let res = app
        .client
        .request(Method::OPTIONS, app.url("/api/v1/track"))
        .header("origin", "https://evil.test")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    // A secret key still works on both routes from a server (no Origin).
    let (status, _) = app
        .call(&acme.key, Method::POST, "/api/v1/track", Some(click))
        .await;
    assert_eq!(status, 200);
}
