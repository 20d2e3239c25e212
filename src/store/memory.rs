//! What a throw-away database keeps in memory instead of rows (`replay` without `--db`, when
//! no rule keeps cases): the keys of the posts it has seen, and the hits that window alerts
//! quote. Nothing reads a replay's posts or hits back but the commit itself and the summary
//! at the end, so writing them as rows (two B-tree inserts a post, two a hit) was most of a
//! replay's time; the alerts are still recorded as rows, the same as on disk.
//!
//! - [`Seen`]: every post's `(source, source_id)` as a 128-bit hash, for deduplication.
//! - [`RecentHits`]: each window rule's hits inside its window before the newest (with the
//!   post fields an alert quotes), the top posts of an alert chosen from them as the store's
//!   query chooses them; and each rule's number of hits, first and last, for the summary.
//!
//! A commit that fails cannot be taken back from here: [`Memory::broken`] then refuses the
//! commits that follow (a replay stops at its first error anyway).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::alerts::{matched_words, AlertPolicy};
use super::{fmt_time, parse_time};
use crate::detect::alert::TOP_POSTS;
use crate::detect::{self, AlertPost};
use crate::post::Post;

/// Posts and hits of a throw-away database.
#[derive(Debug, Default)]
pub struct Memory {
    /// The posts seen.
    pub seen: Seen,
    /// The hits.
    pub hits: RecentHits,
    /// A commit failed after changing these: they no longer match the database.
    pub broken: bool,
}

impl Memory {
    /// Memory for the window rules of `policy`.
    pub fn new(policy: Option<&AlertPolicy>) -> Memory {
        Memory {
            seen: Seen::default(),
            hits: RecentHits::new(policy),
            broken: false,
        }
    }
}

/// The keys of the posts seen.
#[derive(Debug, Default)]
pub struct Seen {
    keys: HashSet<u128, BuildHasherDefault<Spread>>,
}

/// The set's hasher: its keys are hashes already, spread evenly; hashing them again (with
/// the default SipHash) cost as much as making them.
#[derive(Debug, Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used; anything else is folded in, still spread.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

impl Seen {
    /// Adds the post `key` of `source`; false when it was already there (a duplicate).
    pub fn insert(&mut self, source: &str, key: &str) -> bool {
        self.keys.insert(hash(source, key))
    }
}

