//! Importers from other affiliate tools: Rewardful, FirstPromoter, Tolt and PartnerStack
//! (`affilia import <tool> <file.csv> --vendor <slug>`, and Dashboard → Import).
//!
//! Each reads the tool's affiliate CSV export and, optionally, a referrals export and a
//! commissions export. Headers are matched by name, tolerantly ([`columns`]); the rows
//! become affiliates enrolled in one program with their old referral codes, referred
//! customers, and commission history as opening balances in the ledger.
//!
//! The whole import is one database transaction and each row a savepoint inside it: a row
//! that cannot be imported is refused (and reported with its line and reason) without
//! touching the others, and a dry run is the same work rolled back at the end, so its
//! report is exactly what the real run would do. Every write is keyed on something the
//! second run finds again (the email, the customer, the opening balance's external id), so
//! running an import twice changes nothing.

pub mod columns;
pub mod csv;
pub mod report;
mod rows;

use serde::Serialize;
use sqlx::Acquire;

use crate::db::{self, Db};
use crate::domain::partners::affiliates::profile::program_for;
use crate::domain::tenancy::audit::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::progress::Progress;

pub use columns::{Field, FileKind, Mapping};
pub use report::{Counts, Line, Outcome, Report, Subject};

/// The tools imported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Rewardful (`?via=` links).
    Rewardful,
    /// FirstPromoter (`?fpr=` / `?fp_ref=` links).
    FirstPromoter,
    /// Tolt (`?ref=` / `?via=` / `?aff=` links).
    Tolt,
    /// PartnerStack (`?gspk=` links).
    PartnerStack,
}

impl Provider {
    /// Every tool, in the order the CLI and dashboard list them.
    pub const ALL: [Provider; 4] = [
        Self::Rewardful,
        Self::FirstPromoter,
        Self::Tolt,
        Self::PartnerStack,
    ];

    /// The tool named `raw` (`rewardful`, `firstpromoter`, `tolt`, `partnerstack`, any
    /// case).
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// The word used on the command line and in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rewardful => "rewardful",
            Self::FirstPromoter => "firstpromoter",
            Self::Tolt => "tolt",
            Self::PartnerStack => "partnerstack",
        }
    }

    /// The tool's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Rewardful => "Rewardful",
            Self::FirstPromoter => "FirstPromoter",
            Self::Tolt => "Tolt",
            Self::PartnerStack => "PartnerStack",
        }
    }
}

/// The files of one import, as text.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// The affiliates export (required).
    pub affiliates: String,
    /// A referrals (customers) export.
    pub referrals: Option<String>,
    /// A commissions export.
    pub commissions: Option<String>,
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// The tool the files come from.
    pub provider: Provider,
    /// The program to enroll into (the vendor's default when `None`).
    pub program_id: Option<&'a str>,
    /// Roll everything back at the end: the report says what would happen.
    pub dry_run: bool,
    /// Show progress on stderr (the command line).
    pub progress: bool,
    /// Who imports (the audit log's actor).
    pub actor: &'a Actor,
}

