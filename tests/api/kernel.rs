//! Kernel consumers and embedded provisioning (seed 000): consumers through the API, the
//! dashboard and the CLI; HS256 JWTs signed here with the `jsonwebtoken` crate; every 401
//! code; idempotent and concurrent provisioning; email stamping; tenancy; kernel events.

use futures_util::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::vendors::{Vendor, vendor};
use crate::helpers::{TestApp, spawn_app};

/// A consumer created through the API: its id and secret.
struct Consumer {
    id: String,
    name: String,
    secret: String,
}

async fn consumer(app: &TestApp, v: &Vendor, name: &str, body: Value) -> Consumer {
    let mut body = body;
    body["name"] = json!(name);
    let (status, c) = app
        .call(&v.key, Method::POST, "/api/v1/consumers", Some(body))
        .await;
    assert_eq!(status, 201, "{c}");
    Consumer {
        id: c["id"].as_str().unwrap().to_owned(),
        name: c["name"].as_str().unwrap().to_owned(),
        secret: c["secret"].as_str().unwrap().to_owned(),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An HS256 token with these claims, signed with `secret`.
fn sign(claims: Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A valid token of the consumer: iss, aud, iat now, exp in 10 minutes.
fn token(c: &Consumer) -> String {
    sign(
        json!({"iss": c.name, "aud": "affilia", "iat": now(), "exp": now() + 600}),
        &c.secret,
    )
}

async fn post(app: &TestApp, bearer: &str, path: &str, body: Value) -> (u16, Value) {
    app.call(bearer, Method::POST, path, Some(body)).await
}

async fn provision(app: &TestApp, c: &Consumer, body: Value) -> (u16, Value) {
    post(app, &token(c), "/api/v1/kernel/affiliates/provision", body).await
}

fn alex(v: &Vendor) -> Value {
    json!({"external_id": "user_abc123", "email": "rep@your-saas.test", "name": "Alex Rep",
           "vendor_id": v.id, "stripe_account_id": "acct_1Nv0FGQ9RKHgCVdK"})
}

#[tokio::test]
async fn provisioning_twice_gives_one_affiliate_and_the_same_rows() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let c = consumer(&app, &v, "NewGenSales", json!({})).await;
    assert_eq!(c.name, "newgensales");

    let (status, first) = provision(&app, &c, alex(&v)).await;
    assert_eq!(status, 200, "{first}");
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6, "exactly the seed-000 fields: {first}");
    assert_eq!(first["created"], true);
    assert_eq!(first["external_source"], "newgensales");
    assert_eq!(first["external_id"], "user_abc123");
    assert!(first["affiliate_id"].as_str().unwrap().starts_with("aff_"));
    assert!(first["membership_id"].as_str().unwrap().starts_with("enr_"));
    assert!(
        first["affiliate_code"]
            .as_str()
            .unwrap()
            .starts_with("alex-rep-")
    );

    let (status, again) = provision(&app, &c, alex(&v)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], false);
    for k in ["affiliate_id", "affiliate_code", "membership_id"] {
        assert_eq!(again[k], first[k], "{k}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM enrollments").await, 1);

    // The affiliate is in the vendor's dashboard list and API, active, paid through Stripe.
    let id = first["affiliate_id"].as_str().unwrap();
    let (status, a) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/affiliates/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["status"], "active");
    assert_eq!(a["external_source"], "newgensales");
    assert_eq!(a["external_id"], "user_abc123");
    assert_eq!(a["payout_method"], "stripe_connect");
    assert_eq!(a["stripe_account_id"], "acct_1Nv0FGQ9RKHgCVdK");
    assert_eq!(
        a["enrollments"][0]["program_id"].as_str(),
        Some(v.program_id.as_str())
    );
}

