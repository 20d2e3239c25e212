//! Table tests for SPEC §5, one or more per sentence, over a small in-memory simulator that
//! counts hits exactly as the store does (through [`plan`]).

use super::*;

const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn after(base: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    base + chrono::Duration::from_std(d).unwrap()
}

fn spike() -> AlertSpec {
    AlertSpec::Spike {
        factor: 3.0,
        min_count: 5,
        p: 0.001,
        baseline: 7 * DAY,
        learn: DAY,
    }
}

/// Replays `hits` and evaluates at every hit time and at every `extra` time, in time order,
/// remembering the last alert like the `alerts` table does. Returns the alerts' times.
struct Sim {
    spec: AlertSpec,
    window: Duration,
    cooldown: Duration,
    hits: Vec<DateTime<Utc>>,
    /// Periods a source of the rule was down, left out of the baseline.
    down: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Sim {
    fn new(spec: AlertSpec) -> Sim {
        Sim {
            spec,
            window: 15 * MIN,
            cooldown: HOUR,
            hits: Vec::new(),
            down: Vec::new(),
        }
    }

    /// `n` hits spread evenly over `[from, from + over)`.
    fn add(&mut self, from: DateTime<Utc>, over: Duration, n: u32) -> &mut Sim {
        for i in 0..n {
            self.hits
                .push(after(from, over.mul_f64(i as f64 / n as f64)));
        }
        self
    }

    /// One hit every `every` over `[from, to)`.
    fn steady(&mut self, from: DateTime<Utc>, to: DateTime<Utc>, every: Duration) -> &mut Sim {
        let mut at = from;
        while at < to {
            self.hits.push(at);
            at = after(at, every);
        }
        self
    }

    fn counts(&self, now: DateTime<Utc>) -> Counts {
        let period = match self.spec {
            AlertSpec::Spike { baseline, .. } => baseline,
            _ => 7 * DAY,
        };
        let earliest = self.hits.iter().copied().filter(|h| *h <= now).min();
        plan(now, self.window, period, earliest)
            .leave_out(&self.down)
            .counts(|s, e| self.hits.iter().filter(|h| **h > s && **h <= e).count() as u64)
    }

    /// Alerts fired when evaluating at each hit inside `[from, to]` and at `extra` times.
    fn alerts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        extra: &[DateTime<Utc>],
    ) -> Vec<Decision> {
        let mut times: Vec<_> = self
            .hits
            .iter()
            .copied()
            .filter(|h| *h >= from && *h <= to)
            .chain(extra.iter().copied())
            .collect();
        times.sort();
        let mut last = None;
        let mut out = Vec::new();
        for now in times {
            if let Some(d) = evaluate(
                &self.spec,
                self.window,
                self.cooldown,
                &self.counts(now),
                last,
                now,
            ) {
                last = Some(now);
                out.push(d);
            }
        }
        out
    }
}

#[test]
fn poisson_tail_matches_closed_forms() {
    let cases = [
        (0, 3.0, 1.0),
        (1, 1.0, 1.0 - (-1.0f64).exp()),
        (2, 1.0, 1.0 - 2.0 * (-1.0f64).exp()),
        (5, 0.1, 7.6678e-8),
        (31, 10.0, 7.9838e-8),
    ];
    for (k, lambda, want) in cases {
        let got = poisson_tail(k, lambda);
        assert!(
            (got - want).abs() <= want * 1e-3,
            "P(X≥{k}|{lambda}) = {got}, want {want}"
        );
    }
    assert!(
        poisson_tail(100, 2.0) > 0.0,
        "tiny tails do not round to zero"
    );
    assert!(poisson_tail(100, 2.0) < 1e-100);
}

#[test]
fn baseline_is_the_larger_of_trailing_and_same_time_means() {
    let c = Counts {
        current: 0,
        trailing: 96,
        trailing_windows: 96.0,
        same_time: vec![4, 6],
        history: DAY,
    };
    assert_eq!(c.baseline(), 5.0);
    let c = Counts { trailing: 960, ..c };
    assert_eq!(c.baseline(), 10.0);
    assert_eq!(Counts::default().baseline(), 0.0);
}

