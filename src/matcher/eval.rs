//! Evaluating a compiled query over the term occurrences of one post.
//!
//! By the time a rule is evaluated, the dictionary pass has found every literal word in the post
//! and `mod` has assembled them into term occurrences: `(term, first word position, last word
//! position)`, in word order (a few), or sorted by term (many). This module owns what the
//! operators mean over those positions: AND, OR, NOT, and NEAR/n ("an occurrence of each side
//! at most n words apart, in either order"). It never looks at text.

/// A query whose terms are replaced by term ids shared across all rules.
#[derive(Debug, Clone, PartialEq)]
pub enum CExpr {
    /// A term id.
    Term(u32),
    /// Any of several terms (an OR of terms, the usual watch list): one test of the post's
    /// term set ([`TermSet`]) answers for all of them when none occurred.
    AnyTerm(TermSet),
    /// Every part.
    And(Vec<CExpr>),
    /// Any part.
    Or(Vec<CExpr>),
    /// Not the part.
    Not(Box<CExpr>),
    /// Both sides at most n words apart.
    Near(Box<CExpr>, Box<CExpr>, u32),
}

/// Bit `t % 256` for each term id `t` of a set: no bit in common means no term in common.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct TermBits([u64; 4]);

impl TermBits {
    /// The bits of `ids`.
    fn of(ids: impl IntoIterator<Item = u32>) -> TermBits {
        let mut bits = TermBits::default();
        for t in ids {
            bits.0[(t >> 6 & 3) as usize] |= 1 << (t & 63);
        }
        bits
    }

    /// Whether `t`'s bit is set.
    #[inline]
    fn may_hold(&self, t: u32) -> bool {
        self.0[(t >> 6 & 3) as usize] >> (t & 63) & 1 != 0
    }

    /// Whether the two have a bit in common.
    #[inline]
    fn meets(&self, other: &TermBits) -> bool {
        (0..4).any(|i| self.0[i] & other.0[i] != 0)
    }
}

/// Term ids, and their bits in [`Occurrences`]'s set of the terms present.
#[derive(Debug, Clone, PartialEq)]
pub struct TermSet {
    /// The ids, ascending.
    pub ids: Box<[u32]>,
    bits: TermBits,
}

impl TermSet {
    /// The set of `ids`.
    pub fn new(mut ids: Vec<u32>) -> TermSet {
        ids.sort_unstable();
        ids.dedup();
        TermSet {
            bits: TermBits::of(ids.iter().copied()),
            ids: ids.into(),
        }
    }
}

/// A span of word positions, inclusive.
pub type Span = (u32, u32);

/// The occurrences of every term in one post.
pub struct Occurrences<'a> {
    /// `(term, start position, end position)`: sorted by term, or few.
    items: &'a [(u32, u32, u32)],
    /// Whether `items` is sorted by term (else a search reads them all).
    sorted: bool,
    /// The bits of the terms that occur: most terms of a candidate rule did not occur, and
    /// this answers for them without searching `items`.
    some: TermBits,
}

