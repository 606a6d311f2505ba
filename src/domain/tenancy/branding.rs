//! A vendor's branding and portal settings: portal name, colour, support email, portal
//! domains, and the browser origins allowed to frame the embeds or call the
//! publishable-key endpoints. The dashboard settings page and `PATCH /api/v1/vendor` both
//! go through [`update`]; both show [`view`]. The logo itself is [`set_logo`] /
//! [`remove_logo`] (checked by [`crate::domain::tenancy::logo`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Settings;
use crate::db::{self, Db, vendors::SettingsColumns, vendors::VendorRow};
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::domain_verification::{self, TxtRecord};
use crate::domain::tenancy::logo;
use crate::domain::values::{color, host};
use crate::domain::{tenancy::vendors, values::Email, values::text};
use crate::error::{AppError, AppResult};

/// Longest portal name.
pub const PORTAL_NAME_MAX: usize = 80;
/// Most portal domains per vendor.
pub const PORTAL_DOMAINS_MAX: usize = 10;

/// The settings a vendor may change, with PATCH semantics: an absent field stays as it is;
/// `portal_name: null` and `support_email: null` clear; a list replaces the whole list.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandingInput {
    /// Name shown on the portal and in emails (at most 80 characters); `null` or empty:
    /// the vendor name.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    #[schema(max_length = 80)]
    pub portal_name: Option<Option<String>>,
    /// Brand colour, `#rrggbb`.
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub primary_color: Option<String>,
    /// Reply-To of the vendor's emails; `null` or empty clears it.
    #[serde(default, deserialize_with = "crate::domain::values::patch::present")]
    pub support_email: Option<Option<String>>,
    /// Host names the portal is served on (at most 10, each once), e.g.
    /// `affiliates.acme.com`.
    #[schema(schema_with = crate::domain::tenancy::branding::portal_domains_schema)]
    pub portal_domains: Option<Vec<String>>,
    /// Origins allowed to frame the embeds, e.g. `https://app.acme.com` (at most 20).
    #[schema(max_items = 20)]
    pub embed_origins: Option<Vec<String>>,
    /// Origins allowed to call the publishable-key endpoints (the click API) from a
    /// browser (at most 20).
    #[schema(max_items = 20)]
    pub site_origins: Option<Vec<String>>,
}

/// The OpenAPI schema of `portal_domains`: at most [`PORTAL_DOMAINS_MAX`] host names, each
/// once (a repeat is refused), or `null` (unchanged). utoipa's field attributes cannot say
/// "each once", hence a function.
pub fn portal_domains_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(ObjectBuilder::new().schema_type(Type::String))
        .max_items(Some(PORTAL_DOMAINS_MAX))
        .unique_items(true)
        .description(Some(
            "Host names the portal is served on (at most 10, each once), e.g. \
             `affiliates.acme.com`.",
        ))
        .build()
}

/// The DNS record a portal domain needs.
#[derive(Debug, Clone, Serialize)]
pub struct DnsRecord {
    /// Always `CNAME`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The portal domain.
    pub name: String,
    /// The host of the installation's base URL.
    pub value: String,
}

/// A portal domain as shown.
#[derive(Debug, Clone, Serialize)]
pub struct PortalDomain {
    /// Host name.
    pub host: String,
    /// The record to create at the vendor's DNS provider.
    pub dns: DnsRecord,
    /// Whether the vendor proved control of the domain: only a verified domain serves the
    /// portal.
    pub verified: bool,
    /// When it was verified (RFC 3339), `null` while pending.
    pub verified_at: Option<String>,
    /// The TXT record proving control (create it beside the CNAME, then ask for a check
    /// with `POST /api/v1/vendor/domains/{host}/verify`); `null` for domains verified
    /// before tokens existed.
    pub verification: Option<TxtRecord>,
    /// When the server last looked for the TXT record (RFC 3339), `null` before the first
    /// look.
    pub checked_at: Option<String>,
    /// When it was added (RFC 3339).
    pub created_at: String,
    /// When a request for it was last seen (RFC 3339), `null` before the first one.
    pub last_seen_at: Option<String>,
    /// [`Self::last_seen_at`] in unix ms, for pages.
    #[serde(skip)]
    pub last_seen_ms: Option<i64>,
}

