//! The money pages of the dashboard: conversions (list, inline approval and rejection,
//! the manual form), the billing event log with replays, and an affiliate's ledger.

use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use serde_json::json;

use crate::helpers::affiliates::affiliate;
use crate::helpers::money::convert;
use crate::helpers::pages::{page, setup, submit};
use crate::helpers::vendors::shop;
use crate::helpers::{OWNER_PASSWORD, TestApp, csrf_from, spawn_app};

/// A POST as HTMX sends it: the CSRF token in the header.
async fn htmx_post(
    app: &TestApp,
    client: &Client,
    path: &str,
    token: &str,
    form: &[(&str, &str)],
) -> (u16, HeaderMap, String) {
    let res = client
        .post(app.url(path))
        .header("hx-request", "true")
        .header("x-csrf-token", token)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

async fn conversion_status(app: &TestApp, id: &str) -> String {
    let (status,): (String,) = sqlx::query_as("SELECT status FROM conversions WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    status
}

#[tokio::test]
async fn conversions_are_listed_filtered_and_decided_inline() {
    let app = spawn_app().await;
    let (s, jane, staff) = setup(&app).await;
    let first = convert(&app, &s, &jane, 4900, Some("inv-1"), false).await;
    let second = convert(&app, &s, &jane, 1000, Some("inv-2"), false).await;
    let third = convert(&app, &s, &jane, 2500, Some("inv-3"), false).await;

    let (status, html) = page(&app, &staff, "/dashboard/conversions").await;
    assert_eq!(status, 200);
    for id in [&first, &second, &third] {
        assert!(
            html.contains(&format!("id=\"conversion-{id}\"")),
            "{id} listed"
        );
    }
    assert!(html.contains("49.00 USD"), "amount shown");
    assert!(html.contains("4.90 USD"), "level-0 commission shown");
    assert!(html.contains(&format!("href=\"/dashboard/affiliates/{jane}\"")));
    assert!(
        html.contains("/dashboard/conversions\">Conversions</a>"),
        "nav link"
    );
    assert!(html.contains("/dashboard/events\">Events</a>"), "nav link");
    assert!(html.contains(&format!(
        "hx-post=\"/dashboard/conversions/{first}/approve\""
    )));
    let token = csrf_from(&html);

    // Filters: another affiliate's id or another status shows nothing of jane's.
    let (_, html) = page(
        &app,
        &staff,
        "/dashboard/conversions?affiliate_id=aff_other",
    )
    .await;
    assert!(!html.contains(&first) && html.contains("No conversions match."));
    let (_, html) = page(
        &app,
        &staff,
        &format!("/dashboard/conversions?status=pending&affiliate_id={jane}"),
    )
    .await;
    assert!(html.contains(&first));
    let (status, _) = page(&app, &staff, "/dashboard/conversions?status=bogus").await;
    assert_eq!(status, 422);
    // HTMX filtering gets the table only.
    let res = staff
        .get(app.url("/dashboard/conversions?status=approved"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let table = res.text().await.unwrap();
    assert!(
        table.starts_with("<div id=\"conversion-table\">"),
        "{table}"
    );
    assert!(!table.contains("<html") && !table.contains(&first));

    // Approve inline: the row comes back approved, without its buttons.
    let (status, _, row) = htmx_post(
        &app,
        &staff,
        &format!("/dashboard/conversions/{first}/approve"),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{row}");
    assert!(
        row.starts_with(&format!("<tr id=\"conversion-{first}\">")),
        "{row}"
    );
    assert!(
        row.contains("status-approved") && !row.contains(">Approve<"),
        "{row}"
    );
    assert_eq!(conversion_status(&app, &first).await, "approved");
    // Twice: a readable 409 as a toast.
    let (status, headers, toast) = htmx_post(
        &app,
        &staff,
        &format!("/dashboard/conversions/{first}/approve"),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(headers["hx-retarget"], "#toasts");
    assert!(
        toast.contains("only a pending conversion can be approved; this one is approved"),
        "{toast}"
    );

    // Reject inline with a reason.
    let (status, _, row) = htmx_post(
        &app,
        &staff,
        &format!("/dashboard/conversions/{second}/reject"),
        &token,
        &[("reason", "Test order <script>")],
    )
    .await;
    assert_eq!(status, 200, "{row}");
    assert!(row.contains("status-rejected"), "{row}");
    assert!(
        row.contains("Test order &#60;script&#62;") || row.contains("Test order &lt;script&gt;"),
        "{row}"
    );
    assert_eq!(conversion_status(&app, &second).await, "rejected");
    let (status, _, toast) = htmx_post(
        &app,
        &staff,
        &format!("/dashboard/conversions/{second}/approve"),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 409);
    assert!(toast.contains("this one is rejected"), "{toast}");

    // Without the CSRF token nothing changes.
    let res = staff
        .post(app.url(&format!("/dashboard/conversions/{third}/approve")))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(conversion_status(&app, &third).await, "pending");
    // A plain form post (no HTMX) redirects back to the list.
    let res = staff
        .post(app.url(&format!("/dashboard/conversions/{third}/reject")))
        .form(&[("csrf_token", token.as_str()), ("reason", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard/conversions");
    assert_eq!(conversion_status(&app, &third).await, "rejected");

    // Another vendor's staff sees none of it and cannot decide it.
    shop(&app, "Rival", "https://rival.test/").await;
    let rival = app
        .signed_in_client("owner@rival.test", OWNER_PASSWORD)
        .await;
    let (_, html) = page(&app, &rival, "/dashboard/conversions").await;
    assert!(!html.contains(&first));
    let rival_token = csrf_from(&html);
    let (status, _, _) = htmx_post(
        &app,
        &rival,
        &format!("/dashboard/conversions/{third}/approve"),
        &rival_token,
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = page(&app, &rival, &format!("/dashboard/conversions/{first}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_manual_form_records_a_conversion_and_explains_refusals() {
    let app = spawn_app().await;
    let (_s, jane, staff) = setup(&app).await;
    let post = |fields: Vec<(&'static str, String)>| submit(&app, &staff, fields);

    let (status, location, _) = post(vec![
        ("affiliate_id", jane.clone()),
        ("amount", "49.00".into()),
        ("currency", String::new()),
        ("external_id", "ord-1".into()),
    ])
    .await;
    assert_eq!(status, 303);
    let id = location
        .strip_prefix("/dashboard/conversions/")
        .expect("redirect to the conversion")
        .to_owned();
    let (amount, source, external): (i64, String, Option<String>) =
        sqlx::query_as("SELECT amount_cents, source, external_id FROM conversions WHERE id = $1")
            .bind(&id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!((amount, source.as_str()), (4900, "manual"));
    assert_eq!(external.as_deref(), Some("ord-1"));
    let (status, html) = page(&app, &staff, &location).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("49.00 USD") && html.contains("4.90 USD"),
        "{html}"
    );
    assert!(html.contains("ord-1") && html.contains("direct"));

    // The same external id: refused, with a link to the existing conversion.
    let (status, _, html) = post(vec![
        ("affiliate_id", jane.clone()),
        ("amount", "12.00".into()),
        ("external_id", "ord-1".into()),
    ])
    .await;
    assert_eq!(status, 409);
    assert!(html.contains("already recorded"), "{html}");
    assert!(html.contains(&format!("href=\"/dashboard/conversions/{id}\"")));
    assert!(html.contains("value=\"12.00\""), "typed amount kept");

    // A badly typed amount: 422 with the message and the typed values.
    let (status, _, html) = post(vec![
        ("affiliate_id", jane.clone()),
        ("amount", "49,00".into()),
        ("external_id", "ord-2".into()),
    ])
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("enter an amount such as 15 or 15.50"),
        "{html}"
    );
    assert!(html.contains("value=\"49,00\"") && html.contains("value=\"ord-2\""));
    let (status, _, html) =
        post(vec![("affiliate_id", jane.clone()), ("amount", "0".into())]).await;
    assert_eq!(status, 422);
    assert!(html.contains("greater than zero"), "{html}");
    let (status, _, html) = post(vec![("amount", "10".into())]).await;
    assert_eq!(status, 422);
    assert!(html.contains("enter the affiliate"), "{html}");

    // Unknown affiliates and codes are readable refusals.
    let (status, _, html) = post(vec![
        ("affiliate_id", "aff_nope".into()),
        ("amount", "10".into()),
    ])
    .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("No affiliate of yours has this id."),
        "{html}"
    );
    assert!(html.contains("value=\"aff_nope\""));
    let (status, _, html) = post(vec![("code", "nobody".into()), ("amount", "10".into())]).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("No affiliate of yours has this referral code."),
        "{html}"
    );

    // By referral code, in another currency.
    let (status, location, _) = post(vec![
        ("code", "jane".into()),
        ("amount", "10".into()),
        ("currency", "eur".into()),
    ])
    .await;
    assert_eq!(status, 303, "{location}");
    let (_, html) = page(&app, &staff, &location).await;
    assert!(html.contains("10.00 EUR"), "{html}");
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 2);

    // Without the CSRF token nothing is recorded.
    let res = staff
        .post(app.url("/dashboard/conversions"))
        .form(&[("affiliate_id", jane.as_str()), ("amount", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 2);
}

#[tokio::test]
async fn the_event_log_shows_what_events_produced_and_replays_ignored_ones() {
    let app = spawn_app().await;
    let (s, jane, staff) = setup(&app).await;
    let manual = convert(&app, &s, &jane, 4900, Some("inv-9"), false).await;
    // A payment of a customer nobody referred (yet) is ignored.
    let (status, ignored) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/events",
            Some(
                json!({"id": "evt_1", "type": "charge.succeeded", "customer_id": "cus_1",
                        "amount_cents": 2000, "currency": "USD",
                        "occurred_at": chrono::Utc::now().to_rfc3339()}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{ignored}");
    assert_eq!(ignored["status"], "ignored", "{ignored}");
    let ignored_id = ignored["id"].as_str().unwrap().to_owned();
    let (manual_event,): (String,) =
        sqlx::query_as("SELECT id FROM billing_events WHERE source = 'manual'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();

    let (status, html) = page(&app, &staff, "/dashboard/events").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("id=\"event-{manual_event}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/dashboard/conversions/{manual}\"")));
    assert!(html.contains("inv-9"), "the manual event's id");
    assert!(
        html.contains("not_attributed"),
        "why the payment was ignored"
    );
    // Newest first.
    let (at_ignored, at_manual) = (
        html.find(&format!("event-{ignored_id}")).unwrap(),
        html.find(&format!("event-{manual_event}")).unwrap(),
    );
    assert!(at_ignored < at_manual);
    // Only failed and ignored events can be replayed.
    assert!(html.contains(&format!("/dashboard/events/{ignored_id}/replay")));
    assert!(!html.contains(&format!("/dashboard/events/{manual_event}/replay")));
    let token = csrf_from(&html);

    let (_, html) = page(&app, &staff, "/dashboard/events?status=ignored").await;
    assert!(html.contains(&ignored_id) && !html.contains(&manual_event));
    let (status, _) = page(&app, &staff, "/dashboard/events?status=nope").await;
    assert_eq!(status, 422);

    // Replaying a processed event is refused readably.
    let (status, headers, toast) = htmx_post(
        &app,
        &staff,
        &format!("/dashboard/events/{manual_event}/replay"),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(headers["hx-retarget"], "#toasts");
    assert!(
        toast.contains("replaying it would change nothing"),
        "{toast}"
    );
    // Without the token nothing runs.
    let res = staff
        .post(app.url(&format!("/dashboard/events/{ignored_id}/replay")))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 1);

    // Once the customer's referral is reported, the replay converts.
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/referrals",
            Some(json!({"customer_id": "cus_1", "code": "jane"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{body}");
    let (status, _, row) = htmx_post(
        &app,
        &staff,
        &format!("/dashboard/events/{ignored_id}/replay"),
        &token,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{row}");
    assert!(
        row.starts_with(&format!("<tr id=\"event-{ignored_id}\">")),
        "{row}"
    );
    assert!(
        row.contains("status-processed") && row.contains("2 attempts"),
        "{row}"
    );
    assert!(row.contains("href=\"/dashboard/conversions/cnv_"), "{row}");
    assert!(!row.contains("/replay"), "{row}");
    assert_eq!(app.count("SELECT COUNT(*) FROM conversions").await, 2);

    // Another vendor sees none of it.
    shop(&app, "Rival", "https://rival.test/").await;
    let rival = app
        .signed_in_client("owner@rival.test", OWNER_PASSWORD)
        .await;
    let (_, html) = page(&app, &rival, "/dashboard/events").await;
    assert!(!html.contains(&ignored_id) && html.contains("No events."));
    let (status, _, _) = htmx_post(
        &app,
        &rival,
        &format!("/dashboard/events/{ignored_id}/replay"),
        &csrf_from(&html),
        &[],
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_ledger_page_shows_balances_and_lines_of_the_vendors_own_affiliates() {
    let app = spawn_app().await;
    let (s, jane, staff) = setup(&app).await;
    let path = format!("/dashboard/affiliates/{jane}/ledger");
    let (status, html) = page(&app, &staff, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Nothing earned yet."), "{html}");

    let id = convert(&app, &s, &jane, 4900, Some("inv-1"), false).await;
    let bob = affiliate(&app, &s, "bob@partners.test", "bob").await;
    convert(&app, &s, &bob, 1230, Some("inv-2"), false).await;
    let (status, html) = page(&app, &staff, &path).await;
    assert_eq!(status, 200);
    // Only jane's accounts: neither bob's lines nor the vendor's expense side.
    assert!(
        !html.contains("1.23") && !html.contains("commission_expense"),
        "{html}"
    );
    assert!(html.contains("1 line(s)"), "{html}");
    // Currency, pending, available, paid.
    assert!(
        html.contains("<td>USD</td><td>4.90</td><td>0.00</td><td>0.00</td>"),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/dashboard/conversions/{id}\"")));
    assert!(html.contains("4.90 USD"), "the journal line");

    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            &format!("/api/v1/conversions/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, html) = page(&app, &staff, &path).await;
    assert!(
        html.contains("<td>USD</td><td>0.00</td><td>4.90</td><td>0.00</td>"),
        "{html}"
    );
    assert!(html.contains("-4.90 USD"), "the move out of pending");

    // Other vendors' and unknown affiliates are 404.
    shop(&app, "Rival", "https://rival.test/").await;
    let rival = app
        .signed_in_client("owner@rival.test", OWNER_PASSWORD)
        .await;
    let (status, html) = page(&app, &rival, &path).await;
    assert_eq!(status, 404);
    assert!(!html.contains("4.90"));
    let (status, _) = page(&app, &staff, "/dashboard/affiliates/aff_nope/ledger").await;
    assert_eq!(status, 404);
    // Signed out: to the sign-in page.
    let res = crate::helpers::new_client()
        .get(app.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}
