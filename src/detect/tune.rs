//! Tuning a spike rule on a history, pure: one rule's hit times in, for each setting of a grid
//! the alerts that would have fired (`vigie tune`, issue 23).
//!
//! Each setting is decided by the daemon's own code: [`plan`](super::plan) gives the ranges,
//! [`Plan::counts`](super::Plan::counts) counts them, [`evaluate`](super::evaluate) decides, and
//! the cooldown runs from the previous decision, as `store::alerts::windows` does in a commit.
//! What is left to this module is where `now` falls and how ranges are counted. `now` is each
//! second in which the history has a post, as `vigie replay` commits one second at a time; the
//! counts are exact on whole seconds (`start < t <= end`, as the store's SQL and
//! [`Counters`](super::Counters) count them), from the rule's hits held sorted in one slice. A
//! tuning run holds one rule's hits over the whole file anyway, so positions in that slice
//! answer any range, where the daemon's ring buffers answer only the last baseline period.
//! One setting is one pass over the seconds: every range a plan counts moves forward with
//! `now`, so its two positions in the slice walk forward too (each hit is passed once per
//! range, not searched for at each second), and only a window that reaches `min_count` outside
//! a cooldown pays for the baseline's ranges.
//!
//! Bursts are defined once per history, apart from the grid, so that settings can be compared
//! on them (see [`bursts`]). Reading the file, matching and printing are `cli::tune`'s.

use std::cmp::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{cooling, evaluate, floor, plan, poisson_tail, MIN_RATE};
use crate::config::AlertSpec;

/// The reference window of a burst.
pub const BURST_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A burst's window holds at least this many times its usual count…
pub const BURST_FACTOR: f64 = 3.0;
/// …and at least this many hits.
pub const BURST_MIN: u64 = 5;

/// One week, the unit of the alert rate.
pub const WEEK: Duration = Duration::from_secs(7 * 86_400);

/// One rule's history: the seconds in which the file has a post (the moments `replay` decides
/// at), and the seconds of the rule's hits (one per hit, so repeated), both sorted.
#[derive(Debug, Clone, Default)]
pub struct History {
    ticks: Vec<i64>,
    hits: Vec<i64>,
}

impl History {
    /// A history from post and hit seconds in any order (every hit's second is a post's).
    pub fn new(mut ticks: Vec<i64>, mut hits: Vec<i64>) -> History {
        ticks.sort_unstable();
        ticks.dedup();
        hits.sort_unstable();
        History { ticks, hits }
    }

    /// How many hits.
    pub fn hits(&self) -> usize {
        self.hits.len()
    }

    /// The first post's time.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.ticks.first().and_then(|&t| at(t))
    }

    /// From the first post to the last.
    pub fn span(&self) -> Duration {
        match (self.ticks.first(), self.ticks.last()) {
            (Some(a), Some(b)) => Duration::from_secs((b - a).max(0) as u64),
            _ => Duration::ZERO,
        }
    }

    /// Hits with `start < t <= end`, on whole seconds.
    fn count(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> u64 {
        let (a, b) = (start.timestamp(), end.timestamp());
        if b <= a {
            return 0;
        }
        let lo = self.hits.partition_point(|&t| t <= a);
        let hi = self.hits.partition_point(|&t| t <= b);
        (hi - lo) as u64
    }
}

/// Counts in ranges that move forward: the `i`-th range a [`Plan`](super::Plan) counts (the
/// current window, the trailing period, each previous day's window) only moves forward as `now`
/// does, so each keeps two positions in the sorted hits that walk on instead of searching
/// again. A bound that moved back (none does) is searched for, so the counts are exact anyway.
#[derive(Debug, Default)]
struct Cursors {
    /// Per range: for its start and its end, the last bound and the hits at or before it.
    at: Vec<[(i64, usize); 2]>,
}

impl Cursors {
    /// Hits with `start < t <= end` on whole seconds, for the `i`-th range.
    fn count(&mut self, hits: &[i64], i: usize, start: DateTime<Utc>, end: DateTime<Utc>) -> u64 {
        if self.at.len() <= i {
            self.at.resize(i + 1, [(i64::MIN, 0); 2]);
        }
        let (a, b) = (start.timestamp(), end.timestamp());
        if b <= a {
            return 0;
        }
        let [lo, hi] = &mut self.at[i];
        let (lo, hi) = (seek(hits, lo, a), seek(hits, hi, b));
        (hi - lo) as u64
    }
}