#[test]
fn plan_excludes_the_current_window_and_cuts_to_history() {
    let now = t("2026-11-22T12:00:00Z");
    let p = plan(now, 15 * MIN, 7 * DAY, Some(t("2026-11-20T00:00:00Z")));
    assert_eq!(p.current, (t("2026-11-22T11:45:00Z"), now));
    // History starts a second before the earliest post, so that post is inside `(start, end]`.
    assert_eq!(
        p.trailing,
        vec![(t("2026-11-19T23:59:59Z"), t("2026-11-22T11:45:00Z"))]
    );
    assert_eq!(p.trailing_windows, (2.0 * 96.0) + 47.0 + 1.0 / 900.0);
    assert_eq!(
        p.same_time,
        vec![
            (t("2026-11-21T11:45:00Z"), t("2026-11-21T12:00:00Z")),
            (t("2026-11-20T11:45:00Z"), t("2026-11-20T12:00:00Z")),
        ]
    );
    let long = plan(now, 15 * MIN, 7 * DAY, Some(t("2026-01-01T00:00:00Z")));
    assert_eq!(long.trailing_windows, 7.0 * 96.0);
    assert_eq!(long.same_time.len(), 7);
    let empty = plan(now, 15 * MIN, 7 * DAY, None);
    assert_eq!(
        (empty.trailing, empty.same_time.len(), empty.history),
        (vec![], 0, Duration::ZERO)
    );
}

#[test]
fn flat_history_uptick_below_min_count_does_not_alert() {
    let start = t("2026-11-20T00:00:00Z");
    let now = t("2026-11-22T12:00:00Z");
    let mut sim = Sim::new(spike());
    sim.steady(start, t("2026-11-22T11:45:00Z"), 4 * HOUR);
    sim.add(t("2026-11-22T11:50:00Z"), 5 * MIN, 4);
    assert_eq!(sim.alerts(t("2026-11-22T11:45:00Z"), now, &[now]), vec![]);
    // The same uptick at min_count alerts: the floor, not the rate, held it back.
    sim.add(t("2026-11-22T11:56:00Z"), MIN, 1);
    assert_eq!(sim.alerts(t("2026-11-22T11:45:00Z"), now, &[now]).len(), 1);
}

#[test]
fn zero_versus_zero_never_alerts() {
    let now = t("2026-11-22T12:00:00Z");
    let mut sim = Sim::new(spike());
    sim.hits.push(t("2026-11-10T00:00:00Z"));
    for spec in [
        spike(),
        AlertSpec::Threshold { count: 0 },
        AlertSpec::Threshold { count: 3 },
    ] {
        sim.spec = spec;
        assert_eq!(sim.alerts(now, now, &[now]), vec![], "{:?}", sim.spec);
    }
}

#[test]
fn daily_bump_at_the_same_hour_does_not_alert_once_a_day_of_history_exists() {
    let start = t("2026-11-19T00:00:00Z");
    let mut sim = Sim::new(spike());
    sim.steady(start, t("2026-11-22T23:00:00Z"), HOUR);
    for day in ["19", "20", "21", "22"] {
        sim.add(t(&format!("2026-11-{day}T12:00:00Z")), 14 * MIN, 20);
    }
    let day4 = sim.alerts(t("2026-11-22T12:00:00Z"), t("2026-11-22T12:15:00Z"), &[]);
    assert_eq!(day4, vec![], "the lunch-time bump is usual");
    // Control: the same bump at 16:00, an hour that is usually quiet, is a spike.
    sim.add(t("2026-11-22T16:00:00Z"), 14 * MIN, 20);
    let odd = sim.alerts(t("2026-11-22T16:00:00Z"), t("2026-11-22T16:15:00Z"), &[]);
    assert_eq!(odd.len(), 1);
    assert_eq!(odd[0].kind, AlertKind::Spike);
}

