//! The one application error.
//!
//! Domain services return [`AppError`]. On `/api` it renders as the JSON envelope
//! `{"error": {"code", "message", "field"}}`; HTML handlers wrap it in
//! [`crate::http::pages::HtmlError`], which renders an error page (or a toast for HTMX).
//! Internal errors are logged with their cause and shown only as a generic message.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Every failure a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed request: unparsable JSON, wrong types, missing parameters (400).
    #[error("{0}")]
    BadRequest(String),
    /// A field of the request has the wrong type or is unknown (400, naming the field).
    /// The message names the field itself ("page must be a whole number").
    #[error("{message}")]
    BadRequestField {
        /// Path of the field, e.g. `commission.bps`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No or invalid credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Invalid credentials with a specific envelope code (401), e.g. `token_expired` for
    /// a kernel JWT, so clients can tell why without parsing the message.
    #[error("{message}")]
    UnauthorizedCode {
        /// Machine-readable code, e.g. `invalid_signature`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// Authenticated but not allowed, or a failed CSRF check (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request body did not arrive in time (408); the connection is closed.
    #[error("{0}")]
    RequestTimeout(String),
    /// No such object for this tenant; other tenants' objects are indistinguishable (404).
    #[error("not found")]
    NotFound,
    /// The path exists, but not with this method (405); `allow` lists the methods it has
    /// (the `Allow` header).
    #[error("this path does not support this method; it supports {allow}")]
    MethodNotAllowed {
        /// The supported methods, comma-separated.
        allow: String,
    },
    /// A duplicate or an action from the wrong state (409).
    #[error("{message}")]
    Conflict {
        /// Machine-readable code, e.g. `duplicate` or `invalid_state`.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
        /// The field at fault, when there is one.
        field: Option<String>,
    },
    /// 409 `duplicate` naming the object that already exists (idempotency keys).
    #[error("{message}")]
    AlreadyExists {
        /// The key field.
        field: &'static str,
        /// What exists.
        message: String,
        /// The existing object's id.
        id: String,
    },
    /// A well-formed but invalid value (422).
    #[error("{message}")]
    Invalid {
        /// The offending field, as named in the request.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A request body, upload or address over its documented limit (413 for bodies and
    /// uploads, 414 for addresses): refused before it is read any further.
    #[error("{message}")]
    TooLarge {
        /// 413 or 414.
        status: u16,
        /// What was too large and the limit.
        message: String,
    },
    /// Too many attempts (429); clients should retry after the given number of seconds.
    #[error("too many requests, retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// The database is busy (another writer held the lock past the busy timeout, or no
    /// connection was free): 503 with `Retry-After`; nothing was changed and the request
    /// can be sent again.
    #[error("the database is busy; nothing was changed, retry in {retry_after_secs} s")]
    Busy {
        /// Seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// Anything unexpected: logged in full, shown as a generic message (500).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Shorthand for results of domain services and handlers.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A 413: a body or upload over its limit (`message` names the limit).
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::TooLarge {
            status: 413,
            message: message.into(),
        }
    }

    /// A 422 for `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// A 409 `duplicate` for `field`.
    pub fn duplicate(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code: "duplicate",
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    /// A 401 with a specific envelope `code`.
    pub fn unauthorized_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::UnauthorizedCode {
            code,
            message: message.into(),
        }
    }

    /// A 409 `invalid_state`: the object is not in a state that allows the action.
    pub fn wrong_state(message: impl Into<String>) -> Self {
        Self::Conflict {
            code: "invalid_state",
            message: message.into(),
            field: None,
        }
    }

    /// The machine-readable code of the envelope.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) | Self::BadRequestField { .. } => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::UnauthorizedCode { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::RequestTimeout(_) => "request_timeout",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Conflict { code, .. } => code,
            Self::AlreadyExists { .. } => "duplicate",
            Self::Invalid { .. } => "invalid",
            Self::TooLarge { status: 414, .. } => "uri_too_long",
            Self::TooLarge { .. } => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Busy { .. } => "busy",
            Self::Internal(_) => "internal",
        }
    }

    /// The message a client may see; internal details are never included.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error; it has been logged".to_owned(),
            Self::NotFound => "not found".to_owned(),
            other => other.to_string(),
        }
    }

    /// The message for a person on a page (dashboard, portal): [`Self::public_message`]
    /// with machine words replaced. API clients keep the field names (they match the
    /// `field` of the JSON envelope); a person sees "The landing page must ..." instead of
    /// "landing_url must ...". Worded here once, for every HTML surface.
    pub fn page_message(&self) -> String {
        people_words(&self.public_message())
    }

    /// The field at fault, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::BadRequestField { field, .. } => Some(field),
            Self::Conflict { field, .. } => field.as_deref(),
            Self::AlreadyExists { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Logs internal errors with their full cause chain; other errors are the client's.
    pub fn log(&self) {
        if let Self::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(field) = crate::db::unique_violation_field(&e) {
            return Self::duplicate(&field, format!("{field} is already taken"));
        }
        if crate::db::is_sum_overflow(&e) {
            // Only rows written before amounts were bounded can make a total overflow
            // (README, "Money range"): say so instead of a bare 500.
            return Self::Conflict {
                code: "amount_out_of_range",
                message: "a total of stored amounts does not fit in 64 bits: the database \
                          holds amounts above the money range (10^11 minor units) written \
                          before amounts were bounded; see the README's money range section"
                    .to_owned(),
                field: None,
            };
        }
        if crate::db::is_busy(&e) {
            tracing::warn!(error = %e, "database busy: answered 503");
            return Self::Busy {
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            };
        }
        Self::Internal(e.into())
    }
}

