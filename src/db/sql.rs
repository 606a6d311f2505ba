//! The one reviewed helper for SQL whose shape depends on which filters were given.
//!
//! Optional filters written `($n IS NULL OR col = $n)` keep one static statement, but SQLite
//! plans a statement before it sees the values: it cannot tell that `$2` is NULL, so it
//! picks an index for the mandatory part (the vendor) and checks the rest row by row —
//! at 10M clicks a filter by affiliate scanned the vendor's whole index range. [`Sql`]
//! writes only the conditions that were given, so each database plans with the index the
//! filter can use.
//!
//! Only `&'static str` fragments (column names, operators, clauses written in this crate)
//! ever enter the text; every value is a `$n` placeholder bound in order. That is what makes
//! the `AssertSqlSafe` in [`Sql::build`] sound.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, AssertSqlSafe, Executor, FromRow};

/// A value bound to a placeholder.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// TEXT.
    Text(&'a str),
    /// BIGINT / INTEGER.
    Int(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

/// A statement under construction: static text fragments and the values of its
/// placeholders, numbered `$1, $2, ...` in the order they are added.
#[derive(Debug, Clone)]
pub struct Sql<'a> {
    text: String,
    args: Vec<Arg<'a>>,
    /// Kept as a prepared statement of the connection (the default).
    persistent: bool,
}

impl<'a> Sql<'a> {
    /// Starts a statement with a static head, e.g. `"SELECT ... FROM clicks WHERE vendor_id = "`.
    pub fn new(head: &'static str) -> Self {
        Self {
            text: String::from(head),
            args: Vec::new(),
            persistent: true,
        }
    }

    /// Planned for its values every time instead of kept prepared. For statements whose
    /// best plan depends on the values more than PostgreSQL's generic plan can know: after
    /// five runs of a prepared statement it may switch to a plan made without them, and for
    /// an `IN` list of 200 affiliates that plan read a whole month of commissions (245 ms
    /// instead of a few). Lists of varying length would also fill the statement cache.
    pub fn planned_each_time(mut self) -> Self {
        self.persistent = false;
        self
    }

    /// Appends static text.
    pub fn push(mut self, text: &'static str) -> Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(mut self, v: impl Into<Arg<'a>>) -> Self {
        self.args.push(v.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends one row of a multi-row `VALUES`: `($n, $n+1, …)` bound to `values`, after
    /// `, ` unless it is the `first`.
    pub fn row(mut self, first: bool, values: &[Arg<'a>]) -> Self {
        self = self.push(if first { "(" } else { ", (" });
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self = self.push(", ");
            }
            self = self.bind(*v);
        }
        self.push(")")
    }

    /// Appends `AND <col> IN ($n, $n+1, ...)` (`values` must not be empty) and has the
    /// statement planned for its values each time ([`Self::planned_each_time`]): the one
    /// way lists of ids are written.
    pub fn and_in(self, col: &'static str, values: &[&'a str]) -> Self {
        let mut q = self
            .planned_each_time()
            .push(" AND ")
            .push(col)
            .push(" IN (");
        for (i, v) in values.iter().enumerate() {
            q = q.push(if i == 0 { "" } else { ", " }).bind(*v);
        }
        q.push(")")
    }

    /// Appends `AND <col> = $n` when `v` is given; nothing otherwise.
    pub fn and_eq(self, col: &'static str, v: Option<&'a str>) -> Self {
        match v {
            Some(v) => self.push(" AND ").push(col).push(" = ").bind(v),
            None => self,
        }
    }

    /// Appends `AND <cond>$n` (for example `cond = "created_at >= "`) when `v` is given.
    pub fn and_opt<T: Into<Arg<'a>>>(self, cond: &'static str, v: Option<T>) -> Self {
        match v {
            Some(v) => self.push(" AND ").push(cond).bind(v),
            None => self,
        }
    }

    /// Appends `AND <cond>$n`.
    pub fn and(self, cond: &'static str, v: impl Into<Arg<'a>>) -> Self {
        self.push(" AND ").push(cond).bind(v)
    }

    /// The statement text so far (for tests and plans).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statement as a query with every value bound.
    pub fn build(self) -> Query<'a, Any, AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.text)).persistent(self.persistent);
        for a in self.args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
            };
        }
        q
    }

    /// The statement as a typed query with every value bound.
    pub fn build_as<T>(self) -> QueryAs<'a, Any, T, AnyArguments>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        let mut q = sqlx::query_as(AssertSqlSafe(self.text)).persistent(self.persistent);
        for a in self.args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
            };
        }
        q
    }

    /// Runs the statement and returns every row.
    pub async fn fetch_all<'e, E, T>(self, ex: E) -> Result<Vec<T>, sqlx::Error>
    where
        E: Executor<'e, Database = Any>,
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        self.build_as::<T>().fetch_all(ex).await
    }

    /// Runs a `SELECT COUNT(*) ...` (or any one-BIGINT statement).
    pub async fn fetch_count<'e, E>(self, ex: E) -> Result<i64, sqlx::Error>
    where
        E: Executor<'e, Database = Any>,
    {
        let (n,): (i64,) = self.build_as().fetch_one(ex).await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_given_filters_are_written() {
        let s = Sql::new("SELECT 1 FROM t WHERE vendor_id = ")
            .bind("v")
            .and_eq("affiliate_id", None)
            .and_eq("program_id", Some("p"))
            .and_opt("created_at >= ", Some(5_i64))
            .and_opt::<i64>("created_at < ", None)
            .push(" LIMIT ")
            .bind(10_i64);
        assert_eq!(
            s.text(),
            "SELECT 1 FROM t WHERE vendor_id = $1 AND program_id = $2 AND created_at >= $3 LIMIT $4"
        );
        assert_eq!(s.args.len(), 4);
    }
}
