//! The alert value: what `detect` decided, in the form `store` records and `notify` renders.
//!
//! The types live with the decision, below both of their users: the store records an [`Alert`]
//! as JSON in its `alerts` row (so the dispatcher can rebuild it after a restart) and each
//! notifier renders it, so neither needs the other. This module also assembles an alert from
//! a decision and the pieces the store queried (the top posts, the chart's hit times): pure
//! functions, no clock and no database, so `replay` and the daemon build the same value. The
//! queries are the store's; the wording people read is `notify::render`'s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{human, Decision, Health, DAY};

/// Most posts quoted in one alert.
pub const TOP_POSTS: usize = 5;

/// Most bars in an alert's 24-hour chart.
pub const MAX_BARS: u64 = 288;

/// What kind of alert fired (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// One hit of a critical rule.
    Each,
    /// The window's count reached the rule's threshold.
    Threshold,
    /// The window's count is far above the usual count.
    Spike,
    /// A source failed or went silent, or recovered (`rule` holds the source's name).
    Source,
    /// A case (SPEC §5.1) is still unanswered at half its promise: to the rule's notifiers.
    Reminder,
    /// A case's promise passed without a reply: to the rule's `escalate` notifiers.
    Breach,
}

impl AlertKind {
    /// The kind as stored and shown (`each`, `threshold`, `spike`, `source`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Each => "each",
            AlertKind::Threshold => "threshold",
            AlertKind::Spike => "spike",
            AlertKind::Source => "source",
            AlertKind::Reminder => "reminder",
            AlertKind::Breach => "breach",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<AlertKind> {
        Some(match s {
            "each" => AlertKind::Each,
            "threshold" => AlertKind::Threshold,
            "spike" => AlertKind::Spike,
            "source" => AlertKind::Source,
            "reminder" => AlertKind::Reminder,
            "breach" => AlertKind::Breach,
            _ => return None,
        })
    }
}

/// One post quoted in an alert. Every field but `created_at` is untrusted text from the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPost {
    /// The configured source name.
    pub source: String,
    /// The author's handle, if known.
    pub author: Option<String>,
    /// The author's display name, if the source gives one (`Alice Martin`).
    #[serde(default)]
    pub author_name: Option<String>,
    /// The post's text, whole (renderers cut it to their own limits).
    pub text: String,
    /// The post's link on its platform, if any (only http(s) links are ever rendered as links).
    pub url: Option<String>,
    /// Event time.
    pub created_at: DateTime<Utc>,
    /// The author's follower count, if known.
    pub followers: Option<u64>,
    /// The post's engagement (likes + reposts + replies), if known.
    #[serde(default)]
    pub engagement: Option<u64>,
    /// The words of the text the rule matched, as written in it (shown in bold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
}

/// The counts behind an alert's chart: the rule's hits per window over the last 24 hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Series {
    /// Start of the first bucket.
    pub start: DateTime<Utc>,
    /// Width of each bucket, in seconds (the rule's window).
    pub bucket_secs: u64,
    /// Hits per bucket, oldest first; the last bucket ends at the alert's time.
    pub counts: Vec<u64>,
}

impl Series {
    /// Empty buckets of one `window` (widened so that there are at most [`MAX_BARS`]) over the
    /// day before `now`: `(start, now]`, each bucket `(b_start, b_end]`.
    pub fn day_before(window: Duration, now: DateTime<Utc>) -> Series {
        let day = DAY.as_secs();
        let bucket = window.as_secs().max(day / MAX_BARS).max(1);
        let n = day.div_ceil(bucket);
        Series {
            start: now - chrono::Duration::seconds((n * bucket) as i64),
            bucket_secs: bucket,
            counts: vec![0; n as usize],
        }
    }

    /// How far back [`Series::day_before`] reaches for `window`: a day, rounded up to whole
    /// buckets.
    pub fn reach(window: Duration) -> Duration {
        let day = DAY.as_secs();
        let bucket = window.as_secs().max(day / MAX_BARS).max(1);
        Duration::from_secs(day.div_ceil(bucket) * bucket)
    }

    /// The end of the last bucket (the alert's time).
    pub fn end(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::seconds((self.counts.len() as u64 * self.bucket_secs) as i64)
    }

    /// Counts one hit at `t`, which lies in `(start, end]`; one outside counts in the nearest
    /// bucket.
    pub fn add(&mut self, t: DateTime<Utc>) {
        let Some(last) = self.counts.len().checked_sub(1) else {
            return;
        };
        let offset = (t - self.start).num_seconds().max(1) as u64 - 1;
        self.counts[((offset / self.bucket_secs.max(1)) as usize).min(last)] += 1;
    }
}

/// What a `source` alert says happened to the source: it broke (failing or silent) or came
/// back. Stored in the alert's `state` column and sent as its `source_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceCondition {
    /// Polls have failed for `source_alert_after`.
    Failing,
    /// No new post for three times the usual gap.
    Silent,
    /// Working again.
    Recovered,
}

