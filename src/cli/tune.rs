//! `vigie tune RULE FILE`: how one rule would have alerted on a file of posts under a grid of
//! `spike` × `min_count` × `window` settings, and which setting to paste for a target rate.
//!
//! This module reads the file (its own small streaming reader: one pass, keeping per post only
//! its second and whether the rule hit it), matches the one rule, and prints. It reads posts
//! as `replay` does, so that both see the same history: JSON lines with `id`, `created_at` and
//! `text`, any order, `source` defaulting to `replay`, a post stored once per source and id
//! (the earliest wins), times on whole seconds. Deciding the alerts of each setting is
//! `detect::tune`'s, with the daemon's decision code; nothing is stored and nothing is sent.

use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};

use super::output::{self, Format};
use super::{load, Invalid};
use crate::config::duration::parse_duration;
use crate::config::{AlertSpec, Rule};
use crate::detect::tune::{self, Base, History, Outcome, Setting, BURST_FACTOR, BURST_MIN};
use crate::detect::{human, DAY};
use crate::matcher::{RuleSet, Scratch};
use crate::post::{decode_lossy, Post};
use crate::store::parse_time;

/// The default grid, as `--help` says it.
const SPIKES: &[f64] = &[1.5, 2.0, 3.0, 4.0, 5.0, 8.0];
const MIN_COUNTS: &[u64] = &[3, 5, 10, 20];
const WINDOWS: &[u64] = &[300, 900, 1800, 3600];

/// Source name for posts that do not say theirs (as `replay` names them).
const DEFAULT_SOURCE: &str = "replay";

/// Arguments of `vigie tune`.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct TuneArgs {
    /// The rule to tune, by name (any rule: it is tried as a spike rule).
    #[arg(value_name = "RULE")]
    pub rule: String,
    /// JSON lines of posts, in any order, each with "id", "created_at" (RFC 3339) and "text",
    /// as for `vigie replay`; `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The spike ratios to try [default: 1.5,2,3,4,5,8].
    #[arg(long, value_name = "X,…", value_delimiter = ',')]
    pub spike: Vec<String>,
    /// The min_count values to try [default: 3,5,10,20].
    #[arg(long, value_name = "N,…", value_delimiter = ',')]
    pub min_count: Vec<String>,
    /// The windows to try [default: 5m,15m,30m,1h].
    #[arg(long, value_name = "DURATION,…", value_delimiter = ',')]
    pub window: Vec<String>,
    /// Propose the most sensitive setting with at most this many alerts: `2/week`, `1/day`.
    #[arg(long, value_name = "N/week|N/day")]
    pub target: Option<String>,
    /// Output format [default: table, also when piped]: table, or json / csv (one row per
    /// setting, most sensitive first; the summary goes to stderr).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

