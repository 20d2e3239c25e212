//! Alert decisions, pure: counts and times in, a decision out (SPEC §5).
//!
//! Nothing here reads a clock or a database. `store::alerts` gathers the counts in the commit's
//! transaction and passes `now` (wall time in the daemon, the post's own time in `replay`), so
//! the same code decides live and in a backtest (alertmanager's `needsUpdate(…, now)`). What a
//! decision becomes, the [`Alert`] that the store records and the notifiers render, is
//! [`alert`]'s: the types live here, with the decision, below both of their users.
//!
//! - `each`: every hit of a post that is not a backfill and whose author has `min_followers`.
//! - `threshold`: the window's count reaches N.
//! - `spike`: the window's count is at least `factor` × the baseline, at least `min_count`, and
//!   `P(X ≥ count)` under a Poisson law of the baseline's mean is below `p`; and the database
//!   holds `learn` of history.
//! - The baseline is the larger of the trailing mean per window and the mean of the same
//!   time-of-day window on previous days, so a daily bump is "usual".
//! - Periods in which one of the rule's sources was down are left out of the baseline
//!   ([`Plan::leave_out`]): an outage is not a quiet time, so the hour after it is not a spike.
//! - After a threshold or spike alert the rule and kind are quiet for `cooldown`; at its end a
//!   count still above the bar alerts again.
//! - `source` alerts follow a source's health ([`health`]): failing for `source_alert_after`,
//!   silent for three times its usual gap between posts, then recovered.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::AlertSpec;

pub mod alert;
pub mod counts;
pub mod health;
pub mod tune;

pub use alert::{Alert, AlertKind, AlertPost, CaseRef, Series, SourceCondition};
pub use counts::{Counters, Tally};
pub use health::{evaluate_source, usual_gap, Health, GAP_PERIOD, MIN_POSTS_FOR_GAP};

/// The smallest Poisson mean used in the tail test: with no usual activity at all, a burst is
/// judged against a rate of one hit every ten windows rather than against zero (where any
/// single hit would be "impossible").
pub const MIN_RATE: f64 = 0.1;

/// One day, the period of the same-time-of-day baseline.
pub const DAY: Duration = Duration::from_secs(86_400);

/// The counts `evaluate` needs, gathered for one rule at one `now`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Hits in the current window, `(now - window, now]`.
    pub current: u64,
    /// Hits in the trailing period before the current window.
    pub trailing: u64,
    /// Length of that trailing period, in windows (the baseline period, or less when the
    /// database holds less history). 0 when there is no history before the window.
    pub trailing_windows: f64,
    /// Hits in the same window on each previous day of the period that history covers.
    pub same_time: Vec<u64>,
    /// How much history the database holds: `now` minus its earliest post.
    pub history: Duration,
}

impl Counts {
    /// The usual count for one window: the larger of the trailing mean and the same
    /// time-of-day mean (0 without history).
    pub fn baseline(&self) -> f64 {
        let trailing = if self.trailing_windows > 0.0 {
            self.trailing as f64 / self.trailing_windows
        } else {
            0.0
        };
        let same = if self.same_time.is_empty() {
            0.0
        } else {
            self.same_time.iter().sum::<u64>() as f64 / self.same_time.len() as f64
        };
        trailing.max(same)
    }
}

/// The time ranges whose hits make up [`Counts`] at one `now`: the store counts them with SQL,
/// tests and `replay` checks count them in memory, and both share these bounds. Each range is
/// `(start, end]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The current window.
    pub current: (DateTime<Utc>, DateTime<Utc>),
    /// The trailing period before it, in time order: one range, or none without history
    /// before the window, or several once down periods are left out.
    pub trailing: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// The trailing ranges' total length in windows.
    pub trailing_windows: f64,
    /// The same window on each previous day that history covers.
    pub same_time: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// `now` minus the earliest post.
    pub history: Duration,
}

/// The ranges to count for a rule with `window` and baseline `period`, given the database's
/// earliest post. The trailing period is cut to the history the database holds, so a young
/// database is judged on what it has seen rather than on a mean diluted by empty days.
pub fn plan(
    now: DateTime<Utc>,
    window: Duration,
    period: Duration,
    earliest: Option<DateTime<Utc>>,
) -> Plan {
    plan_with(now, window, period, earliest, true)
}

/// [`plan`] without its same-time days (an empty `same_time`): the current and trailing
/// ranges, enough for [`rules_out`], at a fraction of the cost of laying out a year of days.
pub fn trailing_plan(
    now: DateTime<Utc>,
    window: Duration,
    period: Duration,
    earliest: Option<DateTime<Utc>>,
) -> Plan {
    plan_with(now, window, period, earliest, false)
}

