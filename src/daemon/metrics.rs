//! What `/metrics` exposes, in the Prometheus text format (`prometheus-client`).
//!
//! [`Metrics`] holds the counters and histograms that the stages move as they work: the poll
//! task (polls and errors by class, last success, posts seen, hits per rule, poll and match
//! durations), the writer (commit durations) and the dispatcher (deliveries by outcome). What
//! the database already knows (alerts per rule and kind, the outbox's depth and the age of its
//! oldest pending row, the reply-clock cases: open, oldest open age, breached per rule) is read
//! at scrape time by [`StoreCollector`] on its own read-only connection, so it is right after a
//! restart too. Serving it is `http`'s job.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::source::SourceError;
use crate::store::Store;

/// Label pairs (`source`, `rule`, `notifier`, `class`, `outcome`).
type Labels = Vec<(&'static str, String)>;

type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// The live metrics, shared by the stages.
#[derive(Debug)]
pub struct Metrics {
    polls: Family<Labels, Counter>,
    poll_errors: Family<Labels, Counter>,
    last_success: Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    posts_seen: Family<Labels, Counter>,
    hits: Family<Labels, Counter>,
    deliveries: Family<Labels, Counter>,
    poll_seconds: Histograms,
    match_seconds: Histogram,
    commit_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            polls: Family::default(),
            poll_errors: Family::default(),
            last_success: Family::default(),
            posts_seen: Family::default(),
            hits: Family::default(),
            deliveries: Family::default(),
            poll_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.01, 2.0, 14))
            }),
            // 1 µs to about 16 ms per post.
            match_seconds: Histogram::new(exponential_buckets(1e-6, 2.0, 15)),
            commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
        }
    }
}

fn one(key: &'static str, value: &str) -> Labels {
    vec![(key, value.to_string())]
}

impl Metrics {
    /// A poll of `source` ended after `took`, with `error` if it failed.
    pub fn poll(&self, source: &str, took: Duration, error: Option<&SourceError>) {
        self.polls.get_or_create(&one("source", source)).inc();
        self.poll_seconds
            .get_or_create(&one("source", source))
            .observe(took.as_secs_f64());
        match error {
            None => {
                let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
                self.last_success
                    .get_or_create(&one("source", source))
                    .set(now);
            }
            Some(e) => {
                let class = match e {
                    SourceError::RateLimited { .. } => "rate_limited",
                    SourceError::Transient(_) => "transient",
                    SourceError::Permanent(_) => "permanent",
                };
                let labels = vec![("source", source.to_string()), ("class", class.to_string())];
                self.poll_errors.get_or_create(&labels).inc();
            }
        }
    }

    /// A poll of `source` whose result could not be stored.
    pub fn commit_failed(&self, source: &str) {
        let labels = vec![("source", source.to_string()), ("class", "store".into())];
        self.poll_errors.get_or_create(&labels).inc();
    }

    /// `posts` new posts of `source` stored, with these hits per rule.
    pub fn stored(&self, source: &str, posts: u64, hits: &[(String, u64)]) {
        self.posts_seen
            .get_or_create(&one("source", source))
            .inc_by(posts);
        for (rule, n) in hits {
            self.hits.get_or_create(&one("rule", rule)).inc_by(*n);
        }
    }

    /// Matching one post took `took`.
    pub fn matched(&self, took: Duration) {
        self.match_seconds.observe(took.as_secs_f64());
    }

    /// One writer transaction took `took`.
    pub fn committed(&self, took: Duration) {
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// A delivery attempt through `notifier` ended with `outcome` (`sent`, `retry`, `failed`).
    pub fn delivery(&self, notifier: &str, outcome: &str) {
        let labels = vec![
            ("notifier", notifier.to_string()),
            ("outcome", outcome.to_string()),
        ];
        self.deliveries.get_or_create(&labels).inc();
    }

    /// The registry to encode: these metrics, the store's, and `vigie_build_info`.
    pub fn registry(self: &Arc<Self>, store: Store) -> Registry {
        let mut r = Registry::with_prefix("vigie");
        r.register("polls", "Polls per source", self.polls.clone());
        r.register(
            "poll_errors",
            "Failed polls per source and error class",
            self.poll_errors.clone(),
        );
        r.register(
            "last_success_timestamp_seconds",
            "When each source last polled successfully (Unix time)",
            self.last_success.clone(),
        );
        r.register(
            "posts_seen",
            "New posts stored per source",
            self.posts_seen.clone(),
        );
        r.register("hits", "Hits stored per rule", self.hits.clone());
        r.register(
            "deliveries",
            "Delivery attempts per notifier and outcome",
            self.deliveries.clone(),
        );
        r.register(
            "poll_duration_seconds",
            "Time of one poll, fetch to commit",
            self.poll_seconds.clone(),
        );
        r.register(
            "match_duration_seconds",
            "Time to match one post against every rule",
            self.match_seconds.clone(),
        );
        r.register(
            "commit_duration_seconds",
            "Time of one writer transaction",
            self.commit_seconds.clone(),
        );
        r.register(
            "build",
            "The running version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register_collector(Box::new(StoreCollector(Mutex::new(store))));
        r
    }
}

/// Alerts and the outbox, read from the database at each scrape.
pub struct StoreCollector(Mutex<Store>);

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreCollector")
    }
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (read, cases) = {
            let store = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let now = chrono::Utc::now();
            (store.metrics(now), store.case_metrics(now))
        };
        if let Ok(cases) = cases {
            encode_cases(&mut encoder, cases)?;
        }
        let Ok(crate::store::outbox::OutboxMetrics {
            alerts,
            pending,
            oldest_age: age,
        }) = read
        else {
            return Ok(());
        };
        let sample = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "alerts",
            "Alerts recorded per rule and kind",
            None,
            sample.metric_type(),
        )?;
        for (rule, kind, n) in alerts {
            let labels = [("rule", rule), ("kind", kind)];
            ConstCounter::new(n.max(0) as u64).encode(family.encode_family(&labels)?)?;
        }
        let depth = ConstGauge::new(pending);
        depth.encode(encoder.encode_descriptor(
            "outbox_depth",
            "Deliveries pending",
            None,
            depth.metric_type(),
        )?)?;
        let oldest = ConstGauge::new(age);
        oldest.encode(encoder.encode_descriptor(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest pending delivery (0 when none)",
            None,
            oldest.metric_type(),
        )?)?;
        Ok(())
    }
}

/// The reply-clock gauges (SPEC §5.1): open cases, the age of the oldest, breaches per rule.
fn encode_cases(
    encoder: &mut DescriptorEncoder,
    cases: crate::store::cases_query::CaseMetrics,
) -> Result<(), std::fmt::Error> {
    let open = ConstGauge::new(cases.open);
    open.encode(encoder.encode_descriptor(
        "cases_open",
        "Reply-clock cases waiting for an answer, not yet breached",
        None,
        open.metric_type(),
    )?)?;
    let oldest = ConstGauge::new(cases.oldest_open_age);
    oldest.encode(encoder.encode_descriptor(
        "cases_oldest_open_age_seconds",
        "Age of the oldest open case, from the complaint (0 when none)",
        None,
        oldest.metric_type(),
    )?)?;
    let sample = ConstCounter::new(0u64);
    let mut family = encoder.encode_descriptor(
        "cases_breached",
        "Cases that passed their deadline unanswered, per rule (answered later or not)",
        None,
        sample.metric_type(),
    )?;
    for (rule, n) in cases.breached {
        let labels = [("rule", rule)];
        ConstCounter::new(n.max(0) as u64).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}
