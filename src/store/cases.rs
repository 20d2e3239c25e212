//! The reply clock inside the commit (SPEC §5.1): threads, cases, answers, reminders and
//! escalations.
//!
//! `write::Batch` calls this module for every post it inserts, in the same transaction:
//! [`thread_of`] resolves the post's thread key (the source's own, else the stored parent's,
//! else `source:parent_id`, else `source:id`), and [`on_post`] opens a case when a rule with
//! `reply_within` hits a thread that has none, counts a later post of the thread into its case,
//! or, for a post by one of the brand's accounts, answers the thread's case. A case opened after
//! the brand already replied in its thread (another source, an earlier poll) looks for that
//! reply among the stored posts, so the order in which posts arrive does not matter.
//! [`sweep`] runs at the end of every commit (and on the daemon's timer): a case still open at
//! its reminder time or its deadline gets its reminder or its escalation as an alert with its
//! outbox rows, and `reminded_at` / `breached_at` in the same transaction, so a crash loses or
//! doubles neither. Answering a case cancels its reminder and escalation deliveries still
//! pending (status `cancelled`). The clock itself is `cases::clock`'s; sending is the
//! dispatcher's.
//!
//! One case per thread: when several rules with `reply_within` hit the post that opens it, the
//! rule with the shortest promise wins (then the first by name), since the brand's tightest
//! promise is the one it can break.

use chrono::{DateTime, Utc};
use globset::GlobMatcher;
use rusqlite::{params, OptionalExtension, Transaction};

use super::alerts::{self, AlertPolicy};
use super::{fmt_time, parse_time, Store, StoreError};
use crate::cases::Clock;
use crate::config::brand::same_handle;
use crate::config::Config;
use crate::detect::{Alert, AlertKind, AlertPost, CaseRef};
use crate::matcher::Hits;
use crate::post::Post;

/// One rule's reply promise and where its case alerts go.
#[derive(Debug, Clone)]
pub struct CaseRule {
    /// `reply_within`, in open seconds.
    pub promise_secs: u64,
    /// Reminders go here (the rule's `notify`).
    pub notify: Vec<String>,
    /// Escalations go here (`escalate`, else `notify`).
    pub escalate: Vec<String>,
}

/// What the commit needs to keep cases: the rules with a promise, the brand's accounts and
/// the business-hours clock.
#[derive(Debug, Clone, Default)]
pub struct CasePolicy {
    /// Rules with `reply_within`, by name.
    pub rules: std::collections::BTreeMap<String, CaseRule>,
    /// The brand's handles, each with the sources it applies to (`None`: every source).
    brand: Vec<(String, Option<GlobMatcher>)>,
    /// `[daemon] hours`, `holidays` and `timezone`.
    pub clock: Clock,
}

impl CasePolicy {
    /// The case policy of a validated config.
    pub fn from_config(config: &Config) -> CasePolicy {
        let rules = config
            .rules
            .iter()
            .filter_map(|r| {
                let promise = r.reply_within?;
                let escalate = if r.escalate.is_empty() {
                    r.notify.clone()
                } else {
                    r.escalate.clone()
                };
                Some((
                    r.spec.name.clone(),
                    CaseRule {
                        promise_secs: promise.as_secs().max(1),
                        notify: r.notify.clone(),
                        escalate,
                    },
                ))
            })
            .collect();
        let brand = config
            .daemon
            .brand_accounts
            .iter()
            .map(|a| {
                let glob = a.source.as_deref().map(|g| {
                    globset::Glob::new(g)
                        .map(|g| g.compile_matcher())
                        // Checked by `config`: a glob that fails here matches nothing.
                        .unwrap_or_else(|_| globset::Glob::new("").unwrap().compile_matcher())
                });
                (a.handle.clone(), glob)
            })
            .collect();
        CasePolicy {
            rules,
            brand,
            clock: config.daemon.clock(),
        }
    }