#[test]
fn one_burst_gives_one_alert() {
    let mut sim = Sim::new(spike());
    sim.steady(t("2026-11-20T00:00:00Z"), t("2026-11-22T12:00:00Z"), HOUR);
    sim.add(t("2026-11-22T12:00:00Z"), 20 * MIN, 60);
    let alerts = sim.alerts(t("2026-11-22T12:00:00Z"), t("2026-11-22T13:00:00Z"), &[]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    // Usual 1.0 (one post at noon each day): 5 hits pass the bar but P(≥5) = 0.004; 6 fire.
    assert_eq!(
        alerts[0].count, 6,
        "it fires as soon as the bar and the tail test are passed"
    );
    assert!(
        alerts[0].reason.starts_with("6 hits in 15m, usual 1.0"),
        "{}",
        alerts[0].reason
    );
}

#[test]
fn cooldown_end_re_alerts_only_while_still_above_the_bar() {
    let history = |sim: &mut Sim| {
        sim.steady(t("2026-11-20T00:00:00Z"), t("2026-11-22T12:00:00Z"), HOUR);
    };
    // A burst that lasts 90 minutes: one alert at its start, one when the cooldown ends.
    let mut long = Sim::new(spike());
    history(&mut long);
    long.add(t("2026-11-22T12:00:00Z"), 90 * MIN, 270);
    let alerts = long.alerts(t("2026-11-22T12:00:00Z"), t("2026-11-22T14:00:00Z"), &[]);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    // A burst over in 20 minutes: evaluating at the cooldown's end finds nothing.
    let mut short = Sim::new(spike());
    history(&mut short);
    short.add(t("2026-11-22T12:00:00Z"), 20 * MIN, 60);
    let end = t("2026-11-22T13:00:00Z");
    let alerts = short.alerts(
        t("2026-11-22T12:00:00Z"),
        end,
        &[end, t("2026-11-22T13:05:00Z")],
    );
    assert_eq!(alerts.len(), 1);
    // Threshold rules keep the same cooldown.
    let mut th = Sim::new(AlertSpec::Threshold { count: 10 });
    th.add(t("2026-11-22T12:00:00Z"), 90 * MIN, 270);
    assert_eq!(
        th.alerts(t("2026-11-22T12:00:00Z"), t("2026-11-22T14:00:00Z"), &[])
            .len(),
        2
    );
}

#[test]
fn threshold_fires_at_n_from_the_first_hit() {
    let mut sim = Sim::new(AlertSpec::Threshold { count: 3 });
    sim.add(t("2026-11-22T12:00:00Z"), 10 * MIN, 2);
    assert_eq!(
        sim.alerts(t("2026-11-22T00:00:00Z"), t("2026-11-23T00:00:00Z"), &[]),
        vec![]
    );
    sim.add(t("2026-11-22T12:10:00Z"), MIN, 1);
    let alerts = sim.alerts(t("2026-11-22T00:00:00Z"), t("2026-11-23T00:00:00Z"), &[]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].kind, alerts[0].count, alerts[0].bar),
        (AlertKind::Threshold, 3, 3.0)
    );
}

#[test]
fn no_spike_before_learn_period() {
    let mut sim = Sim::new(spike());
    sim.steady(t("2026-11-22T00:00:00Z"), t("2026-11-22T12:00:00Z"), HOUR);
    sim.add(t("2026-11-22T12:00:00Z"), 10 * MIN, 40);
    assert_eq!(
        sim.alerts(t("2026-11-22T12:00:00Z"), t("2026-11-22T12:10:00Z"), &[]),
        vec![]
    );
    // With learn = 6h the same history suffices.
    sim.spec = AlertSpec::Spike {
        factor: 3.0,
        min_count: 5,
        p: 0.001,
        baseline: 7 * DAY,
        learn: 6 * HOUR,
    };
    assert_eq!(
        sim.alerts(t("2026-11-22T12:00:00Z"), t("2026-11-22T12:10:00Z"), &[])
            .len(),
        1
    );
}

