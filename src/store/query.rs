//! Read-only queries behind `vigie hits` and `vigie sources`.
//!
//! Filters are assembled by a small builder (miniflux's `EntryQueryBuilder`): each condition
//! adds a SQL fragment with `?` placeholders and its bound value, so user input is never SQL
//! text. `--search` is a query of the rule language: [`fts_prefilter`] derives from its
//! positive literals an FTS5 query of quoted folded words that every matching post satisfies
//! (never FTS syntax from the user), and the caller runs the query itself on what comes back.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{fmt_time, parse_time, Store, StoreError};
use crate::config::duration::parse_duration;
use crate::matcher::query::Expr;

/// Filters of `vigie hits`.
#[derive(Debug, Clone, Default)]
pub struct HitQuery {
    /// Posts created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Posts created before.
    pub until: Option<DateTime<Utc>>,
    /// Rule name (a glob when it contains `*`, `?` or `[`).
    pub rule: Option<String>,
    /// Source name (a glob when it contains `*`, `?` or `[`).
    pub source: Option<String>,
    /// Author, case-insensitive, leading `@` optional.
    pub author: Option<String>,
    /// An FTS5 query every wanted post satisfies (see [`fts_prefilter`]).
    pub search: Option<String>,
    /// Most rows returned.
    pub limit: Option<u64>,
    /// Only hits stored after the hit with this id (`hits --follow`).
    pub after_id: Option<i64>,
}

/// One row of `hits_v`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitRow {
    /// Hit id.
    pub hit_id: i64,
    /// Rule name.
    pub rule: String,
    /// Source name.
    pub source: String,
    /// The source's own post id.
    pub post_id: String,
    /// Link to the post.
    pub url: Option<String>,
    /// Author (the handle).
    pub author: Option<String>,
    /// The author's display name, when the source gives one.
    pub author_name: Option<String>,
    /// The post's engagement (likes + reposts + replies), when the source gives it.
    pub engagement: Option<u64>,
    /// Post text.
    pub text: String,
    /// Post creation time (RFC 3339 UTC).
    pub created_at: String,
    /// Fetch time.
    pub fetched_at: String,
    /// Matched words (JSON array).
    pub matched: String,
}

/// One row of `sources_v`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRow {
    /// Source name.
    pub source: String,
    /// Kind.
    pub kind: String,
    /// Last poll time.
    pub last_poll_at: Option<String>,
    /// `ok`, `not_modified` or `error`.
    pub last_status: Option<String>,
    /// The last error, when the last poll failed.
    pub last_error: Option<String>,
    /// Posts stored.
    pub items_seen: i64,
    /// Hits stored.
    pub hits: i64,
    /// Next poll time.
    pub next_poll_at: Option<String>,
}

/// Parses `--since` / `--until` as people type them: a duration ago (`90s`, `15m`, `2h`,
/// `7d`), an RFC 3339 time, or a date or date and time without a zone (`2026-11-20`,
/// `2026-11-20 14:00`, `2026-11-20T14:00:30`), read in the local time zone.
pub fn parse_time_arg(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    parse_time_arg_in(s, now, &chrono::Local)
}

/// [`parse_time_arg`] with the time zone of zone-less times as an argument.
pub fn parse_time_arg_in<Tz: chrono::TimeZone>(
    s: &str,
    now: DateTime<Utc>,
    zone: &Tz,
) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Some(t) = parse_time(s) {
        return Ok(t);
    }
    if let Some(local) = parse_naive(s) {
        // A time skipped by a DST change is an error; an ambiguous one is the earlier.
        return zone
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                format!("invalid time \"{s}\": it does not exist in the local time zone")
            });
    }
    let d = parse_duration(s).map_err(|_| {
        format!("invalid time \"{s}\": expected a duration ago (90s, 15m, 2h, 7d), a date (2026-11-20), a local date and time (\"2026-11-20 14:00\") or an RFC 3339 time (2026-11-22T10:00:00Z)")
    })?;
    let d = chrono::Duration::from_std(d).map_err(|e| e.to_string())?;
    Ok(now - d)
}