#[tokio::test]
async fn concurrent_identical_provisions_create_one_affiliate() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let c = consumer(&app, &v, "newgensales", json!({})).await;
    let answers = join_all((0..10).map(|_| provision(&app, &c, alex(&v)))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    let created = answers.iter().filter(|(_, b)| b["created"] == true).count();
    assert_eq!(created, 1, "{answers:?}");
    let ids: std::collections::HashSet<&str> = answers
        .iter()
        .map(|(_, b)| b["membership_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM enrollments").await, 1);

    // The same with a self-signed-up affiliate to stamp: stamped once, never duplicated.
    let (status, _) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "self@acme.test", "name": "Self Made", "send_invite": false})),
        )
        .await;
    assert_eq!(status, 201);
    let body = json!({"external_id": "u2", "email": "SELF@acme.test", "vendor_id": v.id});
    let answers = join_all((0..10).map(|_| provision(&app, &c, body.clone()))).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["created"], false, "{body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'affiliate.external_id_stamped'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_email_of_a_self_signed_up_affiliate_is_stamped_not_duplicated() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let c = consumer(
        &app,
        &v,
        "newgensales",
        json!({"external_source": "your-app"}),
    )
    .await;
    // Jane signed up by herself (an affiliate of another program only).
    let (status, p) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/programs",
            Some(json!({"name": "Resellers"})),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let resellers = p["id"].as_str().unwrap().to_owned();
    let (status, jane) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/affiliates",
            Some(
                json!({"email": "jane@acme.test", "name": "Jane", "program_id": resellers,
                        "send_invite": false, "payout_method": "paypal",
                        "payout_email": "jane@paypal.test"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{jane}");
    let jane_id = jane["id"].as_str().unwrap();

    let body = json!({"external_id": "u_jane", "email": "Jane@Acme.test", "name": "Jane D",
                      "vendor_id": v.id, "stripe_account_id": "acct_1Jane"});
    let (status, out) = provision(&app, &c, body.clone()).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["created"], false);
    assert_eq!(out["affiliate_id"], jane_id);
    assert_eq!(out["external_source"], "your-app");
    // Enrolled in the default program, which she was not in.
    let (_, a) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/affiliates/{jane_id}"),
            None,
        )
        .await;
    assert_eq!(a["external_id"], "u_jane");
    assert_eq!(a["external_source"], "your-app");
    assert_eq!(a["enrollments"].as_array().unwrap().len(), 2, "{a}");
    let membership = a["enrollments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["program_id"] == v.program_id.as_str())
        .unwrap();
    assert_eq!(out["membership_id"], membership["id"]);
    assert_eq!(out["affiliate_code"], membership["code"]);
    // Her own payout choice is kept.
    assert_eq!(a["payout_method"], "paypal");
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 1);

    // A repeat is the same; another external id for that email is a 409.
    let (status, again) = provision(&app, &c, body).await;
    assert_eq!(
        (status, &again["membership_id"]),
        (200, &out["membership_id"])
    );
    let (status, err) = provision(
        &app,
        &c,
        json!({"external_id": "u_other", "email": "jane@acme.test", "vendor_id": v.id}),
    )
    .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["field"], "email");
}

#[tokio::test]
async fn provisioning_checks_its_input_vendor_and_program() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let other = vendor(&app, "Globex").await;
    let c = consumer(&app, &v, "newgensales", json!({})).await;

    // Another vendor's id → 403, nothing written.
    let mut body = alex(&v);
    body["vendor_id"] = json!(other.id);
    let (status, err) = provision(&app, &c, body).await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 0);

    for (field, value, code) in [
        ("email", json!("not an email"), 422),
        ("email", Value::Null, 422),
        ("external_id", json!(""), 422),
        ("vendor_id", Value::Null, 422),
        ("stripe_account_id", json!("paypal:me"), 422),
        ("program_id", json!("prg_nope"), 422),
        ("program_id", json!(other.program_id), 422),
    ] {
        let mut body = alex(&v);
        body[field] = value.clone();
        let (status, err) = provision(&app, &c, body).await;
        assert_eq!(status, code, "{field}={value}: {err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let (status, err) = provision(&app, &c, json!({"nope": 1})).await;
    assert_eq!(status, 400, "{err}");

    // A paused program takes no new members: 409 naming program_id.
    let (status, _) = app
        .call(
            &v.key,
            Method::PATCH,
            &format!("/api/v1/programs/{}", v.program_id),
            Some(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, err) = provision(&app, &c, alex(&v)).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["field"], "program_id");
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 0);
}

