//! Validated types and business services. Rules live here once; handlers and the CLI call
//! these functions, and the functions call `db` for storage.
//!
//! One folder per bounded context. A context imports only the contexts before it in this
//! list (a test, `context_imports_run_one_way`, keeps it so):
//!
//! 1. [`values`]: validated value types (money, currency, email, slugs, bounded text,
//!    PATCH semantics, random tokens); depends on nothing else in the domain.
//! 2. [`tenancy`]: vendors, branding, logo, staff sign-in, passwords, API keys, audit, mail.
//! 3. [`partners`]: programs and their terms, applications, affiliates and enrollments.
//! 4. [`attribution`]: tracking (redirect, clicks), links, referrals, deals.
//! 5. [`earnings`]: billing ingest, conversions, commission rules, the ledger, stats and
//!    analytics.
//! 6. [`payouts`]: payout runs, settings, exports, schedule, Stripe Connect.
//! 7. [`access`]: portal sign-in, affiliate/personal/embed tokens, self-service reads.
//!
//! A lower context that seems to need a higher one means a rule is in the wrong place, or
//! the composition belongs to the caller (`http`, `cli`, `jobs`).

pub mod values;

pub mod tenancy;

pub mod partners;

pub mod attribution;

pub mod earnings;

pub mod payouts;

pub mod access;

/// The contexts in import order: each may import only those before it.
pub const CONTEXT_ORDER: [&str; 7] = [
    "values",
    "tenancy",
    "partners",
    "attribution",
    "earnings",
    "payouts",
    "access",
];

#[cfg(test)]
mod tests {
    use super::CONTEXT_ORDER;
    use std::path::Path;

    /// The contexts a source text names through `crate::domain::...`, grouped imports
    /// included.
    fn named_contexts(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        let marker = "crate::domain::";
        let mut rest = src;
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut item = String::new();
                let mut items = Vec::new();
                for ch in group.chars() {
                    match ch {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                    if ch == ',' && depth == 1 {
                        items.push(std::mem::take(&mut item));
                    } else {
                        item.push(ch);
                    }
                }
                items.push(item);
                for it in items {
                    let head: String = it
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !head.is_empty() {
                        out.push(head);
                    }
                }
            } else {
                out.push(
                    rest.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect(),
                );
            }
        }
        out
    }

    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, files);
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }

    #[test]
    fn context_imports_run_one_way() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
        let mut violations = Vec::new();
        for (rank, ctx) in CONTEXT_ORDER.iter().enumerate() {
            let mut files = Vec::new();
            walk(&root.join(ctx), &mut files);
            assert!(!files.is_empty(), "context {ctx} has no files");
            for f in files {
                let src = std::fs::read_to_string(&f).unwrap();
                for named in named_contexts(&src) {
                    let Some(other) = CONTEXT_ORDER.iter().position(|c| *c == named) else {
                        violations.push(format!(
                            "{}: crate::domain::{named} is no context",
                            f.display()
                        ));
                        continue;
                    };
                    if other > rank {
                        violations.push(format!(
                            "{} ({ctx}) imports {named}, which comes after it",
                            f.strip_prefix(&root).unwrap_or(&f).display()
                        ));
                    }
                }
            }
        }
        violations.sort();
        violations.dedup();
        assert!(violations.is_empty(), "{}", violations.join("\n"));
    }

    #[test]
    fn the_import_reader_sees_groups_and_paths() {
        let src = "use crate::domain::tenancy::audit;\nuse crate::domain::{\n    partners::{affiliates, programs},\n    values::Money,\n};\nlet x = crate::domain::earnings::ledger::verify();";
        assert_eq!(
            named_contexts(src),
            ["tenancy", "partners", "values", "earnings"]
        );
    }
}
