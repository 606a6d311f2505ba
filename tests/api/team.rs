//! Team, accounts and the activity log: invitations through the SMTP sink, roles and the
//! last-owner rule, viewers refused on every mutating dashboard route, password change and
//! reset, sign out everywhere, return-to after sign-in, and the audit log in words.

use affilia::config::Secret;
use affilia::db::users::UserRow;
use affilia::domain::tenancy::api_keys::Scope;
use affilia::domain::tenancy::team;
use reqwest::{Client, Method};
use serde_json::json;

use crate::helpers::pages::page;
use crate::helpers::smtp_sink::SmtpSink;
use crate::helpers::{
    OWNER_PASSWORD, TestApp, csrf_from, new_client, second_instance, spawn_app, spawn_app_with,
};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn app_with_smtp(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |s| s.smtp_url = Some(Secret::new(url))).await
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Posts a form as `client`, with the CSRF token of `token_page`: (status, Location, body).
async fn post(
    app: &TestApp,
    client: &Client,
    path: &str,
    token_page: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let res = app.post_form_as(client, path, token_page, fields).await;
    let status = res.status().as_u16();
    let loc = location(&res);
    (status, loc, res.text().await.unwrap())
}

/// The first link to this app in the newest email to `to` in the sink.
async fn link_to(app: &TestApp, sink: &SmtpSink, to: &str, n: usize) -> String {
    app.deliver_link_requests().await;
    app.run_jobs().await;
    let messages = sink.wait_for(n, 5).await;
    let m = messages
        .iter()
        .rev()
        .find(|m| m.rcpt_to.contains(&format!("<{to}>")))
        .unwrap_or_else(|| panic!("an email to {to}"));
    let text = m.part("text/plain").expect("text part");
    let start = text.find(&app.url("/")).expect("a link in the email");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

async fn user(app: &TestApp, email: &str) -> UserRow {
    affilia::db::users::by_email(app.db.pool(), email)
        .await
        .unwrap()
        .unwrap()
}

/// Invites `email` with `role` as `inviter` and accepts through the emailed link; returns a
/// client signed in as the new member.
async fn invite_and_join(
    app: &TestApp,
    sink: &SmtpSink,
    inviter: &Client,
    email: &str,
    role: &str,
    emails_so_far: usize,
) -> Client {
    let (status, loc, _) = post(
        app,
        inviter,
        "/dashboard/team/invite",
        "/dashboard/team",
        &[("email", email), ("role", role)],
    )
    .await;
    assert_eq!(
        (status, loc.starts_with("/dashboard/team?done=invited")),
        (303, true)
    );
    let link = link_to(app, sink, email, emails_so_far + 1).await;
    let client = new_client();
    let path = link.trim_start_matches(&app.url(""));
    let (status, loc, _) = post(
        app,
        &client,
        path,
        path,
        &[("name", "New Member"), ("password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/dashboard"));
    client
}

#[tokio::test]
async fn an_invited_teammate_joins_from_the_email_and_signs_in_with_their_role() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    let owner = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;

    let (status, loc, _) = post(
        &app,
        &owner,
        "/dashboard/team/invite",
        "/dashboard/team",
        &[("email", "Viewer@Acme.test"), ("role", "viewer")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = page(&app, &owner, &loc).await;
    assert!(
        html.contains("Invitation sent to Viewer@Acme.test."),
        "{html}"
    );
    assert!(html.contains("Invited"));
    // Not a member yet: no sign-in with any password, no magic link.
    let res = app.login("viewer@acme.test", "").await;
    assert_eq!(res.status(), 401);

    app.run_jobs().await;
    let messages = sink.wait_for(1, 5).await;
    let m = &messages[0];
    assert_eq!(m.rcpt_to, vec!["<Viewer@Acme.test>".to_owned()]);
    assert_eq!(
        m.header("Subject").unwrap(),
        "owner@acme.test invited you to the Acme dashboard"
    );
    let text = m.part("text/plain").unwrap();
    assert!(text.contains("as a Viewer"), "{text}");
    let html_part = m.part("text/html").unwrap();
    let link = link_to(&app, &sink, "Viewer@Acme.test", 1).await;
    assert!(link.starts_with(&app.url("/join/")), "{link}");
    assert!(html_part.contains(&link));

    // Opening the link uses nothing; a bad form is refused beside its field.
    let invitee = new_client();
    let path = link.trim_start_matches(&app.url("")).to_owned();
    let (status, html) = page(&app, &invitee, &path).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Join Acme") && html.contains("Viewer"),
        "{html}"
    );
    let (status, _, html) = post(
        &app,
        &invitee,
        &path,
        &path,
        &[("name", "Vera"), ("password", "short")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="password-error""#), "{html}");
    assert!(
        html.contains("Password must be at least 10 characters"),
        "{html}"
    );
    let (status, loc, _) = post(
        &app,
        &invitee,
        &path,
        &path,
        &[("name", "Vera Viewer"), ("password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/dashboard"));
    assert_eq!(page(&app, &invitee, "/dashboard").await.0, 200);
    // The link works once.
    assert_eq!(page(&app, &new_client(), &path).await.0, 410);

    // Signed in with the role: sees the team, cannot change it.
    let viewer = app.signed_in_client("viewer@acme.test", NEW_PASSWORD).await;
    let (_, html) = page(&app, &viewer, "/dashboard/team").await;
    assert!(html.contains("Vera Viewer"));
    assert!(html.contains("can see the team but not change it"));
    assert!(!html.contains("Send invitation"));
    assert!(!html.contains("Remove…"));
    let (_, html) = page(&app, &owner, "/dashboard/team").await;
    assert!(html.contains("Vera Viewer") && html.contains("Active"));
    assert!(html.contains("Send invitation") && html.contains("Remove…"));
    assert_eq!(user(&app, "viewer@acme.test").await.role, "viewer");
}

#[tokio::test]
async fn invitations_are_resent_and_cancelled_and_an_email_is_one_account() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    app.create_vendor("Beta", "owner@beta.test").await;
    let owner = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;

    // An address with a staff account elsewhere is refused beside the field.
    let (status, _, html) = post(
        &app,
        &owner,
        "/dashboard/team/invite",
        "/dashboard/team",
        &[("email", "OWNER@beta.test"), ("role", "admin")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(html.contains(r#"id="email-error""#), "{html}");
    assert!(html.contains("already has a staff account"));
    for (email, role, field) in [
        ("not an email", "viewer", "email-error"),
        ("x@acme.test", "emperor", "role-error"),
    ] {
        let (status, _, html) = post(
            &app,
            &owner,
            "/dashboard/team/invite",
            "/dashboard/team",
            &[("email", email), ("role", role)],
        )
        .await;
        assert_eq!(status, 422, "{email}");
        assert!(html.contains(&format!(r#"id="{field}""#)), "{html}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vendor_users WHERE status = 'invited'")
            .await,
        0
    );

    post(
        &app,
        &owner,
        "/dashboard/team/invite",
        "/dashboard/team",
        &[("email", "ada@acme.test"), ("role", "admin")],
    )
    .await;
    let first = link_to(&app, &sink, "ada@acme.test", 1).await;
    // Inviting again is refused; resending sends a new link and voids the old one.
    let (status, _, html) = post(
        &app,
        &owner,
        "/dashboard/team/invite",
        "/dashboard/team",
        &[("email", "ada@acme.test"), ("role", "admin")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(html.contains("already invited"));
    let ada = user(&app, "ada@acme.test").await;
    let (status, loc, _) = post(
        &app,
        &owner,
        &format!("/dashboard/team/{}/resend", ada.id),
        "/dashboard/team",
        &[],
    )
    .await;
    assert_eq!((status, loc.contains("done=resent")), (303, true));
    let second = link_to(&app, &sink, "ada@acme.test", 2).await;
    assert_ne!(first, second);
    assert_eq!(
        page(&app, &new_client(), first.trim_start_matches(&app.url("")))
            .await
            .0,
        410
    );
    assert_eq!(
        page(&app, &new_client(), second.trim_start_matches(&app.url("")))
            .await
            .0,
        200
    );

    // Cancelling frees the address and kills the link.
    let (status, _, _) = post(
        &app,
        &owner,
        &format!("/dashboard/team/{}/cancel", ada.id),
        "/dashboard/team",
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let path = second.trim_start_matches(&app.url("")).to_owned();
    assert_eq!(page(&app, &new_client(), &path).await.0, 410);
    let (status, _, _) = post(
        &app,
        &new_client(),
        &path,
        "/login",
        &[("name", "Ada"), ("password", NEW_PASSWORD)],
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vendor_users WHERE LOWER(email) = 'ada@acme.test'")
            .await,
        0
    );
}

#[tokio::test]
async fn another_vendors_member_or_invitation_is_a_404() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    let beta = app.create_vendor("Beta", "owner@beta.test").await;
    let beta_owner = app
        .signed_in_client("owner@beta.test", OWNER_PASSWORD)
        .await;
    post(
        &app,
        &beta_owner,
        "/dashboard/team/invite",
        "/dashboard/team",
        &[("email", "inv@beta.test"), ("role", "viewer")],
    )
    .await;
    let invited = user(&app, "inv@beta.test").await;
    let acme_owner = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    for id in [&beta.owner.id, &invited.id] {
        for (action, fields) in [
            ("role", vec![("role", "viewer")]),
            ("remove", vec![]),
            ("resend", vec![]),
            ("cancel", vec![]),
        ] {
            let (status, _, _) = post(
                &app,
                &acme_owner,
                &format!("/dashboard/team/{id}/{action}"),
                "/dashboard/team",
                &fields,
            )
            .await;
            assert_eq!(status, 404, "{action} {id}");
        }
    }
    assert_eq!(user(&app, "owner@beta.test").await.role, "owner");
    assert!(!user(&app, "inv@beta.test").await.is_active());
    let (_, html) = page(&app, &acme_owner, "/dashboard/team").await;
    assert!(!html.contains("beta.test"));
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed_or_demoted_and_admins_do_not_manage_owners() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    let owner = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let me = acme.owner.id.clone();

    for (action, fields) in [("role", vec![("role", "admin")]), ("remove", vec![])] {
        let (status, _, html) = post(
            &app,
            &owner,
            &format!("/dashboard/team/{me}/{action}"),
            "/dashboard/team",
            &fields,
        )
        .await;
        assert_eq!(status, 409, "{action}");
        assert!(
            html.contains("This is the last owner: make someone else an owner first."),
            "{html}"
        );
    }
    assert_eq!(user(&app, "owner@acme.test").await.role, "owner");
    // The page does not offer what the server would refuse.
    let (_, html) = page(&app, &owner, "/dashboard/team").await;
    assert!(
        !html.contains(&format!("/dashboard/team/{me}/role")),
        "{html}"
    );
    assert!(
        !html.contains(&format!("/dashboard/team/{me}/remove")),
        "{html}"
    );

    // An admin manages admins and viewers, not owners, and cannot make anyone an owner.
    let admin = invite_and_join(&app, &sink, &owner, "admin@acme.test", "admin", 0).await;
    let (status, _, _) = post(
        &app,
        &admin,
        &format!("/dashboard/team/{me}/role"),
        "/dashboard/team",
        &[("role", "viewer")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = post(
        &app,
        &admin,
        &format!("/dashboard/team/{me}/remove"),
        "/dashboard/team",
        &[],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, html) = post(
        &app,
        &admin,
        "/dashboard/team/invite",
        "/dashboard/team",
        &[("email", "boss@acme.test"), ("role", "owner")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(html.contains("Only an owner can"), "{html}");
    let (_, html) = page(&app, &admin, "/dashboard/team").await;
    assert!(!html.contains(r#"<option value="owner""#), "{html}");
    let admin_id = user(&app, "admin@acme.test").await.id;
    let (status, _, _) = post(
        &app,
        &admin,
        &format!("/dashboard/team/{admin_id}/role"),
        "/dashboard/team",
        &[("role", "owner")],
    )
    .await;
    assert_eq!(status, 403);

    // With a second owner, the first may step down; then the second is the last one.
    let (status, _, _) = post(
        &app,
        &owner,
        &format!("/dashboard/team/{admin_id}/role"),
        "/dashboard/team",
        &[("role", "owner")],
    )
    .await;
    assert_eq!(status, 303);
    // Two owners: each may now be changed.
    let (_, html) = page(&app, &owner, "/dashboard/team").await;
    assert!(
        html.contains(&format!("/dashboard/team/{me}/role")),
        "{html}"
    );
    let (status, _, _) = post(
        &app,
        &owner,
        &format!("/dashboard/team/{me}/role"),
        "/dashboard/team",
        &[("role", "admin")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(user(&app, "owner@acme.test").await.role, "admin");
    let (status, _, _) = post(
        &app,
        &admin,
        &format!("/dashboard/team/{admin_id}/remove"),
        "/dashboard/team",
        &[],
    )
    .await;
    assert_eq!(status, 409);
    // A removed member's session ends at once.
    let (status, _, _) = post(
        &app,
        &admin,
        &format!("/dashboard/team/{me}/remove"),
        "/dashboard/team",
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let res = owner.get(app.url("/dashboard/team")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let app = spawn_app().await;
    let acme = app.create_vendor("Acme", "a@acme.test").await;
    let hash = affilia::domain::tenancy::password::hash(OWNER_PASSWORD.into())
        .await
        .unwrap();
    let b = affilia::db::users::insert(
        app.db.pool(),
        &acme.vendor.id,
        "b@acme.test",
        "B",
        &hash,
        "owner",
    )
    .await
    .unwrap();
    let a = acme.owner.clone();
    for _ in 0..5 {
        let (r1, r2) = tokio::join!(
            team::change_role(&app.db, &acme.vendor.id, &a, &b.id, "admin"),
            team::change_role(&app.db, &acme.vendor.id, &b, &a.id, "admin"),
        );
        assert!(
            r1.is_ok() != r2.is_ok(),
            "exactly one demotion succeeds: {r1:?} {r2:?}"
        );
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM vendor_users WHERE vendor_id = '{}' AND role = 'owner'",
                acme.vendor.id
            ))
            .await,
            1
        );
        // Make both owners again for the next round.
        for id in [&a.id, &b.id] {
            affilia::db::users::set_role(app.db.pool(), &acme.vendor.id, id, "owner")
                .await
                .unwrap();
        }
    }
}

/// Every POST route of the dashboard, from its route table, so a new one is covered
/// without editing this test. `{…}` segments become a made-up id.
fn dashboard_post_routes() -> Vec<String> {
    affilia::http::dashboard::table()
        .listed()
        .into_iter()
        .filter(|(method, path, _)| {
            !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS") && path.starts_with("/dashboard")
        })
        .map(|(_, path, _)| {
            path.split('/')
                .map(|seg| if seg.starts_with('{') { "x_nope" } else { seg })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

#[tokio::test]
async fn a_viewer_is_refused_on_every_mutating_dashboard_route_and_sees_no_change_buttons() {
    let app = spawn_app().await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    let hash = affilia::domain::tenancy::password::hash(OWNER_PASSWORD.into())
        .await
        .unwrap();
    affilia::db::users::insert(
        app.db.pool(),
        &acme.vendor.id,
        "viewer@acme.test",
        "Vi",
        &hash,
        "viewer",
    )
    .await
    .unwrap();
    let viewer = app
        .signed_in_client("viewer@acme.test", OWNER_PASSWORD)
        .await;
    let routes = dashboard_post_routes();
    assert!(routes.len() > 40, "{routes:?}");
    assert!(routes.contains(&"/dashboard/team/invite".to_owned()));
    assert!(routes.contains(&"/dashboard/payouts/run".to_owned()));
    let csrf = csrf_from(&page(&app, &viewer, "/dashboard").await.1);
    let audit_before = app.count("SELECT COUNT(*) FROM audit_log").await;
    let mut checked = 0;
    for path in &routes {
        if path.starts_with("/dashboard/account") {
            // Their own account is theirs to change (checked below).
            continue;
        }
        let res = viewer
            .post(app.url(path))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("name", "Hijack"),
                ("role", "owner"),
            ])
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.contains("can view these pages but not change anything"),
            "{path}: {body}"
        );
        checked += 1;
    }
    assert!(checked > 40);
    // HTMX posts are refused too (a toast instead of a page).
    let res = viewer
        .post(app.url("/dashboard/payouts/run"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log").await,
        audit_before
    );
    let (status, _, _) = post(
        &app,
        &viewer,
        "/dashboard/account/name",
        "/dashboard/account",
        &[("name", "Vi Ewer")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(user(&app, "owner@acme.test").await.role, "owner");

    // Pages hide what a viewer cannot use: the layout marks the page read-only (every
    // change form hidden), the owner's is not.
    for path in [
        "/dashboard/payouts",
        "/dashboard/affiliates",
        "/dashboard/programs",
    ] {
        let (_, html) = page(&app, &viewer, path).await;
        assert!(html.contains(r#"class="read-only""#), "{path}");
    }
    let owner = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let (_, html) = page(&app, &owner, "/dashboard/payouts").await;
    assert!(!html.contains(r#"class="read-only""#));
    let (_, html) = page(&app, &viewer, "/dashboard/team").await;
    assert!(!html.contains("/dashboard/team/invite"));
    let (_, html) = page(&app, &viewer, "/dashboard/settings").await;
    assert!(!html.contains("Save settings"));
    // Their account page works.
    let (status, html) = page(&app, &viewer, "/dashboard/account").await;
    assert_eq!(status, 200);
    assert!(html.contains("Viewer of Acme"), "{html}");
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_the_other_sessions() {
    let app = spawn_app().await;
    app.create_vendor("Acme", "owner@acme.test").await;
    let here = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let elsewhere = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let (status, _, html) = post(
        &app,
        &here,
        "/dashboard/account/password",
        "/dashboard/account",
        &[
            ("current_password", "wrong password!"),
            ("new_password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="current-error""#), "{html}");
    assert!(html.contains("This is not your current password."));
    let (status, _, html) = post(
        &app,
        &here,
        "/dashboard/account/password",
        "/dashboard/account",
        &[
            ("current_password", OWNER_PASSWORD),
            ("new_password", "short"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="new-error""#), "{html}");
    assert_eq!(
        app.login("owner@acme.test", OWNER_PASSWORD).await.status(),
        303
    );

    let (status, loc, _) = post(
        &app,
        &here,
        "/dashboard/account/password",
        "/dashboard/account",
        &[
            ("current_password", OWNER_PASSWORD),
            ("new_password", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/dashboard/account?done=password")
    );
    assert_eq!(page(&app, &here, "/dashboard/account").await.0, 200);
    let res = elsewhere.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 303, "the other session ended");
    assert_eq!(new_client_login(&app, OWNER_PASSWORD).await, 401);
    assert_eq!(new_client_login(&app, NEW_PASSWORD).await, 303);

    // The name is changed beside its field.
    let (status, _, html) = post(
        &app,
        &here,
        "/dashboard/account/name",
        "/dashboard/account",
        &[("name", "  ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="name-error""#));
    let (status, _, _) = post(
        &app,
        &here,
        "/dashboard/account/name",
        "/dashboard/account",
        &[("name", "Ada Lovelace")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(user(&app, "owner@acme.test").await.name, "Ada Lovelace");
}

async fn new_client_login(app: &TestApp, password: &str) -> u16 {
    app.post_form_as(
        &new_client(),
        "/login",
        "/login",
        &[("email", "owner@acme.test"), ("password", password)],
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_on_every_instance() {
    let app = spawn_app().await;
    app.create_vendor("Acme", "owner@acme.test").await;
    let other = second_instance(&app).await;
    let a = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let b = other
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    assert_eq!(page(&other, &b, "/dashboard").await.0, 200);
    let (status, loc, _) = post(
        &app,
        &a,
        "/dashboard/account/sign-out-everywhere",
        "/dashboard/account",
        &[],
    )
    .await;
    assert_eq!(status, 303);
    assert!(loc.starts_with("/login"));
    for (instance, client) in [(&app, &a), (&other, &b)] {
        let res = client
            .get(instance.url("/dashboard/team"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert!(location(&res).starts_with("/login"));
    }
    // Signing in again works.
    let c = other
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    assert_eq!(page(&other, &c, "/dashboard").await.0, 200);
}

#[tokio::test]
async fn a_password_is_reset_by_an_emailed_one_time_link() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    let old_session = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    let (_, html) = page(&app, &new_client(), "/login").await;
    assert!(
        html.contains(r#"href="/login/reset""#),
        "Forgot password? link"
    );

    // The same answer whether or not the address has an account; one email only.
    let mut answers = Vec::new();
    for email in ["owner@acme.test", "nobody@acme.test"] {
        let (status, _, html) = post(
            &app,
            &new_client(),
            "/login/reset",
            "/login/reset",
            &[("email", email)],
        )
        .await;
        assert_eq!(status, 200);
        answers.push(visible(&html).replace(email, "EMAIL"));
    }
    assert_eq!(answers[0], answers[1]);
    assert!(
        answers[0].contains("If EMAIL has a staff account"),
        "{}",
        answers[0]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM email_outbox").await, 1);
    let link = link_to(&app, &sink, "owner@acme.test", 1).await;
    assert!(link.starts_with(&app.url("/login/reset/")), "{link}");
    // Hashed at rest: the token is not in the database.
    let token = link.rsplit('/').next().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM login_tokens WHERE token_hash = '{token}'"
        ))
        .await,
        0
    );

    let path = link.trim_start_matches(&app.url("")).to_owned();
    let browser = new_client();
    let (status, html) = page(&app, &browser, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("owner@acme.test"));
    let (status, _, html) = post(&app, &browser, &path, &path, &[("password", "short")]).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="password-error""#));
    let (status, loc, _) = post(&app, &browser, &path, &path, &[("password", NEW_PASSWORD)]).await;
    assert_eq!((status, loc.as_str()), (303, "/dashboard"));
    assert_eq!(page(&app, &browser, "/dashboard").await.0, 200);
    // Once only; the old password and the old session are gone.
    let (status, _, _) = post(
        &app,
        &new_client(),
        &path,
        "/login",
        &[("password", "another passphrase")],
    )
    .await;
    assert_eq!(status, 410);
    assert_eq!(new_client_login(&app, OWNER_PASSWORD).await, 401);
    assert_eq!(new_client_login(&app, NEW_PASSWORD).await, 303);
    let res = old_session.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 303);

    // Requests are capped per address, like sign-in links.
    for _ in 0..8 {
        post(
            &app,
            &new_client(),
            "/login/reset",
            "/login/reset",
            &[("email", "owner@acme.test")],
        )
        .await;
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox WHERE kind = 'staff_password_reset'")
            .await,
        5
    );
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_for_and_never_to_another_site() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    let browser = new_client();
    let res = browser
        .get(app.url("/dashboard/payouts?status=paid&page=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let login = location(&res);
    assert_eq!(
        login,
        "/login?next=/dashboard/payouts%3Fstatus%3Dpaid%26page%3D2"
    );
    let (_, html) = page(&app, &browser, &login).await;
    assert!(
        html.contains(r#"name="next" value="/dashboard/payouts?status=paid&#38;page=2""#),
        "{html}"
    );
    let (status, loc, _) = post(
        &app,
        &browser,
        "/login",
        &login,
        &[
            ("email", "owner@acme.test"),
            ("password", OWNER_PASSWORD),
            ("next", "/dashboard/payouts?status=paid&page=2"),
        ],
    )
    .await;
    assert_eq!(
        (status, loc.as_str()),
        (303, "/dashboard/payouts?status=paid&page=2")
    );

    for evil in [
        "//evil.test",
        "https://evil.test/x",
        "/\\evil.test",
        "\\\\evil.test",
        "evil.test",
        "/%2F/evil.test",
        "javascript:alert(1)",
    ] {
        let (status, loc, _) = post(
            &app,
            &new_client(),
            "/login",
            "/login",
            &[
                ("email", "owner@acme.test"),
                ("password", OWNER_PASSWORD),
                ("next", evil),
            ],
        )
        .await;
        assert_eq!(status, 303);
        let expected = if evil == "/%2F/evil.test" {
            evil
        } else {
            "/dashboard"
        };
        assert_eq!(loc, expected, "{evil}");
        // The sign-in page drops it too.
        let (_, html) = page(
            &app,
            &new_client(),
            &format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>()
            ),
        )
        .await;
        assert!(
            !html.contains("evil.test\"") || evil == "/%2F/evil.test",
            "{evil}"
        );
    }

    // A magic link carries the page along, from any browser.
    let (status, _, _) = post(
        &app,
        &new_client(),
        "/login/link",
        "/login?next=/dashboard/team",
        &[("email", "owner@acme.test"), ("next", "/dashboard/team")],
    )
    .await;
    assert_eq!(status, 200);
    let link = link_to(&app, &sink, "owner@acme.test", 1).await;
    assert!(link.ends_with("?next=/dashboard/team"), "{link}");
    let other = new_client();
    let path = link.trim_start_matches(&app.url("")).to_owned();
    let (status, loc, _) = post(&app, &other, &path, &path, &[]).await;
    assert_eq!((status, loc.as_str()), (303, "/dashboard/team"));
    // A link with a foreign `next` lands on the dashboard.
    post(
        &app,
        &new_client(),
        "/login/link",
        "/login",
        &[("email", "owner@acme.test"), ("next", "//evil.test")],
    )
    .await;
    let link = link_to(&app, &sink, "owner@acme.test", 2).await;
    assert!(!link.contains("next="), "{link}");
    let token_path = link.trim_start_matches(&app.url("")).to_owned();
    let (status, loc, _) = post(
        &app,
        &new_client(),
        &format!("{token_path}?next=//evil.test"),
        &token_path,
        &[],
    )
    .await;
    assert_eq!((status, loc.as_str()), (303, "/dashboard"));
}

#[tokio::test]
async fn the_activity_log_speaks_in_words_filters_pages_and_exports_csv() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    let acme = app.create_vendor("Acme", "owner@acme.test").await;
    let beta = app.create_vendor("Beta", "owner@beta.test").await;
    let owner = app
        .signed_in_client("owner@acme.test", OWNER_PASSWORD)
        .await;
    post(
        &app,
        &owner,
        "/dashboard/account/name",
        "/dashboard/account",
        &[("name", "Ada Lovelace")],
    )
    .await;
    // A program change from the dashboard, an affiliate from an API key.
    let (_, html) = page(
        &app,
        &owner,
        &format!("/dashboard/programs/{}", acme.program_id),
    )
    .await;
    assert!(html.contains("csrf_token"));
    let patched = app
        .call(
            &app.api_key(&acme.vendor.id, Scope::Full).await,
            Method::PATCH,
            &format!("/api/v1/programs/{}", acme.program_id),
            Some(json!({"holding_period_days": 10})),
        )
        .await;
    assert_eq!(patched.0, 200, "{}", patched.1);
    let key = app.api_key(&acme.vendor.id, Scope::Write).await;
    let (status, _) = app
        .call(
            &key,
            Method::POST,
            "/api/v1/affiliates",
            Some(json!({"email": "jane@partners.test", "name": "Jane Doe", "code": "jane", "send_invite": false})),
        )
        .await;
    assert_eq!(status, 201);
    post(
        &app,
        &owner,
        "/dashboard/team/invite",
        "/dashboard/team",
        &[("email", "bob@acme.test"), ("role", "viewer")],
    )
    .await;
    // Another vendor's activity never shows.
    let beta_owner = app
        .signed_in_client("owner@beta.test", OWNER_PASSWORD)
        .await;
    post(
        &app,
        &beta_owner,
        "/dashboard/account/name",
        "/dashboard/account",
        &[("name", "Beta Person")],
    )
    .await;

    let (status, html) = page(&app, &owner, "/dashboard/audit").await;
    assert_eq!(status, 200);
    for words in [
        "Ada Lovelace changed their name",
        "the API key “test” changed the program settings of",
        "the API key “test” added the affiliate Jane Doe",
        "Ada Lovelace invited bob@acme.test to the team as Viewer",
        "The command line",
    ] {
        assert!(
            html.to_lowercase().contains(
                &words
                    .to_lowercase()
                    .replace('“', "&#8220;")
                    .replace('”', "&#8221;")
            ) || html.to_lowercase().contains(&words.to_lowercase()),
            "{words}: {html}"
        );
    }
    let text = visible(&html);
    for raw in [
        "user:usr_",
        "usr_",
        "api_key:",
        "program.updated",
        "staff.invited",
        "Beta Person",
    ] {
        assert!(!text.contains(raw), "{raw} on the page: {text}");
    }

    // Filters: who, what kind, object, dates.
    let ada = acme.owner.id.clone();
    let (_, html) = page(&app, &owner, &format!("/dashboard/audit?who=user:{ada}")).await;
    assert!(html.contains("Ada Lovelace invited bob@acme.test"));
    assert!(!html.contains("added the affiliate Jane Doe"));
    let (_, html) = page(&app, &owner, "/dashboard/audit?kind=affiliate").await;
    assert!(html.contains("added the affiliate Jane Doe"));
    assert!(!html.contains("changed their name"));
    let (_, html) = page(
        &app,
        &owner,
        &format!("/dashboard/audit?kind=program&object={}", acme.program_id),
    )
    .await;
    assert!(html.contains("changed the program settings of"));
    assert!(html.contains("Only entries about"));
    assert!(!html.contains("Jane Doe"));
    let (_, html) = page(&app, &owner, "/dashboard/audit?from=2099-01-01").await;
    assert!(html.contains("Nothing matches these filters."));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (_, html) = page(
        &app,
        &owner,
        &format!("/dashboard/audit?from={today}&to={today}"),
    )
    .await;
    assert!(html.contains("changed their name"));
    let (status, html) = page(&app, &owner, "/dashboard/audit?from=yesterday").await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="from-error""#));
    let (status, html) = page(
        &app,
        &owner,
        "/dashboard/audit?from=2026-02-01&to=2026-01-01",
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="to-error""#));

    // Paging: 50 a page.
    for i in 0..55 {
        post(
            &app,
            &owner,
            "/dashboard/account/name",
            "/dashboard/account",
            &[("name", &format!("Ada {i}"))],
        )
        .await;
    }
    let (_, html) = page(&app, &owner, "/dashboard/audit").await;
    assert!(html.contains("Page 1 of 2"), "{html}");
    let (_, html2) = page(&app, &owner, "/dashboard/audit?page=2").await;
    assert!(html2.contains("Page 2 of 2"));
    assert!(html2.contains("created the account Acme"));

    // CSV: the same words, filtered.
    let res = owner
        .get(app.url("/dashboard/audit/export?kind=affiliate"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,who,what,kind,action,object_id");
    assert!(lines.len() >= 2, "{csv}");
    assert!(csv.contains("added the affiliate Jane Doe"));
    assert!(!csv.contains("changed their name"));
    // Another vendor's object filter shows nothing of it.
    let (_, html) = page(
        &app,
        &owner,
        &format!("/dashboard/audit?kind=vendor&object={}", beta.vendor.id),
    )
    .await;
    assert!(html.contains("Nothing matches these filters."));

    // The Overview uses the same words.
    let (_, html) = page(&app, &owner, "/dashboard").await;
    assert!(html.contains("changed their name"), "{html}");
    assert!(!visible(&html).contains("usr_"));
}

/// The text of a page as a person reads it: tags (and their attributes) and the head left out.
fn visible(html: &str) -> String {
    let body = html.split("<body").nth(1).unwrap_or(html);
    let mut out = String::new();
    // Inside the <body …> tag itself at the start.
    let mut in_tag = true;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Emailed links are capped per address and kind: five resets and five sign-in links a
/// window, whatever is asked beyond; the answer stays the same.
#[tokio::test]
async fn emailed_links_are_capped_per_address_and_kind() {
    let sink = SmtpSink::start().await;
    let app = app_with_smtp(&sink).await;
    app.create_vendor("Acme", "owner@acme.test").await;
    for (form, path, kind) in [
        ("/login/reset", "/login/reset", "reset"),
        ("/login", "/login/link", "sign-in"),
    ] {
        for _ in 0..7 {
            let res = app
                .post_form_as(&new_client(), path, form, &[("email", "Owner@Acme.test")])
                .await;
            assert_eq!(res.status(), 200, "{kind}");
        }
    }
    app.deliver_link_requests().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM email_outbox").await,
        10,
        "five of each kind"
    );
}