/// A date, or a date and time to the minute or second, without a zone.
fn parse_naive(s: &str) -> Option<chrono::NaiveDateTime> {
    use chrono::{NaiveDate, NaiveDateTime};
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0);
    }
    [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// An FTS5 query that every post matching `expr` satisfies, from its positive literals: a
/// term's folded words (the last one as a prefix for `retard*`) ANDed, `AND` and `NEAR` as AND,
/// `OR` only when every side has one; `NOT` constrains nothing. `None` when nothing can be
/// required safely (`NOT x` alone, `a OR NOT b`): then every hit is read and the query alone
/// decides. The index keeps no positions (`detail = none`), so phrases are their words ANDed.
/// A word with other characters than letters and digits, which the index's tokenizer might
/// cut differently, is left out rather than risk a miss.
pub fn fts_prefilter(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Term(t) => {
            let n = t.words.len();
            let mut words: Vec<String> = t
                .words
                .iter()
                .enumerate()
                .filter(|(_, (w, _))| !w.is_empty() && w.chars().all(char::is_alphanumeric))
                .map(|(i, (w, _))| {
                    let star = if t.prefix && i + 1 == n { "*" } else { "" };
                    format!("\"{w}\"{star}")
                })
                .collect();
            match words.len() {
                0 => None,
                1 => words.pop(),
                _ => Some(format!("({})", words.join(" AND "))),
            }
        }
        Expr::And(parts) => {
            let parts: Vec<String> = parts.iter().filter_map(fts_prefilter).collect();
            (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
        }
        Expr::Near(a, b, _) => fts_prefilter(&Expr::And(vec![(**a).clone(), (**b).clone()])),
        Expr::Or(parts) => {
            let parts: Option<Vec<String>> = parts.iter().map(fts_prefilter).collect();
            parts.map(|p| format!("({})", p.join(" OR ")))
        }
        Expr::Not(_) => None,
    }
}

/// What `vigie stats` counts hits by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsBy {
    /// The rule hit.
    Rule,
    /// The post's source.
    Source,
    /// Each distinct query term the hit quotes (`retard*`, `"objet cassé"`).
    Term,
    /// The post's author (empty when the source gives none).
    Author,
}

/// `SELECT {columns} FROM hits h JOIN posts p …` with `q`'s conditions (not its order or
/// limit), and their bound values; `None` when `q` can match nothing (a search with no word).
fn hit_select(columns: &str, q: &HitQuery) -> Option<(String, Vec<Value>)> {
    let mut sql =
        format!("SELECT {columns} FROM hits h JOIN posts p ON p.id = h.post_id WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    let mut cond = |sql_part: &str, v: Value| {
        sql.push_str(sql_part);
        args.push(v);
    };
    if let Some(t) = q.since {
        cond(" AND h.created_at >= ?", Value::Text(fmt_time(t)));
    }
    if let Some(t) = q.until {
        cond(" AND h.created_at < ?", Value::Text(fmt_time(t)));
    }
    if let Some(r) = &q.rule {
        let op = if is_glob(r) {
            " AND h.rule GLOB ?"
        } else {
            " AND h.rule = ?"
        };
        cond(op, Value::Text(r.clone()));
    }
    if let Some(s) = &q.source {
        let op = if is_glob(s) {
            " AND p.source GLOB ?"
        } else {
            " AND p.source = ?"
        };
        cond(op, Value::Text(s.clone()));
    }
    if let Some(a) = &q.author {
        cond(
            " AND lower(ltrim(p.author, '@')) = ?",
            Value::Text(a.trim().trim_start_matches('@').to_lowercase()),
        );
    }
    if let Some(id) = q.after_id {
        cond(" AND h.id > ?", Value::Integer(id));
    }
    if let Some(s) = &q.search {
        cond(
            " AND p.id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)",
            Value::Text(s.clone()),
        );
    }
    Some((sql, args))
}