#[tokio::test]
async fn every_bad_token_is_a_401_with_its_code() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let c = consumer(&app, &v, "newgensales", json!({})).await;
    let path = "/api/v1/kernel/affiliates/provision";
    let t = now();
    let cases: Vec<(String, &str)> = vec![
        (
            sign(
                json!({"iss": c.name, "aud": "affilia", "iat": t, "exp": t + 600}),
                "afcs_not_the_secret",
            ),
            "invalid_signature",
        ),
        (
            sign(
                json!({"iss": c.name, "aud": "affilia", "iat": t - 7200, "exp": t - 3600}),
                &c.secret,
            ),
            "token_expired",
        ),
        (
            sign(
                json!({"iss": c.name, "aud": "someone-else", "iat": t, "exp": t + 600}),
                &c.secret,
            ),
            "invalid_audience",
        ),
        (
            sign(
                json!({"iss": "nobody", "aud": "affilia", "iat": t, "exp": t + 600}),
                &c.secret,
            ),
            "unknown_consumer",
        ),
        (
            sign(
                json!({"iss": c.name, "aud": "affilia", "iat": t, "exp": t + 7200}),
                &c.secret,
            ),
            "invalid_token",
        ),
        (
            sign(
                json!({"iss": c.name, "aud": "affilia", "iat": t}),
                &c.secret,
            ),
            "invalid_token",
        ),
        (
            sign(json!({"iss": c.name, "iat": t, "exp": t + 600}), &c.secret),
            "invalid_token",
        ),
        (
            sign(
                json!({"iss": c.name, "aud": "affilia", "exp": t + 600}),
                &c.secret,
            ),
            "invalid_token",
        ),
        (
            sign(
                json!({"aud": "affilia", "iat": t, "exp": t + 600}),
                &c.secret,
            ),
            "invalid_token",
        ),
        ("not.a.jwt".into(), "invalid_token"),
        ("garbage".into(), "invalid_token"),
        // An API key is no kernel credential.
        (v.key.clone(), "invalid_token"),
    ];
    for (bearer, code) in cases {
        let (status, err) = post(&app, &bearer, path, alex(&v)).await;
        assert_eq!(status, 401, "{code}: {err}");
        assert_eq!(err["error"]["code"], code, "{err}");
    }
    // An HS512 token (another algorithm) is refused too.
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &json!({"iss": c.name, "aud": "affilia", "iat": t, "exp": t + 600}),
        &EncodingKey::from_secret(c.secret.as_bytes()),
    )
    .unwrap();
    let (status, err) = post(&app, &hs512, path, alex(&v)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
    // No header at all.
    let res = app
        .client
        .post(app.url(path))
        .json(&alex(&v))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.count("SELECT COUNT(*) FROM affiliates").await, 0);

    // A consumer JWT opens nothing else of the API.
    let jwt = token(&c);
    for path in [
        "/api/v1/vendor",
        "/api/v1/affiliates",
        "/api/v1/me",
        "/api/v1/consumers",
    ] {
        let res = app.api_get(&jwt, path).await;
        assert_eq!(res.status(), 401, "{path}");
    }
    let (status, _) = post(
        &app,
        &jwt,
        "/api/v1/events",
        json!({"id": "e1", "type": "charge.succeeded", "customer_id": "c", "amount_cents": 100, "currency": "USD"}),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_disabled_consumer_is_refused_at_once_and_a_rotated_secret_replaces_the_old() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let c = consumer(
        &app,
        &v,
        "newgensales",
        json!({"read_limit_per_minute": 600, "write_limit_per_minute": 60}),
    )
    .await;
    let jwt = token(&c);
    let (status, _) = post(&app, &jwt, "/api/v1/kernel/affiliates/provision", alex(&v)).await;
    assert_eq!(status, 200);

    let path = format!("/api/v1/consumers/{}", c.id);
    let (status, out) = app
        .call(
            &v.key,
            Method::PATCH,
            &path,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["enabled"], false);
    assert_eq!(out["write_limit_per_minute"], 60);
    // The very token that just worked is refused now.
    let (status, err) = post(&app, &jwt, "/api/v1/kernel/affiliates/provision", alex(&v)).await;
    assert_eq!(status, 401);
    assert_eq!(err["error"]["code"], "consumer_disabled");

    let (status, out) = app
        .call(
            &v.key,
            Method::PATCH,
            &path,
            Some(json!({"enabled": true, "write_limit_per_minute": null})),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["write_limit_per_minute"], Value::Null);
    assert_eq!(out["read_limit_per_minute"], 600);
    let (status, _) = post(&app, &jwt, "/api/v1/kernel/affiliates/provision", alex(&v)).await;
    assert_eq!(status, 200);

    // Rotation: the old secret stops, the new one works.
    let (status, rotated) = app
        .call(&v.key, Method::POST, &format!("{path}/rotate-secret"), None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, c.secret);
    let (status, err) = post(&app, &jwt, "/api/v1/kernel/affiliates/provision", alex(&v)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("invalid_signature"))
    );
    let fresh = Consumer {
        secret: new_secret,
        ..c
    };
    let (status, _) = provision(&app, &fresh, alex(&v)).await;
    assert_eq!(status, 200);

    // The list never shows secrets; the name cannot change; bad limits are 422.
    let (status, list) = app
        .call(&v.key, Method::GET, "/api/v1/consumers", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert!(list["data"][0].get("secret").is_none());
    assert!(list["data"][0]["last_used_at"].is_string(), "{list}");
    let (status, err) = app
        .call(&v.key, Method::PATCH, &path, Some(json!({"name": "other"})))
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("name"))
    );
    let (status, err) = app
        .call(
            &v.key,
            Method::PATCH,
            &path,
            Some(json!({"read_limit_per_minute": 0})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("read_limit_per_minute"))
    );
    // Every change is audited.
    assert!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE object_type = 'consumer'")
            .await
            >= 4
    );
}

