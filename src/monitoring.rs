//! Prometheus metrics: the metric names, the process-wide recorder, and the text of a scrape.
//!
//! Events (requests, ingested billing events, email and webhook deliveries) are counted where
//! they happen through the `metrics` facade. Without an installed recorder (metrics off, the
//! default) every such call is a no-op. [`install`] installs one
//! `metrics-exporter-prometheus` recorder per process the first time an application with
//! metrics turned on is built; later applications of the same process (the test suite runs
//! many) share it, which is why the facade's counters are process-wide.
//!
//! State that already lives in the process or the database (click writer counters, pool
//! connections, job queues) is read at scrape time instead and written with [`Exposition`]
//! after the recorder's text, so each application reports its own.
//!
//! Every name and label is listed in the README's "Metrics" section; keep the two in step.

use std::fmt::{Display, Write};
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter: HTTP requests answered, by `route` (the matched route pattern, `unmatched` when
/// no route matched), `method` and `status`.
pub const HTTP_REQUESTS: &str = "affilia_http_requests_total";
/// Histogram: time from the request entering the application to its response head, in
/// seconds, with the labels of [`HTTP_REQUESTS`].
pub const HTTP_DURATION: &str = "affilia_http_request_duration_seconds";
/// Counter: billing events by `source` (api, stripe, manual) and `outcome` (processed,
/// ignored, failed, duplicate, rejected, error).
pub const INGEST_EVENTS: &str = "affilia_ingest_events_total";
/// Counter: email delivery attempts by `outcome` (sent, mailbox, retried, failed).
pub const EMAIL_DELIVERIES: &str = "affilia_email_deliveries_total";
/// Counter: webhook delivery attempts by `outcome` (succeeded, retried, failed).
pub const WEBHOOK_DELIVERIES: &str = "affilia_webhook_deliveries_total";

/// Counter (scrape time): clicks the click writer stored since the process started.
pub const CLICKS_RECORDED: &str = "affilia_clicks_recorded_total";
/// Counter (scrape time): clicks appended to the durable spill because the queue was full
/// (or the database kept refusing a batch).
pub const CLICKS_SPILLED: &str = "affilia_clicks_spilled_total";
/// Gauge (scrape time): spilled clicks not yet in the database.
pub const CLICKS_SPILL_PENDING: &str = "affilia_clicks_spill_pending";
/// Counter (scrape time): clicks written to the database from the spill.
pub const CLICKS_DRAINED: &str = "affilia_clicks_drained_total";
/// Counter (scrape time): clicks neither queued nor spilled (the spill could not be
/// written: disk full or unwritable). Zero in a healthy installation.
pub const CLICKS_LOST: &str = "affilia_clicks_lost_total";
/// Gauge (scrape time): clicks waiting in the writer's queue.
pub const CLICKS_QUEUED: &str = "affilia_clicks_queued";
/// Gauge (scrape time): how many clicks the queue holds before redirects wait, then spill.
pub const CLICKS_QUEUE_CAPACITY: &str = "affilia_clicks_queue_capacity";
/// Gauge (scrape time): pending background work by `kind` (job kinds, and
/// `webhook_delivery` for the webhook outbox), retries that are not due yet included.
pub const JOBS_PENDING: &str = "affilia_jobs_pending";
/// Gauge (scrape time): pending work by `kind` that is due now.
pub const JOBS_DUE: &str = "affilia_jobs_due";
/// Gauge (scrape time): how long the longest-waiting due item of each `kind` has been due,
/// in seconds (0 when nothing is due).
pub const JOBS_OLDEST_DUE_AGE: &str = "affilia_jobs_oldest_due_age_seconds";
/// Gauge (scrape time): database pool connections by `state` (in_use, idle).
pub const DB_POOL_CONNECTIONS: &str = "affilia_db_pool_connections";
/// Gauge (scrape time): the pool's connection limit.
pub const DB_POOL_MAX: &str = "affilia_db_pool_max_connections";
/// Gauge: always 1, with the running `version` as a label.
pub const BUILD_INFO: &str = "affilia_build_info";

/// Upper bounds (seconds) of the request-duration buckets: the redirect answers in well
/// under a millisecond, pages and API calls in milliseconds, exports in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets between scrapes (the recorder
/// keeps raw samples until then; at tens of thousands of requests a second that is memory).
const UPKEEP: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder on first call and returns its handle; `None` if it
/// could not be installed (another recorder was installed first, which Affilia never does).
pub fn install() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &DURATION_BUCKETS)
                .map_err(|e| tracing::error!(error = %e, "metrics buckets"))
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::error!(error = %e, "cannot install the metrics recorder"))
                .ok()?;
            describe();
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                // Scrapes still fold the samples in; only memory between scrapes grows.
                tracing::warn!(error = %e, "metrics upkeep thread not started");
            }
            Some(handle)
        })
        .as_ref()
}

