//! Alert → text, HTML and chat markup: the ONLY place where post text is escaped.
//!
//! Post text, author names, source names (and, to be safe, rule names and errors) are
//! untrusted. Every renderer takes them through [`untrusted`] ([`clean`]: control, bidi and
//! zero-width characters out, CR/LF folded to spaces; [`defang`]: no URL a platform would
//! auto-link; [`unmention`]: no `@here`, `<@U1>` or `@everyone`), cuts them, and then through
//! the escaping of its target ([`slack_escape`], [`markdown_escape`], HTML). Links are only ever
//! the post's own URL, checked by [`safe_url`]. The chat modules (`slack`, `mattermost`, `teams`,
//! `discord`) lay out what [`title`], [`why`], [`facts`] and [`posts`] give them; they never put
//! post text anywhere themselves.
//!
//! Every word comes from the language's catalogue and every time is in the configured zone
//! (`i18n`); the escaping primitives live in `escape`. This file decides what an alert says:
//! a title, one sentence on why, the facts that apply to its kind (an `each` alert has no
//! count or baseline; nothing reads "n/a"), and the top posts as a person scans them.

mod escape;
mod html;
mod i18n;

use std::fmt::Write as _;

pub use escape::*;
pub use html::{html, ChartRef, MAX_WIDTH};
pub use i18n::{number, Arg, Locale};

use super::{Alert, AlertKind, SourceCondition};

/// How much of a post's text an alert quotes, in characters.
pub const EXCERPT_CHARS: usize = 280;
/// How much of an author or source name an alert shows.
const NAME_CHARS: usize = 64;
/// Longest URL rendered as a link.
pub(crate) const MAX_URL: usize = 2000;

/// The usual count for the alert's window, as a person says it: `aucune`, `2`, `2 à 3` (the
/// baseline is a mean, so it reads as the whole counts around it).
fn usual(alert: &Alert, loc: &Locale) -> String {
    let b = alert.baseline;
    if !(b.is_finite() && b > 0.0) {
        return loc.msg("usual-none", &[]);
    }
    let (low, high) = (b.floor(), b.ceil());
    if low == high {
        return loc.num(b);
    }
    loc.msg("usual-range", &[("low", low.into()), ("high", high.into())])
}

/// How many times the usual the count is: whole from 10 on, one decimal below.
fn ratio(r: f64) -> f64 {
    if r >= 10.0 {
        r.round()
    } else {
        r
    }
}

/// The rule's or source's name, cleaned and cut.
fn name(alert: &Alert) -> String {
    untrusted_excerpt(&alert.rule, NAME_CHARS)
}

/// The message id of a `source` alert's state.
fn source_id(prefix: &str, state: Option<SourceCondition>) -> String {
    let state = match state {
        Some(SourceCondition::Recovered) => "recovered",
        Some(SourceCondition::Silent) => "silent",
        Some(SourceCondition::Failing) | None => "failing",
    };
    format!("{prefix}-{state}")
}

/// One line saying what fired, free of markup (its names already [`untrusted`]).
pub fn title(alert: &Alert, loc: &Locale) -> String {
    let rule = name(alert);
    let window = loc.duration(alert.window_secs);
    let args = [
        ("rule", Arg::from(&rule)),
        ("count", alert.count.into()),
        ("window", Arg::from(&window)),
    ];
    match alert.kind {
        AlertKind::Spike => loc.msg("title-spike", &args),
        AlertKind::Threshold => loc.msg("title-threshold", &args),
        AlertKind::Each => loc.msg("title-each", &args),
        AlertKind::Source => loc.msg(&source_id("title-source", alert.source_state), &args),
        AlertKind::Reminder => loc.msg("title-reminder", &CaseWords::of(alert, loc).args(&rule)),
        AlertKind::Breach => loc.msg("title-breach", &CaseWords::of(alert, loc).args(&rule)),
    }
}

/// The words a reminder or an escalation says: the case's number, the promise, the time left
/// at the reminder (the other half of the promise), the deadline.
struct CaseWords {
    case: String,
    promise: String,
    left: String,
    due: String,
}