#[tokio::test]
async fn consumers_are_per_vendor_with_installation_wide_names() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let other = vendor(&app, "Globex").await;
    let c = consumer(&app, &v, "newgensales", json!({})).await;

    // The name is the JWT iss: taken across the installation → 409 on name.
    let (status, err) = app
        .call(
            &other.key,
            Method::POST,
            "/api/v1/consumers",
            Some(json!({"name": "NEWGENSALES"})),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["field"], "name");
    for (body, field) in [
        (json!({"name": "x"}), "name"),
        (
            json!({"name": "ok-name", "write_limit_per_minute": -1}),
            "write_limit_per_minute",
        ),
    ] {
        let (status, err) = app
            .call(&other.key, Method::POST, "/api/v1/consumers", Some(body))
            .await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)));
    }

    // Another vendor sees none of them, and a non-full key none at all.
    let path = format!("/api/v1/consumers/{}", c.id);
    for method in [Method::GET, Method::PATCH] {
        let body = (method == Method::PATCH).then(|| json!({"enabled": false}));
        let (status, _) = app.call(&other.key, method, &path, body).await;
        assert_eq!(status, 404);
    }
    let (status, _) = app
        .call(
            &other.key,
            Method::POST,
            &format!("{path}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = app
        .call(&other.key, Method::GET, "/api/v1/consumers", None)
        .await;
    assert_eq!(list["total"], 0);
    let write_key = app
        .api_key(&v.id, affilia::domain::tenancy::api_keys::Scope::Write)
        .await;
    let (status, _) = app
        .call(&write_key, Method::GET, "/api/v1/consumers", None)
        .await;
    assert_eq!(status, 403);

    // Other tenants' affiliates stay theirs: the same email and external id at Globex are
    // a separate affiliate, and Acme's consumer cannot reach Globex's.
    let g = consumer(&app, &other, "globex-app", json!({})).await;
    let (status, a) = provision(&app, &c, alex(&v)).await;
    assert_eq!((status, &a["created"]), (200, &json!(true)));
    let mut body = alex(&other);
    body["external_id"] = json!("user_abc123");
    let (status, b) = provision(&app, &g, body.clone()).await;
    assert_eq!((status, &b["created"]), (200, &json!(true)), "{b}");
    assert_ne!(a["affiliate_id"], b["affiliate_id"]);
    let (status, _) = provision(&app, &c, body).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/affiliates/{}", b["affiliate_id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn kernel_events_convert_for_a_provisioned_affiliate() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let c = consumer(&app, &v, "newgensales", json!({})).await;
    let (_, rep) = provision(&app, &c, alex(&v)).await;
    let affiliate_id = rep["affiliate_id"].as_str().unwrap();
    let jwt = token(&c);
    let path = "/api/v1/kernel/events";

    // The customer subscribes through the rep, then pays; named by the rep's external id.
    let (status, sub) = post(
        &app,
        &jwt,
        path,
        json!({"id": "evt_sub_1", "type": "subscription.created", "customer_id": "cus_9",
               "amount_cents": 4900, "currency": "USD", "subscription_id": "sub_9",
               "vendor_id": v.id, "affiliate_external_id": "user_abc123"}),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    let charge = json!({"id": "evt_charge_1", "type": "charge.succeeded", "customer_id": "cus_9",
                        "amount_cents": 4900, "currency": "USD", "charge_id": "ch_9",
                        "subscription_id": "sub_9", "affiliate_external_id": "user_abc123"});
    let (status, paid) = post(&app, &jwt, path, charge.clone()).await;
    assert_eq!(status, 201, "{paid}");
    assert_eq!(paid["status"], "processed", "{paid}");
    let conversion_id = paid["conversion_id"].as_str().unwrap().to_owned();

    // Same event again → duplicate, and the same id through /api/v1/events is the same event.
    let (status, again) = post(&app, &jwt, path, charge).await;
    assert_eq!((status, &again["duplicate"]), (200, &json!(true)));
    let (status, api) = app
        .call(
            &v.key,
            Method::POST,
            "/api/v1/events",
            Some(
                json!({"id": "evt_charge_1", "type": "charge.succeeded", "customer_id": "cus_9",
                        "amount_cents": 4900, "currency": "USD", "charge_id": "ch_9"}),
            ),
        )
        .await;
    assert_eq!((status, &api["duplicate"]), (200, &json!(true)), "{api}");

    let (status, conv) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/conversions/{conversion_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{conv}");
    assert_eq!(conv["affiliate_id"], affiliate_id, "{conv}");
    assert_eq!(conv["amount_cents"], 4900);
    let (_, commissions) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/commissions?affiliate_id={affiliate_id}"),
            None,
        )
        .await;
    assert_eq!(commissions["total"], 1, "{commissions}");
    assert_eq!(commissions["data"][0]["amount_cents"], 980);

    // A refund through the kernel takes part of it back (no affiliate needed: the charge).
    let (status, refund) = post(
        &app,
        &jwt,
        path,
        json!({"id": "evt_refund_1", "type": "refund.processed", "customer_id": "cus_9",
               "amount_cents": 2450, "currency": "USD", "charge_id": "ch_9"}),
    )
    .await;
    assert_eq!(status, 201, "{refund}");
    assert_eq!(refund["status"], "processed", "{refund}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM billing_events WHERE source = 'api'")
            .await,
        3
    );

    // Unknown external id → 422; another vendor → 403; an API key → 401.
    let (status, err) = post(
        &app,
        &jwt,
        path,
        json!({"id": "evt_x", "type": "charge.succeeded", "customer_id": "cus_1",
               "amount_cents": 100, "currency": "USD", "affiliate_external_id": "nobody"}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("affiliate_external_id"))
    );
    let (status, _) = post(
        &app,
        &jwt,
        path,
        json!({"id": "evt_y", "type": "charge.succeeded", "customer_id": "cus_1",
               "amount_cents": 100, "currency": "USD", "vendor_id": "ven_other"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, err) = post(
        &app,
        &v.key,
        path,
        json!({"id": "evt_z", "type": "charge.succeeded", "customer_id": "cus_1",
               "amount_cents": 100, "currency": "USD"}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
}

#[tokio::test]
async fn the_cli_creates_a_consumer_whose_secret_signs_working_tokens() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let run = |args: Vec<&'static str>| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_affilia"))
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env("AFFILIA_SECRET_KEY", &app.secret_hex)
            .env("AFFILIA_DATA_DIR", std::env::temp_dir())
            .env("RUST_LOG", "warn")
            .output()
    };
    let out = run(vec![
        "admin",
        "create-consumer",
        "--vendor",
        "acme",
        "--name",
        "newgensales",
        "--external-source",
        "your-app",
    ])
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("shown only once"), "{stderr}");
    let secret = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(secret.starts_with("afcs_"), "{secret}");
    let c = Consumer {
        id: String::new(),
        name: "newgensales".into(),
        secret,
    };
    let (status, out) = provision(&app, &c, alex(&v)).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["external_source"], "your-app");

    // A taken name fails with a one-line message and status 1.
    let again = run(vec![
        "admin",
        "create-consumer",
        "--vendor",
        "acme",
        "--name",
        "newgensales",
    ])
    .await
    .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(app.count("SELECT COUNT(*) FROM consumers").await, 1);
}

/// The secret shown on the page after a create or rotate.
fn shown_secret(html: &str) -> String {
    let marker = "<code class=\"secret\">";
    let start = html.find(marker).expect("the page shows the secret") + marker.len();
    html[start..start + 69].to_owned()
}

#[tokio::test]
async fn the_dashboard_creates_disables_limits_and_rotates_consumers() {
    use crate::helpers::{OWNER_PASSWORD, csrf_from};
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let browser = app.signed_in_client(&v.owner, OWNER_PASSWORD).await;
    let page_url = app.url("/dashboard/developers/consumers");
    let html = browser
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("No consumer yet"), "{html}");
    assert!(
        html.contains(&v.id),
        "the page names the vendor id for the body"
    );
    let csrf = csrf_from(&html);

    // Create: 201 with the secret shown once and a copy button.
    let res = browser
        .post(&page_url)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "NewGenSales"),
            ("external_source", ""),
            ("read_limit_per_minute", ""),
            ("write_limit_per_minute", "30"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let html = res.text().await.unwrap();
    let secret = shown_secret(&html);
    assert!(secret.starts_with("afcs_"));
    assert!(html.contains(&format!("data-copy=\"{secret}\"")));
    let c = Consumer {
        id: String::new(),
        name: "newgensales".into(),
        secret: secret.clone(),
    };
    let (status, out) = provision(&app, &c, alex(&v)).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["external_source"], "newgensales");
    // Reloading never shows it again.
    let html = browser
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&secret));
    assert!(html.contains(&secret[..11]), "the prefix is listed");
    let (_, list) = app
        .call(&v.key, Method::GET, "/api/v1/consumers", None)
        .await;
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["data"][0]["write_limit_per_minute"], 30);

    // A taken name or a bad limit re-shows the form with the error.
    let res = browser
        .post(&page_url)
        .form(&[("csrf_token", csrf.as_str()), ("name", "newgensales")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let res = browser
        .post(&page_url)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("name", "other"),
            ("read_limit_per_minute", "lots"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("must be a whole number"));

    // Disable inline (HTMX): the row comes back disabled and tokens are refused at once.
    let res = browser
        .post(app.url(&format!("/dashboard/developers/consumers/{id}/enabled")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &csrf)
        .form(&[("enabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let row = res.text().await.unwrap();
    assert!(
        row.starts_with(&format!("<tr id=\"consumer-{id}\"")),
        "{row}"
    );
    assert!(
        row.contains(">disabled<") && row.contains(">Enable<"),
        "{row}"
    );
    let (status, err) = provision(&app, &c, alex(&v)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("consumer_disabled"))
    );

    // Limits inline; a bad one answers the row with the reason and changes nothing.
    let limits = app.url(&format!("/dashboard/developers/consumers/{id}/limits"));
    let res = browser
        .post(&limits)
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &csrf)
        .form(&[
            ("read_limit_per_minute", "600"),
            ("write_limit_per_minute", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = browser
        .post(&limits)
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &csrf)
        .form(&[
            ("read_limit_per_minute", "0"),
            ("write_limit_per_minute", ""),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("between 1 and"));
    let (_, one) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/consumers/{id}"),
            None,
        )
        .await;
    assert_eq!(one["read_limit_per_minute"], 600);
    assert_eq!(one["write_limit_per_minute"], Value::Null);
    assert_eq!(one["enabled"], false);

    // Without HTMX the forms redirect back; enable again, then rotate the secret.
    let res = browser
        .post(app.url(&format!("/dashboard/developers/consumers/{id}/enabled")))
        .form(&[("csrf_token", csrf.as_str()), ("enabled", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = browser
        .post(app.url(&format!("/dashboard/developers/consumers/{id}/rotate")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rotated = shown_secret(&res.text().await.unwrap());
    assert_ne!(rotated, secret);
    let (status, err) = provision(&app, &c, alex(&v)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("invalid_signature"))
    );
    let c = Consumer {
        secret: rotated,
        ..c
    };
    let (status, _) = provision(&app, &c, alex(&v)).await;
    assert_eq!(status, 200);

    // Another vendor's staff cannot touch it; without the CSRF token nothing changes.
    let other = vendor(&app, "Globex").await;
    let rival = app.signed_in_client(&other.owner, OWNER_PASSWORD).await;
    let rival_csrf = csrf_from(
        &rival
            .get(&page_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let res = rival
        .post(app.url(&format!("/dashboard/developers/consumers/{id}/enabled")))
        .form(&[("csrf_token", rival_csrf.as_str()), ("enabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = browser
        .post(app.url(&format!("/dashboard/developers/consumers/{id}/enabled")))
        .form(&[("enabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (_, one) = app
        .call(
            &v.key,
            Method::GET,
            &format!("/api/v1/consumers/{id}"),
            None,
        )
        .await;
    assert_eq!(one["enabled"], true);
}

/// A consumer spends its own budget (the installation's limits are lifted in tests): its
/// write limit answers in the headers, the call past it is a 429 with `Retry-After` that
/// provisions nothing, and the vendor's API key keeps its separate budget.
#[tokio::test]
async fn a_consumer_spends_its_own_rate_limit() {
    let app = spawn_app().await;
    let v = vendor(&app, "Acme").await;
    let c = consumer(&app, &v, "limited", json!({"write_limit_per_minute": 2})).await;
    let client = reqwest::Client::new();
    let send = |n: u32| {
        let body = json!({"external_id": format!("user_{n}"), "email": format!("rep{n}@your-saas.test"),
                          "name": "Rep", "vendor_id": v.id});
        client
            .post(app.url("/api/v1/kernel/affiliates/provision"))
            .bearer_auth(token(&c))
            .json(&body)
            .send()
    };
    let first = send(1).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit"], "2");
    assert_eq!(first.headers()["x-ratelimit-remaining"], "1");
    assert_eq!(send(2).await.unwrap().status(), 200);
    let refused = send(3).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM affiliates WHERE external_id = 'user_3'")
            .await,
        0
    );
    // The vendor's key is counted apart from its consumer.
    let (status, _) = app
        .call(&v.key, Method::GET, "/api/v1/consumers", None)
        .await;
    assert_eq!(status, 200);

    // Without a limit of its own, a consumer takes its vendor's.
    let (status, _) = app
        .call(
            &v.key,
            Method::PATCH,
            "/api/v1/vendor",
            Some(json!({"rate_limit_write_per_minute": 5})),
        )
        .await;
    assert_eq!(status, 200);
    let plain = consumer(&app, &v, "plain", json!({})).await;
    let res = client
        .post(app.url("/api/v1/kernel/affiliates/provision"))
        .bearer_auth(token(&plain))
        .json(&json!({"external_id": "user_p", "email": "p@your-saas.test", "name": "P", "vendor_id": v.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-limit"], "5");
}