#[test]
fn spike_needs_factor_min_count_and_an_unlikely_tail() {
    let counts = |current, per_window: u64| Counts {
        current,
        trailing: per_window * 672,
        trailing_windows: 672.0,
        same_time: vec![],
        history: 7 * DAY,
    };
    let now = t("2026-11-22T12:00:00Z");
    let eval = |spec: &AlertSpec, c: &Counts| {
        evaluate(spec, 15 * MIN, HOUR, c, None, now).map(|d| d.count)
    };
    let with = |factor, min_count, p| AlertSpec::Spike {
        factor,
        min_count,
        p,
        baseline: 7 * DAY,
        learn: DAY,
    };
    // Baseline 10: 29 is under 3× (30).
    assert_eq!(eval(&spike(), &counts(29, 10)), None);
    assert_eq!(eval(&spike(), &counts(30, 10)), Some(30));
    // Baseline 1, factor 1.5, min 1: 3 hits is 3× the usual but P(≥3 | 1) = 0.08.
    assert_eq!(eval(&with(1.5, 1, 0.001), &counts(3, 1)), None);
    assert_eq!(eval(&with(1.5, 1, 0.1), &counts(3, 1)), Some(3));
    // No usual activity at all: min_count alone decides.
    assert_eq!(eval(&spike(), &counts(4, 0)), None);
    assert_eq!(eval(&spike(), &counts(5, 0)), Some(5));
}

#[test]
fn backfilled_old_posts_never_alert() {
    let fetched = t("2026-11-22T12:00:00Z");
    let old = t("2026-11-22T10:00:00Z");
    assert!(is_backfill(old, fetched, 15 * MIN));
    assert!(!each_fires(None, None, old, fetched, 15 * MIN));
    assert!(each_fires(
        None,
        None,
        t("2026-11-22T11:50:00Z"),
        fetched,
        15 * MIN
    ));
    // A backfill of 50 posts from two hours ago, fetched now: counted in their own past
    // window, so the present window is empty and nothing fires.
    let mut sim = Sim::new(AlertSpec::Threshold { count: 10 });
    sim.add(old, 10 * MIN, 50);
    assert_eq!(sim.alerts(fetched, fetched, &[fetched]), vec![]);
    assert_eq!(sim.counts(fetched).current, 0);
    assert_eq!(sim.counts(t("2026-11-22T10:10:00Z")).current, 50);
}

#[test]
fn each_respects_min_followers() {
    let now = t("2026-11-22T12:00:00Z");
    let cases = [
        (None, None, true),
        (Some(10_000), None, false),
        (Some(10_000), Some(9_999), false),
        (Some(10_000), Some(10_000), true),
    ];
    for (min, followers, want) in cases {
        assert_eq!(
            each_fires(min, followers, now, now, 15 * MIN),
            want,
            "{min:?} {followers:?}"
        );
    }
}

