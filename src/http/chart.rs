//! The clicks-and-money chart as inline SVG geometry: clicks as bars (left axis) and money
//! in one currency as a line (right axis), one slot per point of the series. The affiliate
//! portal charts what the affiliate earned ([`EARNINGS`]), the vendor overview its revenue
//! ([`REVENUE`]). Rendered by `chart_partial.html` (which reads `v.chart`); no script and
//! no inline style, so it passes the CSP.

use chrono::NaiveDate;

use crate::domain::earnings::affiliate_stats::{AffiliateStats, Bucket};
use crate::domain::partners::terms::{format_amount, format_money};
use crate::domain::values::currency::minor_unit_exponent;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 50.0;
const RIGHT: f64 = WIDTH - 70.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = HEIGHT - 30.0;
/// Most x-axis labels shown.
const X_LABELS: usize = 6;

/// The words of the money line.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// The line's name, capitalised ("Earnings").
    pub name: &'static str,
    /// The same in a sentence ("earnings").
    pub noun: &'static str,
    /// After an amount ("earned").
    pub verb: &'static str,
    /// With no money at all ("nothing earned").
    pub none: &'static str,
    /// The table fallback's column ("Earned").
    pub column: &'static str,
}

/// What an affiliate earned (the portal).
pub const EARNINGS: Words = Words {
    name: "Earnings",
    noun: "earnings",
    verb: "earned",
    none: "nothing earned",
    column: "Earned",
};

/// What referred customers paid the vendor, less refunds (the vendor overview).
pub const REVENUE: Words = Words {
    name: "Revenue",
    noun: "revenue",
    verb: "revenue",
    none: "no revenue",
    column: "Revenue",
};

/// A bar of the clicks series.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Left edge.
    pub x: String,
    /// Top edge.
    pub y: String,
    /// Width.
    pub w: String,
    /// Height.
    pub h: String,
    /// Tooltip: the bucket and its figures.
    pub label: String,
}

/// A label on an axis.
#[derive(Debug, Clone)]
pub struct Tick {
    /// Position along the axis.
    pub at: String,
    /// Text.
    pub label: String,
}

/// The chart, ready for the template.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `viewBox` of the SVG.
    pub view_box: String,
    /// Accessible title.
    pub title: String,
    /// Accessible description (the totals in words).
    pub desc: String,
    /// Plot area: left, right, top and bottom edges.
    pub left: String,
    /// Right edge of the plot area.
    pub right: String,
    /// Top edge of the plot area.
    pub top: String,
    /// Bottom edge (the baseline).
    pub bottom: String,
    /// Where the axis labels sit: left of the left axis, right of the right axis, and
    /// below the baseline.
    pub left_label_x: String,
    /// x of the right axis' labels.
    pub right_label_x: String,
    /// y of the date labels.
    pub date_label_y: String,
    /// Clicks per slot.
    pub bars: Vec<Bar>,
    /// `points` of the earnings polyline (empty without earnings).
    pub line: String,
    /// The currency of the line.
    pub currency: Option<String>,
    /// The line's name ("Earnings", "Revenue").
    pub line_name: &'static str,
    /// The table fallback's money column ("Earned", "Revenue").
    pub column: &'static str,
    /// Clicks axis labels (y positions).
    pub clicks_ticks: Vec<Tick>,
    /// Earnings axis labels (y positions).
    pub earnings_ticks: Vec<Tick>,
    /// Date labels (x positions).
    pub dates: Vec<Tick>,
    /// One row per point, for the table shown instead of the chart on request.
    pub rows: Vec<(String, i64, String)>,
}

/// The smallest of 1, 2, 5 × 10ⁿ at least `v` (and at least 1).
fn nice_ceil(v: i64) -> i64 {
    let mut mag = 1i64;
    loop {
        for m in [1, 2, 5] {
            if m * mag >= v {
                return m * mag;
            }
        }
        mag = mag.saturating_mul(10);
        if mag == i64::MAX {
            return v;
        }
    }
}

fn num(v: f64) -> String {
    format!("{v:.1}")
}

fn label(date: &str, bucket: Bucket) -> String {
    let Ok(d) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
        return date.to_owned();
    };
    match bucket {
        Bucket::Day => d.format("%-d %b").to_string(),
        Bucket::Week => format!("w/c {}", d.format("%-d %b")),
        Bucket::Month => d.format("%b %Y").to_string(),
    }
}

/// Lays out the chart of an affiliate's `stats`; `period` names the period in the title
/// ("last 30 days").
pub fn build(stats: &AffiliateStats, period: &str) -> Chart {
    build_with(stats, period, EARNINGS)
}