/// Moves a cursor to `bound`: returns how many hits are at or before it.
fn seek(hits: &[i64], cursor: &mut (i64, usize), bound: i64) -> usize {
    let (last, pos) = cursor;
    if bound >= *last {
        while *pos < hits.len() && hits[*pos] <= bound {
            *pos += 1;
        }
    } else {
        *pos = hits.partition_point(|&t| t <= bound);
    }
    *last = bound;
    *pos
}

/// A second as a time.
fn at(second: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(second, 0)
}

/// What a rule keeps whatever the grid says: its `alert` table's `p`, `baseline` and `learn`,
/// and its `cooldown`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Base {
    /// Poisson tail bar.
    pub p: f64,
    /// The baseline's trailing period.
    pub baseline: Duration,
    /// History needed before the first alert.
    pub learn: Duration,
    /// Quiet time after an alert.
    pub cooldown: Duration,
}

/// One point of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    /// `spike`: the ratio over the usual count.
    pub spike: f64,
    /// `min_count`: the floor on the window's count.
    pub min_count: u64,
    /// `window`: the counting window.
    pub window: Duration,
}

impl Setting {
    /// The rule's `alert` spec for this setting.
    pub fn spec(&self, base: &Base) -> AlertSpec {
        AlertSpec::Spike {
            factor: self.spike,
            min_count: self.min_count,
            p: base.p,
            baseline: base.baseline,
            learn: base.learn,
        }
    }

    /// Sensitivity order of the settings alone: lower spike, then lower min_count, then shorter
    /// window first.
    fn order(&self, other: &Setting) -> Ordering {
        self.spike
            .total_cmp(&other.spike)
            .then(self.min_count.cmp(&other.min_count))
            .then(self.window.cmp(&other.window))
    }
}

/// One alert a setting would have fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// When (a second in which the history has a post).
    pub at: i64,
    /// Hits in its window.
    pub count: u64,
    /// The usual count it was judged against.
    pub baseline: f64,
}

/// The alerts `setting` fires over `history`, in time order: the decisions `replay` takes for
/// a spike rule with this setting, one pass over the history's seconds.
pub fn fire(history: &History, base: &Base, setting: &Setting) -> Vec<Fired> {
    let spec = setting.spec(base);
    let floor = floor(&spec).unwrap_or(1);
    let earliest = history.earliest();
    let window = chrono::Duration::from_std(setting.window).unwrap_or(chrono::Duration::MAX);
    let hits = &history.hits;
    let (mut lo, mut hi) = (0, 0);
    let mut last: Option<DateTime<Utc>> = None;
    let mut cursors = Cursors::default();
    let mut out = Vec::new();
    for &t in &history.ticks {
        let Some(now) = at(t) else { continue };
        // The current window `(now - window, now]` on whole seconds, slid forward.
        let start = now
            .checked_sub_signed(window)
            .map_or(i64::MIN, |s| s.timestamp());
        while hi < hits.len() && hits[hi] <= t {
            hi += 1;
        }
        while lo < hi && hits[lo] <= start {
            lo += 1;
        }
        if ((hi - lo) as u64) < floor || cooling(last, base.cooldown, now) {
            continue;
        }
        let plan = plan(now, setting.window, base.baseline, earliest);
        let mut range = 0;
        let counts = plan.counts(|s, e| {
            range += 1;
            cursors.count(hits, range - 1, s, e)
        });
        if let Some(d) = evaluate(&spec, setting.window, base.cooldown, &counts, last, now) {
            last = Some(now);
            out.push(Fired {
                at: t,
                count: d.count,
                baseline: d.baseline,
            });
        }
    }
    out
}

/// A burst: from its onset to its last qualifying hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// The first hit of the first reference window that qualified.
    pub onset: i64,
    /// The last hit at which a reference window qualified.
    pub end: i64,
}