impl Store {
    /// Hits matching `q`, newest first.
    pub fn hits(&self, q: &HitQuery) -> Result<Vec<HitRow>, StoreError> {
        let Some((mut sql, mut args)) = hit_select(
            "h.id, h.rule, p.source, p.source_id, p.url, p.author, p.text, p.created_at,
             p.fetched_at, h.matched, p.author_name, p.engagement",
            q,
        ) else {
            return Ok(Vec::new());
        };
        if let Some(n) = q.limit {
            sql.push_str(" ORDER BY h.created_at DESC, h.id DESC LIMIT ?");
            args.push(Value::Integer(n.min(i64::MAX as u64) as i64));
        } else {
            sql.push_str(" ORDER BY h.created_at DESC, h.id DESC");
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(HitRow {
                hit_id: r.get(0)?,
                rule: r.get(1)?,
                source: r.get(2)?,
                post_id: r.get(3)?,
                url: r.get(4)?,
                author: r.get(5)?,
                text: r.get(6)?,
                created_at: r.get(7)?,
                fetched_at: r.get(8)?,
                matched: r.get(9)?,
                author_name: r.get(10)?,
                engagement: r.get::<_, Option<i64>>(11)?.map(|e| e.max(0) as u64),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Calls `f(created_at, key)` for every hit matching `q` (its limit aside) under every key
    /// it counts for: its rule, source or author, or each distinct term it quotes.
    pub fn hit_keys(
        &self,
        q: &HitQuery,
        by: StatsBy,
        mut f: impl FnMut(&str, &str),
    ) -> Result<(), StoreError> {
        let key = match by {
            StatsBy::Rule => "h.rule",
            StatsBy::Source => "p.source",
            StatsBy::Term => "h.matched",
            StatsBy::Author => "COALESCE(p.author, '')",
        };
        let Some((sql, args)) = hit_select(&format!("h.created_at, {key}"), q) else {
            return Ok(());
        };
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut terms: Vec<String> = Vec::new();
        while let Some(r) = rows.next()? {
            let at = r.get_ref(0)?.as_str().unwrap_or_default();
            let key = r.get_ref(1)?.as_str().unwrap_or_default();
            if by != StatsBy::Term {
                f(at, key);
                continue;
            }
            // `matched` is the JSON array the writer stored: `[{term, text, position}, …]`.
            terms.clear();
            if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(key) {
                terms.extend(
                    items
                        .iter()
                        .filter_map(|m| m.get("term")?.as_str().map(str::to_string)),
                );
            }
            terms.sort_unstable();
            terms.dedup();
            for t in &terms {
                f(at, t);
            }
        }
        Ok(())
    }

    /// Every source, by name.
    pub fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT source, kind, last_poll_at, last_status, last_error, items_seen, hits, next_poll_at
             FROM sources_v ORDER BY source",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceRow {
                source: r.get(0)?,
                kind: r.get(1)?,
                last_poll_at: r.get(2)?,
                last_status: r.get(3)?,
                last_error: r.get(4)?,
                items_seen: r.get(5)?,
                hits: r.get(6)?,
                next_poll_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_args() {
        let now = parse_time("2026-11-22T12:00:00Z").unwrap();
        let cases = [
            ("2h", "2026-11-22T10:00:00Z"),
            ("90s", "2026-11-22T11:58:30Z"),
            ("7d", "2026-11-15T12:00:00Z"),
            ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z"),
            ("2026-11-22T11:00:00+01:00", "2026-11-22T10:00:00Z"),
        ];
        for (arg, want) in cases {
            assert_eq!(fmt_time(parse_time_arg(arg, now).unwrap()), want, "{arg}");
        }
        assert!(parse_time_arg("yesterday", now).is_err());
        // Dates and times without a zone are local: here, an east-of-UTC zone.
        let paris = chrono::FixedOffset::east_opt(3600).unwrap();
        let local = [
            ("2026-11-20", "2026-11-19T23:00:00Z"),
            ("2026-11-20 14:00", "2026-11-20T13:00:00Z"),
            ("2026-11-20 14:00:30", "2026-11-20T13:00:30Z"),
            ("2026-11-20T14:00", "2026-11-20T13:00:00Z"),
        ];
        for (arg, want) in local {
            let got = parse_time_arg_in(arg, now, &paris).unwrap();
            assert_eq!(fmt_time(got), want, "{arg}");
        }
        assert!(parse_time_arg_in("2026-13-01", now, &paris).is_err());
    }

    #[test]
    fn fts_prefilters_require_only_what_every_match_has() {
        use crate::matcher::query::Query;
        let pre = |q: &str| fts_prefilter(&Query::parse(q).unwrap().expr);
        assert_eq!(pre("colis").as_deref(), Some("\"colis\""));
        assert_eq!(pre("Retard*").as_deref(), Some("\"retard\"*"));
        assert_eq!(
            pre("\"objet cassé\" OR remboursement").as_deref(),
            Some("((\"objet\" AND \"casse\") OR \"remboursement\")")
        );
        assert_eq!(
            pre("colis NEAR/3 perdu -suspect").as_deref(),
            Some("((\"colis\" AND \"perdu\"))")
        );
        assert_eq!(pre("NOT colis"), None);
        assert_eq!(pre("colis OR NOT retard"), None);
    }
}

/// Filters for `vigie alerts` (and `replay`'s listing).
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Fired at or after.
    pub since: Option<DateTime<Utc>>,
    /// Fired before.
    pub until: Option<DateTime<Utc>>,
    /// Rule (or source, for `source` alerts) name or glob.
    pub rule: Option<String>,
    /// `each`, `threshold`, `spike` or `source`.
    pub kind: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<u64>,
    /// Oldest first instead (replay prints alerts in the order they fired).
    pub oldest_first: bool,
    /// Only alerts with a delivery that failed or waits for a retry after an error.
    pub failed: bool,
}

/// One row of `alerts_v`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertRow {
    /// The alert's id.
    pub alert_id: i64,
    /// Rule name (source name for `source` alerts).
    pub rule: String,
    /// Alert kind.
    pub kind: String,
    /// Event time it fired at.
    pub fired_at: String,
    /// Start of its window.
    pub window_start: String,
    /// End of its window.
    pub window_end: String,
    /// Hits in the window.
    pub count: i64,
    /// The usual count.
    pub baseline: f64,
    /// count / baseline, when there is a baseline.
    pub ratio: Option<f64>,
    /// For `source` alerts: failing, silent or recovered.
    pub state: Option<String>,
    /// Why it fired.
    pub reason: String,
    /// Delivery status per notifier: `console:sent, cm-email:pending`.
    pub status: String,
    /// Why deliveries are not sent yet: `cm-email: connection refused` per notifier.
    pub last_error: Option<String>,
    /// When the next pending delivery is tried (RFC 3339 UTC).
    pub next_try: Option<String>,
}

impl Store {
    /// Alerts matching `q`, newest first (or oldest first).
    pub fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRow>, StoreError> {
        let mut sql = String::from(
            "SELECT alert_id, rule, kind, fired_at, window_start, window_end, count, baseline,
                    ratio, state, reason, status,
                    (SELECT group_concat(d.notifier || ': ' || d.last_error, '; ')
                     FROM deliveries d
                     WHERE d.alert_id = alerts_v.alert_id AND d.status != 'sent'
                       AND d.last_error IS NOT NULL),
                    (SELECT MIN(d.next_attempt_at) FROM deliveries d
                     WHERE d.alert_id = alerts_v.alert_id AND d.status = 'pending')
             FROM alerts_v WHERE 1 = 1",
        );
        if q.failed {
            sql.push_str(
                " AND alert_id IN (SELECT alert_id FROM deliveries
                                   WHERE status = 'failed'
                                      OR (status = 'pending' AND last_error IS NOT NULL))",
            );
        }
        let mut args: Vec<Value> = Vec::new();
        if let Some(t) = q.since {
            sql.push_str(" AND fired_at >= ?");
            args.push(Value::Text(fmt_time(t)));
        }
        if let Some(t) = q.until {
            sql.push_str(" AND fired_at < ?");
            args.push(Value::Text(fmt_time(t)));
        }
        if let Some(r) = &q.rule {
            sql.push_str(if is_glob(r) {
                " AND rule GLOB ?"
            } else {
                " AND rule = ?"
            });
            args.push(Value::Text(r.clone()));
        }
        if let Some(k) = &q.kind {
            sql.push_str(" AND kind = ?");
            args.push(Value::Text(k.clone()));
        }
        sql.push_str(if q.oldest_first {
            " ORDER BY fired_at, alert_id"
        } else {
            " ORDER BY fired_at DESC, alert_id DESC"
        });
        if let Some(n) = q.limit {
            sql.push_str(" LIMIT ?");
            args.push(Value::Integer(n.min(i64::MAX as u64) as i64));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(AlertRow {
                alert_id: r.get(0)?,
                rule: r.get(1)?,
                kind: r.get(2)?,
                fired_at: r.get(3)?,
                window_start: r.get(4)?,
                window_end: r.get(5)?,
                count: r.get(6)?,
                baseline: r.get(7)?,
                ratio: r.get(8)?,
                state: r.get(9)?,
                reason: r.get(10)?,
                status: r.get(11)?,
                last_error: r.get(12)?,
                next_try: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The alert as recorded (its stored payload), for rendering it again (`replay
    /// --dump-alerts`); `None` when no alert has this id.
    pub fn alert(&self, id: i64) -> Result<Option<crate::detect::Alert>, StoreError> {
        let payload: Option<String> = self
            .conn
            .prepare_cached("SELECT payload FROM alerts WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(payload) = payload else {
            return Ok(None);
        };
        let mut alert: crate::detect::Alert = serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("alert {id}: {e}")))?;
        alert.id = id;
        Ok(Some(alert))
    }
}