/// Imports `files` into one of `vendor_id`'s programs. A file that cannot be read, or an
/// affiliates file without an email column, is refused (422) with nothing written; rows
/// that cannot be imported are refused one by one in the report.
pub async fn run(db: &Db, vendor_id: &str, opts: &Options<'_>, files: &Files) -> AppResult<Report> {
    let program = program_for(db, vendor_id, opts.program_id).await?;
    let affiliates = read(opts.provider, FileKind::Affiliates, &files.affiliates)?;
    let referrals = files
        .referrals
        .as_deref()
        .map(|t| read(opts.provider, FileKind::Referrals, t))
        .transpose()?;
    let commissions = files
        .commissions
        .as_deref()
        .map(|t| read(opts.provider, FileKind::Commissions, t))
        .transpose()?;
    let total = [Some(&affiliates), referrals.as_ref(), commissions.as_ref()]
        .into_iter()
        .flatten()
        .map(|f| f.table.rows.len() as u64)
        .sum();
    let mut progress = opts
        .progress
        .then(|| Progress::start("import", "rows", total));

    let mut report = Report::new(opts.provider, &program.id, opts.dry_run);
    for f in [Some(&affiliates), referrals.as_ref(), commissions.as_ref()]
        .into_iter()
        .flatten()
    {
        report.files.push(report::FileReport {
            kind: f.kind,
            rows: f.table.rows.len(),
            columns: f.mapping.clone(),
        });
    }
    let totals_in_affiliates = [Field::EarnedTotal, Field::PaidTotal, Field::UnpaidTotal]
        .into_iter()
        .any(|f| affiliates.mapping.has(f));
    let use_totals = totals_in_affiliates && commissions.is_none();
    if totals_in_affiliates && !use_totals {
        report.notes.push(
            "the affiliates file's earned / paid / unpaid columns are ignored: the commissions \
             file gives the history"
                .into(),
        );
    }

    let mut tx = db.begin().await?;
    let mut ctx = rows::Context::new(vendor_id, opts.provider, &program);
    let mut balances = rows::Balances::default();
    for (line, row) in &affiliates.table.rows {
        let mut sp = Acquire::begin(&mut tx).await?;
        let kept = ctx
            .affiliate_row(&mut sp, &affiliates.mapping, *line, row, &mut report)
            .await?;
        finish(sp, kept).await?;
        if use_totals {
            ctx.totals_row(&affiliates.mapping, *line, row, &mut balances, &mut report);
        }
        advance(&mut progress);
    }
    if let Some(f) = &referrals {
        for (line, row) in &f.table.rows {
            let mut sp = Acquire::begin(&mut tx).await?;
            let kept = ctx
                .referral_row(
                    &mut sp,
                    &f.mapping,
                    FileKind::Referrals,
                    *line,
                    row,
                    &mut report,
                )
                .await?;
            finish(sp, kept).await?;
            advance(&mut progress);
        }
    }
    if let Some(f) = &commissions {
        for (line, row) in &f.table.rows {
            ctx.commission_row(&mut tx, &f.mapping, *line, row, &mut balances, &mut report)
                .await?;
            advance(&mut progress);
        }
    }
    ctx.post_balances(&mut tx, balances, &mut report).await?;
    if report.changed() {
        audit::record(
            &mut *tx,
            vendor_id,
            opts.actor,
            "program.imported",
            ("program", Some(&program.id)),
            serde_json::json!({
                "provider": opts.provider.as_str(),
                "affiliates": report.affiliates,
                "referrals": report.referrals,
                "opening_balances": report.opening_balances,
            }),
        )
        .await?;
    }
    if opts.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
        if report.changed() {
            // New codes resolve at once on this instance.
            db::routing_changed();
        }
    }
    if let Some(p) = progress {
        p.finish();
    }
    report.lines.sort_by_key(|l| (file_order(l.file), l.line));
    Ok(report)
}

fn file_order(kind: FileKind) -> u8 {
    match kind {
        FileKind::Affiliates => 0,
        FileKind::Referrals => 1,
        FileKind::Commissions => 2,
    }
}

fn advance(progress: &mut Option<Progress>) {
    if let Some(p) = progress {
        p.advance(1);
    }
}

/// Keeps a row's writes (`true`) or undoes them (a refused row).
async fn finish(sp: sqlx::Transaction<'_, sqlx::Any>, keep: bool) -> AppResult<()> {
    if keep {
        sp.commit().await?;
    } else {
        sp.rollback().await?;
    }
    Ok(())
}

/// A file read and its columns matched.
struct Read {
    kind: FileKind,
    table: csv::Table,
    mapping: Mapping,
}

fn read(provider: Provider, kind: FileKind, text: &str) -> AppResult<Read> {
    let field = format!("{}_file", kind.as_str());
    let table = csv::parse(text)
        .map_err(|e| AppError::invalid(&field, format!("the {} file: {e}", kind.as_str())))?;
    let mapping = Mapping::new(provider, kind, &table.headers);
    let missing = |what: &str| {
        AppError::invalid(
            &field,
            format!(
                "the {} file has no {what} column (its columns: {})",
                kind.as_str(),
                table.headers.join(", ")
            ),
        )
    };
    match kind {
        FileKind::Affiliates => {
            if !mapping.has(Field::Email) {
                return Err(missing("email"));
            }
        }
        FileKind::Referrals | FileKind::Commissions => {
            if ![
                Field::AffiliateEmail,
                Field::AffiliateCode,
                Field::AffiliateId,
            ]
            .into_iter()
            .any(|f| mapping.has(f))
            {
                return Err(missing("affiliate (email, code or id)"));
            }
            if kind == FileKind::Referrals
                && !mapping.has(Field::CustomerId)
                && !mapping.has(Field::CustomerEmail)
            {
                return Err(missing("customer id or email"));
            }
            if kind == FileKind::Commissions
                && !mapping.has(Field::Amount)
                && !mapping.has(Field::AmountCents)
            {
                return Err(missing("amount"));
            }
        }
    }
    Ok(Read {
        kind,
        table,
        mapping,
    })
}
