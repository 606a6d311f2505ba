//! `GET /api/openapi.json`, Swagger UI at `/api/docs/`, and 405 with `Allow`.

use std::collections::BTreeSet;

use affilia::domain::tenancy::api_keys::Scope;
use serde_json::Value;

use crate::helpers::spawn_app;

/// The (METHOD, path) pairs registered in `src/http/api/mod.rs`, read from its source: each
/// `.route("/path", web::get()...)` or `web::method(Method::OPTIONS)` call.
fn registered_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/http/api/mod.rs");
    let calls: Vec<&str> = source.split(".route(").skip(1).collect();
    let mut routes = BTreeSet::new();
    for call in calls {
        let path = call.split('"').nth(1).expect("a route path literal");
        let rest = call.split_once("web::").expect("a web:: route").1;
        let method = if let Some(m) = rest.strip_prefix("method(Method::") {
            m.split(')').next().expect("method name").to_owned()
        } else {
            rest.split('(').next().expect("method fn").to_uppercase()
        };
        routes.insert((method, format!("/api/v1{path}")));
    }
    routes
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn document_is_openapi_3_1_and_covers_every_route() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Affilia API");

    // Operation ids are unique (client generators name their methods after them).
    let mut ids = std::collections::BTreeMap::<String, usize>::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"]
                .as_str()
                .expect("every operation has an id");
            *ids.entry(id.to_owned()).or_default() += 1;
        }
    }
    let repeated: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "operation ids used twice: {repeated:?}"
    );
    assert!(ids.contains_key("get_api_v1_affiliates_id"), "{ids:?}");

    // Every registered route is documented and every documented route is registered: a new
    // route without `#[utoipa::path]` (listed in `http::openapi::ApiDoc`) fails here.
    let registered = registered_routes();
    assert!(registered.len() > 60, "parsed {registered:?}");
    let documented = documented_routes(&doc);
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unregistered: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes without docs: {undocumented:?}"
    );
    assert!(
        unregistered.is_empty(),
        "docs without routes: {unregistered:?}"
    );

    // Security schemes: API keys, affiliate tokens, the kernel's JWTs, all HTTP bearer.
    let schemes = &doc["components"]["securitySchemes"];
    for name in ["api_key", "affiliate_token", "kernel_jwt"] {
        assert_eq!(schemes[name]["type"], "http", "{name}");
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
    }
    assert_eq!(schemes["kernel_jwt"]["bearerFormat"], "JWT");
    let op = |method: &str, path: &str| doc["paths"][path][method].clone();
    assert_eq!(
        op("get", "/api/v1/affiliates")["security"][0]["api_key"],
        serde_json::json!([])
    );
    assert_eq!(
        op("get", "/api/v1/me")["security"][0]["affiliate_token"],
        serde_json::json!([])
    );

    // The error envelope, and every operation's errors and rate-limit headers.
    let envelope = &doc["components"]["schemas"]["ErrorEnvelope"];
    assert_eq!(
        envelope["properties"]["error"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    let body = &doc["components"]["schemas"]["ErrorBody"];
    for field in ["code", "message", "field"] {
        assert!(body["properties"][field].is_object(), "{field}");
    }
    let responses = &doc["components"]["responses"];
    assert!(responses["Error429"]["headers"]["Retry-After"].is_object());
    assert_eq!(
        responses["Error422"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorEnvelope"
    );
    for (method, path) in &documented {
        let op = op(&method.to_lowercase(), path);
        let res = op["responses"].as_object().unwrap();
        for status in ["400", "429"] {
            assert!(res.contains_key(status), "{method} {path} lacks {status}");
        }
        let ok = res
            .iter()
            .find(|(s, _)| s.starts_with('2'))
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("{method} {path} has no success response"));
        for header in [
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ] {
            assert!(
                ok["headers"][header].is_object(),
                "{method} {path} {header}"
            );
        }
    }
    let show = op("get", "/api/v1/affiliates/{id}");
    assert_eq!(
        show["responses"]["404"]["$ref"],
        "#/components/responses/Error404"
    );
    assert_eq!(show["parameters"][0]["in"], "path");
    let list = op("get", "/api/v1/affiliates");
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["page", "per_page", "status", "search"] {
        assert!(params.contains(&name), "{params:?}");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_from_this_server() {
    let app = spawn_app().await;
    let res = app.get("/api/docs").await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/api/docs/");
    let res = app.get("/api/docs/").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    // Every script and stylesheet is relative (this server), none from a CDN.
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        .collect();
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in assets {
        assert!(!asset.contains("//"), "external asset {asset}");
        let url = format!("/api/docs/{}", asset.trim_start_matches("./"));
        let res = app.get(&url).await;
        assert_eq!(res.status(), 200, "{url}");
    }
    // The initializer points at our document.
    let init = app.text("/api/docs/swagger-initializer.js").await;
    assert!(init.contains("/api/openapi.json"), "{init}");
}

#[tokio::test]
async fn known_api_path_with_another_method_is_405_with_allow() {
    let app = spawn_app().await;
    let vendor = app.create_vendor("Acme", "owner@acme.test").await;
    let key = app.api_key(&vendor.vendor.id, Scope::Full).await;
    let client = reqwest::Client::new();

    let res = client
        .put(app.url("/api/v1/affiliates"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, POST");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    let res = client
        .delete(app.url("/api/v1/affiliates/aff_123/invite"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");

    // `/payouts/run` is a route of its own (POST), though `/payouts/{id}` (GET) matches too.
    let res = client
        .put(app.url("/api/v1/payouts/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");

    let res = client.get(app.url("/api/v1/track")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "OPTIONS, POST");

    // Unknown paths stay 404.
    for path in [
        "/api/v1/nothing-here",
        "/api/v1/affiliates/a/b/c",
        "/api/v2/affiliates",
    ] {
        let res = client.put(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
}

/// The size limits are documented where they can answer (issue 21): 413 and 408 on every
/// operation with a body, 414 on every operation; and the server answers them as described.
#[tokio::test]
async fn body_and_query_limits_are_documented_and_answered_with_the_envelope() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let responses = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
    let post = responses("/api/v1/affiliates", "post");
    for status in ["408", "413", "414"] {
        assert_eq!(
            post[status]["$ref"],
            format!("#/components/responses/Error{status}"),
            "{status}: {post}"
        );
    }
    let get = responses("/api/v1/affiliates", "get");
    assert!(get.get("414").is_some(), "{get}");
    assert!(
        get.get("413").is_none() && get.get("408").is_none(),
        "{get}"
    );
    let described = &doc["components"]["responses"]["Error413"]["description"];
    assert!(
        described.as_str().unwrap().contains("payload_too_large"),
        "{described}"
    );

    let vendor = app.create_vendor("Acme", "owner@acme.test").await;
    let key = app.api_key(&vendor.vendor.id, Scope::Full).await;
    let client = reqwest::Client::new();
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let res = client
        .post(app.url("/api/v1/affiliates"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    let long = format!("/api/v1/affiliates?q={}", "y".repeat(9 * 1024));
    let res = client
        .get(app.url(&long))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 414);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "uri_too_long");
}
