//! First-run setup, sign-in, sign-out, CSRF and throttling.

use crate::helpers::{OWNER_PASSWORD, csrf_from, new_client, spawn_app};

fn location(res: &reqwest::Response) -> &str {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn fresh_install_leads_to_setup_which_creates_vendor_owner_and_program() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/setup");
    assert_eq!(location(&app.get("/login").await), "/setup");

    let res = app.setup("Acme Inc", "owner@acme.test").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/dashboard");

    let page = app.text("/dashboard").await;
    assert!(page.contains("Acme Inc affiliate program"), "{page}");
    assert!(page.contains("20% of every payment"));
    assert!(page.contains("/p/acme-inc/"));
    // Recent activity is in words (issue 20), no longer the raw `vendor.created` code.
    assert!(page.contains("created the account Acme Inc"), "{page}");
    assert!(!page.contains("vendor.created"));

    // The setup page is gone once a vendor exists, and a second setup is refused.
    let other = new_client();
    let res = other.get(app.url("/setup")).send().await.unwrap();
    assert_eq!(location(&res), "/login");
    let res = app
        .post_form_as(
            &other,
            "/setup",
            "/login",
            &[
                ("name", "Intruder"),
                ("owner_email", "x@intruder.test"),
                ("owner_password", "longenough123"),
            ],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.count("SELECT COUNT(*) FROM vendors").await, 1);
}

#[tokio::test]
async fn setup_validation_errors_name_the_field_and_change_nothing() {
    let app = spawn_app().await;
    for (fields, expected) in [
        (
            vec![
                ("name", ""),
                ("owner_email", "a@b.test"),
                ("owner_password", OWNER_PASSWORD),
            ],
            "name is required",
        ),
        (
            vec![
                ("name", "Acme"),
                ("owner_email", "nope"),
                ("owner_password", OWNER_PASSWORD),
            ],
            "email must contain @",
        ),
        (
            vec![
                ("name", "Acme"),
                ("owner_email", "a@b.test"),
                ("owner_password", "short"),
            ],
            "at least 10",
        ),
        (
            vec![
                ("name", "Acme"),
                ("owner_email", "a@b.test"),
                ("owner_password", OWNER_PASSWORD),
                ("currency", "XYZ"),
            ],
            "ISO 4217",
        ),
    ] {
        let res = app.post_form("/setup", "/setup", &fields).await;
        assert_eq!(res.status(), 422);
        let body = res.text().await.unwrap();
        assert!(body.contains(expected), "{expected}: {body}");
        assert!(body.contains("aria-invalid"));
    }
    let long_name = "x".repeat(121);
    let res = app
        .post_form(
            "/setup",
            "/setup",
            &[
                ("name", &long_name),
                ("owner_email", "a@b.test"),
                ("owner_password", OWNER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.count("SELECT COUNT(*) FROM vendors").await, 0);
    // A form missing its fields entirely is a validation error too, not a 500.
    let res = app.post_form("/setup", "/setup", &[]).await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn concurrent_setups_create_exactly_one_vendor() {
    let app = spawn_app().await;
    // Every client loads the form first, then all submit at once.
    let mut forms = Vec::new();
    for _ in 0..4 {
        let client = new_client();
        let page = client
            .get(app.url("/setup"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        forms.push((client, csrf_from(&page)));
    }
    let mut tasks = Vec::new();
    for (i, (client, token)) in forms.into_iter().enumerate() {
        let url = app.url("/setup");
        tasks.push(tokio::spawn(async move {
            let email = format!("owner{i}@race.test");
            let res = client
                .post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("name", "Race"),
                    ("owner_email", email.as_str()),
                    ("owner_password", OWNER_PASSWORD),
                ])
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM vendors").await, 1);
}

#[tokio::test]
async fn owner_logs_out_and_back_in() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;
    assert_eq!(app.get("/dashboard").await.status(), 200);

    let res = app.post_form("/logout", "/dashboard", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let res = app.get("/dashboard").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");

    // Email is case-insensitive.
    let res = app.login("OWNER@acme.test", OWNER_PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/dashboard");
    assert_eq!(app.get("/dashboard").await.status(), 200);
    assert_eq!(location(&app.get("/login").await), "/dashboard");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_refused_alike() {
    let app = spawn_app().await;
    app.create_vendor("Acme", "owner@acme.test").await;
    for (email, password) in [
        ("owner@acme.test", "wrong password!"),
        ("nobody@acme.test", OWNER_PASSWORD),
        ("not-an-email", "x"),
    ] {
        let res = app.login(email, password).await;
        assert_eq!(res.status(), 401);
        let body = res.text().await.unwrap();
        assert!(body.contains("wrong email or password"), "{body}");
    }
    assert_eq!(app.get("/dashboard").await.status(), 303);
}

#[tokio::test]
async fn sign_in_is_throttled_after_ten_failures() {
    let app = spawn_app().await;
    app.create_vendor("Acme", "owner@acme.test").await;
    for _ in 0..10 {
        assert_eq!(
            app.login("owner@acme.test", "wrong password!")
                .await
                .status(),
            401
        );
    }
    let res = app.login("owner@acme.test", OWNER_PASSWORD).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    let body = res.text().await.unwrap();
    assert!(body.contains("Too many attempts"), "{body}");
    assert_eq!(app.get("/dashboard").await.status(), 303);
    // Another email from the same client is a separate bucket.
    assert_eq!(
        app.login("other@acme.test", "wrong password!")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn state_changing_forms_without_a_valid_csrf_token_are_refused() {
    let app = spawn_app().await;
    app.setup("Acme", "owner@acme.test").await;

    // Logout without a token: refused, still signed in.
    let res = app
        .client
        .post(app.url("/logout"))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("expired"));
    assert_eq!(app.get("/dashboard").await.status(), 200);

    // A wrong token, in the form or in the header, is refused as well.
    let wrong = "0".repeat(64);
    let res = app
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", wrong.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", &wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.get("/dashboard").await.status(), 200);

    // A token from another session does not work either.
    let other = new_client();
    let foreign = csrf_from(
        &other
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let res = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", &foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // HTMX requests get the refusal as a toast.
    let res = app
        .client
        .post(app.url("/logout"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["hx-retarget"], "#toasts");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("class=\"toast toast-error\"")
    );

    // The header the layout configures for HTMX works.
    let token = app.csrf("/dashboard").await;
    let res = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", &token)
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/dashboard").await.status(), 303);

    // Setup without a token creates nothing.
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/setup"))
        .form(&[
            ("name", "Acme"),
            ("owner_email", "o@acme.test"),
            ("owner_password", OWNER_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM vendors").await, 0);
}

#[tokio::test]
async fn session_cookie_is_http_only_lax_and_not_secure_on_plain_http() {
    let app = spawn_app().await;
    let res = app.setup("Acme", "owner@acme.test").await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("affilia_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"));
}