/// Lays out the chart of `stats` with the money line named by `words` (the `earnings` of
/// `stats` and of its points are what the line shows).
pub fn build_with(stats: &AffiliateStats, period: &str, words: Words) -> Chart {
    let points = &stats.series;
    let n = points.len().max(1);
    // The line shows the currency earned most in the period.
    let currency = stats
        .earnings
        .iter()
        .max_by_key(|e| e.earned_cents)
        .map(|e| e.currency.clone());
    let earned = |i: usize| -> i64 {
        currency
            .as_ref()
            .and_then(|c| points[i].earned_cents.get(c))
            .copied()
            .unwrap_or(0)
    };
    let max_clicks = nice_ceil(points.iter().map(|p| p.clicks).max().unwrap_or(0));
    let max_earned = nice_ceil((0..points.len()).map(earned).max().unwrap_or(0).max(1));
    let plot_h = BOTTOM - TOP;
    let slot = (RIGHT - LEFT) / n as f64;
    let bar_w = (slot * 0.7).max(1.0);
    let y_of = |v: i64, max: i64| BOTTOM - (v.max(0) as f64 / max as f64) * plot_h;

    let mut bars = Vec::new();
    let mut line = Vec::new();
    let mut rows = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let x = LEFT + i as f64 * slot;
        let y = y_of(p.clicks, max_clicks);
        let money = currency
            .as_ref()
            .map(|c| format_money(earned(i), c))
            .unwrap_or_default();
        let when = label(&p.date, stats.bucket);
        bars.push(Bar {
            x: num(x + (slot - bar_w) / 2.0),
            y: num(y),
            w: num(bar_w),
            h: num(BOTTOM - y),
            label: if money.is_empty() {
                format!("{when}: {} clicks", p.clicks)
            } else {
                format!("{when}: {} clicks, {money} {}", p.clicks, words.verb)
            },
        });
        if currency.is_some() {
            line.push(format!(
                "{},{}",
                num(x + slot / 2.0),
                num(y_of(earned(i), max_earned))
            ));
        }
        rows.push((when, p.clicks, money));
    }

    let mut clicks_ticks = vec![
        Tick {
            at: num(BOTTOM),
            label: "0".into(),
        },
        Tick {
            at: num(TOP),
            label: max_clicks.to_string(),
        },
    ];
    if max_clicks % 2 == 0 {
        clicks_ticks.push(Tick {
            at: num((TOP + BOTTOM) / 2.0),
            label: (max_clicks / 2).to_string(),
        });
    }
    // Whole units once the axis reaches 100, so the labels stay short on small screens;
    // a unit is 10^exponent minor units of the currency (1 for JPY, 1000 for BHD).
    let code = currency.as_deref().unwrap_or_default();
    let unit = 10_i64.pow(minor_unit_exponent(code));
    let money = |cents: i64| {
        if max_earned >= 100 * unit {
            (cents / unit).to_string()
        } else {
            format_amount(cents, code)
        }
    };
    let earnings_ticks = match &currency {
        Some(_) => vec![
            Tick {
                at: num(BOTTOM),
                label: money(0),
            },
            Tick {
                at: num((TOP + BOTTOM) / 2.0),
                label: money(max_earned / 2),
            },
            Tick {
                at: num(TOP),
                label: money(max_earned),
            },
        ],
        None => Vec::new(),
    };
    let step = points.len().div_ceil(X_LABELS).max(1);
    let dates = points
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0)
        .map(|(i, p)| Tick {
            at: num(LEFT + (i as f64 + 0.5) * slot),
            label: label(&p.date, stats.bucket),
        })
        .collect();

    let earnings = if stats.earnings.is_empty() {
        words.none.to_owned()
    } else {
        stats
            .earnings
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    format_money(e.earned_cents, &e.currency),
                    words.verb
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let per = match stats.bucket {
        Bucket::Day => "day",
        Bucket::Week => "week",
        Bucket::Month => "month",
    };
    Chart {
        view_box: format!("0 0 {WIDTH} {HEIGHT}"),
        title: format!("Clicks and {} per {per}, {period}", words.noun),
        desc: format!(
            "{} clicks and {earnings} from {} to {}.{}",
            stats.clicks,
            points.first().map(|p| p.date.as_str()).unwrap_or_default(),
            points.last().map(|p| p.date.as_str()).unwrap_or_default(),
            match &currency {
                Some(c) => format!(" Bars show clicks; the line shows {} in {c}.", words.noun),
                None => " Bars show clicks.".to_owned(),
            }
        ),
        left: num(LEFT),
        right: num(RIGHT),
        top: num(TOP),
        bottom: num(BOTTOM),
        left_label_x: num(LEFT - 6.0),
        right_label_x: num(RIGHT + 6.0),
        date_label_y: num(BOTTOM + 18.0),
        bars,
        line: line.join(" "),
        currency,
        line_name: words.name,
        column: words.column,
        clicks_ticks,
        earnings_ticks,
        dates,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_to_readable_maxima() {
        assert_eq!(nice_ceil(0), 1);
        assert_eq!(nice_ceil(1), 1);
        assert_eq!(nice_ceil(3), 5);
        assert_eq!(nice_ceil(7), 10);
        assert_eq!(nice_ceil(11), 20);
        assert_eq!(nice_ceil(4_999), 5_000);
        assert_eq!(nice_ceil(5_001), 10_000);
    }
}