fn plan_with(
    now: DateTime<Utc>,
    window: Duration,
    period: Duration,
    earliest: Option<DateTime<Utc>>,
    days: bool,
) -> Plan {
    let w = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let start = now - w;
    // Ranges are `(start, end]` on whole seconds: history starts one second before the
    // earliest post, so that post is counted.
    let earliest = earliest.map(|e| e - chrono::Duration::seconds(1));
    let history = earliest.map_or(Duration::ZERO, |e| {
        (now - e).to_std().unwrap_or(Duration::ZERO)
    });
    let before = earliest.map_or(Duration::ZERO, |e| {
        (start - e).to_std().unwrap_or(Duration::ZERO)
    });
    let span = before.min(period);
    let trailing: Vec<_> = (!span.is_zero() && !window.is_zero())
        .then(|| {
            let s = chrono::Duration::from_std(span).unwrap_or_default();
            (start - s, start)
        })
        .into_iter()
        .collect();
    let trailing_windows = if !trailing.is_empty() {
        span.as_secs_f64() / window.as_secs_f64()
    } else {
        0.0
    };
    // Whole days within the span only, so each day's window lies inside the history.
    let days = if days {
        (span.as_secs() / DAY.as_secs()).min(366)
    } else {
        0
    };
    let same_time = (1..=days as i64)
        .map(|d| {
            let end = now - chrono::Duration::days(d);
            (end - w, end)
        })
        .collect();
    Plan {
        current: (start, now),
        trailing,
        trailing_windows,
        same_time,
        history,
    }
}

impl Plan {
    /// Leaves the periods in `down` (when one of the rule's sources was down, `[start, end]`,
    /// in any order, overlapping or not) out of the baseline (SPEC §5): the trailing ranges lose
    /// those periods and their length, and a previous day's window that overlaps one is
    /// dropped. The baseline is then the mean over the time the sources were up. The current
    /// window is never changed.
    pub fn leave_out(mut self, down: &[(DateTime<Utc>, DateTime<Utc>)]) -> Plan {
        let mut down: Vec<_> = down.iter().copied().filter(|(s, e)| s < e).collect();
        if down.is_empty() {
            return self;
        }
        down.sort();
        let overlaps = |s: DateTime<Utc>, e: DateTime<Utc>| down.iter().any(|d| d.0 < e && d.1 > s);
        if !self.trailing.iter().any(|&(s, e)| overlaps(s, e))
            && !self.same_time.iter().any(|&(s, e)| overlaps(s, e))
        {
            return self;
        }
        let mut kept = Vec::new();
        for &(start, end) in &self.trailing {
            let mut at = start;
            for &(ds, de) in down.iter().filter(|d| d.1 > start && d.0 < end) {
                if ds > at {
                    kept.push((at, ds));
                }
                at = at.max(de);
            }
            if at < end {
                kept.push((at, end));
            }
        }
        let window = (self.current.1 - self.current.0).num_milliseconds();
        let length: i64 = kept.iter().map(|(s, e)| (*e - *s).num_milliseconds()).sum();
        self.trailing_windows = if window > 0 {
            length as f64 / window as f64
        } else {
            0.0
        };
        self.trailing = kept;
        self.same_time.retain(|&(s, e)| !overlaps(s, e));
        self
    }

    /// Counts every range with `count(start, end)` (hits with `start < t <= end`).
    pub fn counts(&self, mut count: impl FnMut(DateTime<Utc>, DateTime<Utc>) -> u64) -> Counts {
        Counts {
            current: count(self.current.0, self.current.1),
            trailing: self.trailing.iter().map(|&(s, e)| count(s, e)).sum(),
            trailing_windows: self.trailing_windows,
            same_time: self.same_time.iter().map(|&(s, e)| count(s, e)).collect(),
            history: self.history,
        }
    }
}

/// What `evaluate` decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `threshold` or `spike`.
    pub kind: AlertKind,
    /// Hits in the window.
    pub count: u64,
    /// The usual count.
    pub baseline: f64,
    /// The count that had to be reached.
    pub bar: f64,
    /// Why, in one line free of post text.
    pub reason: String,
}