    /// Whether `author` is one of the brand's accounts on `source`.
    pub fn is_brand(&self, source: &str, author: Option<&str>) -> bool {
        let Some(author) = author else {
            return false;
        };
        self.brand.iter().any(|(handle, glob)| {
            glob.as_ref().is_none_or(|g| g.is_match(source)) && same_handle(handle, author)
        })
    }

    /// The rule among `hits` whose case a new thread opens: the shortest promise, then the
    /// first by name.
    fn opening_rule<'h>(&self, hits: &'h Hits) -> Option<(&'h str, &CaseRule)> {
        hits.iter()
            .filter_map(|h| self.rules.get(h.rule).map(|r| (h.rule, r)))
            .min_by(|a, b| (a.1.promise_secs, a.0).cmp(&(b.1.promise_secs, b.0)))
    }
}

/// The thread key of `post` from `source`: its own (`post.thread`), else its stored parent's
/// (same source, `source_id = in_reply_to`), else `source:in_reply_to`, else `source:id`
/// (`key`, the post's stored id). A reply whose parent is not stored yet gets the key its
/// parent will get if that parent starts the thread, so a reply and its root agree whichever
/// arrives first.
pub fn thread_of(
    tx: &Transaction<'_>,
    source: &str,
    post: &Post,
    key: &str,
) -> Result<String, StoreError> {
    if let Some(t) = post.thread.as_deref().filter(|t| !t.is_empty()) {
        return Ok(t.to_string());
    }
    let Some(parent) = post.in_reply_to.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(format!("{source}:{key}"));
    };
    let stored: Option<Option<String>> = tx
        .prepare_cached("SELECT thread FROM posts WHERE source = ?1 AND source_id = ?2")?
        .query_row(params![source, parent], |r| r.get(0))
        .optional()?;
    Ok(stored
        .flatten()
        .unwrap_or_else(|| format!("{source}:{parent}")))
}

/// A post just inserted, as the cases see it.
pub struct NewPost<'a> {
    /// Its source.
    pub source: &'a str,
    /// The post.
    pub post: &'a Post,
    /// Its `posts` row id.
    pub rowid: i64,
    /// Its resolved thread key.
    pub thread: &'a str,
    /// Its event time.
    pub created_at: DateTime<Utc>,
    /// The rules it hit (none for a brand post).
    pub hits: &'a Hits,
}

