//! Hit counters in memory: per rule, the hits of the last baseline period in per-minute buckets,
//! so that a commit reads a [`Plan`](super::Plan)'s counts without a range query per range.
//!
//! Each rule has a ring of minutes spanning its longest range (the baseline period, the window,
//! and a day of slack for a `now` that lags behind the newest hit), a Fenwick tree over the
//! minutes' totals for whole-minute sums, and in each minute the second of each hit (one byte a
//! hit), so a range that starts or ends inside a minute is counted exactly, as SQL counts it on
//! whole seconds. The store feeds it: every hit it commits, the hits of the database when it
//! starts (or after a failed commit), and the retention's pruning. A range that reaches before
//! what a ring holds answers `None`, and the store counts that one in SQL: the answers are
//! always the SQL's.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Minutes of slack past the longest range: a `now` up to a day behind the newest hit (clocks,
/// sources polled out of order) is still answered from memory.
const SLACK_MINUTES: i64 = 1440;

/// Every counted rule's ring.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    rings: HashMap<String, Ring>,
}

/// One rule's minutes.
#[derive(Debug, Clone)]
struct Ring {
    /// `slots[m mod len]` is minute `m`'s, when its tag says `m`.
    slots: Vec<Slot>,
    /// Fenwick tree (1-based) over the slots' hit counts.
    tree: Vec<u64>,
    /// The newest minute held; nothing is later.
    head: Option<i64>,
    /// The first minute whose hits are all held (older ones were dropped or never loaded).
    from: i64,
}

/// One minute: its number and its hits' seconds (0–59), sorted.
#[derive(Debug, Clone, Default)]
struct Slot {
    minute: i64,
    seconds: Vec<u8>,
}

impl Counters {
    /// Counters for `rules`, each with the longest range it is asked about (its baseline period
    /// plus its window).
    pub fn new<'a>(rules: impl IntoIterator<Item = (&'a str, Duration)>) -> Counters {
        let rings = rules
            .into_iter()
            .map(|(name, span)| {
                let minutes = (span.as_secs().min(400 * 86_400) as i64 + 59) / 60;
                (name.to_string(), Ring::new(minutes + 2 + SLACK_MINUTES))
            })
            .collect();
        Counters { rings }
    }

    /// Whether `rule` is counted here.
    pub fn has(&self, rule: &str) -> bool {
        self.rings.contains_key(rule)
    }

    /// Starts `rule`'s ring over again, its newest hit at `latest` (none: the rule has no
    /// hit); returns the time from which its hits must then be [`add`](Counters::add)ed (all
    /// hits at or after it), `None` when nothing is to load.
    pub fn restart(&mut self, rule: &str, latest: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let ring = self.rings.get_mut(rule)?;
        let len = ring.slots.len();
        *ring = Ring::new(len as i64);
        let head = minute(latest?.timestamp());
        ring.head = Some(head);
        ring.from = head - len as i64 + 1;
        DateTime::from_timestamp(ring.from * 60, 0)
    }

    /// Counts one hit of `rule` at `at` (ignored for a rule not counted here, or older than
    /// its ring).
    pub fn add(&mut self, rule: &str, at: DateTime<Utc>) {
        if let Some(ring) = self.rings.get_mut(rule) {
            ring.add(at.timestamp());
        }
    }

    /// Hits of `rule` with `start < t <= end` on whole seconds (as the store's SQL compares
    /// them); `None` when the rule is not counted here or the range reaches before its ring.
    pub fn count(&self, rule: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<u64> {
        self.tally(rule)?.count(start, end)
    }

    /// `rule`'s counts, looked up once for many ranges (`None`: not counted here).
    pub fn tally(&self, rule: &str) -> Option<Tally<'_>> {
        self.rings.get(rule).map(Tally)
    }

    /// Forgets every hit at or before `through` (the retention pruned them).
    pub fn forget_through(&mut self, through: DateTime<Utc>) {
        for ring in self.rings.values_mut() {
            ring.forget_through(through.timestamp());
        }
    }
}

/// One rule's counts, as [`Counters::tally`] finds them.
#[derive(Debug, Clone, Copy)]
pub struct Tally<'a>(&'a Ring);

impl Tally<'_> {
    /// As [`Counters::count`], for this rule.
    pub fn count(self, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<u64> {
        self.0.count(start.timestamp() + 1, end.timestamp())
    }

    /// Hits in the `secs` seconds up to `end` (a Unix time): `(end - secs, end]`.
    pub fn last_secs(self, end: i64, secs: i64) -> Option<u64> {
        self.0
            .count(end.saturating_sub(secs).saturating_add(1), end)
    }
}

/// The minute of a second.
fn minute(second: i64) -> i64 {
    second.div_euclid(60)
}

impl Ring {
    fn new(len: i64) -> Ring {
        let len = len.max(2) as usize;
        Ring {
            slots: vec![Slot::default(); len],
            tree: vec![0; len + 1],
            head: None,
            from: i64::MIN,
        }
    }

    fn index(&self, minute: i64) -> usize {
        minute.rem_euclid(self.slots.len() as i64) as usize
    }

    /// Adds `delta` to slot `i`'s total in the tree.
    fn bump(&mut self, i: usize, delta: i64) {
        let mut k = i + 1;
        while k < self.tree.len() {
            self.tree[k] = self.tree[k].wrapping_add_signed(delta);
            k += k & k.wrapping_neg();
        }
    }