impl CaseWords {
    fn of(alert: &Alert, loc: &Locale) -> CaseWords {
        let promise = alert.window_secs;
        let case = alert.case.as_ref();
        CaseWords {
            case: case.map_or(String::new(), |c| c.id.to_string()),
            promise: loc.duration(promise),
            left: loc.duration(promise - promise / 2),
            due: case.map_or(String::new(), |c| loc.date_time(c.due_at)),
        }
    }

    fn args<'a>(&'a self, rule: &'a str) -> [(&'static str, Arg<'a>); 5] {
        [
            ("rule", Arg::from(rule)),
            ("case", Arg::from(&self.case)),
            ("promise", Arg::from(&self.promise)),
            ("left", Arg::from(&self.left)),
            ("due", Arg::from(&self.due)),
        ]
    }
}

/// Why it fired, in one sentence of the language: "6 publications mentionnent « retard » en
/// 15 min — d'habitude 0 à 1 à cette heure-ci (seuil 5)." Built from the alert's numbers, not
/// from its stored `reason` (which stays English, for logs and the webhook).
pub fn why(alert: &Alert, loc: &Locale) -> String {
    let rule = name(alert);
    let window = loc.duration(alert.window_secs);
    let usual = usual(alert, loc);
    let mut args = vec![
        ("rule", Arg::from(&rule)),
        ("count", alert.count.into()),
        ("window", Arg::from(&window)),
        ("usual", Arg::from(&usual)),
        ("bar", alert.bar.into()),
    ];
    match alert.kind {
        AlertKind::Threshold => loc.msg("why-threshold", &args),
        AlertKind::Spike => match alert.ratio() {
            Some(r) => {
                args.push(("ratio", ratio(r).into()));
                loc.msg("why-spike", &args)
            }
            None => loc.msg("why-spike-new", &args),
        },
        AlertKind::Each => match alert.posts.first().and_then(|p| p.followers) {
            Some(f) => {
                args.push(("followers", f.into()));
                loc.msg("why-each-followers", &args)
            }
            None => loc.msg("why-each", &args),
        },
        AlertKind::Source => loc.msg(&source_id("why-source", alert.source_state), &args),
        AlertKind::Reminder => loc.msg("why-reminder", &CaseWords::of(alert, loc).args(&rule)),
        AlertKind::Breach => loc.msg("why-breach", &CaseWords::of(alert, loc).args(&rule)),
    }
}

/// The facts that apply to the alert's kind, as (label, value) pairs; values are
/// [`untrusted`] but not escaped.
pub fn facts(alert: &Alert, loc: &Locale) -> Vec<(String, String)> {
    let label = |id: &str| loc.msg(id, &[]);
    let time = (label("fact-time"), loc.date_time(alert.fired_at));
    match alert.kind {
        AlertKind::Source => {
            let mut out = vec![
                (label("fact-source"), name(alert)),
                (
                    label("fact-state"),
                    label(&source_id("state", alert.source_state)),
                ),
            ];
            if let Some(e) = alert.error.as_deref() {
                out.push((label("fact-error"), untrusted_excerpt(e, 500)));
            }
            if alert.source_state != Some(SourceCondition::Recovered) && alert.count > 0 {
                out.push((label("fact-failures"), loc.num(alert.count as f64)));
            }
            out.push(time);
            out
        }
        AlertKind::Each => vec![(label("fact-rule"), name(alert)), time],
        AlertKind::Reminder | AlertKind::Breach => {
            let mut out = vec![(label("fact-rule"), name(alert))];
            if let Some(c) = &alert.case {
                out.push((label("fact-case"), format!("#{}", c.id)));
                out.push((label("fact-opened"), loc.date_time(c.opened_at)));
                out.push((label("fact-due"), loc.date_time(c.due_at)));
            }
            out.push((label("fact-promise"), loc.duration(alert.window_secs)));
            out
        }
        AlertKind::Threshold | AlertKind::Spike => {
            let mut out = vec![
                (label("fact-rule"), name(alert)),
                (
                    label("fact-window"),
                    loc.span(alert.window_start(), alert.fired_at),
                ),
                (label("fact-count"), loc.num(alert.count as f64)),
                (label("fact-usual"), usual(alert, loc)),
            ];
            if alert.kind == AlertKind::Threshold {
                out.push((label("fact-threshold"), loc.num(alert.bar)));
            } else {
                out.push((label("fact-spike-bar"), loc.num(alert.bar)));
                if let Some(r) = alert.ratio() {
                    out.push((
                        label("fact-ratio"),
                        loc.msg("ratio", &[("ratio", ratio(r).into())]),
                    ));
                }
            }
            out
        }
    }
}