/// The case effects of one new post: a brand post answers its thread's case; another post
/// joins its thread's case, or opens one when it hits a rule with `reply_within`. Returns the
/// case it opened, for its `each` alert.
pub fn on_post(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    cases: &CasePolicy,
    p: &NewPost<'_>,
    wall: DateTime<Utc>,
) -> Result<Option<CaseRef>, StoreError> {
    let at = fmt_time(p.created_at);
    if cases.is_brand(p.source, p.post.author.as_deref()) {
        let open: Option<(i64, String)> = tx
            .prepare_cached(
                "SELECT id, clock_start FROM cases
                 WHERE thread = ?1 AND state IN ('open', 'breached') AND opened_at <= ?2",
            )?
            .query_row(params![p.thread, at], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((id, start)) = open {
            let reply = Reply {
                post_id: p.rowid,
                author: p.post.author.as_deref(),
                at: p.created_at,
            };
            answer(tx, policy, cases, id, &start, &reply, wall)?;
        }
        return Ok(None);
    }
    let joined = tx
        .prepare_cached(
            "UPDATE cases SET posts = posts + 1, last_post_at = MAX(last_post_at, ?2)
             WHERE thread = ?1",
        )?
        .execute(params![p.thread, at])?;
    if joined > 0 {
        return Ok(None);
    }
    let Some((rule, r)) = cases.opening_rule(p.hits) else {
        return Ok(None);
    };
    let start = cases.clock.clock_start(p.created_at);
    let remind = cases.clock.remind_at(start, r.promise_secs);
    let due = cases.clock.due_at(start, r.promise_secs);
    let start_s = fmt_time(start);
    tx.prepare_cached(
        "INSERT INTO cases (thread, rule, source, post_id, author, opened_at, clock_start,
           promise_secs, remind_at, due_at, last_post_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?6)",
    )?
    .execute(params![
        p.thread,
        rule,
        p.source,
        p.rowid,
        p.post.author,
        at,
        start_s,
        r.promise_secs as i64,
        fmt_time(remind),
        fmt_time(due),
    ])?;
    let id = tx.last_insert_rowid();
    // The brand may have replied already: a reply stored before the complaint answers it now.
    let earlier: Vec<(i64, String, Option<String>, String)> = tx
        .prepare_cached(
            "SELECT id, source, author, created_at FROM posts
             WHERE thread = ?1 AND created_at >= ?2 AND id != ?3 AND author IS NOT NULL
             ORDER BY created_at, id",
        )?
        .query_map(params![p.thread, at, p.rowid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (post_id, source, author, created) in earlier {
        if cases.is_brand(&source, author.as_deref()) {
            if let Some(t) = parse_time(&created) {
                let reply = Reply {
                    post_id,
                    author: author.as_deref(),
                    at: t,
                };
                answer(tx, policy, cases, id, &start_s, &reply, wall)?;
                break;
            }
        }
    }
    Ok(Some(CaseRef {
        id,
        opened_at: p.created_at,
        due_at: due,
        ack_url: None,
    }))
}

/// The brand post that answers a case.
struct Reply<'a> {
    post_id: i64,
    author: Option<&'a str>,
    at: DateTime<Utc>,
}

/// Marks case `id` (whose clock started at `start`) answered by `reply`, with its response
/// time in open seconds. A reply after the reminder time or the deadline first records what the
/// clock would have sent by then (so a replay in event time, where no timer runs between two
/// posts, records the escalation the daemon's timer would have); answering then cancels every
/// delivery of the case still pending.
fn answer(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    cases: &CasePolicy,
    id: i64,
    start: &str,
    reply: &Reply<'_>,
    wall: DateTime<Utc>,
) -> Result<(), StoreError> {
    sweep_cases(tx, policy, cases, reply.at, wall, Some(id))?;
    let secs = parse_time(start).map_or(0, |s| cases.clock.open_secs(s, reply.at));
    tx.prepare_cached(
        "UPDATE cases SET state = 'answered', answered_at = ?2, answered_by = ?3,
           answer = 'reply', answer_post_id = ?4, response_secs = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        fmt_time(reply.at),
        reply.author,
        reply.post_id,
        secs as i64
    ])?;
    cancel_pending(tx, id)?;
    Ok(())
}

/// Cancels the reminder and escalation deliveries of case `id` not sent yet: the case is
/// answered, nobody needs them any more. A delivery already in flight is recorded as sent when
/// it goes through.
pub fn cancel_pending(tx: &Transaction<'_>, id: i64) -> Result<usize, StoreError> {
    Ok(tx
        .prepare_cached(
            "UPDATE deliveries SET status = 'cancelled', last_error = NULL
             WHERE status = 'pending' AND alert_id IN (
               SELECT a.id FROM deliveries d JOIN alerts a ON a.id = d.alert_id
               WHERE d.status = 'pending' AND a.kind IN ('reminder', 'breach')
                 AND json_extract(a.payload, '$.case.id') = ?1)",
        )?
        .execute(params![id])?)
}

/// Records the reminders and escalations that are due at `now`: a reminder for an open case
/// past its reminder time (sent only while its deadline is ahead), an escalation (state
/// `breached`) for an open case past its deadline, each at its own time, so a replay in event
/// time records what the daemon's timer did live. Returns how many alerts it recorded.
pub fn sweep(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    cases: &CasePolicy,
    now: DateTime<Utc>,
    wall: DateTime<Utc>,
) -> Result<u64, StoreError> {
    sweep_cases(tx, policy, cases, now, wall, None)
}

/// A due case, with the complaint it quotes.
struct Due {
    id: i64,
    rule: String,
    opened_at: String,
    when: String,
    due_at: String,
    promise_secs: i64,
    /// When the complaint was first fetched.
    fetched_at: String,
    post: AlertPost,
}

