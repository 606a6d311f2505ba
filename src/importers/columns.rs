//! Matching the header row of a tool's export to the fields the importer reads. The tools
//! do not publish their export headers, so a header is compared by its letters and digits
//! only (case, spaces, underscores, dashes and dots ignored: `Affiliate Email`,
//! `affiliate_email` and `AFFILIATE-EMAIL` are one name), against the names and synonyms
//! their docs use. Columns that match nothing are reported, never guessed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Provider;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// One row per affiliate (or, in Rewardful's import template, per referred customer).
    Affiliates,
    /// One row per referred customer.
    Referrals,
    /// One row per commission.
    Commissions,
}

impl FileKind {
    /// `affiliates`, `referrals` or `commissions`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Affiliates => "affiliates",
            Self::Referrals => "referrals",
            Self::Commissions => "commissions",
        }
    }
}

/// A field the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The affiliate's email (affiliates file).
    Email,
    /// Given name.
    FirstName,
    /// Family name.
    LastName,
    /// Full name.
    Name,
    /// The affiliate's referral code / token / partner key.
    Code,
    /// The affiliate's id in the old tool.
    ExternalId,
    /// PayPal payout email.
    PaypalEmail,
    /// Wise payout email.
    WiseEmail,
    /// Company.
    Company,
    /// Website.
    Website,
    /// A referred customer's id.
    CustomerId,
    /// A referred customer's email.
    CustomerEmail,
    /// The affiliate's email, in a referrals or commissions file.
    AffiliateEmail,
    /// The affiliate's code, in a referrals or commissions file.
    AffiliateCode,
    /// The affiliate's id in the old tool, in a referrals or commissions file.
    AffiliateId,
    /// An amount in major units (`12.50`).
    Amount,
    /// An amount in minor units (`1250`).
    AmountCents,
    /// ISO 4217 code.
    Currency,
    /// A commission's status.
    Status,
    /// Total earned by the affiliate so far (affiliates file).
    EarnedTotal,
    /// Total paid to the affiliate so far (affiliates file).
    PaidTotal,
    /// Total owed to the affiliate now (affiliates file).
    UnpaidTotal,
}

/// Header names (normalised) of each field, shared by every tool.
const COMMON: &[(FileKind, Field, &[&str])] = {
    use Field::*;
    use FileKind::*;
    &[
        (
            Affiliates,
            Email,
            &[
                "email",
                "emailaddress",
                "affiliateemail",
                "affiliateemailaddress",
                "partneremail",
                "promoteremail",
            ],
        ),
        (
            Affiliates,
            FirstName,
            &[
                "firstname",
                "first",
                "givenname",
                "affiliatefirstname",
                "partnerfirst",
                "partnerfirstname",
                "promoterfirstname",
            ],
        ),
        (
            Affiliates,
            LastName,
            &[
                "lastname",
                "last",
                "surname",
                "familyname",
                "affiliatelastname",
                "partnerlast",
                "partnerlastname",
                "promoterlastname",
            ],
        ),
        (
            Affiliates,
            Name,
            &[
                "name",
                "fullname",
                "affiliatename",
                "partnername",
                "promotername",
            ],
        ),
        (
            Affiliates,
            Code,
            &[
                "code",
                "token",
                "referralcode",
                "referraltoken",
                "affiliatecode",
                "affiliatetoken",
                "refid",
                "refcode",
                "partnerkey",
                "promotercode",
            ],
        ),
        (
            Affiliates,
            ExternalId,
            &["id", "affiliateid", "partnerid", "promoterid", "importedid"],
        ),
        (
            Affiliates,
            PaypalEmail,
            &["paypalemail", "affiliatepaypalemail", "paypal"],
        ),
        (Affiliates, WiseEmail, &["wiseemail", "wise"]),
        (Affiliates, Company, &["company", "companyname"]),
        (Affiliates, Website, &["website", "websiteurl", "site"]),
        (
            Affiliates,
            CustomerId,
            &["stripecustomerid", "customerid", "referredcustomerid"],
        ),
        (
            Affiliates,
            CustomerEmail,
            &["customeremail", "referredemail"],
        ),
        (
            Affiliates,
            EarnedTotal,
            &[
                "earned",
                "totalearned",
                "earnings",
                "totalearnings",
                "promoterearningsamount",
                "commissionsearned",
                "totalcommissions",
            ],
        ),
        (
            Affiliates,
            PaidTotal,
            &[
                "paid",
                "totalpaid",
                "paidamount",
                "promoterpaidamount",
                "paidcommissions",
            ],
        ),
        (
            Affiliates,
            UnpaidTotal,
            &[
                "unpaid",
                "unpaidamount",
                "balance",
                "amountdue",
                "due",
                "owed",
            ],
        ),
        (Affiliates, Currency, &["currency", "currencycode"]),
        (
            Referrals,
            AffiliateEmail,
            &[
                "affiliateemail",
                "partneremail",
                "promoteremail",
                "referreremail",
                "affiliate",
                "partner",
                "promoter",
            ],
        ),
        (
            Referrals,
            AffiliateCode,
            &[
                "token",
                "referralcode",
                "affiliatecode",
                "affiliatetoken",
                "refid",
                "partnerkey",
                "promotercode",
                "code",
                "via",
            ],
        ),
        (
            Referrals,
            AffiliateId,
            &["affiliateid", "partnerid", "promoterid"],
        ),
        (
            Referrals,
            CustomerId,
            &[
                "customerid",
                "stripecustomerid",
                "customerkey",
                "uid",
                "customeruid",
                "customeridentifier",
                "id",
            ],
        ),
        (
            Referrals,
            CustomerEmail,
            &[
                "customeremail",
                "email",
                "emailaddress",
                "customeremailidentifier",
                "leademail",
            ],
        ),
        (
            Commissions,
            AffiliateEmail,
            &[
                "affiliateemail",
                "partneremail",
                "promoteremail",
                "referreremail",
                "affiliate",
                "partner",
                "promoter",
            ],
        ),
        (
            Commissions,
            AffiliateCode,
            &[
                "token",
                "referralcode",
                "affiliatecode",
                "affiliatetoken",
                "refid",
                "partnerkey",
                "promotercode",
                "code",
            ],
        ),
        (
            Commissions,
            AffiliateId,
            &["affiliateid", "partnerid", "promoterid"],
        ),
        (
            Commissions,
            Amount,
            &[
                "amount",
                "commission",
                "commissionamount",
                "rewardamount",
                "reward",
                "earnings",
                "payoutamount",
            ],
        ),
        (
            Commissions,
            AmountCents,
            &[
                "amountcents",
                "amountincents",
                "commissioncents",
                "rewardcents",
            ],
        ),
        (
            Commissions,
            Currency,
            &["currency", "currencycode", "originalcurrency"],
        ),
        (
            Commissions,
            Status,
            &[
                "status",
                "state",
                "commissionstatus",
                "rewardstatus",
                "payoutstatus",
            ],
        ),
    ]
};