/// The bursts of `history`, defined apart from any setting: at each hit (once `learn` of
/// history is held), the [`BURST_WINDOW`] ending there qualifies when it holds at least
/// [`BURST_FACTOR`] × its usual count (the §5 baseline over the rule's `baseline` period), at
/// least [`BURST_MIN`] hits, and a count unlikely under the usual rate (Poisson tail below the
/// rule's `p`): what a spike rule at 3×, 5 hits and 15 minutes would call a spike, cooldown
/// aside. A burst runs from the first hit of its first qualifying window
/// to the last hit whose window qualifies; windows that overlap or touch make one burst.
pub fn bursts(history: &History, base: &Base) -> Vec<Burst> {
    let earliest = history.earliest();
    let width = BURST_WINDOW.as_secs() as i64;
    let mut out: Vec<Burst> = Vec::new();
    let hits = &history.hits;
    let mut lo = 0;
    let mut previous = None;
    for (i, &t) in hits.iter().enumerate() {
        if previous == Some(t) {
            continue;
        }
        previous = Some(t);
        let Some(now) = at(t) else { continue };
        let hi = i + hits[i..].partition_point(|&h| h <= t);
        while hits[lo] <= t - width {
            lo += 1;
        }
        let count = (hi - lo) as u64;
        if count < BURST_MIN {
            continue;
        }
        let plan = plan(now, BURST_WINDOW, base.baseline, earliest);
        let counts = plan.counts(|s, e| history.count(s, e));
        let usual = counts.baseline();
        if counts.history < base.learn
            || (count as f64) < BURST_FACTOR * usual
            || poisson_tail(count, usual.max(MIN_RATE)) >= base.p
        {
            continue;
        }
        match out.last_mut() {
            Some(b) if t - width <= b.end => b.end = t,
            _ => out.push(Burst {
                onset: hits[lo],
                end: t,
            }),
        }
    }
    out
}

/// A setting's alerts weighed against the bursts.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The setting.
    pub setting: Setting,
    /// Its alerts, in time order.
    pub fired: Vec<Fired>,
    /// Alerts per week over the history's span.
    pub per_week: f64,
    /// How many of the alerts caught a burst.
    pub in_bursts: usize,
    /// How many bursts at least one alert caught.
    pub caught: usize,
    /// The longest wait from a caught burst's onset to its first alert.
    pub max_delay: Option<Duration>,
}

/// Weighs `fired` against `bursts`: an alert catches a burst when it fired at or after the
/// onset and the window it counted started before the burst's end (the window holds part of
/// the burst). A burst's delay runs from its onset to the first alert that caught it.
pub fn outcome(setting: Setting, fired: Vec<Fired>, bursts: &[Burst], span: Duration) -> Outcome {
    let window = setting.window.as_secs() as i64;
    let catches = |f: &Fired, b: &Burst| f.at >= b.onset && f.at - window < b.end;
    let in_bursts = fired
        .iter()
        .filter(|f| bursts.iter().any(|b| catches(f, b)))
        .count();
    let delays: Vec<i64> = bursts
        .iter()
        .filter_map(|b| fired.iter().find(|f| catches(f, b)).map(|f| f.at - b.onset))
        .collect();
    let weeks = span.as_secs_f64().max(1.0) / WEEK.as_secs_f64();
    Outcome {
        setting,
        per_week: fired.len() as f64 / weeks,
        in_bursts,
        caught: delays.len(),
        max_delay: delays
            .iter()
            .max()
            .map(|&d| Duration::from_secs(d.max(0) as u64)),
        fired,
    }
}

/// Most sensitive first: more bursts caught, then more alerts, then the lower spike, lower
/// min_count and shorter window.
pub fn sensitivity(a: &Outcome, b: &Outcome) -> Ordering {
    b.caught
        .cmp(&a.caught)
        .then(b.fired.len().cmp(&a.fired.len()))
        .then(a.setting.order(&b.setting))
}

