//! Writing the rows of an import: affiliates (created, or merged into the affiliate with
//! the same email), referred customers, and opening balances from commission history.

use std::collections::{BTreeMap, HashMap};

use crate::db::{self, Conn, programs::ProgramRow};
use crate::domain::earnings::ledger;
use crate::domain::partners::affiliates::generate_code;
use crate::domain::partners::affiliates::profile::{AffiliateInput, Enrollment, insert_enrolled};
use crate::domain::partners::terms::parse_amount;
use crate::domain::values::money::MAX_CENTS;
use crate::domain::values::{Email, currency::Currency, slug};
use crate::error::{AppError, AppResult};

use super::Provider;
use super::columns::{Field, FileKind, Mapping, normalise};
use super::report::{Line, Outcome, Report, Subject};

/// An affiliate of this import with its enrollment in the program.
#[derive(Debug, Clone)]
struct Known {
    affiliate_id: String,
    enrollment_id: String,
    code: String,
    email: String,
}

/// The states an opening balance can be in, by index: held, owed, paid.
const STATES: [&str; 3] = ["pending", "available", "paid"];

/// An amount of one state with the line it was first seen on.
#[derive(Debug, Clone, Default)]
struct Bucket {
    cents: i64,
    origin: Option<(FileKind, usize)>,
}

/// Opening balances gathered from the rows, per (affiliate id, currency): the affiliate's
/// email and the amounts per state.
#[derive(Debug, Default)]
pub(super) struct Balances(BTreeMap<(String, String), (String, [Bucket; 3])>);

impl Balances {
    fn add(
        &mut self,
        who: &Known,
        currency: &str,
        state: usize,
        cents: i64,
        origin: (FileKind, usize),
    ) -> bool {
        let entry = self
            .0
            .entry((who.affiliate_id.clone(), currency.to_owned()))
            .or_insert_with(|| (who.email.clone(), Default::default()));
        let bucket = &mut entry.1[state];
        match bucket.cents.checked_add(cents).filter(|c| *c <= MAX_CENTS) {
            Some(sum) => {
                bucket.cents = sum;
                bucket.origin.get_or_insert(origin);
                true
            }
            None => false,
        }
    }
}

/// The state of an import in progress.
pub(super) struct Context<'a> {
    vendor_id: &'a str,
    provider: Provider,
    program: &'a ProgramRow,
    /// Affiliates of this run by lower-case email (each is reported once).
    by_email: HashMap<String, Known>,
    /// Their codes → the lower-case email.
    by_code: HashMap<String, String>,
}