/// A vendor's settings as the API returns them and the settings page shows them.
#[derive(Debug, Clone, Serialize)]
pub struct VendorSettings {
    /// `ven_...`
    pub id: String,
    /// Vendor name (not changed here).
    pub name: String,
    /// URL-safe name (`/p/{slug}`).
    pub slug: String,
    /// Currency of new programs.
    pub default_currency: String,
    /// Portal name, if set.
    pub portal_name: Option<String>,
    /// The name the portal and emails show: the portal name, else the vendor name.
    pub display_name: String,
    /// Brand colour, `#rrggbb`.
    pub primary_color: String,
    /// Text colour the portal, embeds and emails put on the brand colour (buttons):
    /// `#ffffff` or `#1d2330`, whichever reads (WCAG AA 4.5:1).
    pub primary_text_color: String,
    /// Why links and text in the brand colour are hard to read on the portal's page
    /// background (WCAG AA), `null` when they read well.
    pub primary_color_warning: Option<String>,
    /// Reply-To of the vendor's emails.
    pub support_email: Option<String>,
    /// Absolute, versioned URL of the logo on the main host, `null` without one.
    pub logo_url: Option<String>,
    /// Root URL of the portal (its first domain, else `/p/{slug}/` on the main host).
    pub portal_url: String,
    /// Portal domains with their DNS record and last request.
    pub portal_domains: Vec<PortalDomain>,
    /// Origins that may frame the embeds.
    pub embed_origins: Vec<String>,
    /// Origins that may call the publishable-key endpoints.
    pub site_origins: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// The vendor's settings view.
pub async fn view(db: &Db, base_url: &str, vendor_id: &str) -> AppResult<VendorSettings> {
    let vendor = db::vendors::by_id(db.pool(), vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let domains = db::vendors::domain_rows(db.pool(), vendor_id).await?;
    Ok(settings_of(base_url, vendor, domains))
}

fn settings_of(
    base_url: &str,
    vendor: VendorRow,
    domains: Vec<db::vendors::DomainRow>,
) -> VendorSettings {
    let base = base_url.trim_end_matches('/');
    let base_host = cname_target(base_url);
    // Only a verified domain serves the portal, so only one can be its URL.
    let portal_url = vendors::portal_url_from(
        base,
        &vendor.slug,
        domains
            .iter()
            .find(|d| d.verified_at.is_some())
            .map(|d| d.host.as_str()),
    );
    VendorSettings {
        logo_url: logo_url(base, &vendor),
        display_name: vendor.display_name().to_owned(),
        embed_origins: vendor.embed_origins(),
        site_origins: vendor.site_origins(),
        portal_domains: domains
            .into_iter()
            .map(|d| PortalDomain {
                verified: d.verified_at.is_some(),
                verified_at: d.verified_at.map(db::rfc3339),
                verification: d
                    .verification_token
                    .as_deref()
                    .map(|t| domain_verification::record(&d.host, t)),
                checked_at: d.checked_at.map(db::rfc3339),
                dns: DnsRecord {
                    kind: "CNAME",
                    name: d.host.clone(),
                    value: base_host.clone(),
                },
                host: d.host,
                created_at: db::rfc3339(d.created_at),
                last_seen_at: d.last_seen_at.map(db::rfc3339),
                last_seen_ms: d.last_seen_at,
            })
            .collect(),
        portal_url,
        created_at: db::rfc3339(vendor.created_at),
        id: vendor.id,
        name: vendor.name,
        slug: vendor.slug,
        default_currency: vendor.default_currency,
        portal_name: vendor.portal_name,
        primary_text_color: color::text_on(&vendor.primary_color).to_owned(),
        primary_color_warning: color::readability_warning(color::brand_or_default(
            &vendor.primary_color,
        )),
        primary_color: vendor.primary_color,
        support_email: vendor.support_email,
    }
}

/// The absolute, versioned logo URL on the main host (`{base}/p/{slug}/logo?v=...`), if the
/// vendor has a logo. Emails use it too: the main host is reachable whatever the vendor's
/// DNS does.
pub fn logo_url(base_url: &str, vendor: &VendorRow) -> Option<String> {
    let base = base_url.trim_end_matches('/');
    vendor
        .logo_version
        .map(|v| format!("{base}/p/{}/logo?v={v}", vendor.slug))
}

/// The host a portal domain's CNAME points to: the base URL's host.
pub fn cname_target(base_url: &str) -> String {
    url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Validated settings, ready to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Stored {
    portal_name: Option<String>,
    primary_color: String,
    support_email: Option<String>,
    portal_domains: Vec<String>,
    embed_origins: Vec<String>,
    site_origins: Vec<String>,
}

impl Stored {
    fn of(vendor: &VendorRow, domains: Vec<String>) -> Self {
        Self {
            portal_name: vendor.portal_name.clone(),
            primary_color: vendor.primary_color.clone(),
            support_email: vendor.support_email.clone(),
            portal_domains: domains,
            embed_origins: vendor.embed_origins(),
            site_origins: vendor.site_origins(),
        }
    }

    /// Applies and validates the fields present in `input`.
    fn apply(&mut self, input: &BrandingInput, settings: &Settings) -> AppResult<()> {
        if let Some(name) = &input.portal_name {
            self.portal_name = text::optional("portal_name", name.as_deref(), PORTAL_NAME_MAX)?;
        }
        if let Some(color) = &input.primary_color {
            self.primary_color = parse_color("primary_color", color)?;
        }
        if let Some(email) = &input.support_email {
            self.support_email = match email.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(e) => Some(Email::parse("support_email", e)?.as_str().to_owned()),
            };
        }
        if let Some(domains) = &input.portal_domains {
            self.portal_domains = parse_domains(domains, settings)?;
        }
        if let Some(origins) = &input.embed_origins {
            self.embed_origins = host::parse_origins("embed_origins", origins)?;
        }
        if let Some(origins) = &input.site_origins {
            self.site_origins = host::parse_origins("site_origins", origins)?;
        }
        Ok(())
    }
}

/// Applies a settings change: validated as a whole first (nothing is stored when a field
/// is wrong), then the vendor row, its domains and an audit entry with the values before
/// and after, in one transaction. A domain another vendor holds is 409 on
/// `portal_domains`. Callers on the HTTP side forget their cached portal hosts afterwards.
pub async fn update(
    db: &Db,
    settings: &Settings,
    vendor_id: &str,
    input: &BrandingInput,
    actor: &Actor,
) -> AppResult<VendorSettings> {
    let mut tx = db.begin().await?;
    let vendor = db::vendors::by_id(&mut *tx, vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let before = Stored::of(
        &vendor,
        db::vendors::all_domains(&mut *tx, vendor_id).await?,
    );
    let mut after = before.clone();
    after.apply(input, settings)?;
    for host in after
        .portal_domains
        .iter()
        .filter(|h| !before.portal_domains.contains(h))
    {
        if db::vendors::domain_owner(&mut *tx, host)
            .await?
            .is_some_and(|owner| owner != vendor_id)
        {
            return Err(taken(host));
        }
    }
    let embed = serde_json::Value::from(after.embed_origins.clone()).to_string();
    let site = serde_json::Value::from(after.site_origins.clone()).to_string();
    db::vendors::update_settings(
        &mut *tx,
        vendor_id,
        &SettingsColumns {
            portal_name: after.portal_name.as_deref(),
            primary_color: &after.primary_color,
            support_email: after.support_email.as_deref(),
            embed_origins: &embed,
            site_origins: &site,
        },
    )
    .await?;
    db::vendors::replace_domains(
        &mut tx,
        vendor_id,
        &after.portal_domains,
        domain_verification::new_token,
    )
    .await
    .map_err(|e| match db::unique_violation_field(&e) {
        // Another vendor claimed it between the check and the insert.
        Some(_) => AppError::duplicate(
            "portal_domains",
            "one of these domains is already used by another portal",
        ),
        None => e.into(),
    })?;
    if after != before {
        audit::record(
            &mut *tx,
            vendor_id,
            actor,
            "vendor.settings_updated",
            ("vendor", Some(vendor_id)),
            json!({"before": before, "after": after}),
        )
        .await?;
    }
    tx.commit().await?;
    view(db, settings.base_url.as_str(), vendor_id).await
}

fn taken(host: &str) -> AppError {
    AppError::duplicate(
        "portal_domains",
        format!("{host} is already used by another portal"),
    )
}

/// `#rrggbb` (lower-cased); `#RGB` shorthands and names are refused so emails and CSS get
/// one exact form.
pub fn parse_color(field: &str, raw: &str) -> AppResult<String> {
    let c = raw.trim().to_ascii_lowercase();
    if color::parse_hex(&c).is_some() {
        Ok(c)
    } else {
        Err(AppError::invalid(
            field,
            "the brand colour must be written as #rrggbb (a # and six hexadecimal digits), \
             e.g. #4f46e5",
        ))
    }
}

/// Portal host names: each a valid host name (never an IP address or a local name), not
/// one of the installation's own hosts, no duplicates, at most
/// [`PORTAL_DOMAINS_MAX`].
fn parse_domains(raw: &[String], settings: &Settings) -> AppResult<Vec<String>> {
    const FIELD: &str = "portal_domains";
    if raw.len() > PORTAL_DOMAINS_MAX {
        return Err(AppError::invalid(
            FIELD,
            format!("at most {PORTAL_DOMAINS_MAX} portal domains"),
        ));
    }
    let base = cname_target(settings.base_url.as_str());
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for d in raw {
        let host = host::parse_portal_host(FIELD, d)?;
        if settings.dashboard_hosts.contains(&host) || host == base {
            return Err(AppError::invalid(
                FIELD,
                format!("{host} serves the dashboard and cannot be a portal domain"),
            ));
        }
        if out.contains(&host) {
            return Err(AppError::invalid(FIELD, format!("{host} is listed twice")));
        }
        out.push(host);
    }
    Ok(out)
}

/// Stores a checked logo (see [`logo::validate`]) as the vendor's, with an audit entry.
pub async fn set_logo(
    db: &Db,
    base_url: &str,
    vendor_id: &str,
    declared_type: Option<&str>,
    body: &[u8],
    actor: &Actor,
) -> AppResult<VendorSettings> {
    let checked = logo::validate(declared_type, body)?;
    let data = BASE64.encode(&checked.bytes);
    let mut tx = db.begin().await?;
    if db::vendors::by_id(&mut *tx, vendor_id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let version = db::vendors::put_logo(&mut tx, vendor_id, checked.content_type, &data).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "vendor.logo_updated",
        ("vendor", Some(vendor_id)),
        json!({
            "content_type": checked.content_type,
            "bytes": checked.bytes.len(),
            "uploaded_bytes": body.len(),
            "version": version,
        }),
    )
    .await?;
    tx.commit().await?;
    view(db, base_url, vendor_id).await
}

/// Removes the vendor's logo; 404 when it has none.
pub async fn remove_logo(db: &Db, vendor_id: &str, actor: &Actor) -> AppResult<()> {
    let mut tx = db.begin().await?;
    if !db::vendors::delete_logo(&mut tx, vendor_id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "vendor.logo_removed",
        ("vendor", Some(vendor_id)),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A stored logo, decoded, with its version.
#[derive(Debug, Clone)]
pub struct StoredLogo {
    /// Content type to serve it with.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Its version (`?v=`).
    pub version: i64,
}

/// The vendor's logo, if it has one.
pub async fn stored_logo(db: &Db, vendor_id: &str) -> AppResult<Option<StoredLogo>> {
    let Some(row) = db::vendors::logo(db.pool(), vendor_id).await? else {
        return Ok(None);
    };
    let bytes = BASE64
        .decode(row.data.as_bytes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored logo of {vendor_id}: {e}")))?;
    Ok(Some(StoredLogo {
        content_type: row.content_type,
        bytes,
        version: row.updated_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(raw: &str) -> Result<String, String> {
        host::parse_origin("site_origins", raw).map_err(|e| {
            assert_eq!(e.field(), Some("site_origins"));
            e.public_message()
        })
    }

    #[test]
    fn origins_are_normalised_to_what_browsers_send() {
        let cases = [
            ("https://app.acme.com", "https://app.acme.com"),
            (" HTTPS://App.Acme.COM/ ", "https://app.acme.com"),
            ("https://app.acme.com:443", "https://app.acme.com"),
            ("http://app.acme.com:80", "http://app.acme.com"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("https://shop.acme.com:8443", "https://shop.acme.com:8443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
        ];
        for (raw, want) in cases {
            assert_eq!(origin(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn anything_but_a_bare_origin_is_refused() {
        for bad in [
            "",
            "*",
            "https://*.acme.com",
            "app.acme.com",
            "ftp://acme.com",
            "javascript://acme.com",
            "https://acme.com/path",
            "https://acme.com/?q=1",
            "https://acme.com#x",
            "https://acme.com?x",
            "https://user:pw@acme.com",
            "https://user@acme.com",
            "https://",
            "https://acme.com:99999",
            "https://ac me.com",
            "https://acme.com\\@evil.com",
            "https://-acme.com",
            "https://acme_corp.com",
            "null",
        ] {
            assert!(origin(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            origin("https://*.acme.com")
                .unwrap_err()
                .contains("wildcard")
        );
    }

    #[test]
    fn origin_lists_are_capped_and_deduplicated() {
        let list: Vec<String> = ["https://a.test", "HTTPS://A.test:443", "http://a.test"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            host::parse_origins("embed_origins", &list).ok(),
            Some(vec![
                "https://a.test".to_owned(),
                "http://a.test".to_owned()
            ])
        );
        let many: Vec<String> = (0..21).map(|i| format!("https://s{i}.test")).collect();
        let e = host::parse_origins("embed_origins", &many).unwrap_err();
        assert_eq!(e.field(), Some("embed_origins"));
        assert!(host::origin_listed(
            &["https://app.acme.com".into()],
            "https://App.acme.com"
        ));
        assert!(!host::origin_listed(
            &["https://app.acme.com".into()],
            "null"
        ));
        assert!(!host::origin_listed(&[], "https://app.acme.com"));
    }

    #[test]
    fn colours_are_exact_hex() {
        assert_eq!(
            parse_color("c", " #A1b2C3 ").ok().as_deref(),
            Some("#a1b2c3")
        );
        for bad in ["#fff", "red", "a1b2c3", "#a1b2c3d4", "#ggg000", ""] {
            assert!(parse_color("primary_color", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_refused_and_null_clears() {
        let e = crate::http::api::json::parse::<BrandingInput>(br#"{"name":"x"}"#).unwrap_err();
        assert_eq!(e.code(), "bad_request");
        let i: BrandingInput =
            crate::http::api::json::parse(br##"{"portal_name":null,"primary_color":"#000000"}"##)
                .unwrap();
        assert_eq!(i.portal_name, Some(None));
        assert_eq!(i.support_email, None);
        assert_eq!(i.primary_color.as_deref(), Some("#000000"));
    }
}