/// Every setting's outcome over `history`, most sensitive first. Settings are independent,
/// so they are shared among the machine's cores (thread `k` takes settings `k`, `k + n`, …, so
/// that short and long windows, which cost differently, are spread evenly).
pub fn grid(history: &History, base: &Base, settings: &[Setting]) -> (Vec<Outcome>, Vec<Burst>) {
    let bursts = bursts(history, base);
    let span = history.span();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, settings.len().max(1));
    let bursts_ref = &bursts;
    let mut outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                scope.spawn(move || {
                    settings
                        .iter()
                        .skip(k)
                        .step_by(threads)
                        .map(|s| outcome(*s, fire(history, base, s), bursts_ref, span))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    outcomes.sort_by(sensitivity);
    (outcomes, bursts)
}

/// The most sensitive outcome (the first of `sorted`, in [`sensitivity`] order) whose alerts
/// per week are at most `per_week`.
pub fn propose(sorted: &[Outcome], per_week: f64) -> Option<usize> {
    sorted.iter().position(|o| o.per_week <= per_week)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::detect::Counts;

    const H: i64 = 3600;
    const DAY: i64 = 86_400;
    /// 2026-11-02T00:00:00Z, a Monday.
    const T0: i64 = 1_793_577_600;

    fn base(learn: i64, cooldown: i64) -> Base {
        Base {
            p: 0.001,
            baseline: Duration::from_secs(7 * DAY as u64),
            learn: Duration::from_secs(learn as u64),
            cooldown: Duration::from_secs(cooldown as u64),
        }
    }

    fn setting(spike: f64, min_count: u64, window: i64) -> Setting {
        Setting {
            spike,
            min_count,
            window: Duration::from_secs(window as u64),
        }
    }

    /// `days` of one hit an hour (at :30) and a post every ten minutes, plus `extra` hits.
    fn history(days: i64, extra: &[i64]) -> History {
        let hits: Vec<i64> = (0..days * 24)
            .map(|h| T0 + h * H + 1800)
            .chain(extra.iter().copied())
            .collect();
        let ticks = (0..days * 144)
            .map(|i| T0 + i * 600)
            .chain(hits.iter().copied())
            .collect();
        History::new(ticks, hits)
    }

    /// `n` hits from `start`, one every `every` seconds.
    fn run_of(start: i64, n: i64, every: i64) -> Vec<i64> {
        (0..n).map(|i| start + i * every).collect()
    }

    /// The reference: every second of the history decided with counts taken one hit at a time.
    fn naive(history: &History, base: &Base, s: &Setting) -> Vec<i64> {
        let spec = s.spec(base);
        let mut last = None;
        let mut out = Vec::new();
        for &t in &history.ticks {
            let now = at(t).unwrap();
            let plan = plan(now, s.window, base.baseline, history.earliest());
            let counts: Counts = plan.counts(|a, b| {
                let (a, b) = (a.timestamp(), b.timestamp());
                history.hits.iter().filter(|&&h| a < h && h <= b).count() as u64
            });
            if evaluate(&spec, s.window, base.cooldown, &counts, last, now).is_some() {
                last = Some(now);
                out.push(t);
            }
        }
        out
    }

    fn times(fired: &[Fired]) -> Vec<i64> {
        fired.iter().map(|f| f.at).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The sliding window and the shortcuts (floor, cooldown) decide as the plain loop does.
        #[test]
        fn fire_decides_as_a_plain_loop(
            hits in proptest::collection::vec(0i64..3 * DAY, 0..300),
            ticks in proptest::collection::vec(0i64..3 * DAY, 0..200),
            spike in 1.1f64..6.0,
            min_count in 0u64..8,
            window in prop_oneof![Just(300i64), Just(900), Just(3600)],
            learn in prop_oneof![Just(0i64), Just(H), Just(DAY)],
            cooldown in prop_oneof![Just(0i64), Just(H), Just(6 * H)],
        ) {
            let hits: Vec<i64> = hits.iter().map(|h| T0 + h).collect();
            let ticks = ticks.iter().map(|t| T0 + t).chain(hits.iter().copied()).collect();
            let history = History::new(ticks, hits);
            let (b, s) = (base(learn, cooldown), setting(spike, min_count, window));
            prop_assert_eq!(times(&fire(&history, &b, &s)), naive(&history, &b, &s));
        }
    }

    #[test]
    fn min_count_is_a_floor_on_the_window() {
        // Four hits in two minutes on day 3: far above one an hour, but only four.
        let history = history(4, &run_of(T0 + 3 * DAY + 10 * H, 4, 30));
        let b = base(DAY, H);
        assert!(fire(&history, &b, &setting(3.0, 5, 900)).is_empty());
        // Three hits pass the floor but not the Poisson tail (0.002 at a usual 0.25); four do.
        let fired = fire(&history, &b, &setting(3.0, 3, 900));
        assert_eq!(times(&fired), [T0 + 3 * DAY + 10 * H + 90]);
        assert_eq!(fired[0].count, 4);
    }

    #[test]
    fn learn_keeps_the_first_day_quiet() {
        // A burst of 20 hits at 10:00 on the first day, and the same at 16:00 on the third
        // (not at 10:00: the first would make that time of day usual).
        let mut extra = run_of(T0 + 10 * H, 20, 15);
        extra.extend(run_of(T0 + 2 * DAY + 16 * H, 20, 15));
        let history = history(4, &extra);
        let s = setting(3.0, 5, 900);
        let day = times(&fire(&history, &base(DAY, H), &s));
        assert_eq!(day.len(), 1, "{day:?}");
        assert!(day[0] >= T0 + 2 * DAY + 16 * H, "{day:?}");
        let hour = times(&fire(&history, &base(H, H), &s));
        assert_eq!(hour.len(), 2, "{hour:?}");
        assert!(hour[0] < T0 + 11 * H, "{hour:?}");
    }

    #[test]
    fn cooldown_spaces_the_alerts_of_a_long_burst() {
        // Three hours of a hit every 30 s from day 3, 12:00.
        let start = T0 + 3 * DAY + 12 * H;
        let history = history(4, &run_of(start, 360, 30));
        let s = setting(3.0, 5, 900);
        let hourly = times(&fire(&history, &base(DAY, H), &s));
        assert!(hourly.len() >= 3, "{hourly:?}");
        assert!(hourly.windows(2).all(|w| w[1] - w[0] >= H), "{hourly:?}");
        assert!(hourly[0] < start + 600, "{hourly:?}");
        let long = times(&fire(&history, &base(DAY, 6 * H), &s));
        assert_eq!(long, hourly[..1]);
    }

    #[test]
    fn bursts_are_found_apart_from_the_grid_and_weighed() {
        // 30 hits in ten minutes on day 3 at 09:00, and one hit more than usual on day 2.
        let onset = T0 + 3 * DAY + 9 * H;
        let mut extra = run_of(onset, 30, 20);
        extra.push(T0 + 2 * DAY + 15 * H);
        let history = history(5, &extra);
        let b = base(DAY, H);
        let found = bursts(&history, &b);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].onset, onset);
        assert!(found[0].end >= onset + 29 * 20 - 60, "{found:?}");
        let s = setting(3.0, 5, 900);
        let o = outcome(s, fire(&history, &b, &s), &found, history.span());
        assert_eq!((o.fired.len(), o.in_bursts, o.caught), (1, 1, 1));
        // The fifth hit of the burst (at +80 s) is the first window at the bar.
        assert_eq!(o.max_delay, Some(Duration::from_secs(80)));
        assert!((o.per_week - 7.0 / 5.0).abs() < 0.01, "{}", o.per_week);
        let deaf = setting(8.0, 40, 900);
        let o = outcome(deaf, fire(&history, &b, &deaf), &found, history.span());
        assert_eq!((o.fired.len(), o.caught, o.max_delay), (0, 0, None));
    }

    #[test]
    fn the_proposal_is_the_most_sensitive_setting_under_the_target() {
        let onset = T0 + 3 * DAY + 9 * H;
        // Three hits in a minute on days 4, 5 and 6 (at 15:00, 17:00, 19:00, so that no day
        // repeats the time of another): too few for a burst.
        let mut extra = run_of(onset, 30, 20);
        for d in 4..7 {
            extra.extend(run_of(T0 + d * DAY + (2 * d + 7) * H, 3, 20));
        }
        let history = history(7, &extra);
        let b = base(DAY, H);
        let settings = [
            setting(1.5, 1, 300),
            setting(3.0, 5, 900),
            setting(8.0, 40, 3600),
            setting(2.0, 5, 900),
        ];
        let (sorted, found) = grid(&history, &b, &settings);
        assert_eq!(found.len(), 1);
        let order: Vec<Setting> = sorted.iter().map(|o| o.setting).collect();
        // The noisy one first (it catches the burst too), the deaf one last, then by spike.
        assert_eq!(order, [settings[0], settings[3], settings[1], settings[2]]);
        assert_eq!(sorted[0].fired.len(), 4, "{:?}", sorted[0]);
        assert_eq!(sorted[1].fired.len(), 1);
        assert_eq!(propose(&sorted, 1.5), Some(1));
        assert_eq!(propose(&sorted, 0.0), Some(3));
        assert_eq!(propose(&sorted, 1000.0), Some(0));
    }
}
