//! `affilia demo`: a living program made through the domain services.

use std::collections::BTreeMap;

use crate::cli::{affilia, stderr, stdout};
use crate::helpers::{TestApp, spawn_app};

async fn create_vendor(app: &TestApp, name: &str) -> String {
    let out = affilia(
        app,
        &[
            "admin",
            "create-vendor",
            "--name",
            name,
            "--owner-email",
            &format!("owner@{}.test", name.to_lowercase().replace(' ', "-")),
            "--owner-password",
            "long enough pw",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("slug: "))
        .expect("slug printed")
        .to_owned()
}

/// `kind status` → count, from lines like `conversions: 12 (approved 4, pending 8), ...`.
fn census(text: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((kind, rest)) = line.split_once(": ") else {
            continue;
        };
        let total: i64 = match rest.split([' ', ',']).next().and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => continue,
        };
        out.insert(format!("{kind} total"), total);
        if let Some(inner) = rest.split_once('(').and_then(|(_, r)| r.split_once(')')) {
            for part in inner.0.split(", ") {
                if let Some((status, n)) = part.rsplit_once(' ') {
                    out.insert(format!("{kind} {status}"), n.parse().unwrap());
                }
            }
        }
    }
    out
}

async fn run_demo(app: &TestApp, slug: &str, seed: &str) -> (String, String) {
    let out = affilia(
        app,
        &["demo", "--vendor", slug, "--scale", "small", "--seed", seed],
    )
    .await;
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    (stdout(&out), stderr(&out))
}

#[tokio::test]
async fn demo_fills_a_living_program_whose_ledger_verifies() {
    let app = spawn_app().await;
    let slug = create_vendor(&app, "Demo Shop").await;
    let (text, progress) = run_demo(&app, &slug, "3").await;
    assert!(
        text.contains("demo program ready for vendor demo-shop"),
        "{text}"
    );
    let c = census(&text);
    let n = |k: &str| c.get(k).copied().unwrap_or(0);
    for key in [
        "affiliates active",
        "affiliates invited",
        "affiliates deactivated",
        "affiliates banned",
        "applications pending",
        "applications approved",
        "applications rejected",
        "conversions pending",
        "conversions approved",
        "conversions rejected",
        "conversions reversed",
        "commissions pending",
        "commissions available",
        "commissions paid",
        "payouts paid",
        "payouts pending",
        "deals accepted",
        "deals pending",
        "refunds total",
        "links total",
        "referrals total",
    ] {
        assert!(n(key) > 0, "{key} is 0 in:\n{text}");
    }
    assert!(n("affiliates total") >= 30, "{text}");
    assert!(n("clicks total") > 2_000, "{text}");

    // Not a terminal: plain progress lines on stderr, stdout kept for the result.
    assert!(progress.contains("demo: started (90 days)"), "{progress}");
    assert!(progress.contains("demo: 50% (45/90 days"), "{progress}");
    assert!(progress.contains("demo: done"), "{progress}");
    assert!(!text.contains("demo: 50%"));

    // Everything went through the services: the ledger and the click rollups agree.
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("ledger OK"));
    assert!(
        stderr(&out).contains("ledger verify: done"),
        "{}",
        stderr(&out)
    );

    // The Overview's numbers come from the same rows: clicks and revenue over 90 days.
    let key = {
        let out = affilia(
            &app,
            &[
                "admin",
                "create-api-key",
                "--vendor",
                &slug,
                "--name",
                "t",
                "--scope",
                "read",
            ],
        )
        .await;
        stdout(&out).trim().to_owned()
    };
    let res = app.api_get(&key, "/api/v1/affiliates?status=banned").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(!body["data"].as_array().unwrap().is_empty(), "{body}");

    // A second run into the same vendor is refused and changes nothing.
    let out = affilia(&app, &["demo", "--vendor", &slug]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already has"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
}

#[tokio::test]
async fn demo_is_deterministic_for_a_seed_and_force_adds_to_a_vendor() {
    let app = spawn_app().await;
    let a = create_vendor(&app, "Seed One").await;
    let b = create_vendor(&app, "Seed Two").await;
    let (first, _) = run_demo(&app, &a, "11").await;
    let (second, _) = run_demo(&app, &b, "11").await;
    let strip = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with("demo program ready"))
            .map(str::to_owned)
            .collect()
    };
    // Same seed: the same counts by status and the same money totals.
    assert_eq!(strip(&first), strip(&second));

    // --force adds a second program's worth of people without clashing with the first.
    let out = affilia(&app, &["demo", "--vendor", &a, "--seed", "12", "--force"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let before = census(&first)["affiliates total"];
    let after = census(&stdout(&out))["affiliates total"];
    assert!(after > before, "{before} → {after}");
    let out = affilia(&app, &["ledger", "verify"]).await;
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[tokio::test]
async fn demo_for_an_unknown_vendor_fails_clearly() {
    let app = spawn_app().await;
    let out = affilia(&app, &["demo", "--vendor", "no-such-shop"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no vendor with the id or slug \"no-such-shop\""),
        "{err}"
    );
    assert!(err.contains("create-vendor"), "{err}");
    let out = affilia(&app, &["demo", "--vendor", "x", "--scale", "huge"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
