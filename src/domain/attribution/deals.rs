//! Deal registration: an affiliate registers a lead; the vendor accepts or rejects it; an
//! accepted deal becomes a referral when the vendor reports that customer by the lead's
//! email (see `referrals::bind`).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::vendors::VendorRow;
use crate::db::{self, Db, deals::DealRow, deals::NewDeal};
use crate::domain::attribution::links::active_enrollment;
use crate::domain::tenancy::audit::{self, Actor};
use crate::domain::tenancy::mail::{self, Recipient, Sender};
use crate::domain::tenancy::vendors;
use crate::domain::values::status::DealStatus;
use crate::domain::{values::Email, values::text};
use crate::error::{AppError, AppResult};

/// Deal statuses.
pub const STATUSES: &[&str] = DealStatus::ALL_TEXT;
/// Longest notes.
const NOTES_MAX: usize = 5000;
/// Longest rejection reason.
const REASON_MAX: usize = 1000;

/// The request body of `POST /api/v1/me/deals`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealInput {
    /// The program (the affiliate's first enrollment when absent).
    pub program_id: Option<String>,
    /// The lead's email.
    pub lead_email: String,
    /// The lead's name.
    pub lead_name: String,
    /// The lead's company.
    pub company: Option<String>,
    /// Context for the vendor.
    pub notes: Option<String>,
}

/// A review decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DealReview)]
pub struct ReviewInput {
    /// `accept` or `reject`.
    #[schema(pattern = "^(accept|reject)$")]
    pub decision: String,
    /// Shown to the affiliate when rejecting.
    pub reason: Option<String>,
}

/// A deal in API responses.
#[derive(Debug, Serialize)]
pub struct Deal {
    /// `deal_...`
    pub id: String,
    /// Program.
    pub program_id: String,
    /// Affiliate.
    pub affiliate_id: String,
    /// Affiliate name.
    pub affiliate_name: String,
    /// Affiliate email.
    pub affiliate_email: String,
    /// Lead email.
    pub lead_email: String,
    /// Lead name.
    pub lead_name: String,
    /// Lead company.
    pub company: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// The referral it became.
    pub referral_id: Option<String>,
    /// Review time.
    pub reviewed_at: Option<String>,
    /// Registration time.
    pub created_at: String,
}

impl From<DealRow> for Deal {
    fn from(r: DealRow) -> Self {
        Self {
            id: r.id,
            program_id: r.program_id,
            affiliate_id: r.affiliate_id,
            affiliate_name: r.affiliate_name,
            affiliate_email: r.affiliate_email,
            lead_email: r.lead_email,
            lead_name: r.lead_name,
            company: r.company,
            notes: r.notes,
            status: r.status,
            rejection_reason: r.rejection_reason,
            referral_id: r.referral_id,
            reviewed_at: r.reviewed_at.map(db::rfc3339),
            created_at: db::rfc3339(r.created_at),
        }
    }
}