#[test]
fn source_alerts_follow_health() {
    let now = t("2026-11-22T12:00:00Z");
    let ago = |m: u64| now - chrono::Duration::minutes(m as i64);
    let after30 = 30 * MIN;
    let base = Health {
        every: 2 * MIN,
        ..Health::default()
    };
    let cases: Vec<(&str, Health, Option<SourceCondition>)> = vec![
        ("healthy", base.clone(), None),
        (
            "failing 29m",
            Health {
                failing_since: Some(ago(29)),
                ..base.clone()
            },
            None,
        ),
        (
            "failing 30m",
            Health {
                failing_since: Some(ago(30)),
                ..base.clone()
            },
            Some(SourceCondition::Failing),
        ),
        (
            "still failing, already told",
            Health {
                failing_since: Some(ago(90)),
                open: Some((SourceCondition::Failing, ago(60))),
                ..base.clone()
            },
            None,
        ),
        (
            "recovered",
            Health {
                open: Some((SourceCondition::Failing, ago(60))),
                ..base.clone()
            },
            Some(SourceCondition::Recovered),
        ),
        (
            "quiet 2.9 gaps",
            Health {
                usual_gap: Some(10 * MIN),
                last_new_post: Some(ago(29)),
                ..base.clone()
            },
            None,
        ),
        (
            "silent 3 gaps",
            Health {
                usual_gap: Some(10 * MIN),
                last_new_post: Some(ago(30)),
                ..base.clone()
            },
            Some(SourceCondition::Silent),
        ),
        (
            "gap shorter than the poll interval",
            Health {
                usual_gap: Some(MIN),
                every: 10 * MIN,
                last_new_post: Some(ago(20)),
                ..base.clone()
            },
            None,
        ),
        (
            "no usual gap yet",
            Health {
                last_new_post: Some(ago(600)),
                ..base.clone()
            },
            None,
        ),
        (
            "silent, then a post",
            Health {
                open: Some((SourceCondition::Silent, ago(10))),
                last_new_post: Some(ago(1)),
                ..base.clone()
            },
            Some(SourceCondition::Recovered),
        ),
        (
            "silent, still nothing",
            Health {
                open: Some((SourceCondition::Silent, ago(10))),
                last_new_post: Some(ago(60)),
                ..base.clone()
            },
            None,
        ),
    ];
    for (name, h, want) in cases {
        assert_eq!(evaluate_source(&h, after30, now), want, "{name}");
    }
}

#[test]
fn human_durations() {
    for (secs, want) in [
        (30, "30s"),
        (900, "15m"),
        (3600, "1h"),
        (5400, "90m"),
        (86_400, "1d"),
    ] {
        assert_eq!(human(Duration::from_secs(secs)), want);
    }
}

#[test]
fn leave_out_cuts_down_periods_from_the_trailing_ranges_and_days() {
    let now = t("2026-11-22T12:00:00Z");
    let base = plan(now, 15 * MIN, 7 * DAY, Some(t("2026-11-20T00:00:00Z")));
    let down = |s: &str, e: &str| (t(s), t(e));
    // (down periods, trailing ranges kept, trailing windows, same-time days kept)
    let cases: Vec<(Vec<_>, Vec<_>, f64, usize)> = vec![
        // No outage: the plan is unchanged.
        (vec![], base.trailing.clone(), base.trailing_windows, 2),
        // Outside every range (after the current window started): unchanged.
        (
            vec![down("2026-11-22T11:50:00Z", "2026-11-22T11:55:00Z")],
            base.trailing.clone(),
            base.trailing_windows,
            2,
        ),
        // Six hours in the middle of the trailing period: two ranges, 24 windows fewer; no
        // previous day's window is touched.
        (
            vec![down("2026-11-21T00:00:00Z", "2026-11-21T06:00:00Z")],
            vec![
                (t("2026-11-19T23:59:59Z"), t("2026-11-21T00:00:00Z")),
                (t("2026-11-21T06:00:00Z"), t("2026-11-22T11:45:00Z")),
            ],
            base.trailing_windows - 24.0,
            2,
        ),
        // Overlapping periods, given out of order, across yesterday's same-time window and
        // up to the current window: merged, and that day is dropped.
        (
            vec![
                down("2026-11-22T00:00:00Z", "2026-11-22T11:45:00Z"),
                down("2026-11-21T11:00:00Z", "2026-11-22T01:00:00Z"),
            ],
            vec![(t("2026-11-19T23:59:59Z"), t("2026-11-21T11:00:00Z"))],
            base.trailing_windows - 24.0 * 4.0 - 3.0,
            1,
        ),
        // Down over the whole history: no baseline left at all.
        (
            vec![down("2026-11-01T00:00:00Z", "2026-11-22T11:45:00Z")],
            vec![],
            0.0,
            0,
        ),
    ];
    for (down, trailing, windows, days) in cases {
        let p = base.clone().leave_out(&down);
        assert_eq!(p.current, base.current, "{down:?}");
        assert_eq!(p.trailing, trailing, "{down:?}");
        assert!(
            (p.trailing_windows - windows).abs() < 1e-6,
            "{down:?}: {} windows, want {windows}",
            p.trailing_windows
        );
        assert_eq!(p.same_time.len(), days, "{down:?}");
    }
    // The kept day is the one before yesterday.
    let p = base
        .clone()
        .leave_out(&[down("2026-11-21T11:50:00Z", "2026-11-21T11:51:00Z")]);
    assert_eq!(
        p.same_time,
        vec![(t("2026-11-20T11:45:00Z"), t("2026-11-20T12:00:00Z"))]
    );
}