impl SourceCondition {
    /// The condition as stored and shown (`failing`, `silent`, `recovered`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceCondition::Failing => "failing",
            SourceCondition::Silent => "silent",
            SourceCondition::Recovered => "recovered",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<SourceCondition> {
        Some(match s {
            "failing" => SourceCondition::Failing,
            "silent" => SourceCondition::Silent,
            "recovered" => SourceCondition::Recovered,
            _ => return None,
        })
    }
}

/// The case an alert is about (SPEC §5.1: a complaint that waits for the brand's reply).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRef {
    /// The `cases` row id (what `vigie cases ack ID` takes).
    pub id: i64,
    /// When the complaint was posted (event time).
    pub opened_at: DateTime<Utc>,
    /// When the reply is due (business hours counted).
    pub due_at: DateTime<Utc>,
    /// The signed one-click link that marks the case handled, filled in when the alert is sent
    /// (never stored: each sending signs its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_url: Option<String>,
}

/// One alert, as decided by `detect`, recorded by `store` and rendered by each notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The `alerts` row id (0 before it is stored, as in `replay`).
    pub id: i64,
    /// The rule's name, or the source's name for a `source` alert.
    pub rule: String,
    /// What fired.
    pub kind: AlertKind,
    /// Event time of the decision.
    pub fired_at: DateTime<Utc>,
    /// The counting window: `fired_at - window` to `fired_at`.
    pub window_secs: u64,
    /// Hits in the window (for `each`: 1; for `source`: failures in a row, or 0).
    pub count: u64,
    /// The usual count for such a window (0 when none applies).
    pub baseline: f64,
    /// The count that had to be reached: the threshold, or `max(spike × baseline, min_count)`.
    pub bar: f64,
    /// One sentence on why it fired, free of post text, in English for logs and machines:
    /// `38 hits in 15m, usual 2.1 (18×)` (people read `render::why`, in their language).
    pub reason: String,
    /// Up to 5 posts, most followed authors first.
    pub posts: Vec<AlertPost>,
    /// The last 24 hours of the rule, for charts (empty for `source` and `each`).
    pub series: Series,
    /// For `source` alerts: what happened to the source (the payload's name for it).
    pub source_state: Option<SourceCondition>,
    /// For `source` alerts: the last error, already free of secrets.
    pub error: Option<String>,
    /// The case the alert is about, if any (reminders, escalations, and the alert of a post
    /// that opened a case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseRef>,
}

impl Alert {
    /// `count / baseline`, when a baseline exists.
    pub fn ratio(&self) -> Option<f64> {
        (self.baseline > 0.0).then(|| self.count as f64 / self.baseline)
    }

    /// The window's start.
    pub fn window_start(&self) -> DateTime<Utc> {
        self.fired_at - chrono::Duration::seconds(self.window_secs as i64)
    }

    /// The `each` alert for one hit of `rule` (counting `window`, `min_followers` when the rule
    /// sets it) on `post`, fired when the post was fetched.
    pub fn each(
        rule: &str,
        window: Duration,
        min_followers: Option<u64>,
        post: AlertPost,
        fetched_at: DateTime<Utc>,
    ) -> Alert {
        let reason = match (min_followers, post.followers) {
            (Some(min), Some(f)) => {
                format!("a critical post by an author with {f} followers (≥ {min})")
            }
            _ => "a critical post".to_string(),
        };
        Alert {
            id: 0,
            rule: rule.to_string(),
            kind: AlertKind::Each,
            fired_at: fetched_at,
            window_secs: window.as_secs(),
            count: 1,
            baseline: 0.0,
            bar: 1.0,
            reason,
            posts: vec![post],
            series: Series::default(),
            source_state: None,
            error: None,
            case: None,
        }
    }

    /// The `threshold` or `spike` alert that `decision` fired for `rule` at `now`, quoting the
    /// window's top `posts` and charting `series`.
    pub fn window(
        rule: &str,
        window: Duration,
        decision: Decision,
        now: DateTime<Utc>,
        posts: Vec<AlertPost>,
        series: Series,
    ) -> Alert {
        Alert {
            id: 0,
            rule: rule.to_string(),
            kind: decision.kind,
            fired_at: now,
            window_secs: window.as_secs(),
            count: decision.count,
            baseline: decision.baseline,
            bar: decision.bar,
            reason: decision.reason,
            posts,
            series,
            source_state: None,
            error: None,
            case: None,
        }
    }

    /// The reminder ([`AlertKind::Reminder`]) or escalation ([`AlertKind::Breach`]) of `case`,
    /// opened by `rule` with a promise of `promise_secs` open seconds, quoting the complaint
    /// `post`, at `at` (the reminder's or the deadline's time). `window_secs` holds the promise.
    pub fn case(
        kind: AlertKind,
        rule: &str,
        case: CaseRef,
        promise_secs: u64,
        post: AlertPost,
        at: DateTime<Utc>,
    ) -> Alert {
        let promise = human(Duration::from_secs(promise_secs));
        let reason = match kind {
            AlertKind::Breach => format!(
                "case #{} on {rule} breached: no reply after {promise}",
                case.id
            ),
            _ => format!(
                "reply due in {}: case #{} on {rule}",
                human(Duration::from_secs(promise_secs - promise_secs / 2)),
                case.id
            ),
        };
        Alert {
            id: 0,
            rule: rule.to_string(),
            kind,
            fired_at: at,
            window_secs: promise_secs,
            count: 1,
            baseline: 0.0,
            bar: 0.0,
            reason,
            posts: vec![post],
            series: Series::default(),
            source_state: None,
            error: None,
            case: Some(case),
        }
    }