/// Decides whether a `threshold` or `spike` rule fires at `now`. `last_alert` is the time of
/// the rule's last alert of the same kind, if any. `each` rules are decided per post by
/// [`each_fires`]; this returns `None` for them.
pub fn evaluate(
    spec: &AlertSpec,
    window: Duration,
    cooldown: Duration,
    counts: &Counts,
    last_alert: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Decision> {
    if cooling(last_alert, cooldown, now) {
        return None;
    }
    match *spec {
        AlertSpec::Each { .. } => None,
        AlertSpec::Threshold { count } => threshold(count, window, counts),
        AlertSpec::Spike {
            factor,
            min_count,
            p,
            learn,
            ..
        } => spike(factor, min_count, p, learn, window, counts),
    }
}

/// A `threshold` rule fires when the window holds at least `n` hits (and at least one).
fn threshold(n: u64, window: Duration, counts: &Counts) -> Option<Decision> {
    let count = counts.current;
    (count >= n && count > 0).then(|| Decision {
        kind: AlertKind::Threshold,
        count,
        baseline: counts.baseline(),
        bar: n as f64,
        reason: format!("{count} hits in {}, threshold {n}", human(window)),
    })
}

/// A `spike` rule fires once `learn` of history is held, when the window reaches the bar
/// (`factor` × the baseline, at least `min_count`) and the Poisson tail of its count is below
/// `p`.
fn spike(
    factor: f64,
    min_count: u64,
    p: f64,
    learn: Duration,
    window: Duration,
    counts: &Counts,
) -> Option<Decision> {
    let count = counts.current;
    let baseline = counts.baseline();
    let bar = (factor * baseline).max(min_count as f64).max(1.0);
    if counts.history < learn || (count as f64) < bar {
        return None;
    }
    let tail = poisson_tail(count, baseline.max(MIN_RATE));
    if tail >= p {
        return None;
    }
    let ratio = if baseline > 0.0 {
        format!("{:.1}×", count as f64 / baseline)
    } else {
        "none usually".to_string()
    };
    let win = human(window);
    Some(Decision {
        kind: AlertKind::Spike,
        count,
        baseline,
        bar,
        reason: format!(
            "{count} hits in {win}, usual {baseline:.1} ({ratio}), P(≥{count}) = {tail:.1e} < {p}"
        ),
    })
}

/// Whether a rule whose last alert of the same kind was at `last_alert` is still quiet at `now`.
pub fn cooling(last_alert: Option<DateTime<Utc>>, cooldown: Duration, now: DateTime<Utc>) -> bool {
    last_alert.is_some_and(|last| (now - last).to_std().map_or(true, |since| since < cooldown))
}

/// The lowest count at which `evaluate` can fire a `threshold` or `spike` rule, whatever the
/// baseline (`None` for `each`): a window below it never alerts, so its history need not be
/// counted.
pub fn floor(spec: &AlertSpec) -> Option<u64> {
    match *spec {
        AlertSpec::Each { .. } => None,
        AlertSpec::Threshold { count } => Some(count.max(1)),
        AlertSpec::Spike { min_count, .. } => Some(min_count.max(1)),
    }
}

/// Whether `evaluate` cannot fire `spec` at `plan`'s `now`, known from the cheap counts alone:
/// the current window's and the trailing ranges' (the same-time days are one range each, up to
/// a year of them). The baseline is at least the trailing mean, so the bar is at least
/// `factor` × that mean; a `spike` window below it, or short of `learn`, never fires, whatever
/// the other days held. Always false for `threshold`, whose bar needs no baseline.
pub fn rules_out(spec: &AlertSpec, plan: &Plan, current: u64, trailing: u64) -> bool {
    let AlertSpec::Spike {
        factor,
        min_count,
        learn,
        ..
    } = *spec
    else {
        return false;
    };
    let partial = Counts {
        current,
        trailing,
        trailing_windows: plan.trailing_windows,
        same_time: Vec::new(),
        history: plan.history,
    };
    // `factor` > 1 (validated): multiplying by it keeps the order of baselines.
    let bar = (factor.max(0.0) * partial.baseline())
        .max(min_count as f64)
        .max(1.0);
    plan.history < learn || (current as f64) < bar
}

/// Whether one new hit of an `each` rule alerts: not for a backfilled post (already older than
/// the window when first fetched), and only for authors with `min_followers` when set.
pub fn each_fires(
    min_followers: Option<u64>,
    followers: Option<u64>,
    created_at: DateTime<Utc>,
    fetched_at: DateTime<Utc>,
    window: Duration,
) -> bool {
    !is_backfill(created_at, fetched_at, window)
        && min_followers.is_none_or(|min| followers.unwrap_or(0) >= min)
}

/// A post already older than the window when first fetched: stored and counted in its own
/// past window, never alerted on.
pub fn is_backfill(created_at: DateTime<Utc>, fetched_at: DateTime<Utc>, window: Duration) -> bool {
    (fetched_at - created_at)
        .to_std()
        .is_ok_and(|age| age > window)
}

/// `P(X ≥ k)` for `X ~ Poisson(lambda)`, summed in log space from `k` upwards so that tiny
/// tails (1e-30) stay exact instead of rounding `1 - CDF` to zero.
pub fn poisson_tail(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    // log pmf(k) = -λ + k ln λ - ln k!
    let mut log_term = -lambda + k as f64 * lambda.ln() - ln_factorial(k);
    let mut sum = 0.0;
    let mut i = k;
    loop {
        let term = log_term.exp();
        sum += term;
        i += 1;
        log_term += lambda.ln() - (i as f64).ln();
        // Terms shrink once i > λ; stop when they no longer matter.
        if i as f64 > lambda && (term < sum * 1e-16 || i - k > 100_000) {
            break;
        }
    }
    sum.min(1.0)
}

/// `ln(n!)`: exact sum for small `n`, Stirling's series beyond.
fn ln_factorial(n: u64) -> f64 {
    if n < 256 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let n = n as f64;
    n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln() + 1.0 / (12.0 * n)
        - 1.0 / (360.0 * n * n * n)
}

/// `900s` → `15m`, `3600s` → `1h`, for messages.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests;