/// What a row's affiliate column names.
enum Who<'r> {
    Email(&'r str),
    Code(String),
    External(&'r str),
}

impl<'a> Context<'a> {
    pub(super) fn new(vendor_id: &'a str, provider: Provider, program: &'a ProgramRow) -> Self {
        Self {
            vendor_id,
            provider,
            program,
            by_email: HashMap::new(),
            by_code: HashMap::new(),
        }
    }

    /// One row of the affiliates file. `Ok(false)`: refused, undo its writes.
    pub(super) async fn affiliate_row(
        &mut self,
        conn: &mut Conn,
        m: &Mapping,
        line: usize,
        row: &[String],
        report: &mut Report,
    ) -> AppResult<bool> {
        let file = FileKind::Affiliates;
        let raw = m.get(row, Field::Email).unwrap_or_default();
        let refuse = |report: &mut Report, name: &str, why: String| {
            report.push(Line {
                file,
                line,
                subject: Subject::Affiliate,
                name: name.to_owned(),
                outcome: Outcome::Refused,
                detail: Some(why),
            });
        };
        let email = match Email::parse("email", raw) {
            Ok(e) => e.as_str().to_owned(),
            Err(_) if raw.is_empty() => {
                refuse(report, "(no email)", "the row has no email".into());
                return Ok(false);
            }
            Err(_) => {
                refuse(report, raw, "not an email address".into());
                return Ok(false);
            }
        };
        let key = email.to_lowercase();
        if !self.by_email.contains_key(&key) {
            match self.affiliate(conn, m, row, &email).await {
                Ok((known, outcome, detail)) => {
                    report.push(Line {
                        file,
                        line,
                        subject: Subject::Affiliate,
                        name: email.clone(),
                        outcome,
                        detail,
                    });
                    self.by_code.insert(known.code.clone(), key.clone());
                    self.by_email.insert(key.clone(), known);
                }
                Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
                    refuse(report, &email, e.to_string());
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        // Rewardful's template has one row per referred customer, the affiliate repeated.
        let customer = m.get(row, Field::CustomerId);
        if let (Some(customer), Some(known)) = (customer, self.by_email.get(&key).cloned()) {
            let email = m
                .get(row, Field::CustomerEmail)
                .and_then(|e| Email::parse("customer_email", e).ok());
            self.bind(
                conn,
                &known,
                customer,
                email.as_ref().map(Email::as_str),
                (file, line),
                report,
            )
            .await?;
        }
        Ok(true)
    }

    /// Creates the affiliate of a row, or merges the row into the affiliate with its email.
    async fn affiliate(
        &mut self,
        conn: &mut Conn,
        m: &Mapping,
        row: &[String],
        email: &str,
    ) -> AppResult<(Known, Outcome, Option<String>)> {
        // Without an id column the email is the old tool's key for the affiliate.
        let external_id = m.get(row, Field::ExternalId).unwrap_or(email).to_owned();
        let source = self.provider.as_str();
        let existing = match db::affiliates::by_email(&mut *conn, self.vendor_id, email).await? {
            Some(a) => Some(a),
            None => {
                db::affiliates::by_external(&mut *conn, self.vendor_id, source, &external_id)
                    .await?
            }
        };
        let wanted = m.get(row, Field::Code);
        let Some(a) = existing else {
            let (code, note) = self.code_for(conn, wanted, email).await?;
            let payout = payout_of(m, row);
            let input = AffiliateInput {
                email: Some(email.to_owned()),
                name: m.get(row, Field::Name).map(str::to_owned),
                first_name: m.get(row, Field::FirstName).map(str::to_owned),
                last_name: m.get(row, Field::LastName).map(str::to_owned),
                company: m.get(row, Field::Company).map(|c| Some(c.to_owned())),
                website: m.get(row, Field::Website).map(|w| Some(w.to_owned())),
                payout_method: payout
                    .as_ref()
                    .map(|(method, _)| Some((*method).to_owned())),
                payout_email: payout.map(|(_, e)| Some(e)),
                external_source: Some(Some(source.to_owned())),
                external_id: Some(Some(external_id)),
                send_invite: Some(false),
                ..AffiliateInput::default()
            };
            let (id, code) = insert_enrolled(
                conn,
                self.vendor_id,
                &input,
                Enrollment {
                    program: self.program,
                    code: Some(code),
                    status: "active",
                },
            )
            .await?;
            let enrollment =
                db::affiliates::enrollment_in(&mut *conn, self.vendor_id, &id, &self.program.id)
                    .await?
                    .ok_or(AppError::NotFound)?;
            let known = Known {
                affiliate_id: id,
                enrollment_id: enrollment.id,
                code,
                email: email.to_owned(),
            };
            return Ok((known, Outcome::Created, note));
        };
        let mut changed = false;
        let mut notes = Vec::new();
        if a.external_id.is_none() {
            changed |= db::affiliates::stamp_external(
                &mut *conn,
                self.vendor_id,
                &a.id,
                source,
                &external_id,
            )
            .await?;
        }
        let enrollment =
            db::affiliates::enrollment_in(&mut *conn, self.vendor_id, &a.id, &self.program.id)
                .await?;
        let (enrollment_id, code) = match enrollment {
            Some(e) => {
                if let Some(w) = wanted
                    && slug::normalize_code(w).as_deref() != Some(e.code.as_str())
                {
                    notes.push(format!(
                        "keeps its code {}; the {} code {w} was not applied (links with it do not attribute)",
                        e.code,
                        self.provider.label()
                    ));
                }
                (e.id, e.code)
            }
            None => {
                let (code, note) = self.code_for(conn, wanted, email).await?;
                notes.extend(note);
                let status = if a.status == "invited" {
                    "active"
                } else {
                    a.status.as_str()
                };
                let id = db::affiliates::enroll(
                    &mut *conn,
                    self.vendor_id,
                    &a.id,
                    &self.program.id,
                    &code,
                    status,
                    None,
                    self.program.current_terms_version,
                )
                .await?;
                changed = true;
                (id, code)
            }
        };
        let known = Known {
            affiliate_id: a.id,
            enrollment_id,
            code,
            email: a.email,
        };
        let outcome = if changed {
            Outcome::Merged
        } else {
            Outcome::Unchanged
        };
        let detail = (!notes.is_empty()).then(|| notes.join("; "));
        Ok((known, outcome, detail))
    }

    /// The code a new enrollment gets: the old tool's when it is a valid free code, else a
    /// normalised or generated one (with a note saying so). A valid code another affiliate
    /// holds refuses the row: old links would otherwise credit that affiliate.
    async fn code_for(
        &self,
        conn: &mut Conn,
        wanted: Option<&str>,
        email: &str,
    ) -> AppResult<(String, Option<String>)> {
        let base = email.split('@').next().unwrap_or("partner");
        let Some(raw) = wanted else {
            return Ok((generate_code(conn, base).await?, None));
        };
        if let Some(code) = slug::normalize_code(raw) {
            if db::affiliates::code_taken(&mut *conn, &code).await? {
                return Err(AppError::duplicate(
                    "code",
                    format!(
                        "the referral code {code} belongs to another affiliate here: change one \
                         of them, or empty the code cell to get a new code"
                    ),
                ));
            }
            return Ok((code, None));
        }
        let normalised = slug::slugify(raw, 40, "");
        let code = if normalised.len() >= 3
            && !db::affiliates::code_taken(&mut *conn, &normalised).await?
        {
            normalised
        } else {
            generate_code(conn, base).await?
        };
        let note = format!(
            "the code {raw:?} is not a valid code here (3-40 of a-z, 0-9, - and _): given {code}; \
             links with the old code do not attribute"
        );
        Ok((code, Some(note)))
    }

    /// The affiliate a referrals or commissions row names: by email, code or old id, in
    /// this run first, then among the program's enrollments.
    async fn resolve(
        &self,
        conn: &mut Conn,
        m: &Mapping,
        row: &[String],
    ) -> AppResult<Option<Known>> {
        let who = if let Some(v) = m.get(row, Field::AffiliateEmail) {
            if v.contains('@') {
                Who::Email(v)
            } else {
                Who::Code(v.to_ascii_lowercase())
            }
        } else if let Some(v) = m.get(row, Field::AffiliateCode) {
            Who::Code(v.to_ascii_lowercase())
        } else if let Some(v) = m.get(row, Field::AffiliateId) {
            Who::External(v)
        } else {
            return Ok(None);
        };
        let (vendor, program) = (self.vendor_id, self.program.id.as_str());
        let affiliate = match who {
            Who::Email(e) => {
                if let Some(k) = self.by_email.get(&e.to_lowercase()) {
                    return Ok(Some(k.clone()));
                }
                db::affiliates::by_email(&mut *conn, vendor, e).await?
            }
            Who::Code(code) => {
                if let Some(k) = self.by_code.get(&code).and_then(|e| self.by_email.get(e)) {
                    return Ok(Some(k.clone()));
                }
                return Ok(
                    db::imports::enrollment_by_code(&mut *conn, vendor, program, &code)
                        .await?
                        .map(|(enrollment_id, affiliate_id, email)| Known {
                            affiliate_id,
                            enrollment_id,
                            code,
                            email,
                        }),
                );
            }
            Who::External(id) => {
                db::affiliates::by_external(&mut *conn, vendor, self.provider.as_str(), id).await?
            }
        };
        let Some(a) = affiliate else {
            return Ok(None);
        };
        Ok(
            db::affiliates::enrollment_in(&mut *conn, vendor, &a.id, program)
                .await?
                .map(|e| Known {
                    affiliate_id: a.id,
                    enrollment_id: e.id,
                    code: e.code,
                    email: a.email,
                }),
        )
    }

    /// One row of the referrals file. `Ok(false)`: refused.
    pub(super) async fn referral_row(
        &mut self,
        conn: &mut Conn,
        m: &Mapping,
        file: FileKind,
        line: usize,
        row: &[String],
        report: &mut Report,
    ) -> AppResult<bool> {
        let customer_email = m
            .get(row, Field::CustomerEmail)
            .and_then(|e| Email::parse("customer_email", e).ok());
        let customer = m
            .get(row, Field::CustomerId)
            .or(customer_email.as_ref().map(Email::as_str));
        let name = customer.unwrap_or("(no customer)").to_owned();
        let refuse = |report: &mut Report, why: &str| {
            report.push(Line {
                file,
                line,
                subject: Subject::Referral,
                name: name.clone(),
                outcome: Outcome::Refused,
                detail: Some(why.to_owned()),
            });
        };
        let Some(customer) = customer else {
            refuse(report, "the row names no customer (id or email)");
            return Ok(false);
        };
        let Some(known) = self.resolve(conn, m, row).await? else {
            refuse(
                report,
                "the row's affiliate is not in this program (by email, code or id)",
            );
            return Ok(false);
        };
        self.bind(
            conn,
            &known,
            customer,
            customer_email.as_ref().map(Email::as_str),
            (file, line),
            report,
        )
        .await
    }

    /// Binds a referred customer to an affiliate's enrollment, unless bound already.
    async fn bind(
        &self,
        conn: &mut Conn,
        known: &Known,
        customer: &str,
        email: Option<&str>,
        (file, line): (FileKind, usize),
        report: &mut Report,
    ) -> AppResult<bool> {
        let existing =
            db::referrals::by_customer(&mut *conn, self.vendor_id, &self.program.id, customer)
                .await?;
        let (outcome, detail) = match existing {
            Some(r) if r.enrollment_id == known.enrollment_id => (Outcome::Unchanged, None),
            Some(r) => (
                Outcome::Refused,
                Some(format!(
                    "this customer is already referred by another affiliate (code {})",
                    r.code
                )),
            ),
            None => {
                let binding = db::referrals::Binding {
                    vendor_id: self.vendor_id,
                    program_id: &self.program.id,
                    enrollment_id: &known.enrollment_id,
                    affiliate_id: &known.affiliate_id,
                    customer_id: customer,
                    email,
                    click_id: None,
                    code: &known.code,
                    source: "import",
                    touched_at: db::now_ms(),
                };
                match db::referrals::insert(&mut *conn, &binding).await? {
                    Some(_) => (Outcome::Created, None),
                    None => (
                        Outcome::Refused,
                        Some("this customer was bound by someone else meanwhile".into()),
                    ),
                }
            }
        };
        report.push(Line {
            file,
            line,
            subject: Subject::Referral,
            name: customer.to_owned(),
            outcome,
            detail,
        });
        Ok(outcome != Outcome::Refused)
    }

    /// One row of the commissions file: its amount joins its affiliate's opening balance
    /// (written at the end); a row that cannot is reported as refused.
    pub(super) async fn commission_row(
        &mut self,
        conn: &mut Conn,
        m: &Mapping,
        line: usize,
        row: &[String],
        balances: &mut Balances,
        report: &mut Report,
    ) -> AppResult<()> {
        let file = FileKind::Commissions;
        let refuse = |report: &mut Report, name: &str, why: String| {
            report.push(Line {
                file,
                line,
                subject: Subject::Commission,
                name: name.to_owned(),
                outcome: Outcome::Refused,
                detail: Some(why),
            });
        };
        let Some(known) = self.resolve(conn, m, row).await? else {
            let named = [
                Field::AffiliateEmail,
                Field::AffiliateCode,
                Field::AffiliateId,
            ]
            .into_iter()
            .find_map(|f| m.get(row, f))
            .unwrap_or("(no affiliate)");
            refuse(
                report,
                named,
                "the row's affiliate is not in this program (by email, code or id)".into(),
            );
            return Ok(());
        };
        let status = m.get(row, Field::Status).unwrap_or_default();
        let state = match state_of(status) {
            Ok(s) => s,
            Err(why) => {
                refuse(report, &known.email, why);
                return Ok(());
            }
        };
        // The currency first: a decimal amount is read in its minor units.
        let currency = match m.get(row, Field::Currency) {
            Some(c) => match Currency::parse("currency", c) {
                Ok(c) => c.as_str().to_owned(),
                Err(e) => {
                    refuse(report, &known.email, e.to_string());
                    return Ok(());
                }
            },
            None => self.program.currency.clone(),
        };
        let cents = match cents_of(m, row, Field::Amount, Field::AmountCents, &currency) {
            Ok(c) if c > 0 => c,
            Ok(_) => {
                refuse(report, &known.email, "the amount is zero or negative (refunds are not imported: give net commissions)".into());
                return Ok(());
            }
            Err(why) => {
                refuse(report, &known.email, why);
                return Ok(());
            }
        };
        if !balances.add(&known, &currency, state, cents, (file, line)) {
            refuse(
                report,
                &known.email,
                format!("the total is above {MAX_CENTS} minor units"),
            );
        }
        Ok(())
    }

    /// The earned / paid / unpaid totals of an affiliates row (tools whose affiliate export
    /// carries them), when no commissions file is given.
    pub(super) fn totals_row(
        &self,
        m: &Mapping,
        line: usize,
        row: &[String],
        balances: &mut Balances,
        report: &mut Report,
    ) {
        let file = FileKind::Affiliates;
        let email = m.get(row, Field::Email).unwrap_or_default().to_lowercase();
        let Some(known) = self.by_email.get(&email) else {
            return;
        };
        let refuse = |report: &mut Report, why: String| {
            report.push(Line {
                file,
                line,
                subject: Subject::Commission,
                name: known.email.clone(),
                outcome: Outcome::Refused,
                detail: Some(why),
            });
        };
        // The currency first: decimal totals are read in its minor units.
        let currency = match m.get(row, Field::Currency) {
            Some(c) => match Currency::parse("currency", c) {
                Ok(c) => c.as_str().to_owned(),
                Err(e) => {
                    refuse(report, e.to_string());
                    return;
                }
            },
            None => self.program.currency.clone(),
        };
        let total = |field: Field| -> Result<Option<i64>, String> {
            if m.get(row, field).is_none() {
                return Ok(None);
            }
            cents_of(m, row, field, field, &currency).map(Some)
        };
        let (earned, paid, unpaid) = match (
            total(Field::EarnedTotal),
            total(Field::PaidTotal),
            total(Field::UnpaidTotal),
        ) {
            (Ok(e), Ok(p), Ok(u)) => (e, p, u),
            (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => {
                refuse(report, why);
                return;
            }
        };
        let paid = paid.unwrap_or(0);
        let unpaid = match (unpaid, earned) {
            (Some(u), _) => u,
            (None, Some(e)) => e - paid,
            (None, None) => 0,
        };
        if paid < 0 || unpaid < 0 {
            refuse(
                report,
                "earned is less than paid, or an amount is negative".into(),
            );
            return;
        }
        for (state, cents) in [(1, unpaid), (2, paid)] {
            if cents > 0 && !balances.add(known, &currency, state, cents, (file, line)) {
                refuse(
                    report,
                    format!("the total is above {MAX_CENTS} minor units"),
                );
            }
        }
    }

    /// Writes the opening balances: per affiliate and currency one conversion and one
    /// commission per state, and one balanced ledger transaction. An opening balance
    /// imported before (found by its external id) is unchanged when its amount is the same
    /// and refused when it differs: history is never rewritten by a second import.
    pub(super) async fn post_balances(
        &self,
        conn: &mut Conn,
        balances: Balances,
        report: &mut Report,
    ) -> AppResult<()> {
        let now = db::now_ms();
        for ((affiliate_id, currency), (email, buckets)) in balances.0 {
            let enrollment = db::affiliates::enrollment_in(
                &mut *conn,
                self.vendor_id,
                &affiliate_id,
                &self.program.id,
            )
            .await?
            .ok_or(AppError::NotFound)?;
            let mut fresh = Vec::new();
            for (state, bucket) in buckets.iter().enumerate() {
                let Some((file, line)) = bucket.origin else {
                    continue;
                };
                let name = format!("{email} {currency} {}", STATES[state]);
                let external_id = format!(
                    "import:{}:{}:{affiliate_id}:{currency}",
                    self.provider.as_str(),
                    STATES[state]
                );
                let before =
                    db::conversions::by_external_id(&mut *conn, &self.program.id, &external_id)
                        .await?;
                let (outcome, detail) = match before {
                    Some(c) if c.amount_cents == bucket.cents && c.currency == currency => {
                        (Outcome::Unchanged, None)
                    }
                    Some(c) => (
                        Outcome::Refused,
                        Some(format!(
                            "an opening balance of {} {} was imported before and the file now says {}: \
                             it is not changed (adjust it by hand)",
                            c.amount_cents, c.currency, bucket.cents
                        )),
                    ),
                    None => {
                        let held = state == 0;
                        let available_at = if held {
                            now + self.program.holding_period_days * 86_400_000
                        } else {
                            now
                        };
                        let conversion = db::conversions::insert(
                            &mut *conn,
                            &db::conversions::NewConversion {
                                vendor_id: self.vendor_id,
                                program_id: &self.program.id,
                                enrollment_id: &enrollment.id,
                                affiliate_id: &affiliate_id,
                                referral_id: None,
                                customer_id: None,
                                source: "import",
                                trigger_type: "opening_balance",
                                external_id: Some(&external_id),
                                refs: db::conversions::PaymentRefs::default(),
                                subscription_id: None,
                                amount_cents: bucket.cents,
                                currency: &currency,
                                status: if held { "pending" } else { "approved" },
                                reason: None,
                                occurred_at: now,
                                available_at,
                            },
                        )
                        .await?;
                        let rule = format!("opening balance from {}", self.provider.label());
                        db::commissions::insert(
                            &mut *conn,
                            &db::commissions::NewCommission {
                                vendor_id: self.vendor_id,
                                program_id: &self.program.id,
                                conversion_id: &conversion.id,
                                affiliate_id: &affiliate_id,
                                level: 0,
                                currency: &currency,
                                amount_cents: bucket.cents,
                                bps: None,
                                rule: &rule,
                                status: STATES[state],
                                available_at,
                            },
                        )
                        .await?;
                        fresh.extend(
                            db::commissions::for_conversion(
                                &mut *conn,
                                self.vendor_id,
                                &conversion.id,
                            )
                            .await?,
                        );
                        (Outcome::Created, None)
                    }
                };
                report.push(Line {
                    file,
                    line,
                    subject: Subject::OpeningBalance,
                    name,
                    outcome,
                    detail,
                });
            }
            ledger::opening_balance(conn, self.vendor_id, &fresh).await?;
        }
        Ok(())
    }
}

/// The opening-balance state of a commission status (index into [`STATES`]), or why the
/// row is not imported.
fn state_of(status: &str) -> Result<usize, String> {
    match normalise(status).as_str() {
        "paid" | "paidout" | "payoutsent" | "completed" | "settled" => Ok(2),
        "" | "approved" | "unpaid" | "due" | "available" | "payable" | "owed" | "confirmed"
        | "active" | "reward" => Ok(1),
        "pending" | "hold" | "onhold" | "held" | "inreview" | "waiting" => Ok(0),
        "rejected" | "denied" | "declined" | "refunded" | "refund" | "cancelled" | "canceled"
        | "void" | "voided" | "fraud" => Err(format!("status {status}: not owed, not imported")),
        _ => Err(format!(
            "unknown status {status:?} (paid, approved/unpaid or pending are imported)"
        )),
    }
}

/// An amount of a row in minor units: the minor-units column as is, else the amount
/// column read as a decimal (`1,234.50`, `$12.5`, `12,50`) in `currency`'s minor units
/// (`1,500` yen is 1500; `1500.5` yen is refused: yen have no minor unit).
fn cents_of(
    m: &Mapping,
    row: &[String],
    major: Field,
    minor: Field,
    currency: &str,
) -> Result<i64, String> {
    if minor != major
        && let Some(v) = m.get(row, minor)
    {
        return v
            .parse::<i64>()
            .map_err(|_| format!("{v:?} is not a whole number of minor units"));
    }
    let raw = m.get(row, major).ok_or("the row has no amount")?;
    let negative = raw.contains('-');
    let mut s: String = raw
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    // A decimal comma ("12,50") when there is no point and two digits after the last comma.
    if !s.contains('.')
        && let Some(i) = s.rfind(',')
        && s.len() - i == 3
    {
        s.replace_range(i..=i, ".");
    }
    let s = s.replace(',', "");
    let cents = parse_amount("amount", &s, currency).map_err(|e| match e {
        AppError::Invalid { message, .. } => format!("{raw:?}: {message}"),
        _ => format!("{raw:?} is not an amount"),
    })?;
    Ok(if negative { -cents } else { cents })
}

/// PayPal or Wise payout destination of a row, when its email is valid.
fn payout_of(m: &Mapping, row: &[String]) -> Option<(&'static str, String)> {
    let valid = |f: Field| {
        m.get(row, f)
            .and_then(|e| Email::parse("payout_email", e).ok())
            .map(|e| e.as_str().to_owned())
    };
    valid(Field::PaypalEmail)
        .map(|e| ("paypal", e))
        .or_else(|| valid(Field::WiseEmail).map(|e| ("wise", e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_write_them() {
        let m = Mapping::new(
            Provider::Tolt,
            FileKind::Commissions,
            &["Partner Email".to_owned(), "Amount".to_owned()],
        );
        let cents = |v: &str| {
            cents_of(
                &m,
                &["a@b.c".to_owned(), v.to_owned()],
                Field::Amount,
                Field::AmountCents,
                "USD",
            )
        };
        let yen = |v: &str| {
            cents_of(
                &m,
                &["a@b.c".to_owned(), v.to_owned()],
                Field::Amount,
                Field::AmountCents,
                "JPY",
            )
        };
        assert_eq!(yen("¥1,500"), Ok(1500));
        assert!(yen("1500.5").unwrap_err().contains("JPY has no minor unit"));
        assert_eq!(cents("12.50"), Ok(1250));
        assert_eq!(cents("$1,234.5"), Ok(123_450));
        assert_eq!(cents("12,50"), Ok(1250));
        assert_eq!(cents("-3"), Ok(-300));
        assert!(cents("twelve").is_err());
    }

    #[test]
    fn statuses_map_to_states() {
        assert_eq!(state_of("Paid"), Ok(2));
        assert_eq!(state_of("approved"), Ok(1));
        assert_eq!(state_of("Pending"), Ok(0));
        assert!(state_of("Denied").unwrap_err().contains("not owed"));
        assert!(state_of("weird").unwrap_err().contains("unknown"));
    }
}