fn sweep_cases(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    cases: &CasePolicy,
    now: DateTime<Utc>,
    wall: DateTime<Utc>,
    only: Option<i64>,
) -> Result<u64, StoreError> {
    let now_s = fmt_time(now);
    let mut fired = 0;
    for kind in [AlertKind::Reminder, AlertKind::Breach] {
        let (when, condition) = match kind {
            AlertKind::Reminder => ("c.remind_at", "c.reminded_at IS NULL AND c.remind_at <= ?1"),
            _ => ("c.due_at", "c.due_at <= ?1"),
        };
        let sql = format!(
            "SELECT c.id, c.rule, c.opened_at, {when}, c.due_at, c.promise_secs, c.post_id,
                    p.source, p.author, p.author_name, p.text, p.url, p.created_at, p.followers,
                    p.engagement,
                    (SELECT h.matched FROM hits h WHERE h.post_id = c.post_id AND h.rule = c.rule),
                    p.fetched_at
             FROM cases c JOIN posts p ON p.id = c.post_id
             WHERE c.state = 'open' AND {condition} AND (?2 IS NULL OR c.id = ?2)
             ORDER BY {when}, c.id"
        );
        let due: Vec<Due> = tx
            .prepare_cached(&sql)?
            .query_map(params![now_s, only], |r| {
                let created: String = r.get(12)?;
                Ok(Due {
                    id: r.get(0)?,
                    rule: r.get(1)?,
                    opened_at: r.get(2)?,
                    when: r.get(3)?,
                    due_at: r.get(4)?,
                    promise_secs: r.get(5)?,
                    fetched_at: r.get(16)?,
                    post: AlertPost {
                        source: r.get(7)?,
                        author: r.get(8)?,
                        author_name: r.get(9)?,
                        text: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                        url: r.get(11)?,
                        created_at: parse_time(&created).unwrap_or(now),
                        followers: r.get::<_, Option<i64>>(13)?.map(|f| f.max(0) as u64),
                        engagement: r.get::<_, Option<i64>>(14)?.map(|e| e.max(0) as u64),
                        matched: alerts::matched_words(r.get::<_, Option<String>>(15)?.as_deref()),
                    },
                })
            })?
            .collect::<Result<_, _>>()?;
        for d in due {
            let at = parse_time(&d.when).unwrap_or(now);
            let case = CaseRef {
                id: d.id,
                opened_at: parse_time(&d.opened_at).unwrap_or(at),
                due_at: parse_time(&d.due_at).unwrap_or(at),
                ack_url: None,
            };
            let rule = cases
                .rules
                .get(&d.rule)
                // A complaint first seen after this time (a backfill), or a reminder whose
                // deadline has passed too (the daemon was down), is recorded as it would have
                // gone, but sent to no one: nobody can act on the past (SPEC §5).
                .filter(|_| d.when >= d.fetched_at)
                .filter(|_| kind != AlertKind::Reminder || d.due_at > now_s);
            // A rule that lost its promise (or was removed) since: recorded, sent to no one.
            let notify = match (kind, rule) {
                (AlertKind::Reminder, Some(r)) => r.notify.as_slice(),
                (_, Some(r)) => r.escalate.as_slice(),
                (_, None) => &[],
            };
            let alert = Alert::case(
                kind,
                &d.rule,
                case,
                d.promise_secs.max(0) as u64,
                d.post,
                at,
            );
            alerts::record(tx, policy, alert, notify, wall)?;
            let mark = match kind {
                AlertKind::Reminder => "UPDATE cases SET reminded_at = ?2 WHERE id = ?1",
                _ => "UPDATE cases SET state = 'breached', breached_at = ?2 WHERE id = ?1",
            };
            tx.prepare_cached(mark)?.execute(params![d.id, d.when])?;
            fired += 1;
        }
    }
    Ok(fired)
}

impl Store {
    /// Makes every later commit keep cases under `cases` (with an alert policy set too).
    pub fn set_case_policy(&mut self, cases: CasePolicy) {
        self.cases = Some(cases);
    }

