//! Composing branded emails and writing them to the outbox.
//!
//! Every email is one [`Content`] (heading, paragraphs, an optional button) rendered through
//! one askama pair, `templates/emails/message.txt` and `message.html`, with the vendor's
//! name and colour. [`enqueue`] stores the rendered email and its delivery job with the
//! caller's transaction, so the email exists exactly when the change that caused it does.

use askama::Template;

use crate::db::{self, Conn, emails::NewEmail, vendors::VendorRow};
use crate::error::AppResult;

/// Job kind that delivers one email.
pub const SEND_EMAIL_JOB: &str = "send_email";
/// Delivery attempts before an email is marked failed (backoff 1 min … 6 h).
pub const MAX_ATTEMPTS: i64 = 10;

/// Sender settings shared by every vendor's email.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The From address (the vendor's name is the display name).
    pub address: String,
    /// Public base URL, for absolute links.
    pub base_url: String,
}

impl Sender {
    /// The sender configured in the settings.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            address: settings.mail_from.clone(),
            base_url: settings.base_url.as_str().trim_end_matches('/').to_owned(),
        }
    }
}

/// Puts a failed email of a vendor back in the queue (the dashboard's retry button).
pub async fn retry(
    db: &crate::db::Db,
    vendor_id: &str,
    email_id: &str,
    actor: &crate::domain::tenancy::audit::Actor,
) -> AppResult<()> {
    let mut tx = db.begin().await?;
    if !db::emails::requeue_failed(&mut *tx, vendor_id, email_id).await? {
        return match db::emails::by_id(&mut *tx, vendor_id, email_id).await? {
            Some(_) => Err(crate::error::AppError::wrong_state(
                "only failed emails can be retried",
            )),
            None => Err(crate::error::AppError::NotFound),
        };
    }
    let payload = serde_json::json!({ "email_id": email_id }).to_string();
    db::jobs::enqueue(
        &mut *tx,
        Some(vendor_id),
        SEND_EMAIL_JOB,
        &payload,
        MAX_ATTEMPTS,
        db::now_ms(),
    )
    .await?;
    crate::domain::tenancy::audit::record(
        &mut *tx,
        vendor_id,
        actor,
        "email.retried",
        ("email", Some(email_id)),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What an email says.
#[derive(Debug, Clone)]
pub struct Content {
    /// Kind, e.g. `staff_sign_in` (shown in the outbox).
    pub kind: &'static str,
    /// Subject line.
    pub subject: String,
    /// First line of the body.
    pub heading: String,
    /// Paragraphs of plain text.
    pub paragraphs: Vec<String>,
    /// The main action: button label and absolute URL.
    pub action: Option<(String, String)>,
    /// Small print under the action (why the person got this email).
    pub footnote: Option<String>,
    /// List-Unsubscribe URL, for notifications a person may turn off.
    pub unsubscribe_url: Option<String>,
}

/// An email to one person.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    /// Address.
    pub email: &'a str,
    /// Display name, if known.
    pub name: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "emails/message.txt")]
struct TextBody<'a> {
    vendor_name: &'a str,
    c: &'a Content,
}

#[derive(Template)]
#[template(path = "emails/message.html")]
struct HtmlBody<'a> {
    vendor_name: &'a str,
    color: &'a str,
    /// Absolute logo URL on the main host, when the vendor has a logo.
    logo_url: Option<String>,
    c: &'a Content,
}

/// Renders and stores an email with its delivery job, in the caller's transaction.
/// Returns the email id.
pub async fn enqueue(
    conn: &mut Conn,
    sender: &Sender,
    vendor: &VendorRow,
    to: Recipient<'_>,
    content: &Content,
) -> AppResult<String> {
    let color = if is_hex_color(&vendor.primary_color) {
        vendor.primary_color.as_str()
    } else {
        "#4f46e5"
    };
    // The portal name when the vendor set one: emails speak for the affiliate program.
    let vendor_name = vendor.display_name();
    let body_text = TextBody {
        vendor_name,
        c: content,
    }
    .render()
    .map_err(anyhow::Error::from)?;
    let body_html = HtmlBody {
        vendor_name,
        color,
        logo_url: crate::domain::tenancy::branding::logo_url(&sender.base_url, vendor),
        c: content,
    }
    .render()
    .map_err(anyhow::Error::from)?;
    let id = db::new_id("eml");
    let domain = sender.address.rsplit('@').next().unwrap_or("localhost");
    let message_id = format!("<{id}@{domain}>");
    let unsubscribe = content.unsubscribe_url.as_ref().map(|u| format!("<{u}>"));
    db::emails::insert(
        &mut *conn,
        &NewEmail {
            id: &id,
            vendor_id: &vendor.id,
            kind: content.kind,
            to_email: to.email,
            to_name: to.name,
            from_name: vendor_name,
            from_email: &sender.address,
            reply_to: vendor.support_email.as_deref(),
            subject: &content.subject,
            body_text: &body_text,
            body_html: &body_html,
            message_id: &message_id,
            list_unsubscribe: unsubscribe.as_deref(),
        },
    )
    .await?;
    let payload = serde_json::json!({ "email_id": id }).to_string();
    db::jobs::enqueue(
        &mut *conn,
        Some(&vendor.id),
        SEND_EMAIL_JOB,
        &payload,
        MAX_ATTEMPTS,
        db::now_ms(),
    )
    .await?;
    Ok(id)
}

/// `#rrggbb`, the only colour form put into email styles.
pub fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// The absolute `http(s)://` links of a text, for the dev mailbox.
pub fn links(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| w.trim_end_matches(['.', ',', ')', '>']).to_owned())
        .collect()
}