/// Names only one tool uses (its own words for a field), on top of [`COMMON`].
fn own_names(provider: Provider) -> &'static [(FileKind, Field, &'static [&'static str])] {
    use Field::*;
    use FileKind::*;
    match provider {
        Provider::Rewardful => &[(Affiliates, Code, &["via", "affiliatelink"])],
        Provider::FirstPromoter => &[
            (Affiliates, Code, &["fpr", "defaultrefid", "promotertoken"]),
            (Referrals, AffiliateCode, &["fpr", "fpref"]),
        ],
        Provider::Tolt => &[
            (Affiliates, Code, &["ref", "aff", "via", "partnercode"]),
            (Referrals, AffiliateCode, &["ref", "aff"]),
            (Commissions, AffiliateCode, &["ref", "aff"]),
        ],
        Provider::PartnerStack => &[
            (Affiliates, Code, &["key", "gspk"]),
            (Affiliates, Name, &["partner"]),
            (Referrals, AffiliateCode, &["key"]),
            (Commissions, AffiliateCode, &["key"]),
        ],
    }
}

/// A header as compared: lower-case letters and digits only.
pub fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// How a file's header row maps to fields.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Mapping {
    /// Field → column index (the first matching column wins; later duplicates are
    /// reported as unknown).
    #[serde(skip)]
    pub index: BTreeMap<Field, usize>,
    /// Each recognised column: (header as written, field).
    pub recognised: Vec<(String, Field)>,
    /// Headers that match no field, as written: their values are not imported.
    pub unknown: Vec<String>,
}

impl Mapping {
    /// Matches `headers` of a `kind` file of `provider`.
    pub fn new(provider: Provider, kind: FileKind, headers: &[String]) -> Self {
        let mut m = Self::default();
        for (i, header) in headers.iter().enumerate() {
            let name = normalise(header);
            let field = own_names(provider)
                .iter()
                .chain(COMMON)
                .filter(|(k, _, _)| *k == kind)
                .find(|(_, _, names)| names.contains(&name.as_str()))
                .map(|(_, f, _)| *f);
            match field {
                Some(f) if !m.index.contains_key(&f) => {
                    m.index.insert(f, i);
                    m.recognised.push((header.clone(), f));
                }
                _ => m.unknown.push(header.clone()),
            }
        }
        m
    }

    /// Whether the file has a column for `field`.
    pub fn has(&self, field: Field) -> bool {
        self.index.contains_key(&field)
    }

    /// The trimmed, non-empty value of `field` in `row`.
    pub fn get<'a>(&self, row: &'a [String], field: Field) -> Option<&'a str> {
        self.index
            .get(&field)
            .and_then(|i| row.get(*i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn headers_match_whatever_their_spelling() {
        let m = Mapping::new(
            Provider::Rewardful,
            FileKind::Affiliates,
            &headers(&[
                "Affiliate Email",
                "first_name",
                "LAST-NAME",
                "Token",
                "Colour",
            ]),
        );
        assert_eq!(m.index[&Field::Email], 0);
        assert_eq!(m.index[&Field::FirstName], 1);
        assert_eq!(m.index[&Field::LastName], 2);
        assert_eq!(m.index[&Field::Code], 3);
        assert_eq!(m.unknown, ["Colour"]);
    }

    #[test]
    fn a_second_column_for_the_same_field_is_reported() {
        let m = Mapping::new(
            Provider::Tolt,
            FileKind::Affiliates,
            &headers(&["Email", "Email address"]),
        );
        assert_eq!(m.index[&Field::Email], 0);
        assert_eq!(m.unknown, ["Email address"]);
    }

    #[test]
    fn provider_words_apply_to_their_provider_only() {
        let h = headers(&["Email", "key"]);
        assert!(Mapping::new(Provider::PartnerStack, FileKind::Affiliates, &h).has(Field::Code));
        assert!(!Mapping::new(Provider::Rewardful, FileKind::Affiliates, &h).has(Field::Code));
    }
}
