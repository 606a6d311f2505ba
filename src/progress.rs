//! Progress of long command-line work (`affilia demo`, `ledger verify`, `rollups rebuild`,
//! `admin load-dataset`): a bar on a terminal, plain lines otherwise.
//!
//! CI logs and pipes cannot redraw a bar, so off a terminal the work prints one line per
//! tenth of the way and at least one every few seconds, like
//! `demo: 40% (36/90 days, 12.3 s)`. Both go to stderr: stdout stays the command's result.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Longest silence between two plain progress lines.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// One piece of long work with a known number of steps.
#[derive(Debug)]
pub struct Progress {
    label: String,
    unit: String,
    total: u64,
    done: u64,
    started: Instant,
    /// The bar on a terminal; `None` prints plain lines.
    bar: Option<ProgressBar>,
    last_line: Instant,
    last_tenth: u64,
}

impl Progress {
    /// Starts `total` steps of `unit` (e.g. "days", "vendors") called `label`: a bar when
    /// stderr is a terminal, else plain lines.
    pub fn start(label: &str, unit: &str, total: u64) -> Self {
        Self::with_terminal(label, unit, total, std::io::stderr().is_terminal())
    }

    /// Like [`Progress::start`], the caller deciding whether there is a terminal.
    pub fn with_terminal(label: &str, unit: &str, total: u64, terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            // The template is a constant; should it ever fail to parse, the default style
            // still shows a bar.
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} {prefix} ({elapsed}, about {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_owned());
            bar.set_prefix(unit.to_owned());
            bar
        });
        let now = Instant::now();
        if bar.is_none() {
            eprintln!("{label}: started ({total} {unit})");
        }
        Self {
            label: label.to_owned(),
            unit: unit.to_owned(),
            total,
            done: 0,
            started: now,
            bar,
            last_line: now,
            last_tenth: 0,
        }
    }

    /// Marks `n` more steps done.
    pub fn advance(&mut self, n: u64) {
        self.set(self.done.saturating_add(n));
    }

    /// Marks `done` steps done in all.
    pub fn set(&mut self, done: u64) {
        self.done = done.min(self.total);
        match &self.bar {
            Some(bar) => bar.set_position(self.done),
            None => {
                let tenth = (self.done * 10).checked_div(self.total).unwrap_or(10);
                if tenth > self.last_tenth || self.last_line.elapsed() >= LINE_EVERY {
                    self.last_tenth = tenth;
                    self.line();
                }
            }
        }
    }

    /// Ends the work: clears the bar, or prints the closing line.
    pub fn finish(self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!(
                "{}: done ({} {}, {:.1} s)",
                self.label,
                self.done,
                self.unit,
                self.started.elapsed().as_secs_f64()
            ),
        }
    }

    fn line(&mut self) {
        let percent = (self.done * 100).checked_div(self.total).unwrap_or(100);
        eprintln!(
            "{}: {percent}% ({}/{} {}, {:.1} s)",
            self.label,
            self.done,
            self.total,
            self.unit,
            self.started.elapsed().as_secs_f64()
        );
        self.last_line = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn plain_progress_counts_up_to_the_total() {
        let mut p = Progress::with_terminal("test", "steps", 20, false);
        for _ in 0..25 {
            p.advance(1);
        }
        assert_eq!(p.done, 20);
        assert_eq!(p.last_tenth, 10);
        p.finish();
    }

    #[test]
    fn an_empty_job_is_complete_at_once() {
        let mut p = Progress::with_terminal("test", "steps", 0, false);
        p.set(0);
        assert_eq!(p.last_tenth, 10);
        p.finish();
    }
}