/// One quoted post, ready for a target's escaping: names and excerpt [`untrusted`] and cut,
/// `url` only when [`safe_url`] accepts it.
#[derive(Debug, Clone, PartialEq)]
pub struct PostView {
    /// The author as a person reads it: `Alice Martin (@alice)`, the name or the handle alone
    /// when the source gives only one, or "unknown author" in the language.
    pub author: String,
    /// The source's name.
    pub source: String,
    /// Up to [`EXCERPT_CHARS`] of the text.
    pub excerpt: String,
    /// Byte ranges of `excerpt` holding the words the rule matched, in order, apart.
    pub matched: Vec<std::ops::Range<usize>>,
    /// The post's link, if it is a valid http(s) URL.
    pub url: Option<String>,
    /// Local time with the zone: `10:14 CET`.
    pub when: String,
    /// The post's engagement and the author's audience, those the source gives:
    /// `7 interactions · 1 200 abonnés`.
    pub reach: Option<String>,
}

impl PostView {
    /// "Name (@handle) on source · 10:14 CET · 7 interactions · 1,200 followers", unescaped.
    pub fn byline(&self, loc: &Locale) -> String {
        let mut out = loc.msg(
            "post-on",
            &[
                ("author", Arg::from(&self.author)),
                ("source", Arg::from(&self.source)),
            ],
        );
        out.push_str(" · ");
        out.push_str(&self.when);
        if let Some(reach) = &self.reach {
            out.push_str(" · ");
            out.push_str(reach);
        }
        out
    }

    /// The excerpt through `esc`, with each matched word through `esc` and between `open` and
    /// `close` (`<strong>`, `*`, `**`): the markers are ours, the text is always escaped.
    pub fn marked(&self, esc: impl Fn(&str) -> String, open: &str, close: &str) -> String {
        let mut out = String::new();
        let mut at = 0;
        for r in &self.matched {
            out.push_str(&esc(&self.excerpt[at..r.start]));
            out.push_str(open);
            out.push_str(&esc(&self.excerpt[r.clone()]));
            out.push_str(close);
            at = r.end;
        }
        out.push_str(&esc(&self.excerpt[at..]));
        out
    }
}