const AFTER_HELP: &str = "\
The rule is matched once on FILE; then each setting of the grid (every --spike × --min-count ×
--window, 96 by default, plus the rule's own setting) is decided as `vigie replay` decides: the
same baseline, Poisson test (the rule's p), learn period and cooldown, at each second that holds
a post. Nothing is stored or sent.

For each setting: the alerts that would have fired, alerts per week (over the span from the
file's first post to its last), how many bursts it caught and the largest delay.

A burst is defined once for the file, apart from the grid: a stretch in which the rule's hits in
the last 15 minutes reach 3× their usual count (the rule's baseline, as for alerts), at least 5
hits, and a count unlikely under the usual rate (Poisson tail below the rule's p), checked at each
hit once the learn period has passed. It starts at the first hit of its first such 15 minutes.
An alert catches a burst when it fires after the burst's start and its window began before the
burst's last such hit. The delay of a caught burst is the time from its start to its first
alert.

Most sensitive first: more bursts caught, then more alerts, then the lower spike, the lower
min_count, the shorter window. With --target, the proposal is the first setting in that order
whose alerts per week are at most the target (N/day counts as 7N/week), printed as the lines to
paste into the rule (its p, baseline and learn kept when not the defaults).

json: one object per setting with spike, min_count, window, alerts, per_week, in_bursts (alerts
that caught a burst), bursts_caught, bursts, max_delay (\"7m\", null without a caught burst),
max_delay_s, current (the rule's own setting), proposed, and toml (the lines that set it).";

/// Runs `vigie tune`.
pub fn run(config: &Path, args: TuneArgs) -> Result<()> {
    let config = load(config)?;
    let Some(rule) = config.rules.iter().find(|r| r.spec.name == args.rule) else {
        let names: Vec<&str> = config.rules.iter().map(|r| r.spec.name.as_str()).collect();
        return Err(Invalid(format!(
            "vigie: no rule named \"{}\" (rules: {})",
            args.rule,
            names.join(", ")
        ))
        .into());
    };
    let grid = Grid::parse(&args)?;
    let target = args.target.as_deref().map(parse_target).transpose()?;
    let (base, own) = base(rule);
    let rules = RuleSet::compile(std::iter::once(&rule.spec))
        .map_err(|e| Invalid(format!("vigie: {e}")))?;
    let read = read(&args.file, &rules)?;
    if read.skipped > 0 {
        eprintln!(
            "vigie: {} line(s) skipped: a post needs \"id\", \"created_at\" (RFC 3339) and \"text\"",
            read.skipped
        );
    }
    let history = read.history;
    let mut settings = grid.settings();
    if let Some(own) = own.filter(|o| !settings.contains(o)) {
        settings.push(own);
    }
    let (outcomes, bursts) = tune::grid(&history, &base, &settings);
    let proposed = target
        .as_ref()
        .and_then(|t| tune::propose(&outcomes, t.per_week));
    let format = args.format.unwrap_or(Format::Table);
    let summary = format!(
        "Rule \"{}\": {} hits in {} posts over {:.1} days; {} burst{} (15m at {BURST_FACTOR}× usual, at least {BURST_MIN} hits, p < {}).",
        rule.spec.name,
        history.hits(),
        read.posts,
        history.span().as_secs_f64() / DAY.as_secs_f64(),
        bursts.len(),
        if bursts.len() == 1 { "" } else { "s" },
        base.p,
    );
    let mut out = BufWriter::new(io::stdout().lock());
    let rows: Vec<Vec<Value>> = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| row(o, &base, own, proposed == Some(i), bursts.len(), format))
        .collect();
    if format == Format::Table {
        writeln!(out, "{summary}")?;
        let cols = [
            "spike",
            "min_count",
            "window",
            "alerts",
            "per_week",
            "bursts",
            "max_delay",
            "note",
        ];
        output::write_fit(&mut out, format, &cols, &rows, output::fit_width(false))?;
    } else {
        let cols = [
            "spike",
            "min_count",
            "window",
            "alerts",
            "per_week",
            "in_bursts",
            "bursts_caught",
            "bursts",
            "max_delay",
            "max_delay_s",
            "current",
            "proposed",
            "toml",
        ];
        output::write(&mut out, format, &cols, &rows)?;
        eprintln!("vigie: {summary}");
    }
    if let Some(t) = target {
        match proposed.map(|i| &outcomes[i]) {
            Some(o) => {
                let text = format!(
                    "Proposed for at most {}: spike {}, min_count {}, window {} ({} alerts, {:.1}/week, {}/{} bursts caught). In rule \"{}\":\n{}",
                    t.text,
                    o.setting.spike,
                    o.setting.min_count,
                    human(o.setting.window),
                    o.fired.len(),
                    o.per_week,
                    o.caught,
                    bursts.len(),
                    rule.spec.name,
                    toml(&o.setting, &base)
                );
                if format == Format::Table {
                    writeln!(out, "\n{text}")?;
                } else {
                    eprintln!("vigie: {text}");
                }
            }
            None => eprintln!(
                "vigie: no setting of the grid stays at or under {}: try higher --spike or --min-count values",
                t.text
            ),
        }
    }
    Ok(out.flush()?)
}

/// The grid's axes.
struct Grid {
    spikes: Vec<f64>,
    min_counts: Vec<u64>,
    windows: Vec<Duration>,
}

impl Grid {
    /// The axes given on the command line, each defaulting to its own list.
    fn parse(args: &TuneArgs) -> Result<Grid> {
        let invalid = |flag: &str, v: &str, why: &str| {
            anyhow::Error::new(Invalid(format!("vigie: --{flag}: \"{v}\" {why}")))
        };
        let mut spikes = Vec::new();
        for v in &args.spike {
            match v.trim().parse::<f64>() {
                Ok(x) if x > 1.0 && x.is_finite() => spikes.push(x),
                _ => return Err(invalid("spike", v, "is not a ratio greater than 1")),
            }
        }
        let mut min_counts = Vec::new();
        for v in &args.min_count {
            let n = v.trim().parse::<u64>();
            min_counts.push(n.map_err(|_| invalid("min-count", v, "is not a whole number"))?);
        }
        let mut windows = Vec::new();
        for v in &args.window {
            match parse_duration(v) {
                Ok(d) if d >= Duration::from_secs(1) => windows.push(d),
                Ok(_) => return Err(invalid("window", v, "is shorter than a second")),
                Err(e) => return Err(anyhow::Error::new(Invalid(format!("vigie: --window: {e}")))),
            }
        }
        Ok(Grid {
            spikes: or(spikes, SPIKES.to_vec()),
            min_counts: or(min_counts, MIN_COUNTS.to_vec()),
            windows: or(
                windows,
                WINDOWS.iter().map(|&s| Duration::from_secs(s)).collect(),
            ),
        })
    }

    /// Every combination, each once.
    fn settings(&self) -> Vec<Setting> {
        let mut out: Vec<Setting> = Vec::new();
        for &spike in &self.spikes {
            for &min_count in &self.min_counts {
                for &window in &self.windows {
                    let s = Setting {
                        spike,
                        min_count,
                        window,
                    };
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
        }
        out
    }
}

/// `given`, or `default` when nothing was given.
fn or<T>(given: Vec<T>, default: Vec<T>) -> Vec<T> {
    if given.is_empty() {
        default
    } else {
        given
    }
}

/// A target rate.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    /// Alerts per week.
    per_week: f64,
    /// As written.
    text: String,
}

/// `2/week`, `0.5/day` (also `/w`, `/d`).
fn parse_target(s: &str) -> Result<Target> {
    let bad = || {
        anyhow::Error::new(Invalid(format!(
            "vigie: --target: expected N/week or N/day, like \"2/week\", not \"{s}\""
        )))
    };
    let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
    let n: f64 = n.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    let per_week = match unit.trim() {
        "week" | "w" => n,
        "day" | "d" => n * 7.0,
        _ => return Err(bad()),
    };
    Ok(Target {
        per_week,
        text: s.trim().to_string(),
    })
}

/// What the grid keeps from the rule, and the rule's own setting when it is a spike rule.
/// Another kind is tried with the spike defaults (`p = 0.001`, `baseline = "7d"`,
/// `learn = "1d"`).
fn base(rule: &Rule) -> (Base, Option<Setting>) {
    match rule.alert {
        Some(AlertSpec::Spike {
            factor,
            min_count,
            p,
            baseline,
            learn,
        }) => (
            Base {
                p,
                baseline,
                learn,
                cooldown: rule.cooldown,
            },
            Some(Setting {
                spike: factor,
                min_count,
                window: rule.window,
            }),
        ),
        _ => (
            Base {
                p: DEFAULT_P,
                baseline: DEFAULT_BASELINE,
                learn: DAY,
                cooldown: rule.cooldown,
            },
            None,
        ),
    }
}

/// The rule file's defaults for a spike alert (`config::rules`).
const DEFAULT_P: f64 = 0.001;
const DEFAULT_BASELINE: Duration = Duration::from_secs(7 * 86_400);

/// The lines that give a rule `setting`, as the rule file takes them: the `alert` table (with
/// the rule's `p`, `baseline` and `learn` when they are not the defaults) and `window`.
fn toml(setting: &Setting, base: &Base) -> String {
    let mut alert = format!(
        "alert = {{ spike = {:?}, min_count = {}",
        setting.spike, setting.min_count
    );
    if base.p != DEFAULT_P {
        alert.push_str(&format!(", p = {:?}", base.p));
    }
    if base.baseline != DEFAULT_BASELINE {
        alert.push_str(&format!(", baseline = \"{}\"", human(base.baseline)));
    }
    if base.learn != DAY {
        alert.push_str(&format!(", learn = \"{}\"", human(base.learn)));
    }
    format!("{alert} }}\nwindow = \"{}\"", human(setting.window))
}

/// One output row.
fn row(
    o: &Outcome,
    base: &Base,
    own: Option<Setting>,
    proposed: bool,
    bursts: usize,
    format: Format,
) -> Vec<Value> {
    let s = &o.setting;
    let current = own == Some(*s);
    let delay = o.max_delay.map(short);
    let per_week = (o.per_week * 100.0).round() / 100.0;
    if format == Format::Table {
        let note: Vec<&str> = [(current, "current"), (proposed, "proposed")]
            .iter()
            .filter_map(|&(on, name)| on.then_some(name))
            .collect();
        return vec![
            json!(s.spike),
            json!(s.min_count),
            json!(human(s.window)),
            json!(o.fired.len()),
            json!(format!("{:.1}", o.per_week)),
            json!(format!("{}/{bursts}", o.caught)),
            json!(delay.unwrap_or_else(|| "-".into())),
            json!(note.join(", ")),
        ];
    }
    vec![
        json!(s.spike),
        json!(s.min_count),
        json!(human(s.window)),
        json!(o.fired.len()),
        json!(per_week),
        json!(o.in_bursts),
        json!(o.caught),
        json!(bursts),
        json!(delay),
        json!(o.max_delay.map(|d| d.as_secs())),
        json!(current),
        json!(proposed),
        json!(toml(s, base)),
    ]
}

/// A delay as people read it: `46s`, `13m46s`, `1h05m`.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// What reading FILE gave.
struct Loaded {
    history: History,
    /// Posts kept (each source and id once).
    posts: usize,
    /// Lines without id, created_at or text.
    skipped: usize,
}

/// One kept post: its time (seconds, nanoseconds) and whether the rule hit it.
type Seen = ((i64, u32), bool);

/// Reads FILE (`-`: stdin) in one pass, matching each post against `rules` (the one rule).
fn read(file: &Path, rules: &RuleSet) -> Result<Loaded> {
    let mut bar = indicatif::ProgressBar::hidden();
    let reader: Box<dyn Read> = if file == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        bar = output::progress(f.metadata().map_or(0, |m| m.len()), "bytes", true);
        Box::new(bar.wrap_read(f))
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut seen: HashMap<u128, Seen> = HashMap::new();
    let (mut scratch, mut found) = (Scratch::default(), Vec::new());
    let mut skipped = 0;
    // Every post's second, copies too: replay decides at each second it commits, new posts or
    // not.
    let mut ticks = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read {}", file.display()))?;
        if n == 0 {
            break;
        }
        let text = decode_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let Some((key, at, mut post)) = parse(&text) else {
            skipped += 1;
            continue;
        };
        ticks.push(at.0);
        // A post already kept at an earlier (or the same) time is the one replay stores.
        let hit = |post: &mut Post, scratch: &mut Scratch, found: &mut Vec<usize>| {
            rules.matched_rules(post, scratch, found);
            !found.is_empty()
        };
        match seen.entry(key) {
            Entry::Occupied(mut e) if at < e.get().0 => {
                e.insert((at, hit(&mut post, &mut scratch, &mut found)));
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(e) => {
                e.insert((at, hit(&mut post, &mut scratch, &mut found)));
            }
        }
    }
    bar.finish_and_clear();
    let posts = seen.len();
    let hits = seen
        .into_values()
        .filter_map(|((secs, _), hit)| hit.then_some(secs))
        .collect();
    Ok(Loaded {
        history: History::new(ticks, hits),
        posts,
        skipped,
    })
}

/// A line as a post with its source set: its dedup key (source and id) and time, or `None`
/// without id, created_at or text.
fn parse(line: &str) -> Option<(u128, (i64, u32), Post)> {
    let mut post: Post = serde_json::from_str(line).ok()?;
    let at = parse_time(post.created_at.as_deref()?)?;
    let source = post
        .source
        .get_or_insert_with(|| DEFAULT_SOURCE.to_string());
    let id = post.id.as_deref()?;
    // Two differently salted hashes of (source, id): 128 bits, so that keeping them instead of
    // the strings cannot merge two posts in practice.
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        (salt, source.as_str(), id).hash(&mut h);
        h.finish()
    };
    let key = (u128::from(half(1)) << 64) | u128::from(half(2));
    Some((key, (at.timestamp(), at.timestamp_subsec_nanos()), post))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays() {
        let d = |s| short(Duration::from_secs(s));
        assert_eq!(
            [d(46), d(120), d(826), d(3900), d(90_000)],
            ["46s", "2m", "13m46s", "1h05m", "25h00m"]
        );
    }

    #[test]
    fn targets() {
        assert_eq!(parse_target("2/week").unwrap().per_week, 2.0);
        assert_eq!(parse_target("0.5/day").unwrap().per_week, 3.5);
        assert_eq!(parse_target(" 3/w ").unwrap().per_week, 3.0);
        for bad in ["2", "2/month", "x/week", "-1/day", "/week"] {
            let e = parse_target(bad).unwrap_err();
            assert!(e.to_string().starts_with("vigie: --target: "), "{e}");
        }
    }

    #[test]
    fn toml_lines_keep_the_rules_other_keys() {
        let s = Setting {
            spike: 3.0,
            min_count: 5,
            window: Duration::from_secs(900),
        };
        let mut b = Base {
            p: DEFAULT_P,
            baseline: DEFAULT_BASELINE,
            learn: DAY,
            cooldown: Duration::from_secs(3600),
        };
        assert_eq!(
            toml(&s, &b),
            "alert = { spike = 3.0, min_count = 5 }\nwindow = \"15m\""
        );
        b.p = 0.01;
        b.learn = Duration::from_secs(2 * 86_400);
        assert_eq!(
            toml(&s, &b),
            "alert = { spike = 3.0, min_count = 5, p = 0.01, learn = \"2d\" }\nwindow = \"15m\""
        );
    }
}
