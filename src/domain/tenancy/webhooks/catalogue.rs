//! The one list of event types a webhook endpoint can receive. Filter validation, the
//! dashboard's checkboxes and the README's table all come from [`EVENT_TYPES`].

/// Every event type with a one-line description, in the order people read them.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    (
        "partner_application_submitted",
        "Someone applied to join a program.",
    ),
    (
        "partner_application_approved",
        "An application was approved; an affiliate was created or enrolled.",
    ),
    (
        "partner_application_rejected",
        "An application was rejected (with the reason).",
    ),
    ("affiliate.created", "An affiliate was created."),
    (
        "affiliate.updated",
        "An affiliate's profile or status changed.",
    ),
    (
        "affiliate.group_changed",
        "An affiliate moved to another partner group (by hand or by a promotion rule).",
    ),
    (
        "referral.created",
        "A referred customer was bound to an affiliate.",
    ),
    (
        "referral.moved",
        "A referred customer moved to another affiliate (last touch).",
    ),
    ("conversion.created", "A qualifying sale was recorded."),
    (
        "conversion.approved",
        "A conversion was approved (by hand or after its holding period).",
    ),
    ("conversion.rejected", "A pending conversion was rejected."),
    (
        "conversion.flagged",
        "A fraud rule flagged, held or rejected a conversion (with the signals that fired).",
    ),
    (
        "conversion.reversed",
        "A conversion was reversed (refund, duplicate payment).",
    ),
    (
        "commission.created",
        "A commission was earned from a conversion.",
    ),
    (
        "commission.approved",
        "A commission became available for payout.",
    ),
    (
        "commission.reversed",
        "A commission was taken back (rejection, refund).",
    ),
    ("payout.created", "A payout was opened in a payout run."),
    ("payout.paid", "A payout was marked as paid."),
    (
        "payout.failed",
        "A payout failed; its commissions are available again.",
    ),
    ("deal.created", "An affiliate registered a deal."),
    ("deal.accepted", "A deal was accepted."),
    ("deal.rejected", "A deal was rejected."),
];

/// The type of the test event sent from the dashboard or the API (never filtered out).
pub const TEST_EVENT: &str = "webhook.test";

/// The catalogue as the OpenAPI string enum `WebhookEventType`, built from [`EVENT_TYPES`]
/// so the API document cannot drift from the filter validation.
pub struct EventTypeSchema;

impl utoipa::PartialSchema for EventTypeSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(EVENT_TYPES.iter().map(|(kind, _)| *kind)))
            .description(Some(
                "A domain event type an endpoint can subscribe to (see the README's table).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for EventTypeSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("WebhookEventType")
    }
}

/// Whether `kind` is a catalogued event type.
pub fn is_known(kind: &str) -> bool {
    EVENT_TYPES.iter().any(|(k, _)| *k == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_each_type_once() {
        let mut kinds: Vec<_> = EVENT_TYPES.iter().map(|(k, _)| *k).collect();
        let n = kinds.len();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), n);
        assert!(is_known("payout.paid"));
        assert!(!is_known("payout.exploded"));
        assert!(!is_known(TEST_EVENT));
    }

    #[test]
    fn the_readme_table_lists_the_catalogue() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        for (kind, description) in EVENT_TYPES {
            let row = format!("| `{kind}` | {description} |");
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }
}