/// The installed recorder's handle, if [`install`] ran.
pub fn handle() -> Option<&'static PrometheusHandle> {
    RECORDER.get().and_then(Option::as_ref)
}

/// HELP lines for the facade's metrics.
fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route pattern.");
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request duration in seconds, by route pattern."
    );
    metrics::describe_counter!(INGEST_EVENTS, "Billing events received, by outcome.");
    metrics::describe_counter!(EMAIL_DELIVERIES, "Email delivery attempts, by outcome.");
    metrics::describe_counter!(WEBHOOK_DELIVERIES, "Webhook delivery attempts, by outcome.");
    metrics::describe_gauge!(BUILD_INFO, "Always 1; the version is a label.");
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Every outcome starts at 0, so `rate()` and `increase()` see the first event instead of
    // a series appearing from nowhere.
    for source in INGEST_SOURCES {
        for outcome in INGEST_OUTCOMES {
            metrics::counter!(INGEST_EVENTS, "source" => source, "outcome" => outcome).increment(0);
        }
    }
    for outcome in EMAIL_OUTCOMES {
        metrics::counter!(EMAIL_DELIVERIES, "outcome" => outcome).increment(0);
    }
    for outcome in WEBHOOK_OUTCOMES {
        metrics::counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(0);
    }
}

/// The ingest doors, as `source` labels.
const INGEST_SOURCES: [&str; 7] = crate::domain::earnings::billing::SOURCES;
/// What can become of a billing event, as `outcome` labels.
const INGEST_OUTCOMES: [&str; 6] = [
    "processed",
    "ignored",
    "failed",
    "duplicate",
    "rejected",
    "error",
];
/// Email delivery attempt outcomes.
const EMAIL_OUTCOMES: [&str; 4] = ["sent", "mailbox", "retried", "failed"];
/// Webhook delivery attempt outcomes.
const WEBHOOK_OUTCOMES: [&str; 3] = ["succeeded", "retried", "failed"];

/// Counts one billing event outcome; `source` is one of the ingest doors.
pub fn count_ingest(source: &str, outcome: &'static str) {
    // Labels are 'static so counting allocates nothing; an unknown door cannot add series.
    let source = match source {
        "api" => "api",
        "stripe" => "stripe",
        "manual" => "manual",
        _ => "other",
    };
    metrics::counter!(INGEST_EVENTS, "source" => source, "outcome" => outcome).increment(1);
}

/// Prometheus text for values read at scrape time: families of one type with HELP and
/// TYPE lines, then their samples, label values escaped.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a family; its samples must follow before the next family starts.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(key);
                self.text.push_str("=\"");
                for c in value.chars() {
                    match c {
                        '\\' => self.text.push_str("\\\\"),
                        '"' => self.text.push_str("\\\""),
                        '\n' => self.text.push_str("\\n"),
                        c => self.text.push(c),
                    }
                }
                self.text.push('"');
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: impl Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The text written so far.
    pub fn into_text(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_escapes_label_values() {
        let mut e = Exposition::default();
        e.family("affilia_x", "gauge", "An example.");
        e.sample("affilia_x", &[("kind", "a\"b\\c\nd"), ("k2", "v")], 3);
        e.single("affilia_y", "counter", "Another.", 1.5);
        assert_eq!(
            e.into_text(),
            "# HELP affilia_x An example.\n# TYPE affilia_x gauge\n\
             affilia_x{kind=\"a\\\"b\\\\c\\nd\",k2=\"v\"} 3\n\
             # HELP affilia_y Another.\n# TYPE affilia_y counter\naffilia_y 1.5\n"
        );
    }
}