/// Two 64-bit SipHashes (fixed keys, so the same in every run) of the source and key, told
/// apart by a prefix: a collision among a billion posts has odds below one in 10^20.
fn hash(source: &str, key: &str) -> u128 {
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        (salt, source, key).hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// The hits held for alerts and the summary.
#[derive(Debug, Default)]
pub struct RecentHits {
    /// Each window rule's hits after its `from`.
    windows: HashMap<String, Held>,
    /// Each rule's hits, first and last event time, as stored.
    totals: BTreeMap<String, Total>,
    /// The next hit's number (the table's `id`: ties in the top posts go to the latest).
    next_id: u64,
}

/// One window rule's hits.
#[derive(Debug)]
struct Held {
    /// The rule's window.
    span: chrono::Duration,
    /// Every hit of the rule later than this is held (`None`: every hit).
    from: Option<DateTime<Utc>>,
    hits: VecDeque<HeldHit>,
}

/// One hit, with what the top posts query reads of it and of its post.
#[derive(Debug)]
struct HeldHit {
    id: u64,
    created_at: DateTime<Utc>,
    /// The event time as stored (the query compares and orders these).
    created: Arc<str>,
    post: Arc<HeldPost>,
    /// The `matched` column.
    matched: String,
}

/// A post's fields an alert quotes, as its row holds them.
#[derive(Debug)]
pub struct HeldPost {
    source: String,
    author: Option<String>,
    author_name: Option<String>,
    text: String,
    url: Option<String>,
    followers: Option<u64>,
    engagement: Option<u64>,
}

impl HeldPost {
    /// The fields of `post` from `source`, counts capped as the table's integers cap them.
    pub fn new(source: &str, post: &Post) -> HeldPost {
        let cap = |n: Option<u64>| n.map(|n| n.min(i64::MAX as u64));
        HeldPost {
            source: source.to_string(),
            author: post.author.clone(),
            author_name: post.author_name.clone(),
            text: post.text.clone(),
            url: post.url.clone(),
            followers: cap(post.followers),
            engagement: cap(post.engagement),
        }
    }
}

/// One rule's hits, first and last.
#[derive(Debug, Clone, Default)]
struct Total {
    hits: u64,
    first: Option<Arc<str>>,
    last: Option<Arc<str>>,
}

impl RecentHits {
    /// Holds hits for the `threshold` and `spike` rules of `policy`.
    pub fn new(policy: Option<&AlertPolicy>) -> RecentHits {
        let windows = policy
            .into_iter()
            .flat_map(|p| p.rules.values())
            .filter(|r| detect::floor(&r.spec).is_some())
            .map(|r| {
                let span = chrono::Duration::from_std(r.window).unwrap_or(chrono::Duration::MAX);
                let held = Held {
                    span,
                    from: None,
                    hits: VecDeque::new(),
                };
                (r.name.clone(), held)
            })
            .collect();
        RecentHits {
            windows,
            ..RecentHits::default()
        }
    }

    /// Counts a hit of `rule` at `created_at` (`created` as stored) on `post`, with its
    /// `matched` column, holding it while a window alert may quote it.
    pub fn add(
        &mut self,
        rule: &str,
        created_at: DateTime<Utc>,
        created: &Arc<str>,
        post: &Arc<HeldPost>,
        matched: &str,
    ) {
        self.next_id += 1;
        let total = match self.totals.get_mut(rule) {
            Some(t) => t,
            None => self.totals.entry(rule.to_string()).or_default(),
        };
        total.hits += 1;
        if total.first.as_ref().is_none_or(|f| **f > **created) {
            total.first = Some(created.clone());
        }
        if total.last.as_ref().is_none_or(|l| **l < **created) {
            total.last = Some(created.clone());
        }
        let Some(held) = self.windows.get_mut(rule) else {
            return;
        };
        held.hits.push_back(HeldHit {
            id: self.next_id,
            created_at,
            created: created.clone(),
            post: post.clone(),
            matched: matched.to_string(),
        });
        // The window before the newest hit is all an alert at or after it can quote.
        if let Some(through) = created_at.checked_sub_signed(held.span) {
            while held.hits.front().is_some_and(|h| h.created_at <= through) {
                held.hits.pop_front();
            }
            held.from = held.from.max(Some(through));
        }
    }

    /// The top posts of `rule`'s hits in `(start, end]`, chosen and ordered as the store's
    /// query does (engagement, followers, time, then the latest hit first); `None` when
    /// hits before `start` are no longer held.
    pub fn top(
        &self,
        rule: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Option<Vec<AlertPost>> {
        let Some(held) = self.windows.get(rule) else {
            return Some(Vec::new());
        };
        if held.from.is_some_and(|f| start < f) {
            return None;
        }
        // Compared as the query compares them: as stored, to the second.
        let (start, end) = (fmt_time(start), fmt_time(end));
        let mut hits: Vec<&HeldHit> = held
            .hits
            .iter()
            .filter(|h| *h.created > *start && *h.created <= *end)
            .collect();
        hits.sort_by(|a, b| {
            let key = |h: &HeldHit| {
                (
                    h.post.engagement.unwrap_or(0),
                    h.post.followers.unwrap_or(0),
                )
            };
            key(b)
                .cmp(&key(a))
                .then_with(|| b.created.cmp(&a.created))
                .then_with(|| b.id.cmp(&a.id))
        });
        let end_time = parse_time(&end);
        Some(
            hits.into_iter()
                .take(TOP_POSTS)
                .map(|h| AlertPost {
                    source: h.post.source.clone(),
                    author: h.post.author.clone(),
                    author_name: h.post.author_name.clone(),
                    text: h.post.text.clone(),
                    url: h.post.url.clone(),
                    created_at: parse_time(&h.created).or(end_time).unwrap_or(h.created_at),
                    followers: h.post.followers,
                    matched: matched_words(Some(&h.matched)),
                    engagement: h.post.engagement,
                })
                .collect(),
        )
    }

    /// Hits of every rule.
    pub fn count(&self) -> u64 {
        self.totals.values().map(|t| t.hits).sum()
    }

    /// Per rule with hits, by name: its hits, first and last event time, as stored.
    pub fn per_rule(&self) -> Vec<(String, u64, String, String)> {
        self.totals
            .iter()
            .map(|(rule, t)| {
                let time = |s: &Option<Arc<str>>| s.as_deref().unwrap_or("").to_string();
                (rule.clone(), t.hits, time(&t.first), time(&t.last))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_seen_once_per_source() {
        let mut seen = Seen::default();
        assert!(seen.insert("a", "1"));
        assert!(!seen.insert("a", "1"));
        assert!(seen.insert("b", "1"), "same id, other source");
        assert!(
            seen.insert("a1", ""),
            "the source and key do not run together"
        );
    }
}
