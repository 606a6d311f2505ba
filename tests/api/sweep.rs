//! Hostile input on every route of the three surfaces (JSON API, vendor dashboard,
//! affiliate portal and embeds), signed in as each needs: huge, negative, non-numeric,
//! empty, unicode, NUL and very long values in every query parameter, every top-level
//! body field and every whole-body shape. Nothing a client sends may end in a 5xx (or a
//! dropped connection). The routes are listed from the registrations in `src/http/**`;
//! a route added there belongs here too.

use futures_util::StreamExt;
use futures_util::stream;
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::helpers::money::money_shop;
use crate::helpers::vendors::patch_program;
use crate::helpers::{OWNER_PASSWORD, TestApp, csrf_from, new_client, spawn_app};
use crate::portal_pages::portal_affiliate;

/// Hostile values of query parameters and form fields.
fn text_values() -> Vec<String> {
    [
        "99999999999999999999",
        "9223372036854775807",
        "-9223372036854775808",
        "abc",
        "",
        "ünïcødé 💥 שלום\u{0}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([long(8 * 1024)])
    .collect()
}

/// Raw query/form encodings that are not valid UTF-8 or not valid escapes.
const RAW_VALUES: &[&str] = &["%FF%FE"];

/// Hostile JSON values of top-level body fields (raw JSON text).
const JSON_VALUES: &[&str] = &[
    "99999999999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "\"abc\"",
    "\"\"",
    "\"ünïcødé 💥\\u0000\"",
    "null",
    "[]",
];

/// Whole bodies that are not a JSON object.
const JSON_BODIES: &[&[u8]] = &[
    b"",
    b"{\"amount_cents\": 1e400}",
    b"null",
    b"[]",
    b"\"x\"",
    b"123",
    b"{",
    b"{\"a\":1}}",
    b"\xff\xfe",
];

/// Path segments put in place of ids.
const HOSTILE_IDS: &[&str] = &["99999999999999999999", "%F0%9F%92%A5", "%00", "%FF"];

/// The long string of the first body field of each JSON route (the body limit is 1 MiB).
const MEGABYTE: usize = 1_000_000;
/// The long string of every other JSON field.
const LONG_JSON: usize = 64 * 1024;
/// The long string of the first field of each form (forms may hold 256 KiB).
const LONG_FORM: usize = 200 * 1024;
/// A form over the limit, once per form route.
const OVER_FORM: usize = 300 * 1024;

fn long(n: usize) -> String {
    "x".repeat(n)
}

#[derive(Clone, Copy, PartialEq)]
enum Who {
    /// Bearer API key with full scope.
    Api,
    /// Bearer affiliate access token (`/api/v1/me`).
    Me,
    /// Staff session (dashboard).
    Staff,
    /// Affiliate session (portal).
    Portal,
    /// No credential.
    Anon,
}

#[derive(Clone, Copy, PartialEq)]
enum Body {
    None,
    Json,
    Form,
}

struct Route {
    method: Method,
    path: String,
    who: Who,
    query: Vec<&'static str>,
    body: Body,
    fields: Vec<&'static str>,
    /// The body type is swept field by field on another route (create and update share
    /// one input): here only whole-body shapes and long strings.
    shapes_only: bool,
}

fn route(method: Method, path: String, who: Who) -> Route {
    Route {
        method,
        path,
        who,
        query: Vec::new(),
        body: Body::None,
        fields: Vec::new(),
        shapes_only: false,
    }
}

impl Route {
    fn q(mut self, names: &[&'static str]) -> Self {
        self.query = names.to_vec();
        self
    }
    fn json(mut self, names: &[&'static str]) -> Self {
        self.body = Body::Json;
        self.fields = names.to_vec();
        self
    }
    fn shapes_only(mut self) -> Self {
        self.shapes_only = true;
        self
    }
    fn form(mut self, names: &[&'static str]) -> Self {
        self.body = Body::Form;
        self.fields = names.to_vec();
        self
    }
}

/// One request of the sweep.
struct Probe {
    method: Method,
    path: String,
    who: Who,
    /// Already encoded query string.
    query: String,
    body: Option<(&'static str, Vec<u8>)>,
    what: String,
}

struct Ids {
    slug: String,
    program: String,
    affiliate: String,
    customer: String,
    code: String,
    referral: String,
    deal: String,
    application: String,
    event: String,
    conversion: String,
    payout: String,
    run: String,
    email: String,
}

const PAGE: &[&str] = &["page", "per_page", "limit"];
const AFFILIATE_FIELDS: &[&str] = &[
    "email",
    "name",
    "first_name",
    "last_name",
    "company",
    "website",
    "code",
    "program_id",
    "commission_override",
    "payout_method",
    "payout_email",
    "payout_details",
    "stripe_account_id",
    "metadata",
    "customer_id",
    "external_source",
    "external_id",
    "parent_affiliate_id",
    "status",
    "send_invite",
];
const PROGRAM_FIELDS: &[&str] = &[
    "name",
    "slug",
    "currency",
    "landing_url",
    "status",
    "holding_period_days",
    "min_payout_cents",
    "cookie_duration_days",
    "attribution_model",
    "attribution_window_days",
    "auto_approve",
    "allow_self_referral",
    "terms_text",
    "commission",
    "allowed_domains",
    "conversion_kind",
    "conversion_event",
    "stripe_webhook_secret",
    "stripe_secret_key",
    "platform_fee_bps",
    "payout_day",
    "paddle_webhook_secret",
    "lemonsqueezy_webhook_secret",
    "polar_webhook_secret",
    "chargebee_webhook_username",
    "chargebee_webhook_password",
];
const PROGRAM_FORM: &[&str] = &[
    "name",
    "slug",
    "currency",
    "landing_url",
    "allowed_domains",
    "status",
    "holding_period_days",
    "min_payout",
    "cookie_duration_days",
    "attribution_model",
    "attribution_window_days",
    "auto_approve",
    "allow_self_referral",
    "terms_text",
    "commission_type",
    "commission_percent",
    "commission_amount",
    "max_cycles",
    "tiers",
    "upline",
    "conversion_kind",
    "conversion_event",
    "stripe_webhook_secret",
    "remove_stripe_secret",
    "stripe_configured",
    "platform_fee",
    "payout_day",
    "stripe_secret_key",
    "remove_stripe_key",
    "stripe_key_configured",
    "paddle_webhook_secret",
    "remove_paddle_secret",
    "lemonsqueezy_webhook_secret",
    "remove_lemonsqueezy_secret",
    "polar_webhook_secret",
    "remove_polar_secret",
    "chargebee_webhook_username",
    "chargebee_webhook_password",
    "remove_chargebee_auth",
];

/// Every route but the ones that end a session or delete the fixtures (see [`last`]).
fn routes(ids: &Ids) -> Vec<Route> {
    use Method as M;
    use Who::*;
    let api = |m: Method, p: &str| route(m, format!("/api/v1{p}"), Api);
    let me = |m: Method, p: &str| route(m, format!("/api/v1/me{p}"), Me);
    let dash = |m: Method, p: &str| route(m, format!("/dashboard{p}"), Staff);
    let portal = |m: Method, p: &str| route(m, format!("/p/{}{p}", ids.slug), Portal);
    let Ids {
        program: prog,
        affiliate: aff,
        customer,
        code,
        referral,
        deal,
        application: appl,
        event,
        conversion: conv,
        payout,
        run,
        email,
        ..
    } = ids;
    let payout_list = [
        "affiliate_id",
        "run_id",
        "status",
        "currency",
        "page",
        "per_page",
        "limit",
        "format",
    ];
    let me_list = [
        "status",
        "program_id",
        "currency",
        "page",
        "per_page",
        "limit",
    ];
    vec![
        // Platform.
        route(M::GET, "/healthz".into(), Anon),
        route(M::GET, "/readyz".into(), Anon),
        route(M::GET, "/static/app.css".into(), Anon),
        route(M::GET, "/t.js".into(), Anon),
        route(M::GET, format!("/r/{code}"), Anon).q(&["url", "sub", "aff_sess"]),
        route(M::HEAD, format!("/r/{code}"), Anon).q(&["url"]),
        route(M::GET, format!("/r/{code}/some-link"), Anon).q(&["url"]),
        route(M::HEAD, format!("/r/{code}/some-link"), Anon),
        route(M::POST, format!("/webhooks/stripe/{prog}"), Anon).json(&["id", "type", "data"]),
        route(M::POST, format!("/webhooks/paddle/{prog}"), Anon).json(&[
            "event_id",
            "event_type",
            "data",
        ]),
        route(M::POST, format!("/webhooks/lemonsqueezy/{prog}"), Anon).json(&["meta", "data"]),
        route(M::POST, format!("/webhooks/polar/{prog}"), Anon).json(&[
            "type",
            "timestamp",
            "data",
        ]),
        route(M::POST, format!("/webhooks/chargebee/{prog}"), Anon).json(&[
            "id",
            "event_type",
            "content",
        ]),
        // The JSON API.
        api(M::GET, "/vendor"),
        api(M::PATCH, "/vendor").json(&[
            "portal_name",
            "primary_color",
            "support_email",
            "portal_domains",
            "embed_origins",
            "site_origins",
        ]),
        api(M::PUT, "/vendor/logo").json(&[]),
        api(M::GET, "/audit-log").q(PAGE),
        api(M::GET, "/affiliates").q(&[
            "page",
            "per_page",
            "limit",
            "status",
            "search",
            "program_id",
            "sort",
        ]),
        api(M::POST, "/affiliates")
            .json(AFFILIATE_FIELDS)
            .shapes_only(),
        api(M::GET, &format!("/affiliates/by-customer/{customer}")),
        api(M::GET, &format!("/affiliates/{aff}")),
        api(M::PATCH, &format!("/affiliates/{aff}")).json(AFFILIATE_FIELDS),
        api(M::POST, &format!("/affiliates/{aff}/invite")),
        api(M::POST, &format!("/affiliates/{aff}/token")).json(&["ttl_seconds"]),
        api(M::POST, &format!("/affiliates/{aff}/portal-link")).json(&[]),
        api(M::POST, &format!("/affiliates/{aff}/embed-token")).json(&["surface", "ttl_seconds"]),
        route(M::POST, "/api/v1/track".into(), Anon).json(&["code", "url", "aff_sess", "referrer"]),
        route(M::OPTIONS, "/api/v1/track".into(), Anon),
        api(M::GET, "/clicks").q(&[
            "affiliate_id",
            "program_id",
            "from",
            "to",
            "page",
            "per_page",
            "limit",
        ]),
        api(M::POST, "/referrals").json(&["customer_id", "email", "aff_sess", "code"]),
        api(M::GET, "/referrals").q(&[
            "affiliate_id",
            "program_id",
            "customer_id",
            "page",
            "per_page",
            "limit",
        ]),
        api(M::GET, &format!("/referrals/{referral}")),
        api(M::GET, "/deals").q(&["status", "affiliate_id", "page", "per_page", "limit"]),
        api(M::GET, &format!("/deals/{deal}")),
        api(M::POST, &format!("/deals/{deal}/review")).json(&["decision", "reason"]),
        me(M::GET, ""),
        me(M::GET, "/programs"),
        me(M::GET, "/referral").q(&["program_id"]),
        me(M::GET, "/stats").q(&["program_id", "period", "from", "to", "bucket"]),
        me(M::GET, "/balance"),
        me(M::GET, "/payouts").q(&me_list),
        me(M::GET, "/commissions").q(&me_list),
        me(M::GET, "/payout-settings"),
        me(M::PUT, "/payout-settings").json(&[
            "payout_method",
            "payout_email",
            "payout_details",
            "stripe_account_id",
        ]),
        me(M::GET, "/links"),
        me(M::POST, "/links").json(&["program_id", "name", "slug", "destination_url", "sub_id"]),
        me(M::GET, "/deals").q(PAGE),
        me(M::POST, "/deals").json(&["program_id", "lead_email", "lead_name", "company", "notes"]),
        api(M::GET, "/applications").q(&["page", "per_page", "limit", "status"]),
        api(M::POST, "/applications").json(&[
            "email",
            "name",
            "company",
            "website",
            "reason",
            "program_id",
        ]),
        api(M::GET, "/applications/status").q(&["email", "program_id"]),
        api(M::POST, &format!("/applications/{appl}/review")).json(&[
            "action",
            "code",
            "rejection_reason",
        ]),
        api(M::POST, "/events").json(&[
            "id",
            "customer_id",
            "amount_cents",
            "currency",
            "subscription_id",
            "charge_id",
            "invoice_id",
            "payment_intent_id",
            "occurred_at",
            "metadata",
            "email",
            "program_id",
        ]),
        api(M::GET, "/events").q(&["status", "source", "page", "per_page", "limit"]),
        api(M::GET, &format!("/events/{event}")),
        api(M::POST, &format!("/events/{event}/replay")),
        api(M::POST, "/conversions").json(&[
            "affiliate_id",
            "code",
            "amount_cents",
            "currency",
            "external_id",
            "program_id",
            "customer_id",
        ]),
        api(M::GET, "/conversions").q(&[
            "affiliate_id",
            "program_id",
            "status",
            "page",
            "per_page",
            "limit",
        ]),
        api(M::GET, &format!("/conversions/{conv}")),
        api(M::POST, &format!("/conversions/{conv}/approve")),
        api(M::POST, &format!("/conversions/{conv}/reject")).json(&["reason"]),
        api(M::GET, "/commissions").q(&[
            "affiliate_id",
            "program_id",
            "conversion_id",
            "status",
            "page",
            "per_page",
            "limit",
        ]),
        api(M::GET, "/ledger").q(&["affiliate_id", "currency", "page", "per_page", "limit"]),
        api(M::GET, "/analytics").q(&["program_id", "from", "to"]),
        api(M::POST, "/payouts/run").json(&["program_id", "currency", "dry_run"]),
        api(M::GET, "/payouts").q(&payout_list),
        api(M::GET, "/payouts/export").q(&payout_list),
        api(M::GET, &format!("/payouts/{payout}")),
        api(M::POST, &format!("/payouts/{payout}/mark-paid")).json(&["reference"]),
        api(M::POST, &format!("/payouts/{payout}/mark-failed")).json(&["reason"]),
        api(M::POST, &format!("/payouts/{payout}/mark-processing")).json(&["reference"]),
        api(M::POST, &format!("/payouts/{payout}/send")).json(&[]),
        api(M::GET, "/payout-runs").q(PAGE),
        api(M::GET, &format!("/payout-runs/{run}")),
        api(M::POST, &format!("/payout-runs/{run}/mark-processing")).json(&["reference"]),
        api(M::POST, &format!("/payout-runs/{run}/mark-paid")).json(&["reference"]),
        api(M::POST, &format!("/payout-runs/{run}/send")).json(&[]),
        api(M::GET, "/programs").q(PAGE),
        api(M::POST, "/programs").json(PROGRAM_FIELDS).shapes_only(),
        api(M::GET, &format!("/programs/{prog}")),
        api(M::PATCH, &format!("/programs/{prog}")).json(PROGRAM_FIELDS),
        api(M::POST, &format!("/programs/{prog}/migrate-enrollments")),
        api(M::GET, "/no-such-route").q(&["page"]),
        // Public dashboard pages.
        route(M::GET, "/".into(), Anon),
        route(M::GET, "/setup".into(), Anon),
        route(M::POST, "/setup".into(), Anon).form(&[
            "name",
            "owner_email",
            "owner_password",
            "currency",
        ]),
        route(M::GET, "/login".into(), Anon).q(&["next"]),
        route(M::POST, "/login".into(), Anon).form(&["email", "password", "next"]),
        route(M::POST, "/login/link".into(), Anon).form(&["email", "next"]),
        route(M::GET, "/login/link/abc".into(), Anon).q(&["next"]),
        route(M::POST, "/login/link/abc".into(), Anon).form(&[]),
        route(M::GET, "/login/reset".into(), Anon),
        route(M::POST, "/login/reset".into(), Anon).form(&["email"]),
        route(M::GET, "/login/reset/abc".into(), Anon),
        route(M::POST, "/login/reset/abc".into(), Anon).form(&["password"]),
        route(M::GET, "/join/abc".into(), Anon),
        route(M::POST, "/join/abc".into(), Anon).form(&["name", "password"]),
        // The dashboard.
        dash(M::GET, ""),
        dash(M::GET, "/affiliates").q(&["search", "status", "program_id", "sort", "page"]),
        dash(M::POST, "/affiliates").form(&[
            "email",
            "first_name",
            "last_name",
            "code",
            "program_id",
            "send_invite",
        ]),
        dash(M::GET, "/affiliates/new"),
        dash(M::GET, &format!("/affiliates/{aff}")),
        dash(M::POST, &format!("/affiliates/{aff}/status")).form(&["status"]),
        dash(M::POST, &format!("/affiliates/{aff}/invite")).form(&[]),
        dash(M::POST, &format!("/affiliates/{aff}/override")).form(&["percent"]),
        dash(M::GET, &format!("/affiliates/{aff}/ledger")).q(&["page"]),
        dash(M::GET, "/applications").q(&["status", "page", "done", "failed"]),
        dash(M::POST, "/applications/bulk").form(&["ids", "action", "rejection_reason"]),
        dash(M::POST, &format!("/applications/{appl}/review")).form(&[
            "action",
            "code",
            "rejection_reason",
        ]),
        dash(M::GET, "/deals").q(&["status", "page"]),
        dash(M::POST, &format!("/deals/{deal}/review")).form(&["decision", "reason"]),
        dash(M::GET, "/conversions").q(&["status", "affiliate_id", "page"]),
        dash(M::POST, "/conversions").form(&[
            "affiliate_id",
            "code",
            "amount",
            "currency",
            "external_id",
            "program_id",
        ]),
        dash(M::GET, &format!("/conversions/{conv}")),
        dash(M::POST, &format!("/conversions/{conv}/approve")).form(&[]),
        dash(M::POST, &format!("/conversions/{conv}/reject")).form(&["reason"]),
        dash(M::GET, "/events").q(&["status", "source", "page"]),
        dash(M::POST, &format!("/events/{event}/replay")).form(&[]),
        dash(M::GET, "/payouts").q(&["status", "affiliate_id", "page", "ran"]),
        dash(M::POST, "/payouts/run").form(&["program_id", "currency", "action"]),
        dash(M::GET, &format!("/payouts/runs/{run}")).q(&["done", "n"]),
        dash(M::GET, &format!("/payouts/runs/{run}/export")).q(&["format", "currency"]),
        dash(M::POST, &format!("/payouts/runs/{run}/processing")).form(&["reference"]),
        dash(M::POST, &format!("/payouts/runs/{run}/paid")).form(&["reference"]),
        dash(M::GET, &format!("/payouts/{payout}")).q(&["done", "n"]),
        dash(M::POST, &format!("/payouts/{payout}/processing")).form(&["reference"]),
        dash(M::POST, &format!("/payouts/{payout}/paid")).form(&["reference"]),
        dash(M::POST, &format!("/payouts/{payout}/failed")).form(&["reason"]),
        dash(M::GET, "/programs"),
        dash(M::POST, "/programs").form(PROGRAM_FORM).shapes_only(),
        dash(M::GET, "/programs/new"),
        dash(M::GET, &format!("/programs/{prog}")).q(&["saved"]),
        dash(M::POST, &format!("/programs/{prog}")).form(PROGRAM_FORM),
        dash(M::POST, &format!("/programs/{prog}/migrate")).form(&[]),
        dash(M::GET, "/settings").q(&["saved"]),
        dash(M::POST, "/settings").form(&[
            "portal_name",
            "primary_color",
            "support_email",
            "portal_domains",
            "embed_origins",
            "site_origins",
        ]),
        dash(M::POST, "/settings/logo").form(&["logo"]),
        dash(M::GET, "/account").q(&["done"]),
        dash(M::POST, "/account/name").form(&["name"]),
        dash(M::GET, "/team").q(&["done", "who"]),
        dash(M::POST, "/team/invite").form(&["email", "role"]),
        dash(M::POST, "/team/usr_nope/role").form(&["role"]),
        dash(M::POST, "/team/usr_nope/remove").form(&[]),
        dash(M::POST, "/team/usr_nope/resend").form(&[]),
        dash(M::POST, "/team/usr_nope/cancel").form(&[]),
        dash(M::GET, "/audit").q(&["who", "kind", "object", "from", "to", "page"]),
        dash(M::GET, "/audit/export").q(&["who", "kind", "object", "from", "to"]),
        dash(M::GET, "/emails").q(&["page"]),
        dash(M::GET, &format!("/emails/{email}")),
        dash(M::GET, &format!("/emails/{email}/html")),
        dash(M::POST, &format!("/emails/{email}/retry")).form(&[]),
        // The portal.
        route(M::GET, format!("/p/{}", ids.slug), Portal),
        portal(M::GET, "/"),
        portal(M::GET, "/").q(&["period", "program"]),
        portal(M::GET, "/brand.css"),
        portal(M::GET, "/logo").q(&["v"]),
        portal(M::GET, "/apply").q(&["program"]),
        portal(M::POST, "/apply").form(&[
            "program",
            "email",
            "name",
            "company",
            "website",
            "reason",
            "accept_terms",
            "nickname",
        ]),
        portal(M::GET, "/api-tokens"),
        portal(M::POST, "/api-tokens").form(&["name"]),
        portal(M::POST, "/api-tokens/tok_nope/revoke").form(&[]),
        portal(M::GET, "/login"),
        portal(M::POST, "/login").form(&["email"]),
        portal(M::GET, "/login/portal/abc"),
        portal(M::GET, "/application"),
        portal(M::GET, "/login/link/abc"),
        portal(M::POST, "/login/link/abc").form(&[]),
        portal(M::GET, "/payouts").q(&["page"]),
        portal(M::GET, &format!("/payouts/{payout}")),
        portal(M::GET, "/payout-settings").q(&["saved"]),
        portal(M::POST, "/payout-settings").form(&[
            "payout_method",
            "payout_email",
            "payout_details",
            "stripe_account_id",
        ]),
        portal(M::GET, "/links").q(&["created"]),
        portal(M::POST, "/links").form(&[
            "program_id",
            "name",
            "slug",
            "destination_url",
            "sub_id",
        ]),
        portal(M::GET, "/commissions").q(&["status", "program", "from", "to", "page"]),
        portal(M::GET, "/deals").q(&["registered"]),
        portal(M::POST, "/deals").form(&[
            "program_id",
            "lead_email",
            "lead_name",
            "company",
            "notes",
        ]),
        portal(M::GET, "/profile").q(&["saved"]),
        portal(M::POST, "/profile").form(&["name", "company", "website"]),
    ]
}

/// Routes that end a session or remove a fixture: probed after all others.
fn last(ids: &Ids) -> Vec<Route> {
    vec![
        route(
            Method::DELETE,
            format!("/api/v1/affiliates/{}", ids.affiliate),
            Who::Api,
        ),
        route(Method::DELETE, "/api/v1/vendor/logo".into(), Who::Api),
        route(
            Method::POST,
            "/dashboard/settings/logo/delete".into(),
            Who::Staff,
        )
        .form(&[]),
        route(Method::POST, format!("/p/{}/logout", ids.slug), Who::Portal).form(&[]),
        route(
            Method::POST,
            "/dashboard/account/password".into(),
            Who::Staff,
        )
        .form(&["current_password", "new_password"]),
        route(
            Method::POST,
            "/dashboard/account/sign-out-everywhere".into(),
            Who::Staff,
        )
        .form(&[]),
        route(Method::POST, "/logout".into(), Who::Staff).form(&[]),
    ]
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The probes of one route: its plain call, each hostile value in each query parameter and
/// body field, whole-body shapes, hostile ids, and one 1 MB string per text body field.
fn probes(r: &Route, fixed_query: &str) -> Vec<Probe> {
    let mut out = Vec::new();
    let join = |extra: &str| match (fixed_query.is_empty(), extra.is_empty()) {
        (true, _) => extra.to_owned(),
        (false, true) => fixed_query.to_owned(),
        (false, false) => format!("{fixed_query}&{extra}"),
    };
    let probe = |query: String, body: Option<(&'static str, Vec<u8>)>, what: String| Probe {
        method: r.method.clone(),
        path: r.path.clone(),
        who: r.who,
        query,
        body,
        what,
    };
    // A form of a route with fixed parameters (the embed token) carries them in its body.
    let form = |pairs: &str| {
        let body = if fixed_query.is_empty() || pairs.starts_with("token=") {
            pairs.to_owned()
        } else {
            format!("{fixed_query}&{pairs}")
        };
        Some(("application/x-www-form-urlencoded", body.into_bytes()))
    };
    let json_body = |b: &[u8]| Some(("application/json", b.to_vec()));
    let empty_body = match r.body {
        Body::None => None,
        Body::Json => json_body(b"{}"),
        Body::Form => form(""),
    };
    out.push(probe(join(""), empty_body.clone(), "plain".into()));
    let mut values: Vec<String> = text_values().iter().map(|v| encode(v)).collect();
    values.extend(RAW_VALUES.iter().map(|v| (*v).to_owned()));
    for name in &r.query {
        for v in &values {
            out.push(probe(
                join(&format!("{name}={v}")),
                empty_body.clone(),
                format!("?{name}={}", shorten(v)),
            ));
        }
    }
    match r.body {
        Body::None => {}
        Body::Json => {
            for b in JSON_BODIES {
                out.push(probe(
                    join(""),
                    json_body(b),
                    format!("body {}", shorten(&String::from_utf8_lossy(b))),
                ));
            }
            for (i, f) in r.fields.iter().enumerate() {
                let each: &[&str] = if r.shapes_only { &[] } else { JSON_VALUES };
                for v in each {
                    let body = format!("{{\"{f}\": {v}}}");
                    out.push(probe(
                        join(""),
                        json_body(body.as_bytes()),
                        format!("{f}: {v}"),
                    ));
                }
                let n = if i == 0 { MEGABYTE } else { LONG_JSON };
                let body = format!("{{\"{f}\": \"{}\"}}", long(n));
                out.push(probe(
                    join(""),
                    json_body(body.as_bytes()),
                    format!("{f}: {n}-byte string"),
                ));
            }
        }
        Body::Form => {
            for (i, f) in r.fields.iter().enumerate() {
                let each: &[String] = if r.shapes_only { &[] } else { &values };
                for v in each {
                    out.push(probe(
                        join(""),
                        form(&format!("{f}={v}")),
                        format!("{f}={}", shorten(v)),
                    ));
                }
                if i == 0 {
                    for n in [LONG_FORM, OVER_FORM] {
                        let v = long(n);
                        out.push(probe(
                            join(""),
                            form(&format!("{f}={v}")),
                            format!("{f}={n} bytes"),
                        ));
                    }
                }
            }
            out.push(probe(
                join(""),
                Some(("application/json", b"{\"a\": 1}".to_vec())),
                "JSON instead of a form".into(),
            ));
        }
    }
    // Hostile ids in place of each id-like segment (ids have a `_`, as `aff_...`).
    let segments: Vec<&str> = r.path.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if seg.contains('_') && !seg.starts_with("by-") || *seg == "abc" || *seg == "some-link" {
            for bad in HOSTILE_IDS {
                let mut s = segments.clone();
                s[i] = bad;
                let mut p = probe(join(""), empty_body.clone(), format!("id {bad}"));
                p.path = s.join("/");
                out.push(p);
            }
        }
    }
    out
}

fn shorten(s: &str) -> String {
    if s.len() > 40 {
        format!("{}… ({} bytes)", &s[..s.floor_char_boundary(30)], s.len())
    } else {
        s.to_owned()
    }
}

struct Clients {
    anon: Client,
    anon_csrf: String,
    staff: Client,
    staff_csrf: String,
    portal: Client,
    portal_csrf: String,
    key: String,
    me: String,
}

/// Sends one probe → its status; `Err` describes a 5xx or a dropped connection.
async fn send(app: &TestApp, c: &Clients, p: Probe) -> Result<u16, String> {
    let client = match p.who {
        Who::Staff => &c.staff,
        Who::Portal => &c.portal,
        _ => &c.anon,
    };
    let mut url = app.url(&p.path);
    if !p.query.is_empty() {
        url = format!("{url}?{}", p.query);
    }
    let mut req = client.request(p.method.clone(), &url);
    match p.who {
        Who::Api => req = req.bearer_auth(&c.key),
        Who::Me => req = req.bearer_auth(&c.me),
        Who::Staff => req = req.header("x-csrf-token", &c.staff_csrf),
        Who::Portal => req = req.header("x-csrf-token", &c.portal_csrf),
        Who::Anon => req = req.header("x-csrf-token", &c.anon_csrf),
    }
    if let Some((ct, body)) = p.body {
        req = req.header("content-type", ct).body(body);
    }
    let label = format!("{} {} [{}]", p.method, p.path, p.what);
    match req.send().await {
        Ok(res) if res.status().is_server_error() => {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            Err(format!("{label} → {status}: {}", shorten(&text)))
        }
        Ok(res) => {
            let status = res.status().as_u16();
            // Read the body: a handler that panics mid-stream drops the connection here.
            res.bytes()
                .await
                .map(|_| status)
                .map_err(|e| format!("{label} → body cut short: {}", shorten(&e.to_string())))
        }
        Err(e) => Err(format!(
            "{label} → no response: {}",
            shorten(&e.to_string())
        )),
    }
}

async fn fixture_id(app: &TestApp, sql: &'static str, fallback: &str) -> String {
    sqlx::query_as::<_, (String,)>(sql)
        .fetch_optional(app.db.pool())
        .await
        .unwrap()
        .map_or_else(|| fallback.to_owned(), |(id,)| id)
}

#[tokio::test]
async fn no_route_answers_hostile_input_with_a_server_error() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Sweep", json!({"type": "percentage", "bps": 10_000})).await;
    patch_program(
        &app,
        &s,
        json!({"holding_period_days": 0, "min_payout_cents": 1}),
    )
    .await;
    let (_, vendor) = app.call(&s.key, Method::GET, "/api/v1/vendor", None).await;
    let slug = vendor["slug"].as_str().unwrap().to_owned();
    let (aff, portal) = portal_affiliate(&app, &s, "jane@sweep.test", "janesweep").await;
    let call = |m: Method, p: String, b: Value| {
        let app = &app;
        let key = s.key.clone();
        async move { app.call(&key, m, &p, Some(b)).await }
    };
    call(
        Method::PATCH,
        format!("/api/v1/affiliates/{aff}"),
        json!({"payout_method": "paypal", "payout_email": "jane@paypal.test", "customer_id": "cus_jane"}),
    )
    .await;
    let (_, c) = call(
        Method::POST,
        "/api/v1/conversions".into(),
        json!({"affiliate_id": aff, "amount_cents": 10_000}),
    )
    .await;
    let conversion = c["id"].as_str().unwrap_or("conv_missing").to_owned();
    call(
        Method::POST,
        format!("/api/v1/conversions/{conversion}/approve"),
        json!({}),
    )
    .await;
    let (status, run) = call(Method::POST, "/api/v1/payouts/run".into(), json!({})).await;
    assert_eq!(status, 201, "{run}");
    call(
        Method::POST,
        "/api/v1/referrals".into(),
        json!({"customer_id": "cus_sweep", "code": "janesweep"}),
    )
    .await;
    call(
        Method::POST,
        "/api/v1/applications".into(),
        json!({"email": "applicant@sweep.test", "name": "Applicant"}),
    )
    .await;
    call(
        Method::POST,
        "/api/v1/events".into(),
        json!({"id": "evt_sweep", "customer_id": "cus_sweep", "amount_cents": 5000,
               "occurred_at": "2026-01-01T00:00:00Z"}),
    )
    .await;
    let (_, t) = call(
        Method::POST,
        format!("/api/v1/affiliates/{aff}/token"),
        json!({}),
    )
    .await;
    let me = t["token"].as_str().unwrap().to_owned();
    let (status, d) = app
        .call(
            &me,
            Method::POST,
            "/api/v1/me/deals",
            Some(json!({"lead_email": "lead@sweep.test", "lead_name": "Lead"})),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    let ids = Ids {
        slug: slug.clone(),
        program: s.program_id.clone(),
        affiliate: aff.clone(),
        customer: "cus_jane".into(),
        code: "janesweep".into(),
        referral: fixture_id(&app, "SELECT id FROM referrals", "ref_missing").await,
        deal: d["id"].as_str().unwrap().to_owned(),
        application: fixture_id(&app, "SELECT id FROM applications", "app_missing").await,
        event: fixture_id(&app, "SELECT id FROM billing_events", "evt_missing").await,
        conversion,
        payout: run["runs"][0]["payouts"][0]["id"]
            .as_str()
            .unwrap_or("po_missing")
            .to_owned(),
        run: run["runs"][0]["id"]
            .as_str()
            .or(run["runs"][0]["run"]["id"].as_str())
            .unwrap_or("run_missing")
            .to_owned(),
        email: fixture_id(&app, "SELECT id FROM email_outbox", "em_missing").await,
    };
    let staff = app
        .signed_in_client("owner@sweep.test", OWNER_PASSWORD)
        .await;
    let page = |client: &Client, path: String| {
        let client = client.clone();
        let url = app.url(&path);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let staff_csrf = csrf_from(&page(&staff, "/dashboard/settings".into()).await);
    let portal_csrf = csrf_from(&page(&portal, format!("/p/{slug}/profile")).await);
    let anon = new_client();
    let anon_csrf = csrf_from(&page(&anon, "/login".into()).await);
    let clients = Clients {
        anon,
        anon_csrf,
        staff,
        staff_csrf,
        portal,
        portal_csrf,
        key: s.key.clone(),
        me,
    };

    let mut all: Vec<Probe> = Vec::new();
    let mut routes_seen = 0;
    // The embeds: every surface with a token of that surface (and an unknown surface).
    for surface in affilia::domain::access::portal_access::EMBED_SURFACES
        .iter()
        .chain(&["nope"])
    {
        let (_, e) = call(
            Method::POST,
            format!("/api/v1/affiliates/{aff}/embed-token"),
            json!({"surface": surface.replace("nope", "dashboard")}),
        )
        .await;
        let token_query = format!("token={}", encode(e["token"].as_str().unwrap()));
        let r = route(Method::GET, format!("/embed/{surface}"), Who::Anon)
            .q(&["token", "period", "program", "page", "created"]);
        routes_seen += 1;
        all.extend(probes(&r, &token_query));
        if *surface == "links" {
            let r = route(Method::POST, "/embed/links".into(), Who::Anon).form(&[
                "token",
                "program_id",
                "name",
                "slug",
                "destination_url",
                "sub_id",
            ]);
            routes_seen += 1;
            all.extend(probes(&r, &token_query));
        }
    }
    for r in routes(&ids) {
        routes_seen += 1;
        all.extend(probes(&r, ""));
    }
    // Very long query strings, once per surface.
    for path in [
        "/api/v1/affiliates".to_owned(),
        "/dashboard/affiliates".to_owned(),
        format!("/p/{slug}/commissions"),
    ] {
        let who = match path.as_bytes()[1] {
            b'a' => Who::Api,
            b'd' => Who::Staff,
            _ => Who::Portal,
        };
        for n in [16 * 1024, 48 * 1024] {
            all.push(Probe {
                method: Method::GET,
                path: path.clone(),
                who,
                query: format!("search={}", long(n)),
                body: None,
                what: format!("{n}-byte query string"),
            });
        }
    }

    let started = std::time::Instant::now();
    let mut results: Vec<Result<u16, String>> = stream::iter(all)
        .map(|p| send(&app, &clients, p))
        .buffer_unordered(4)
        .collect()
        .await;
    for r in last(&ids) {
        routes_seen += 1;
        for p in probes(&r, "") {
            results.push(send(&app, &clients, p).await);
        }
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for status in results.iter().filter_map(|r| r.as_ref().ok()) {
        *statuses.entry(*status).or_default() += 1;
    }
    eprintln!(
        "hostile-input sweep: {routes_seen} routes, {} requests in {:?}; statuses {statuses:?}",
        results.len(),
        started.elapsed()
    );
    let mut failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} hostile requests ended in a server error:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn bad_values_are_named_in_words_on_every_surface() {
    let app = spawn_app().await;
    let s = money_shop(&app, "Words", json!({"type": "percentage", "bps": 1000})).await;
    let staff = app
        .signed_in_client("owner@words.test", OWNER_PASSWORD)
        .await;

    // Dashboard: a readable page, never serde's text; a page far past the end is empty.
    let res = staff
        .get(app.url("/dashboard/affiliates?page=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("page must be a whole number"), "{html}");
    assert!(!html.contains("deserialize"), "{html}");
    for path in [
        "/dashboard/affiliates?page=9223372036854775807",
        "/dashboard/conversions?page=9223372036854775807",
        "/dashboard/payouts?page=9223372036854775807",
    ] {
        let res = staff.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    // HTMX gets the same words as a toast.
    let res = staff
        .get(app.url("/dashboard/events?page=-"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("page must be a whole number")
    );

    // API: the envelope names the field, in words, without parser positions.
    let (status, body) = app
        .call(&s.key, Method::GET, "/api/v1/conversions?page=abc", None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "page");
    assert_eq!(body["error"]["message"], "page must be a whole number");
    let (status, body) = app
        .call(
            &s.key,
            Method::GET,
            "/api/v1/conversions?page=9223372036854775807&per_page=100",
            None,
        )
        .await;
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{body}"
    );
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"code": "x", "amount_cents": "12.50"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "amount_cents");
    assert_eq!(
        body["error"]["message"],
        "amount_cents must be a whole number"
    );
    let (status, body) = app
        .call(
            &s.key,
            Method::POST,
            "/api/v1/conversions",
            Some(json!({"code": "x\u{0}", "amount_cents": 100})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (400, json!("code"))
    );
}