/// Registers a lead for an active affiliate. An open deal for the same lead in the program
/// (any affiliate's) → 409.
pub async fn submit(
    db: &Db,
    vendor_id: &str,
    affiliate_id: &str,
    input: &DealInput,
) -> AppResult<Deal> {
    let enrollment = active_enrollment(
        db,
        vendor_id,
        affiliate_id,
        input.program_id.as_deref(),
        "register deals",
    )
    .await?;
    let lead_email = Email::parse("lead_email", &input.lead_email)?;
    let lead_name = text::required("lead_name", &input.lead_name, text::NAME_MAX)?;
    let company = text::optional("company", input.company.as_deref(), text::NAME_MAX)?;
    let notes = text::optional("notes", input.notes.as_deref(), NOTES_MAX)?;
    let mut tx = db.begin().await?;
    let id = db::deals::insert(
        &mut *tx,
        &NewDeal {
            vendor_id,
            program_id: &enrollment.program_id,
            enrollment_id: &enrollment.id,
            affiliate_id,
            lead_email: lead_email.as_str(),
            lead_name: &lead_name,
            company: company.as_deref(),
            notes: notes.as_deref(),
        },
    )
    .await
    .map_err(|e| match db::unique_violation_field(&e) {
        Some(_) => AppError::duplicate(
            "lead_email",
            "this lead is already registered in the program",
        ),
        None => e.into(),
    })?;
    let row = db::deals::by_id(&mut *tx, vendor_id, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let deal = Deal::from(row);
    db::events::insert(
        &mut *tx,
        vendor_id,
        "deal.created",
        &json!(deal).to_string(),
    )
    .await?;
    tx.commit().await?;
    Ok(deal)
}

/// Accepts or rejects a pending deal and tells the affiliate by email, in the same
/// transaction; 409 when it is not pending.
pub async fn review(
    db: &Db,
    sender: &Sender,
    vendor: &VendorRow,
    id: &str,
    input: &ReviewInput,
    actor: &Actor,
) -> AppResult<Deal> {
    let vendor_id = vendor.id.as_str();
    let status = match input.decision.as_str() {
        "accept" => "accepted",
        "reject" => "rejected",
        _ => {
            return Err(AppError::invalid(
                "decision",
                "decision must be accept or reject",
            ));
        }
    };
    let reason = match status {
        "rejected" => text::optional("reason", input.reason.as_deref(), REASON_MAX)?,
        _ => None,
    };
    let current = get(db, vendor_id, id).await?;
    let mut tx = db.begin().await?;
    if !db::deals::decide(
        &mut *tx,
        vendor_id,
        id,
        status,
        reason.as_deref(),
        actor.id(),
    )
    .await?
    {
        return Err(AppError::wrong_state(format!(
            "this deal is already {}",
            current.status
        )));
    }
    let row = db::deals::by_id(&mut *tx, vendor_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let deal = Deal::from(row);
    let kind = format!("deal.{status}");
    db::events::insert(&mut *tx, vendor_id, &kind, &json!(deal).to_string()).await?;
    notify(&mut tx, sender, vendor, &deal).await?;
    audit::record(
        &mut *tx,
        vendor_id,
        actor,
        &kind,
        ("deal", Some(id)),
        json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(deal)
}

/// The `deal_accepted` email (copy in `templates/emails/deal_accepted.*`).
#[derive(Debug, Clone)]
struct DealAcceptedEmail {
    affiliate_name: String,
    vendor_name: String,
    lead_name: String,
    lead_email: String,
    reason: Option<String>,
    portal_url: String,
}
mail::email_kind!(
    DealAcceptedEmail,
    "deal_accepted",
    "emails/deal_accepted.txt",
    "emails/deal_accepted.html"
);

/// The `deal_rejected` email (copy in `templates/emails/deal_rejected.*`).
#[derive(Debug, Clone)]
struct DealRejectedEmail {
    affiliate_name: String,
    vendor_name: String,
    lead_name: String,
    lead_email: String,
    reason: Option<String>,
    portal_url: String,
}
mail::email_kind!(
    DealRejectedEmail,
    "deal_rejected",
    "emails/deal_rejected.txt",
    "emails/deal_rejected.html"
);

/// The decision email to the affiliate who registered the deal.
async fn notify(
    conn: &mut db::Conn,
    sender: &Sender,
    vendor: &VendorRow,
    deal: &Deal,
) -> AppResult<()> {
    let portal_url = vendors::portal_url(&mut *conn, &sender.base_url, vendor).await?;
    let to = Recipient {
        email: &deal.affiliate_email,
        name: Some(&deal.affiliate_name),
    };
    let affiliate_name = deal.affiliate_name.clone();
    let vendor_name = vendor.name.clone();
    let lead_name = deal.lead_name.clone();
    let lead_email = deal.lead_email.clone();
    let reason = deal.rejection_reason.clone();
    if DealStatus::Accepted.is(&deal.status) {
        let email = DealAcceptedEmail {
            affiliate_name,
            vendor_name,
            lead_name,
            lead_email,
            reason,
            portal_url,
        };
        mail::enqueue(conn, sender, vendor, to, &email).await?;
    } else {
        let email = DealRejectedEmail {
            affiliate_name,
            vendor_name,
            lead_name,
            lead_email,
            reason,
            portal_url,
        };
        mail::enqueue(conn, sender, vendor, to, &email).await?;
    }
    Ok(())
}

/// One deal of the vendor.
pub async fn get(db: &Db, vendor_id: &str, id: &str) -> AppResult<Deal> {
    db::deals::by_id(db.pool(), vendor_id, id)
        .await?
        .map(Deal::from)
        .ok_or(AppError::NotFound)
}

/// Validates a status filter.
pub fn parse_status(raw: Option<&str>) -> AppResult<Option<&'static str>> {
    text::choice("status", raw, STATUSES)
}

/// One page of deals and the total.
pub async fn list(
    db: &Db,
    filter: &db::deals::Filter<'_>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<Deal>, i64)> {
    let total = db::deals::count(db.pool(), filter).await?;
    let rows = db::deals::page(db.pool(), filter, limit, offset).await?;
    Ok((rows.into_iter().map(Deal::from).collect(), total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenancy::mail::testing::render;

    #[test]
    fn the_deal_emails_render_their_copy() {
        let r = render(
            &DealAcceptedEmail {
                affiliate_name: "Ann O'Neil".into(),
                vendor_name: "Acme & Co".into(),
                lead_name: "Lee <Lead>".into(),
                lead_email: "lee@example.com".into(),
                reason: None,
                portal_url: "https://p.test/?a=1&b=2".into(),
            },
            true,
        );
        assert_eq!(r.subject, "Your deal for Lee <Lead> was accepted");
        assert!(r.text.starts_with("Hello Ann O'Neil\n\nAcme & Co accepted the deal you registered for Lee <Lead> (lee@example.com)."));
        assert!(
            r.text
                .contains("\n\nOpen your partner portal: https://p.test/?a=1&b=2\n\n")
        );
        assert!(!r.text.contains("Reason:"));
        assert!(r.html.contains(">Open your partner portal</a>"));
        assert!(r.html.contains("Lee &#60;Lead&#62;"));

        let r = render(
            &DealRejectedEmail {
                affiliate_name: "Ann O'Neil".into(),
                vendor_name: "Acme & Co".into(),
                lead_name: "Lee <Lead>".into(),
                lead_email: "lee@example.com".into(),
                reason: Some("Not a fit & 'late'".into()),
                portal_url: "https://p.test/?a=1&b=2".into(),
            },
            false,
        );
        assert_eq!(r.subject, "Your deal for Lee <Lead> was not accepted");
        assert!(r.text.contains("Acme & Co did not accept the deal you registered for Lee <Lead> (lee@example.com).\n\nReason: Not a fit & 'late'\n\n"));
        assert!(
            r.html
                .contains("Reason: Not a fit &#38; &#39;late&#39;</p>")
        );
    }
}
