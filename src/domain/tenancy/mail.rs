//! Composing branded emails and writing them to the outbox.
//!
//! Every email kind is a struct of its data implementing [`Message`]; its copy is one askama
//! pair, `templates/emails/<kind>.txt` and `<kind>.html`, extending the shared layout
//! (`layout.txt`, `layout.html`, `parts.html`) that frames it with the vendor's name, logo
//! and colour. The struct lives beside the rule that sends the email. [`enqueue`] stores the rendered email and its delivery job with the
//! caller's transaction, so the email exists exactly when the change that caused it does.

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

/// The vendor's branding, the frame every email is rendered in (the shared layout,
/// `templates/emails/layout.txt` and `layout.html`, reads it as `brand`).
#[derive(Debug, Clone)]
pub struct Brand<'a> {
    /// The name emails speak for: the portal name when the vendor set one.
    pub vendor_name: &'a str,
    /// Accent colour, always `#rrggbb`.
    pub color: &'a str,
    /// Text colour on the accent colour (buttons): white or near-black, whichever is
    /// readable (see [`crate::domain::values::color::text_on`]).
    pub text_color: &'a str,
    /// Absolute logo URL on the main host, when the vendor has a logo.
    pub logo_url: Option<String>,
}

/// An email rendered for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// One kind of email: a struct holding the data its copy needs (names, amounts, URLs).
///
/// The copy lives in askama templates, `templates/emails/<kind>.txt` (which also holds the
/// `subject` block) and `templates/emails/<kind>.html`, both extending the shared layout.
/// [`email_kind!`] implements this trait from the two template paths.
pub trait Message {
    /// Kind, e.g. `staff_sign_in` (shown in the outbox).
    const KIND: &'static str;

    /// Renders the subject and both bodies, framed by `brand`.
    fn render(&self, brand: &Brand<'_>) -> askama::Result<Rendered>;

    /// List-Unsubscribe URL, for notifications a person may turn off.
    fn unsubscribe_url(&self) -> Option<&str> {
        None
    }
}

/// Implements [`Message`] for a struct of email data:
/// `email_kind!(StaffSignIn, "staff_sign_in", "emails/staff_sign_in.txt", "emails/staff_sign_in.html");`
///
/// Both templates see the data as `m`, the [`Brand`] as `brand` and the optional
/// `unsubscribe_url`; the HTML one also sees the rendered `subject`. The text template's
/// `subject` block is the subject line (the layout renders it alone when `subject_only`).
macro_rules! email_kind {
    ($ty:ty, $kind:literal, $txt:literal, $html:literal) => {
        impl $crate::domain::tenancy::mail::Message for $ty {
            const KIND: &'static str = $kind;

            fn render(
                &self,
                brand: &$crate::domain::tenancy::mail::Brand<'_>,
            ) -> ::askama::Result<$crate::domain::tenancy::mail::Rendered> {
                use ::askama::Template as _;

                #[derive(::askama::Template)]
                #[template(path = $txt)]
                struct Text<'a, 'b> {
                    brand: &'a $crate::domain::tenancy::mail::Brand<'b>,
                    m: &'a $ty,
                    unsubscribe_url: Option<&'a str>,
                    /// Renders only the `subject` block.
                    subject_only: bool,
                }

                #[derive(::askama::Template)]
                #[template(path = $html)]
                struct Html<'a, 'b> {
                    brand: &'a $crate::domain::tenancy::mail::Brand<'b>,
                    m: &'a $ty,
                    subject: &'a str,
                    unsubscribe_url: Option<&'a str>,
                }

                let unsubscribe_url =
                    <$ty as $crate::domain::tenancy::mail::Message>::unsubscribe_url(self);
                let mut text = Text {
                    brand,
                    m: self,
                    unsubscribe_url,
                    subject_only: true,
                };
                let subject = text.render()?;
                text.subject_only = false;
                let html = Html {
                    brand,
                    m: self,
                    subject: &subject,
                    unsubscribe_url,
                }
                .render()?;
                Ok($crate::domain::tenancy::mail::Rendered {
                    text: text.render()?,
                    html,
                    subject,
                })
            }
        }
    };
}
pub(crate) use email_kind;

/// An email to one person.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    /// Address.
    pub email: &'a str,
    /// Display name, if known.
    pub name: Option<&'a str>,
}

/// Job kind of a requested sign-in link (staff or portal magic link): the request only
/// enqueues it; the worker decides whether an email goes out.
pub const SIGN_IN_LINK_JOB: &str = "sign_in_link";

/// Renders and stores an email with its delivery job, in the caller's transaction.
/// Returns the email id.
pub async fn enqueue<M: Message>(
    conn: &mut Conn,
    sender: &Sender,
    vendor: &VendorRow,
    to: Recipient<'_>,
    message: &M,
) -> AppResult<String> {
    let color = crate::domain::values::color::brand_or_default(&vendor.primary_color);
    // The portal name when the vendor set one: emails speak for the affiliate program.
    let vendor_name = vendor.display_name();
    let brand = Brand {
        vendor_name,
        color,
        text_color: crate::domain::values::color::text_on(color),
        logo_url: crate::domain::tenancy::branding::logo_url(&sender.base_url, vendor),
    };
    let rendered = message.render(&brand).map_err(anyhow::Error::from)?;
    let id = db::new_id("eml");
    let domain = sender.address.rsplit('@').next().unwrap_or("localhost");
    let message_id = format!("<{id}@{domain}>");
    let unsubscribe = message.unsubscribe_url().map(|u| format!("<{u}>"));
    db::emails::insert(
        &mut *conn,
        &NewEmail {
            id: &id,
            vendor_id: &vendor.id,
            kind: M::KIND,
            to_email: to.email,
            to_name: to.name,
            from_name: vendor_name,
            from_email: &sender.address,
            reply_to: vendor.support_email.as_deref(),
            subject: &rendered.subject,
            body_text: &rendered.text,
            body_html: &rendered.html,
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

/// Rendering every kind with sample data, for the unit tests beside each kind.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Brand, Message, Rendered};

    /// Renders `m` framed by a sample brand whose name needs escaping; with a logo or not.
    pub(crate) fn render<M: Message>(m: &M, logo: bool) -> Rendered {
        let logo_url = logo.then(|| "https://x.test/p/acme/logo?v=1&s=2".to_owned());
        let brand = Brand {
            vendor_name: "Acme <Partners>",
            color: "#112233",
            text_color: "#ffffff",
            logo_url,
        };
        m.render(&brand).unwrap()
    }
}
