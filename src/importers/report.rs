//! What an import did, row by row: created, merged (an existing affiliate with the same
//! email), unchanged (already imported) or refused (with the reason and line).

use serde::Serialize;

use super::Provider;
use super::columns::{FileKind, Mapping};

/// The outcome of one row (or one opening balance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written now.
    Created,
    /// Joined to an affiliate that existed with the same email.
    Merged,
    /// Already there: nothing written.
    Unchanged,
    /// Not imported; `detail` says why.
    Refused,
}

impl Outcome {
    /// `created`, `merged`, `unchanged` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Merged => "merged",
            Self::Unchanged => "unchanged",
            Self::Refused => "refused",
        }
    }
}

/// What a report line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// An affiliate and its enrollment.
    Affiliate,
    /// A referred customer.
    Referral,
    /// A commission row (reported only when refused: accepted rows make opening balances).
    Commission,
    /// An opening balance of one affiliate in one currency and state.
    OpeningBalance,
}

impl Subject {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Affiliate => "affiliate",
            Self::Referral => "referral",
            Self::Commission => "commission",
            Self::OpeningBalance => "opening balance",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// The file.
    pub file: FileKind,
    /// Line number in that file (1 is the header).
    pub line: usize,
    /// What it is about.
    pub subject: Subject,
    /// Who or what (an email, a customer id, "USD paid").
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why (refused) or what to know (a normalised code, a code kept).
    pub detail: Option<String>,
}

/// Counts of one subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Created.
    pub created: u64,
    /// Merged.
    pub merged: u64,
    /// Unchanged.
    pub unchanged: u64,
    /// Refused.
    pub refused: u64,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Merged => self.merged += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Refused => self.refused += 1,
        }
    }

    /// Whether anything was (or, in a dry run, would be) written.
    pub fn changed(&self) -> bool {
        self.created + self.merged > 0
    }
}

/// How one file was read.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Which file.
    pub kind: FileKind,
    /// Data rows read.
    pub rows: usize,
    /// Its columns.
    pub columns: Mapping,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The tool imported from.
    pub provider: Provider,
    /// The program imported into.
    pub program_id: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// The files read.
    pub files: Vec<FileReport>,
    /// Affiliates.
    pub affiliates: Counts,
    /// Referred customers.
    pub referrals: Counts,
    /// Opening balances (commission rows only count when refused).
    pub opening_balances: Counts,
    /// Commission rows refused.
    pub commissions_refused: u64,
    /// Every line, in file order.
    pub lines: Vec<Line>,
    /// Notes on the whole import (columns ignored and why).
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report.
    pub fn new(provider: Provider, program_id: &str, dry_run: bool) -> Self {
        Self {
            provider,
            program_id: program_id.to_owned(),
            dry_run,
            files: Vec::new(),
            affiliates: Counts::default(),
            referrals: Counts::default(),
            opening_balances: Counts::default(),
            commissions_refused: 0,
            lines: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records one line and counts it.
    pub fn push(&mut self, line: Line) {
        match line.subject {
            Subject::Affiliate => self.affiliates.add(line.outcome),
            Subject::Referral => self.referrals.add(line.outcome),
            Subject::OpeningBalance => self.opening_balances.add(line.outcome),
            Subject::Commission => self.commissions_refused += 1,
        }
        self.lines.push(line);
    }

    /// Whether the import wrote (or would write) anything.
    pub fn changed(&self) -> bool {
        self.affiliates.changed() || self.referrals.changed() || self.opening_balances.changed()
    }

    /// The report as text lines: a summary, the columns not imported, then every line
    /// that is not "unchanged".
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let verb = if self.dry_run {
            "dry run (nothing written)"
        } else {
            "imported"
        };
        out.push(format!(
            "{} from {} into program {}",
            verb,
            self.provider.label(),
            self.program_id
        ));
        for (name, c) in [
            ("affiliates", self.affiliates),
            ("referrals", self.referrals),
            ("opening balances", self.opening_balances),
        ] {
            out.push(format!(
                "  {name}: {} created, {} merged, {} unchanged, {} refused",
                c.created, c.merged, c.unchanged, c.refused
            ));
        }
        if self.commissions_refused > 0 {
            out.push(format!(
                "  commission rows refused: {}",
                self.commissions_refused
            ));
        }
        for f in &self.files {
            if !f.columns.unknown.is_empty() {
                out.push(format!(
                    "  {} file: unknown columns, not imported: {}",
                    f.kind.as_str(),
                    f.columns.unknown.join(", ")
                ));
            }
        }
        for n in &self.notes {
            out.push(format!("  note: {n}"));
        }
        for l in self
            .lines
            .iter()
            .filter(|l| l.outcome != Outcome::Unchanged || l.detail.is_some())
        {
            out.push(format!(
                "  {} line {}: {} {} {}{}",
                l.file.as_str(),
                l.line,
                l.subject.as_str(),
                l.name,
                l.outcome.as_str(),
                l.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ));
        }
        out
    }
}
