//! Outgoing email transport: lettre's async SMTP client, or the dev mailbox when no SMTP
//! server is configured.

use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::db::emails::EmailRow;

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// May work later: connection refused, timeouts, 4xx or 5xx answers.
    Transient(String),
    /// Cannot work: the stored message itself is invalid.
    Permanent(String),
}

/// How emails leave.
#[derive(Debug, Clone)]
pub enum Mailer {
    /// Through an SMTP server (`smtp://`, `smtp://...?tls=required` for STARTTLS, `smtps://`).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Nowhere: emails stay in the dashboard's dev mailbox.
    DevMailbox,
}

impl Mailer {
    /// The transport for an optional SMTP URL.
    pub fn from_url(smtp_url: Option<&str>) -> anyhow::Result<Self> {
        let Some(url) = smtp_url else {
            return Ok(Self::DevMailbox);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("invalid SMTP URL (expected smtp://, smtp://...?tls=required or smtps://)")?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Self::Smtp(transport))
    }

    /// Whether emails stay in the dev mailbox.
    pub fn is_dev_mailbox(&self) -> bool {
        matches!(self, Self::DevMailbox)
    }

    /// Hands one stored email to the SMTP server.
    pub async fn send(&self, email: &EmailRow) -> Result<(), SendError> {
        let Self::Smtp(transport) = self else {
            return Err(SendError::Permanent("no SMTP server configured".into()));
        };
        let message = build_message(email).map_err(SendError::Permanent)?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError::Transient(e.to_string()))
    }
}

/// The MIME message of a stored email: multipart/alternative with text and HTML parts.
pub fn build_message(email: &EmailRow) -> Result<Message, String> {
    let from = Mailbox::new(
        Some(email.from_name.clone()),
        email
            .from_email
            .parse()
            .map_err(|e| format!("bad sender: {e}"))?,
    );
    let to = Mailbox::new(
        email.to_name.clone(),
        email
            .to_email
            .parse()
            .map_err(|e| format!("bad recipient: {e}"))?,
    );
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(Mailbox::new(
            None,
            reply_to.parse().map_err(|e| format!("bad reply-to: {e}"))?,
        ));
    }
    if let Some(unsubscribe) = &email.list_unsubscribe {
        builder = builder.header(ListUnsubscribe(unsubscribe.clone()));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            email.body_text.clone(),
            email.body_html.clone(),
        ))
        .map_err(|e| format!("cannot build message: {e}"))
}

/// The `List-Unsubscribe` header (lettre has no type for it).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}