#[test]
fn the_hour_after_an_outage_is_not_a_spike() {
    // One hit a minute for six hours, then the source is down for almost 18 hours, then back
    // at the same rate. Counted as a quiet time, the outage dilutes the usual count to about
    // 3.8 per window, and the first window after it (14) looks like a spike; left out, the
    // usual count is the 15 per window seen while the source was up.
    let up = t("2026-11-20T12:00:00Z");
    let fails = t("2026-11-20T18:00:00Z");
    let back = t("2026-11-21T11:45:00Z");
    let now = t("2026-11-21T12:00:00Z");
    let mut sim = Sim::new(spike());
    sim.steady(up, fails, MIN).steady(back, now, MIN);
    let counted_as_quiet = sim.alerts(back, now, &[now]);
    assert_eq!(
        counted_as_quiet.len(),
        1,
        "the scenario must alert without the fix"
    );
    sim.down = vec![(fails, back)];
    assert_eq!(sim.alerts(back, now, &[now]), vec![]);
    // History starts a second before the first post: 360 hits in 24 windows and a second.
    let c = sim.counts(now);
    assert_eq!((c.current, c.trailing), (14, 360));
    assert!((c.baseline() - 15.0).abs() < 0.01, "{}", c.baseline());
    // A real burst after the outage still alerts, against the usual rate while up.
    sim.add(t("2026-11-21T11:50:00Z"), 5 * MIN, 60);
    let burst = sim.alerts(back, now, &[now]);
    assert_eq!(burst.len(), 1);
    assert!((burst[0].baseline - 15.0).abs() < 0.01, "{burst:?}");
}

proptest::proptest! {
    /// `rules_out` only ever skips windows that `evaluate` would not fire, whatever the
    /// same-time days hold: the store may leave them uncounted.
    #[test]
    fn rules_out_never_skips_a_window_that_fires(
        factor in 1.01f64..12.0,
        min_count in 0u64..30,
        learn_h in 0u64..200,
        window_m in 1u64..240,
        period_h in 1u64..400,
        history_h in 0u64..500,
        current in 0u64..400,
        trailing in 0u64..20_000,
        same in proptest::collection::vec(0u64..400, 0..20),
    ) {
        let spec = AlertSpec::Spike {
            factor,
            min_count,
            p: 0.01,
            baseline: HOUR * period_h as u32,
            learn: HOUR * learn_h as u32,
        };
        let now = t("2026-10-01T12:00:00Z");
        let earliest = now - chrono::Duration::hours(history_h as i64);
        let window = MIN * window_m as u32;
        let plan = plan(now, window, HOUR * period_h as u32, Some(earliest));
        let counts = Counts {
            current,
            trailing,
            trailing_windows: plan.trailing_windows,
            same_time: same.iter().copied().cycle().take(plan.same_time.len()).collect(),
            history: plan.history,
        };
        let fired = evaluate(&spec, window, HOUR, &counts, None, now);
        if rules_out(&spec, &plan, current, trailing) {
            proptest::prop_assert!(fired.is_none(), "ruled out but fired: {:?}", fired.map(|d| d.reason));
        }
        let threshold = AlertSpec::Threshold { count: 1 };
        proptest::prop_assert!(!rules_out(&threshold, &plan, current, trailing));
    }
}