/// `Retry-After` of a 503 for a busy database: long enough for a long write (a payout run,
/// a job batch) to finish, short enough for a person to try again.
pub const BUSY_RETRY_AFTER_SECS: u64 = 5;

#[derive(Serialize)]
struct Envelope<'a> {
    error: EnvelopeBody<'a>,
}

#[derive(Serialize)]
struct EnvelopeBody<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// The existing object of a `duplicate` idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    existing_id: Option<&'a str>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::BadRequestField { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::UnauthorizedCode { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } | Self::AlreadyExists { .. } => StatusCode::CONFLICT,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge { status: 414, .. } => StatusCode::URI_TOO_LONG,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let mut res = HttpResponse::build(self.status_code());
        if let Self::RateLimited { retry_after_secs } | Self::Busy { retry_after_secs } = self {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let Self::MethodNotAllowed { allow } = self
            && let Ok(v) = HeaderValue::from_str(allow)
        {
            res.insert_header((header::ALLOW, v));
        }
        if let Self::Unauthorized(_) | Self::UnauthorizedCode { .. } = self {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.json(Envelope {
            error: EnvelopeBody {
                code: self.code(),
                message: self.public_message(),
                field: self.field(),
                existing_id: match self {
                    Self::AlreadyExists { id, .. } => Some(id),
                    _ => None,
                },
            },
        })
    }
}

/// The words a person reads for a field name an API message names.
fn field_label(name: &str) -> Option<&'static str> {
    Some(match name {
        "landing_url" => "the landing page",
        "allowed_domains" => "the other domains",
        "payout_day" => "the payout day",
        "min_payout_cents" | "min_payout" => "the minimum payout",
        "holding_period_days" => "the holding period",
        "cookie_duration_days" => "the cookie duration",
        "attribution_window_days" => "the attribution window",
        "attribution_model" => "the attribution model",
        "platform_fee_bps" | "platform_fee" => "the platform fee",
        "commission.bps" | "commission_percent" | "bps" => "the percentage",
        "commission.amount_cents" | "commission_amount" | "amount_cents" => "the amount",
        "commission.max_cycles" | "max_cycles" => "the number of billing cycles",
        "commission.tiers" | "tiers" => "the tiers",
        "commission.type" | "commission_type" => "the commission type",
        "multi_level" | "commission.multi_level" | "upline" => "the upline levels",
        "terms_text" => "the terms",
        "program_id" => "the program",
        "affiliate_id" => "the affiliate",
        "external_id" => "the external id",
        "customer_id" => "the customer id",
        "payout_method" => "the payout method",
        "payout_email" => "the payout email",
        "payout_details" => "the payout details",
        "stripe_secret_key" => "the Stripe secret key",
        "stripe_webhook_secret" => "the Stripe webhook signing secret",
        "conversion_kind" => "what counts as a conversion",
        "conversion_event" => "the conversion event",
        "brand_color" | "primary_color" => "the brand colour",
        "portal_domain" | "portal_domains" => "the portal domain",
        "support_email" => "the support email",
        "rate_limit_read_per_minute" => "the read limit",
        "rate_limit_write_per_minute" => "the write limit",
        "per_page" => "the page size",
        _ => return None,
    })
}

/// Rewrites an API message for a page: known field names become their labels (the first
/// word capitalised when it was one), other snake_case words lose their underscores, and API hints such as
/// "(null: no schedule)" read "(empty: no schedule)".
pub fn people_words(message: &str) -> String {
    let message = message.replace("(null: ", "(empty: ").replace('`', "");
    let mut out = String::with_capacity(message.len() + 16);
    for (i, word) in message.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let core = word.trim_end_matches([',', ';', ':', ')', '.']);
        let tail = &word[core.len()..];
        let (open, core) = match core.strip_prefix('(') {
            Some(rest) => ("(", rest),
            None => ("", core),
        };
        let machine = core.contains('_')
            || (core.contains('.')
                && core.split('.').all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }));
        let words = if !machine || core.contains("://") || core.contains('@') {
            core.to_owned()
        } else if let Some(label) = field_label(core) {
            label.to_owned()
        } else {
            core.replace(['_', '.'], " ")
        };
        out.push_str(open);
        // Only a replaced first word is capitalised: people's messages keep their case.
        if i == 0 && machine {
            let mut chars = words.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(&words);
        }
        out.push_str(tail);
    }
    out
}

#[cfg(test)]
mod people_words_tests {
    use super::people_words;

    #[test]
    fn field_names_become_words() {
        assert_eq!(
            people_words("payout_day is a day of the month from 1 to 28 (null: no schedule)"),
            "The payout day is a day of the month from 1 to 28 (empty: no schedule)"
        );
        assert_eq!(
            people_words("landing_url must be an http(s) URL"),
            "The landing page must be an http(s) URL"
        );
        assert_eq!(
            people_words("commission.bps must be a whole number"),
            "The percentage must be a whole number"
        );
        assert_eq!(
            people_words("some_new_field is required"),
            "Some new field is required"
        );
        assert_eq!(
            people_words("see https://example.com/a_b and jane_doe@example.com."),
            "see https://example.com/a_b and jane_doe@example.com."
        );
        assert_eq!(people_words("reason is required"), "reason is required");
    }
}