impl<'a> Occurrences<'a> {
    /// The occurrences in `items`, which are sorted by term.
    pub fn new(items: &'a [(u32, u32, u32)]) -> Occurrences<'a> {
        debug_assert!(items.is_sorted_by_key(|o| o.0));
        Occurrences::with(items, true)
    }

    /// The occurrences in `items`, in any order: searching them reads them all, which for a
    /// few costs less than sorting them.
    pub fn unsorted(items: &'a [(u32, u32, u32)]) -> Occurrences<'a> {
        Occurrences::with(items, false)
    }

    fn with(items: &'a [(u32, u32, u32)], sorted: bool) -> Occurrences<'a> {
        Occurrences {
            items,
            sorted,
            some: TermBits::of(items.iter().map(|o| o.0)),
        }
    }

    /// Whether `term` occurs.
    #[inline]
    pub fn has(&self, term: u32) -> bool {
        self.some.may_hold(term) && !self.search(term).is_empty()
    }

    /// The part of `items` where the occurrences of `term` are: all of it when unsorted.
    #[inline]
    fn search(&self, term: u32) -> &'a [(u32, u32, u32)] {
        if !self.sorted {
            return match self.items.iter().position(|o| o.0 == term) {
                Some(i) => &self.items[i..],
                None => &[],
            };
        }
        let lo = self.items.partition_point(|o| o.0 < term);
        let hi = lo + self.items[lo..].partition_point(|o| o.0 == term);
        &self.items[lo..hi]
    }

    /// Whether some term of `set` occurs.
    #[inline]
    pub fn has_any(&self, set: &TermSet) -> bool {
        self.some.meets(&set.bits) && set.ids.iter().any(|&t| self.has(t))
    }

    /// The occurrences of one term.
    #[inline]
    pub fn of(&self, term: u32) -> impl Iterator<Item = &'a (u32, u32, u32)> {
        let found = if self.some.may_hold(term) {
            self.search(term)
        } else {
            &[]
        };
        found.iter().filter(move |o| o.0 == term)
    }
}

/// Words between two spans: 0 when they overlap, otherwise the position difference.
#[inline]
fn distance(a: Span, b: Span) -> u32 {
    if a.1 < b.0 {
        b.0 - a.1
    } else {
        a.0.saturating_sub(b.1)
    }
}

impl CExpr {
    /// Whether the expression holds for the post.
    pub fn eval(&self, occ: &Occurrences<'_>) -> bool {
        match self {
            CExpr::Term(t) => occ.has(*t),
            CExpr::AnyTerm(set) => occ.has_any(set),
            CExpr::And(v) => v.iter().all(|e| e.eval(occ)),
            CExpr::Or(v) => v.iter().any(|e| e.eval(occ)),
            CExpr::Not(e) => !e.eval(occ),
            CExpr::Near(..) => self.any_span(occ, &mut |_| true),
        }
    }

    /// Whether `f` holds for some span where the expression occurs (for NEAR operands),
    /// visiting the spans without collecting them: a post's NEAR costs no allocation. The
    /// parser keeps NOT out of NEAR, so a NOT here has no position and yields nothing.
    pub fn any_span(&self, occ: &Occurrences<'_>, f: &mut dyn FnMut(Span) -> bool) -> bool {
        match self {
            CExpr::Term(t) => occ.of(*t).any(|o| f((o.1, o.2))),
            CExpr::AnyTerm(set) => set.ids.iter().any(|&t| occ.of(t).any(|o| f((o.1, o.2)))),
            CExpr::Or(v) => v.iter().any(|e| e.any_span(occ, f)),
            // Every part must have a span (so a NOT inside yields nothing); then each part's
            // spans count.
            CExpr::And(v) => {
                v.iter().all(|e| e.any_span(occ, &mut |_| true))
                    && v.iter().any(|e| e.any_span(occ, f))
            }
            CExpr::Not(_) => false,
            CExpr::Near(a, b, n) => a.any_span(occ, &mut |x| {
                b.any_span(occ, &mut |y| {
                    distance(x, y) <= *n && f((x.0.min(y.0), x.1.max(y.1)))
                })
            }),
        }
    }

    /// Whether the expression is a term or an OR of such: it holds as soon as one of its
    /// terms occurs.
    pub fn is_any_term(&self) -> bool {
        match self {
            CExpr::Term(_) | CExpr::AnyTerm(_) => true,
            CExpr::Or(v) => v.iter().all(CExpr::is_any_term),
            _ => false,
        }
    }