    /// Records, in one transaction, the reminders and escalations due at `now`: what the
    /// daemon's timer commits when a case falls due while no source is polled. Returns how
    /// many alerts it recorded.
    pub fn sweep_cases(&mut self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let (Some(policy), Some(cases)) = (self.policy.as_ref(), self.cases.as_ref()) else {
            return Ok(0);
        };
        let tx = self.conn.transaction()?;
        let fired = sweep(&tx, policy, cases, now, Utc::now())?;
        tx.commit()?;
        Ok(fired)
    }

    /// The next time a case needs the clock: the earliest reminder not sent yet or deadline of
    /// an open case.
    pub fn next_case_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        if self.cases.is_none() {
            return Ok(None);
        }
        next_at(&self.conn)
    }
}

/// [`Store::next_case_at`], on any connection or transaction: before it, [`sweep`] finds
/// nothing due.
pub fn next_at(conn: &rusqlite::Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    let t: Option<String> = conn
        .prepare_cached(
            "SELECT MIN(t) FROM (
               SELECT MIN(remind_at) AS t FROM cases
               WHERE state = 'open' AND reminded_at IS NULL
               UNION ALL
               SELECT MIN(due_at) FROM cases WHERE state = 'open')",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(t.as_deref().and_then(parse_time))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::matcher::{RuleSet, RuleSpec};
    use crate::store::PollResult;

    const BRAND: &str = "@LaPoste";

    /// A store keeping cases for `rules` (name, promise in seconds), all matching "colis",
    /// delivering to notifier "n" when `deliver`.
    fn store(rules: &[(&str, u64)], deliver: bool) -> (Store, RuleSet) {
        let mut store = Store::open(Path::new(":memory:")).unwrap();
        store
            .set_alert_policy(AlertPolicy {
                deliver,
                ..AlertPolicy::default()
            })
            .unwrap();
        let mut cases = CasePolicy::default();
        for (name, secs) in rules {
            let rule = CaseRule {
                promise_secs: *secs,
                notify: vec!["n".into()],
                escalate: vec!["n".into()],
            };
            cases.rules.insert(name.to_string(), rule);
        }
        cases.brand.push(("@laposte".into(), None));
        store.set_case_policy(cases);
        let specs: Vec<RuleSpec> = rules
            .iter()
            .map(|(n, _)| RuleSpec::with_query(n, "colis").unwrap())
            .collect();
        (store, RuleSet::compile(&specs).unwrap())
    }

    #[derive(Clone, Copy)]
    struct P<'a> {
        id: &'a str,
        text: &'a str,
        author: &'a str,
        reply_to: Option<&'a str>,
        thread: Option<&'a str>,
        at: &'a str,
    }

    fn post(p: &P<'_>) -> Post {
        Post {
            id: Some(p.id.into()),
            author: Some(p.author.into()),
            created_at: Some(format!("2026-11-20T{}Z", p.at)),
            in_reply_to: p.reply_to.map(String::from),
            thread: p.thread.map(String::from),
            ..Post::from_text(p.text)
        }
    }

    fn commit(store: &mut Store, rules: &RuleSet, source: &str, posts: &[P<'_>], now: &str) {
        let now: DateTime<Utc> = format!("2026-11-20T{now}Z").parse().unwrap();
        let posts = posts
            .iter()
            .map(|p| {
                let post = post(p);
                let hits = if p.author == BRAND {
                    Hits::default()
                } else {
                    rules.matches(&post)
                };
                (post, hits)
            })
            .collect();
        store
            .commit(&PollResult::page(source, "jsonl", now, posts))
            .unwrap();
    }

    fn rows<T: rusqlite::types::FromSql>(store: &Store, sql: &str) -> Vec<T> {
        let mut stmt = store.conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    fn complaint<'a>(id: &'a str, at: &'a str) -> P<'a> {
        P {
            id,
            text: "mon colis est perdu",
            author: "@alice",
            reply_to: None,
            thread: None,
            at,
        }
    }

    fn reply<'a>(id: &'a str, to: &'a str, at: &'a str) -> P<'a> {
        P {
            id,
            text: "Bonjour, nous regardons",
            author: BRAND,
            reply_to: Some(to),
            thread: None,
            at,
        }
    }

    #[test]
    fn thread_keys_follow_stored_parents_and_agree_whichever_arrives_first() {
        let (mut s, rules) = store(&[("plainte", 1800)], false);
        let other = P {
            text: "merci",
            author: "@bob",
            ..complaint("2", "10:01:00")
        };
        let third = P {
            reply_to: Some("2"),
            ..P { id: "3", ..other }
        };
        commit(
            &mut s,
            &rules,
            "m",
            &[
                complaint("1", "10:00:00"),
                P {
                    reply_to: Some("1"),
                    ..other
                },
            ],
            "10:02:00",
        );
        commit(&mut s, &rules, "m", &[third], "10:03:00");
        // The reply before its root, in one commit: both get the root's key.
        commit(
            &mut s,
            &rules,
            "r",
            &[reply("2", "1", "10:01:00"), complaint("1", "10:00:00")],
            "10:02:00",
        );
        // A thread the source knows is kept as given.
        let own = P {
            thread: Some("at://did:plc:x/app.bsky.feed.post/1"),
            ..complaint("9", "10:00:00")
        };
        commit(&mut s, &rules, "b", &[own], "10:02:00");
        let threads: Vec<String> = rows(
            &s,
            "SELECT source || '/' || source_id || ' ' || thread FROM posts ORDER BY source, source_id",
        );
        assert_eq!(
            threads,
            [
                "b/9 at://did:plc:x/app.bsky.feed.post/1",
                "m/1 m:1",
                "m/2 m:1",
                "m/3 m:1",
                "r/1 r:1",
                "r/2 r:1"
            ]
        );
        // One case per thread; later posts of the thread join it.
        let cases: Vec<String> = rows(
            &s,
            "SELECT thread || ' ' || posts || ' ' || state FROM cases ORDER BY thread",
        );
        assert_eq!(
            cases,
            [
                "at://did:plc:x/app.bsky.feed.post/1 1 open",
                "m:1 3 open",
                "r:1 1 answered"
            ]
        );
    }

    #[test]
    fn a_brand_reply_answers_whatever_the_order_and_source() {
        let (mut s, rules) = store(&[("plainte", 1800)], false);
        // The brand's reply on another source, fetched before the complaint: it answers the
        // case as soon as the complaint opens it.
        let early = P {
            thread: Some("T"),
            ..reply("r1", "x", "10:01:35")
        };
        commit(&mut s, &rules, "x", &[early], "10:02:00");
        let late = P {
            thread: Some("T"),
            ..complaint("c1", "10:00:00")
        };
        commit(&mut s, &rules, "m", &[late], "10:03:00");
        // A brand post made before the complaint does not answer it.
        let before = P {
            thread: Some("U"),
            ..reply("r2", "x", "09:59:00")
        };
        commit(&mut s, &rules, "x", &[before], "10:02:00");
        let opened = P {
            thread: Some("U"),
            ..complaint("c2", "10:00:00")
        };
        commit(&mut s, &rules, "m", &[opened], "10:03:00");
        let cases: Vec<String> = rows(
            &s,
            "SELECT thread || ' ' || state || ' ' || IFNULL(response_secs, '-') || ' '
                    || IFNULL(answered_by, '-') || ' ' || IFNULL(answer, '-') FROM cases ORDER BY thread",
        );
        assert_eq!(cases, ["T answered 95 @LaPoste reply", "U open - - -"]);
        // The brand's posts are kept with their text and author, and hit nothing.
        let brand: Vec<String> = rows(
            &s,
            "SELECT author || ': ' || text FROM posts WHERE source = 'x' ORDER BY source_id",
        );
        assert_eq!(
            brand,
            [
                "@LaPoste: Bonjour, nous regardons",
                "@LaPoste: Bonjour, nous regardons"
            ]
        );
        assert_eq!(rows::<i64>(&s, "SELECT COUNT(*) FROM hits"), [2]);
    }

    #[test]
    fn the_shortest_promise_opens_the_case() {
        let (mut s, rules) = store(&[("lent", 3600), ("rapide", 600)], false);
        commit(
            &mut s,
            &rules,
            "m",
            &[complaint("1", "10:00:00")],
            "10:00:00",
        );
        let cases: Vec<String> = rows(
            &s,
            "SELECT rule || ' ' || promise_secs || ' ' || remind_at || ' ' || due_at FROM cases",
        );
        assert_eq!(
            cases,
            ["rapide 600 2026-11-20T10:05:00Z 2026-11-20T10:10:00Z"]
        );
    }

    #[test]
    fn a_reminder_is_recorded_once_and_the_answer_cancels_what_is_pending() {
        let (mut s, rules) = store(&[("plainte", 1800)], true);
        commit(
            &mut s,
            &rules,
            "m",
            &[complaint("1", "10:00:00")],
            "10:00:00",
        );
        commit(&mut s, &rules, "m", &[], "10:14:59");
        assert_eq!(rows::<i64>(&s, "SELECT COUNT(*) FROM alerts"), [0]);
        commit(&mut s, &rules, "m", &[], "10:15:00");
        commit(&mut s, &rules, "m", &[], "10:16:00");
        assert_eq!(
            s.sweep_cases("2026-11-20T10:17:00Z".parse().unwrap())
                .unwrap(),
            0
        );
        let alerts: Vec<String> =
            rows(&s, "SELECT kind || ' ' || fired_at FROM alerts ORDER BY id");
        assert_eq!(alerts, ["reminder 2026-11-20T10:15:00Z"]);
        assert_eq!(
            s.next_case_at().unwrap(),
            Some("2026-11-20T10:30:00Z".parse().unwrap())
        );
        commit(
            &mut s,
            &rules,
            "m",
            &[reply("2", "1", "10:20:00")],
            "10:21:00",
        );
        let deliveries: Vec<String> = rows(&s, "SELECT notifier || ':' || status FROM deliveries");
        assert_eq!(deliveries, ["n:cancelled"]);
        commit(&mut s, &rules, "m", &[], "11:00:00");
        let cases: Vec<String> = rows(
            &s,
            "SELECT state || ' ' || response_secs || ' ' || reminded_at || ' ' || IFNULL(breached_at, '-') FROM cases",
        );
        assert_eq!(cases, ["answered 1200 2026-11-20T10:15:00Z -"]);
        assert_eq!(rows::<i64>(&s, "SELECT COUNT(*) FROM alerts"), [1]);
        assert_eq!(s.next_case_at().unwrap(), None);
    }

    #[test]
    fn a_late_answer_records_the_breach_first_and_cancels_it() {
        let (mut s, rules) = store(&[("plainte", 1800)], true);
        commit(
            &mut s,
            &rules,
            "m",
            &[complaint("1", "10:00:00")],
            "10:00:00",
        );
        // No commit between the complaint and the reply (a replay): the reminder and the
        // breach are recorded at their times, then the reply answers the case; the escalation
        // is cancelled, the reminder (past its deadline) was never to be sent.
        commit(
            &mut s,
            &rules,
            "m",
            &[reply("2", "1", "10:45:00")],
            "10:45:00",
        );
        let alerts: Vec<String> =
            rows(&s, "SELECT kind || ' ' || fired_at FROM alerts ORDER BY id");
        assert_eq!(
            alerts,
            [
                "reminder 2026-11-20T10:15:00Z",
                "breach 2026-11-20T10:30:00Z"
            ]
        );
        let cases: Vec<String> = rows(
            &s,
            "SELECT state || ' ' || response_secs || ' ' || breached_at FROM cases",
        );
        assert_eq!(cases, ["answered 2700 2026-11-20T10:30:00Z"]);
        let deliveries: Vec<String> = rows(&s, "SELECT status FROM deliveries");
        assert_eq!(deliveries, ["cancelled"]);
    }
}