    /// The `source` alert saying that `source` (whose health was `health`) is now in
    /// `condition`, with its last `error` if any.
    pub fn source(
        source: &str,
        condition: SourceCondition,
        health: &Health,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Alert {
        let since = |t: Option<DateTime<Utc>>| {
            human(t.map_or(Duration::ZERO, |t| (now - t).to_std().unwrap_or_default()))
        };
        let reason = match condition {
            SourceCondition::Failing => format!(
                "source {source} has failed for {}",
                since(health.failing_since)
            ),
            SourceCondition::Silent => format!(
                "source {source} has brought no new post for {} (usually one every {})",
                since(health.last_new_post),
                human(health.usual_gap.unwrap_or_default())
            ),
            SourceCondition::Recovered => format!("source {source} works again"),
        };
        Alert {
            id: 0,
            rule: source.to_string(),
            kind: AlertKind::Source,
            fired_at: now,
            window_secs: 0,
            count: 0,
            baseline: 0.0,
            bar: 0.0,
            reason,
            posts: Vec::new(),
            series: Series::default(),
            source_state: Some(condition),
            error: error.map(str::to_string),
            case: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn series_buckets_the_day_before_by_window_widened_to_at_most_288_bars() {
        let now = t("2026-11-22T12:00:00Z");
        // (window, bucket_secs, bars)
        let table = [
            (Duration::from_secs(900), 900, 96),
            (Duration::from_secs(3600), 3600, 24),
            (Duration::from_secs(60), 300, 288),
            (Duration::ZERO, 300, 288),
            (Duration::from_secs(7 * 3600), 7 * 3600, 4),
        ];
        for (window, bucket, bars) in table {
            let s = Series::day_before(window, now);
            assert_eq!(
                (s.bucket_secs, s.counts.len()),
                (bucket, bars),
                "{window:?}"
            );
            assert_eq!(s.end(), now, "{window:?}");
        }
    }

    #[test]
    fn series_counts_each_hit_in_its_half_open_bucket() {
        let now = t("2026-11-22T12:00:00Z");
        let mut s = Series::day_before(Duration::from_secs(3600), now);
        s.add(t("2026-11-22T12:00:00Z")); // the end belongs to the last bucket
        s.add(t("2026-11-22T11:00:00Z")); // a bucket's end is its own
        s.add(t("2026-11-22T11:00:01Z"));
        s.add(t("2026-11-21T12:00:01Z")); // the first second of the day
        s.add(t("2026-11-21T12:00:00Z")); // outside: the nearest bucket
        assert_eq!(s.counts[23], 2);
        assert_eq!(s.counts[22], 1);
        assert_eq!(s.counts[0], 2);
        assert_eq!(s.counts.iter().sum::<u64>(), 5);
    }

    #[test]
    fn source_alert_says_how_long_and_names_the_usual_gap() {
        let now = t("2026-11-22T12:00:00Z");
        let health = Health {
            failing_since: Some(t("2026-11-22T11:30:00Z")),
            last_new_post: Some(t("2026-11-22T06:00:00Z")),
            usual_gap: Some(Duration::from_secs(3600)),
            every: Duration::from_secs(60),
            open: None,
        };
        let table = [
            (SourceCondition::Failing, "source forum has failed for 30m"),
            (
                SourceCondition::Silent,
                "source forum has brought no new post for 6h (usually one every 1h)",
            ),
            (SourceCondition::Recovered, "source forum works again"),
        ];
        for (condition, reason) in table {
            let a = Alert::source("forum", condition, &health, Some("HTTP 503"), now);
            assert_eq!(a.reason, reason);
            assert_eq!(
                (a.kind, a.source_state, a.error.as_deref()),
                (AlertKind::Source, Some(condition), Some("HTTP 503"))
            );
        }
    }

    #[test]
    fn each_alert_names_the_followers_only_when_the_rule_asks_for_them() {
        let now = t("2026-11-22T12:00:00Z");
        let post = AlertPost {
            source: "forum".into(),
            author: Some("@a".into()),
            author_name: None,
            text: "colis perdu".into(),
            url: None,
            created_at: now,
            followers: Some(12_000),
            engagement: None,
            matched: vec!["colis".into()],
        };
        let window = Duration::from_secs(900);
        let a = Alert::each("critique", window, Some(10_000), post.clone(), now);
        assert_eq!(
            a.reason,
            "a critical post by an author with 12000 followers (≥ 10000)"
        );
        assert_eq!((a.count, a.bar, a.window_secs), (1, 1.0, 900));
        let a = Alert::each("critique", window, None, post, now);
        assert_eq!(a.reason, "a critical post");
    }
}