    /// The terms whose occurrences show why the expression evaluates to `want` for the post
    /// (which it must): SPEC §4's "terms of the parts of the query that hold". An OR that
    /// holds gives its parts that hold, an AND that fails its parts that fail, a NOT turns
    /// `want` over, and a NEAR that holds gives all its terms. A term may be given twice.
    pub fn why(&self, occ: &Occurrences<'_>, want: bool, out: &mut Vec<u32>) {
        match self {
            CExpr::Term(t) if want => out.push(*t),
            CExpr::AnyTerm(set) if want => out.extend_from_slice(&set.ids),
            CExpr::Term(_) | CExpr::AnyTerm(_) => {}
            // Every part evaluates to `want`: all of them say why.
            CExpr::And(v) if want => v.iter().for_each(|e| e.why(occ, true, out)),
            CExpr::Or(v) if !want => v.iter().for_each(|e| e.why(occ, false, out)),
            // Only the parts that evaluate to `want` say why.
            CExpr::And(v) | CExpr::Or(v) => v
                .iter()
                .filter(|e| e.eval(occ) == want)
                .for_each(|e| e.why(occ, want, out)),
            CExpr::Not(e) => e.why(occ, !want, out),
            CExpr::Near(..) if want => self.positive_terms(false, out),
            CExpr::Near(..) => {}
        }
    }

    /// Whether, whenever the expression holds, [`CExpr::why`] gives every term of
    /// [`CExpr::positive_terms`] that occurs: then a hit quotes them all without the walk.
    /// True of ANDs and ORs of words, prefixes and phrases, a NEAR that must hold, and a NOT of
    /// anything without a NOT in it (which gives no term either way); false where an OR has
    /// a part that may fail while one of its terms occurs (an AND, a NEAR).
    pub fn quotes_all(&self) -> bool {
        match self {
            CExpr::Term(_) | CExpr::AnyTerm(_) | CExpr::Near(..) => true,
            CExpr::And(v) => v.iter().all(CExpr::quotes_all),
            CExpr::Or(v) => v
                .iter()
                .all(|e| e.is_any_term() || matches!(e, CExpr::Not(x) if !x.has_not())),
            CExpr::Not(e) => !e.has_not(),
        }
    }

    /// Whether a NOT is in the expression.
    fn has_not(&self) -> bool {
        match self {
            CExpr::Term(_) | CExpr::AnyTerm(_) => false,
            CExpr::Not(_) => true,
            CExpr::And(v) | CExpr::Or(v) => v.iter().any(CExpr::has_not),
            CExpr::Near(a, b, _) => a.has_not() || b.has_not(),
        }
    }

    /// Terms that count for the post (not under an odd number of NOTs), for reporting matches.
    pub fn positive_terms(&self, negated: bool, out: &mut Vec<u32>) {
        match self {
            CExpr::Term(t) if !negated => out.push(*t),
            CExpr::AnyTerm(set) if !negated => out.extend_from_slice(&set.ids),
            CExpr::Term(_) | CExpr::AnyTerm(_) => {}
            CExpr::And(v) | CExpr::Or(v) => v.iter().for_each(|e| e.positive_terms(negated, out)),
            CExpr::Not(e) => e.positive_terms(!negated, out),
            CExpr::Near(a, b, _) => {
                a.positive_terms(negated, out);
                b.positive_terms(negated, out);
            }
        }
    }

