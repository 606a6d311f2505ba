//! Counter updates (and outbox events) of an ingest batch, summed in memory and written
//! once, just before the batch commits.
//!
//! Every billing event that converts moves counters kept beside the rows: the money
//! rollups and the affiliate's all-time totals (`db::money_rollups`), the referral rollup
//! (`db::referral_rollups`) and the ledger's line count (`db::ledger`). Each move is an
//! upsert that locks its row until the transaction commits. An affiliate's totals row is
//! shared by every sale it refers, so written per event inside a batch of several events
//! (`domain::earnings::billing::writer`) the first event locked it for the rest of the
//! batch and its commit, and the other PostgreSQL lanes' batches for that affiliate queued
//! behind it: pg_stat_statements showed 19.6 ms per totals upsert, 41 s of waiting in a
//! 10 s run, the lanes written one after another.
//!
//! Inside [`collect`] those writes add their moves to the batch's [`Pending`] instead
//! (a task-local: the ingest code between the writer and the counters is shared with
//! every other write path, which keeps writing at once). The writer then writes them
//! with [`Pending::write`]: each row once per batch instead of once per event, held from
//! the end of the batch to its commit, and in one order (tables fixed, rows by key), so
//! two lanes never wait on each other's rows in opposite orders. The batch's outbox events
//! (`db::events`, ids and times given when they were added) go with them in a few
//! multi-row inserts instead of one or two statements per event.
//!
//! Every ingest transaction writes its moves this way, in one order: referral rollup,
//! conversion days, commission days, line counts, the outbox events, and last the
//! affiliates' totals (conversions, then commissions), each table's rows by key. The slot
//! rows (days, line counts) are the lane's own (`db::ledger::in_lane`); the totals rows
//! are not slotted (the report's search reads them in the order of their figures), so an
//! affiliate's totals row is shared by every lane writing its sales. Written last, it is
//! held only from its upsert through the commit: with the totals written before the
//! commission days, line counts and events (the order of a single event's write path),
//! pg_stat_statements showed the totals upsert waiting 5.4 ms a call, the lanes' batches
//! queued one behind the other. Lanes that share a slot row (more than eight lanes, or the
//! earlier hashing of six lanes over sixteen slots) take every row in the same order:
//! had one taken the referral day first and the other last, they would deadlock (it
//! happened in CI).
//!
//! What is collected must be written or dropped with the (sub)transaction it belongs to: a
//! move added inside a savepoint that is then rolled back must not be written. The writer's
//! one-by-one retry collects per event, inside each event's savepoint.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;

use sqlx::AnyConnection;

use super::money_rollups::Deltas;

tokio::task_local! {
    static PENDING: RefCell<Pending>;
}

/// The counter moves of one batch.
#[derive(Debug, Default)]
#[must_use = "the moves must be written in the batch's transaction"]
pub struct Pending {
    /// Money rollups and affiliate totals.
    pub(super) money: Deltas,
    /// Referrals per (vendor, program, UTC day).
    pub(super) referral_days: BTreeMap<(String, String, i64), i64>,
    /// Ledger lines per vendor.
    pub(super) ledger_lines: BTreeMap<String, i64>,
    /// Outbox events, in the order they were added.
    pub(super) events: Vec<super::events::NewEvent>,
}

/// Runs `work` with counter moves collected instead of written; returns its output and
/// the moves, which the caller writes with [`Pending::write`] in the same transaction.
pub async fn collect<F: Future>(work: F) -> (F::Output, Pending) {
    PENDING
        .scope(RefCell::new(Pending::default()), async move {
            let out = work.await;
            (out, PENDING.with(RefCell::take))
        })
        .await
}

/// Adds a move to the batch being collected, if any; `false` when the caller must write
/// it itself (outside [`collect`]).
pub(super) fn add(f: impl FnOnce(&mut Pending)) -> bool {
    PENDING.try_with(|p| f(&mut p.borrow_mut())).is_ok()
}

impl Pending {
    /// Writes the moves in the caller's transaction in the order of the module docs: the
    /// referral rollup, the money rollups' days, the line counts, each in key order; the
    /// events; then the affiliates' totals, last.
    pub async fn write(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        for ((vendor, program, day), n) in &self.referral_days {
            super::referral_rollups::add(conn, vendor, program, *day, *n).await?;
        }
        let totals = self.money.write_days(conn).await?;
        for (vendor, n) in &self.ledger_lines {
            super::ledger::add_to_count(conn, vendor, *n).await?;
        }
        super::events::insert_rows(conn, &self.events).await?;
        totals.write(conn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn moves_are_collected_only_inside_collect() {
        assert!(!add(|p| {
            p.ledger_lines.insert("v".into(), 1);
        }));
        let (out, pending) = collect(async {
            for _ in 0..3 {
                assert!(add(|p| *p.ledger_lines.entry("v".into()).or_default() += 2));
            }
            7
        })
        .await;
        assert_eq!(out, 7);
        assert_eq!(pending.ledger_lines.get("v"), Some(&6));
        assert!(!add(|_| {}));
    }
}