/// Where the `words` occur in `text` as whole words (not inside a longer word), ignoring case,
/// sorted and without overlaps.
fn find_words(text: &str, words: &[String]) -> Vec<std::ops::Range<usize>> {
    let lower = text.to_lowercase();
    // Lowercasing may change byte lengths (rare letters): then bold nothing rather than guess.
    if lower.len() != text.len() {
        return Vec::new();
    }
    let boundary = |i: usize| {
        let before = lower[..i].chars().next_back();
        !before.is_some_and(char::is_alphanumeric)
    };
    let mut found: Vec<std::ops::Range<usize>> = Vec::new();
    for word in words {
        let w = word.to_lowercase();
        if w.trim().is_empty() {
            continue;
        }
        for (i, _) in lower.match_indices(&w) {
            let end = i + w.len();
            let after = lower[end..].chars().next();
            if boundary(i) && !after.is_some_and(char::is_alphanumeric) {
                found.push(i..end);
            }
        }
    }
    found.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for r in found {
        match out.last_mut() {
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The author as a person reads it: "Alice Martin (@alice)", each part [`untrusted`] and cut;
/// the name or the handle alone when only one is given (or both are the same).
fn author(p: &super::AlertPost, loc: &Locale) -> String {
    let part = |s: Option<&str>| {
        s.map(|s| untrusted_excerpt(s, NAME_CHARS))
            .filter(|s| !s.trim().is_empty())
    };
    match (part(p.author_name.as_deref()), part(p.author.as_deref())) {
        (Some(name), Some(handle)) if name != handle => format!("{name} ({handle})"),
        (Some(one), _) | (None, Some(one)) => one,
        (None, None) => loc.msg("unknown-author", &[]),
    }
}

/// The post's engagement then its author's followers, those the source gives, in the language:
/// "7 interactions · 1,200 followers".
fn reach(p: &super::AlertPost, loc: &Locale) -> Option<String> {
    let parts: Vec<String> = [("engagement", p.engagement), ("followers", p.followers)]
        .into_iter()
        .filter_map(|(id, n)| n.map(|n| loc.msg(id, &[("n", n.into())])))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The alert's posts, in order.
pub fn posts(alert: &Alert, loc: &Locale) -> Vec<PostView> {
    alert
        .posts
        .iter()
        .map(|p| {
            let excerpt = untrusted_excerpt(&p.text, EXCERPT_CHARS);
            let matched = find_words(&excerpt, &p.matched);
            PostView {
                author: author(p, loc),
                source: untrusted_excerpt(&p.source, NAME_CHARS),
                excerpt,
                matched,
                url: p.url.as_deref().and_then(safe_url),
                when: loc.time(p.created_at),
                reach: reach(p, loc),
            }
        })
        .collect()
}

/// The one-click link that marks an alert's case handled (SPEC §5.1), ready to render: the
/// button's words in the language, and the signed URL the dispatcher filled in, only when
/// [`safe_url`] accepts it. `None` for an alert without a case or without a link (no `listen`).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseLink {
    /// "Mark as handled" / "Marquer comme traité".
    pub label: String,
    /// The signed link.
    pub url: String,
}

/// The alert's [`CaseLink`], if it has one.
pub fn case_link(alert: &Alert, loc: &Locale) -> Option<CaseLink> {
    let url = alert.case.as_ref()?.ack_url.as_deref().and_then(safe_url)?;
    Some(CaseLink {
        label: loc.msg("case-ack", &[]),
        url,
    })
}

/// The chart's alt text: what the picture shows, in one sentence.
pub fn chart_alt(alert: &Alert, loc: &Locale) -> String {
    let window = loc.duration(alert.series.bucket_secs.max(1));
    let zone = loc.zone_name(alert.fired_at);
    let usual = usual(alert, loc);
    loc.msg(
        "chart-alt",
        &[
            ("window", Arg::from(&window)),
            ("zone", Arg::from(&zone)),
            (
                "count",
                alert.series.counts.last().copied().unwrap_or(0).into(),
            ),
            ("usual", Arg::from(&usual)),
            ("bar", alert.bar.into()),
        ],
    )
}

/// The plain-text alert: the console's output and email's text part, saying what the HTML part
/// says (title, why, facts, the posts with their links).
pub fn text(alert: &Alert, loc: &Locale) -> String {
    let mut out = format!("[vigie] {}\n{}\n\n", title(alert, loc), why(alert, loc));
    for (label, value) in facts(alert, loc) {
        let _ = writeln!(out, "{}", loc.labelled(&label, &value));
    }
    if let Some(link) = case_link(alert, loc) {
        let _ = writeln!(out, "\n{}", loc.labelled(&link.label, &link.url));
    }
    let posts = posts(alert, loc);
    if !posts.is_empty() {
        let _ = write!(out, "\n{}\n", loc.labelled(&loc.msg("top-posts", &[]), ""));
        out = out.trim_end().to_string() + "\n";
    }
    for (i, p) in posts.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, p.byline(loc));
        let _ = writeln!(out, "   {}", p.excerpt);
        if let Some(url) = &p.url {
            let _ = writeln!(out, "   {}", loc.labelled(&loc.msg("open-post", &[]), url));
        }
    }
    out
}

#[cfg(test)]
mod tests;