    /// Every term id in the expression.
    pub fn terms(&self, out: &mut Vec<u32>) {
        match self {
            CExpr::Term(t) => out.push(*t),
            CExpr::AnyTerm(set) => out.extend_from_slice(&set.ids),
            CExpr::And(v) | CExpr::Or(v) => v.iter().for_each(|e| e.terms(out)),
            CExpr::Not(e) => e.terms(out),
            CExpr::Near(a, b, _) => {
                a.terms(out);
                b.terms(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: u32) -> CExpr {
        CExpr::Term(i)
    }

    #[test]
    fn operators_over_positions() {
        // term 0 at position 0; term 1 at 3; term 2 at 10..11.
        let items = [(0, 0, 0), (1, 3, 3), (2, 10, 11)];
        // The same, not sorted by term (as evaluation has them when they are few).
        let shuffled = [(2, 10, 11), (0, 0, 0), (1, 3, 3)];
        let both = [Occurrences::new(&items), Occurrences::unsorted(&shuffled)];
        for occ in &both {
            assert!(!occ.has(258) && occ.of(258).next().is_none());
            assert_eq!(occ.of(1).collect::<Vec<_>>(), [&(1, 3, 3)]);
        }
        // A term twice, apart in an unsorted list: both count.
        let twice = [(1, 3, 3), (2, 10, 10), (1, 8, 8)];
        let occ = Occurrences::unsorted(&twice);
        assert_eq!(occ.of(1).count(), 2);
        let near = CExpr::Near(Box::new(t(1)), Box::new(t(2)), 2);
        assert!(near.eval(&occ));
        let near = |a, b, n| CExpr::Near(Box::new(t(a)), Box::new(t(b)), n);
        let cases: Vec<(CExpr, bool)> = vec![
            (t(0), true),
            (t(3), false),
            (CExpr::And(vec![t(0), t(1)]), true),
            (CExpr::And(vec![t(0), t(3)]), false),
            (CExpr::Or(vec![t(3), t(2)]), true),
            (CExpr::Not(Box::new(t(3))), true),
            (near(0, 1, 3), true),
            (near(1, 0, 3), true),
            (near(0, 1, 2), false),
            (near(1, 2, 7), true),
            (near(1, 2, 6), false),
            (near(2, 1, 7), true),
            // Any of several terms: term 256 + 2 shares term 2's bit without occurring.
            (CExpr::AnyTerm(TermSet::new(vec![3, 2])), true),
            (CExpr::AnyTerm(TermSet::new(vec![3, 258, 4])), false),
            (
                CExpr::Near(
                    Box::new(CExpr::AnyTerm(TermSet::new(vec![258, 0]))),
                    Box::new(t(1)),
                    3,
                ),
                true,
            ),
            (
                CExpr::Near(
                    Box::new(CExpr::AnyTerm(TermSet::new(vec![258, 2]))),
                    Box::new(t(0)),
                    9,
                ),
                false,
            ),
        ];
        for (e, want) in cases {
            for occ in &both {
                assert_eq!(e.eval(occ), want, "{e:?} sorted: {}", occ.sorted);
            }
        }
    }

    #[test]
    fn why_gives_the_terms_of_the_parts_that_hold() {
        // term 0 at 0, term 1 at 3, term 2 at 10; terms 3 and 4 do not occur.
        let items = [(0, 0, 0), (1, 3, 3), (2, 10, 10)];
        let occ = Occurrences::new(&items);
        let near = |a, b, n| CExpr::Near(Box::new(t(a)), Box::new(t(b)), n);
        let not = |e| CExpr::Not(Box::new(e));
        let cases: Vec<(CExpr, Vec<u32>, bool)> = vec![
            // `2 OR (0 NEAR/1 1)`: the NEAR fails, only 2 says why.
            (CExpr::Or(vec![t(2), near(0, 1, 1)]), vec![2], false),
            (CExpr::Or(vec![t(2), near(0, 1, 3)]), vec![0, 1, 2], false),
            (
                CExpr::Or(vec![CExpr::And(vec![t(0), t(3)]), t(1)]),
                vec![1],
                false,
            ),
            (CExpr::And(vec![t(0), near(1, 2, 9)]), vec![0, 1, 2], true),
            (CExpr::And(vec![t(0), not(t(3))]), vec![0], true),
            // `0 AND NOT (3 AND NOT 1)` is `0 AND (NOT 3 OR 1)`: 1 says why too.
            (
                CExpr::And(vec![t(0), not(CExpr::And(vec![t(3), not(t(1))]))]),
                vec![0, 1],
                false,
            ),
            (
                CExpr::And(vec![t(0), not(CExpr::And(vec![t(1), not(t(2))]))]),
                vec![0, 2],
                false,
            ),
            (not(not(t(0))), vec![0], false),
            (CExpr::AnyTerm(TermSet::new(vec![0, 3])), vec![0, 3], true),
            (CExpr::Or(vec![t(3), not(t(4))]), vec![], true),
        ];
        for (e, want, all) in cases {
            assert!(e.eval(&occ), "{e:?}");
            let mut got = Vec::new();
            e.why(&occ, true, &mut got);
            got.sort_unstable();
            got.dedup();
            assert_eq!(got, want, "{e:?}");
            assert_eq!(e.quotes_all(), all, "{e:?}");
        }
    }
}