    /// Sum of slots `0..=i`.
    fn prefix(&self, i: usize) -> u64 {
        let mut k = i + 1;
        let mut sum = 0u64;
        while k > 0 {
            sum = sum.wrapping_add(self.tree[k]);
            k -= k & k.wrapping_neg();
        }
        sum
    }

    /// Empties the slot of `minute` and tags it with it.
    fn reset(&mut self, minute: i64) {
        let i = self.index(minute);
        let n = self.slots[i].seconds.len() as i64;
        if n > 0 {
            self.bump(i, -n);
        }
        let slot = &mut self.slots[i];
        slot.seconds.clear();
        slot.minute = minute;
    }

    /// The hits' seconds of `minute`, which must lie in `[from, head]`.
    fn seconds(&self, minute: i64) -> &[u8] {
        let slot = &self.slots[self.index(minute)];
        if slot.minute == minute {
            &slot.seconds
        } else {
            &[]
        }
    }

    fn add(&mut self, second: i64) {
        let m = minute(second);
        let len = self.slots.len() as i64;
        match self.head {
            None => {
                self.head = Some(m);
                self.from = self.from.max(m - len + 1);
                self.reset(m);
            }
            Some(head) if m > head => {
                // Minutes after the head are empty: clear the slots they take over.
                let first = (head + 1).max(m - len + 1);
                for k in first..=m {
                    self.reset(k);
                }
                self.head = Some(m);
                self.from = self.from.max(m - len + 1);
            }
            Some(_) if m < self.from => return,
            Some(_) => {
                let i = self.index(m);
                if self.slots[i].minute != m {
                    // An untagged slot inside the ring holds nothing yet.
                    self.reset(m);
                }
            }
        }
        let i = self.index(m);
        let s = second.rem_euclid(60) as u8;
        let seconds = &mut self.slots[i].seconds;
        let at = seconds.partition_point(|&x| x <= s);
        seconds.insert(at, s);
        self.bump(i, 1);
    }

    /// Hits at seconds `a..=b`.
    fn count(&self, a: i64, b: i64) -> Option<u64> {
        if a > b {
            return Some(0);
        }
        let Some(head) = self.head else {
            return Some(0);
        };
        let (ma, mb) = (minute(a), minute(b));
        if ma > head {
            return Some(0);
        }
        if ma < self.from {
            return None;
        }
        let (sa, sb) = (a.rem_euclid(60) as u8, b.rem_euclid(60) as u8);
        let within = |m: i64, lo: u8, hi: u8| -> u64 {
            if m > head {
                return 0;
            }
            let s = self.seconds(m);
            (s.partition_point(|&x| x <= hi) - s.partition_point(|&x| x < lo)) as u64
        };
        if ma == mb {
            return Some(within(ma, sa, sb));
        }
        let mut n = within(ma, sa, 59) + within(mb, 0, sb);
        let (lo, hi) = (ma + 1, (mb - 1).min(head));
        if lo <= hi {
            n += self.whole(lo, hi);
        }
        Some(n)
    }

    /// Hits in minutes `lo..=hi`, all inside `[from, head]`.
    fn whole(&self, lo: i64, hi: i64) -> u64 {
        let (i, j) = (self.index(lo), self.index(hi));
        let upto = |k: usize| self.prefix(k);
        if i <= j {
            upto(j) - if i > 0 { upto(i - 1) } else { 0 }
        } else {
            let last = self.slots.len() - 1;
            upto(last) - upto(i - 1) + upto(j)
        }
    }

    fn forget_through(&mut self, second: i64) {
        let Some(head) = self.head else {
            return;
        };
        let m = minute(second);
        let first = self.from.max(head - self.slots.len() as i64 + 1);
        for k in first..m.min(head + 1) {
            if self.slots[self.index(k)].minute == k {
                self.reset(k);
            }
        }
        if m >= first && m <= head {
            let i = self.index(m);
            if self.slots[i].minute == m {
                let s = second.rem_euclid(60) as u8;
                let seconds = &mut self.slots[i].seconds;
                let gone = seconds.partition_point(|&x| x <= s);
                seconds.drain(..gone);
                self.bump(i, -(gone as i64));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: hits as a list, counted one by one.
    fn naive(hits: &[i64], a: i64, b: i64) -> u64 {
        hits.iter().filter(|&&t| a <= t && t <= b).count() as u64
    }

    proptest! {
        /// Any range the ring answers is the exact count; ranges inside its span are answered.
        #[test]
        fn ring_counts_are_exact(
            len in 2i64..30,
            hits in proptest::collection::vec(0i64..4000, 0..200),
            ranges in proptest::collection::vec((0i64..4200, 0i64..2000), 1..40),
            forget in proptest::option::of(0i64..4000),
        ) {
            let mut ring = Ring::new(len);
            let mut held: Vec<i64> = Vec::new();
            for &t in &hits {
                ring.add(t);
                held.push(t);
            }
            if let Some(f) = forget {
                ring.forget_through(f);
                held.retain(|&t| t > f);
            }
            for &(a, l) in &ranges {
                let b = a + l;
                match ring.count(a, b) {
                    Some(n) => prop_assert_eq!(n, naive(&held, a, b), "range {}..={}", a, b),
                    None => prop_assert!(minute(a) < ring.from),
                }
                if let Some(head) = ring.head {
                    if minute(a) > head - len + 1 {
                        prop_assert!(ring.count(a, b).is_some());
                    }
                }
            }
        }
    }
}
