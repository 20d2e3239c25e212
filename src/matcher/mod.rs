//! `RuleSet`: every rule compiled together, and the one pass that finds which rules a post hits.
//!
//! `compile` (in `compile.rs`) breaks every query into terms (a word, a prefix, a phrase, a
//! hashtag, a mention), and every term into literal words, shared across rules. `matches` then
//! makes one pass over the post's words (`normalize::for_each_word`), looking each word up in
//! the dictionary of literals (`dict`); a word that is only a later word of phrases counts only
//! right after another literal. Only when a literal occurred does it assemble phrases
//! (consecutive positions), pick the rules that use an occurred term, and evaluate those rules'
//! expressions (`eval`). Rules that can match without any literal (`NOT spam`, a regex-only
//! rule) are evaluated on every post. Source globs, excluded authors and regexes (run on the
//! NFKC text, ANDed with the query, any regex of the list) are checked last, for candidate
//! rules only.

mod compile;
pub mod dict;
pub mod eval;
mod hits;
pub mod query;
mod spec;

use std::cell::RefCell;
use std::sync::Arc;

use globset::GlobSet;
use regex::Regex;

use crate::normalize::{self, WordFilter};
use crate::post::Post;
use dict::{Dict, Leads, NONE};
use eval::{CExpr, Occurrences};
pub use hits::{Hit, Hits, Match};
use hits::{Names, RawMatch};
pub use spec::RuleSpec;

/// Marks a dictionary id: a literal that starts no term (see `compile`).
const INNER: u32 = 1 << 31;
/// Marks a dictionary id that is a term id, not a literal's (see `compile`).
const TERM: u32 = 1 << 30;

/// A rule cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[error("rule \"{rule}\": {message}")]
pub struct CompileError {
    /// The rule's name.
    pub rule: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug)]
struct CompiledRule {
    expr: Option<CExpr>,
    regex: Vec<Regex>,
    sources: Option<GlobSet>,
    exclude_authors: Vec<String>,
    /// The id of its first regex in `Names::terms` (the others follow).
    regex_terms: u32,
}

#[derive(Debug)]
struct CTerm {
    lits: Vec<u32>,
}

/// All rules, compiled into one dictionary of literal words.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    /// Rule names and term texts, shared with the hits.
    names: Arc<Names>,
    dict: Dict,
    terms: Vec<CTerm>,
    /// literal id → the one-word term it is, when that is the only term it starts; else
    /// `NONE`, and the terms are in `first_lit_terms`. One load for the common case, where a
    /// list would cost three (cache misses, with 100,000 terms).
    lit_term: Vec<u32>,
    /// literal id → terms whose first literal it is.
    first_lit_terms: Lists,
    /// term id → the only rule that uses it, or `NONE` (then see `term_rules`).
    term_rule: Vec<u32>,
    /// term id → rules that use it.
    term_rules: Lists,
    /// rule → its terms that count for the post (not under an odd number of NOTs), sorted:
    /// the terms its hit quotes.
    positive_terms: Lists,
    /// rule → the first and last of its `positive_terms` when they are every id in between
    /// (a rule's own terms are numbered one after the other), else `(1, 0)`.
    positive_range: Vec<(u32, u32)>,
    /// rule → whether its hits quote every occurrence of its `positive_terms`
    /// ([`CExpr::quotes_all`]: ANDs and ORs of terms); else only those of the terms of the parts
    /// that hold for the post ([`CExpr::why`]).
    quote_all: Vec<bool>,
    /// rule → what must still be checked once one of its terms occurred ([`Checks`]).
    checks: Vec<u8>,
    /// Rules evaluated on every post.
    always: Vec<u32>,
}

/// Lists of ids indexed by id, in two flat vectors (one cache miss per list, not two).
#[derive(Debug, Default)]
struct Lists {
    /// Where list i starts in `items`; list i ends where list i + 1 starts.
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl Lists {
    fn new(lists: Vec<Vec<u32>>) -> Lists {
        let mut starts = Vec::with_capacity(lists.len() + 1);
        let mut items = Vec::new();
        for l in lists {
            starts.push(items.len() as u32);
            items.extend(l);
        }
        starts.push(items.len() as u32);
        Lists { starts, items }
    }

    #[inline]
    fn get(&self, i: u32) -> &[u32] {
        let i = i as usize;
        &self.items[self.starts[i] as usize..self.starts[i + 1] as usize]
    }
}

/// What a candidate rule still needs checked, as bits of `RuleSet::checks`. A rule with none
/// of them (a plain OR of terms, the usual watch list) holds as soon as one of its terms
/// occurred, which is what made it a candidate.
struct Checks;

impl Checks {
    const SOURCES: u8 = 1;
    const AUTHORS: u8 = 2;
    const REGEX: u8 = 4;
    const QUERY: u8 = 8;
}

/// Scratch space reused across posts (one per thread in `matches`).
#[derive(Debug, Default)]
pub struct Scratch {
    buf: normalize::Buffers,
    /// (position, literal) for every literal found, in word order.
    occ: Vec<(u32, u32)>,
    /// Indexed by word position: the byte range of the word there, written for the words that
    /// produced a literal (other slots hold whatever an earlier post left; none is read).
    spans: Vec<(usize, usize)>,
    /// `(term, first position, last position)` of each term occurrence, in word order.
    term_occ: Vec<(u32, u32, u32)>,
    /// `term_occ` sorted by term, when it holds more than [`Scratch::FEW`].
    by_term: Vec<(u32, u32, u32)>,
    /// The post's candidate rules, each once, in no particular order.
    cands: Vec<u32>,
    /// Indexed by rule: the number of the last post that made it a candidate.
    seen: Vec<u32>,
    /// The number of the post being evaluated (wrapping; 0 is never one).
    post_no: u32,
    /// The rules that hold for the post, each with its regex match.
    passed: Vec<(u32, Option<RawMatch>)>,
    /// The post's NFKC form, when it differs from the text and a regex ran on it.
    nfkc: Option<String>,
    /// The terms that say why a rule holds ([`CExpr::why`]), for quoting its hit.
    why: Vec<u32>,
}

impl Scratch {
    /// `spans` slots kept from one post to the next (1 MiB): a post with a literal further
    /// on than this gives back what it needed.
    const KEEP_SPANS: usize = (1 << 20) / std::mem::size_of::<(usize, usize)>();
    /// Term occurrences that evaluation searches in word order, reading them all (most posts
    /// have a handful): more are sorted by term first.
    const FEW: usize = 16;
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Normalises an author for comparison: lower case, no leading `@`.
fn author_key(a: &str) -> String {
    a.trim().trim_start_matches('@').to_lowercase()
}

impl RuleSet {
    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule names, in compile order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.rules.iter().map(|r| &**r)
    }

    /// Distinct literal words, and approximate heap bytes of the dictionary.
    pub fn stats(&self) -> (usize, usize) {
        (self.dict.len(), self.dict.heap_bytes())
    }

    /// The rules `post` hits, in compile order.
    pub fn matches(&self, post: &Post) -> Hits {
        let mut hits = Hits::default();
        SCRATCH.with(|s| self.matches_into(post, &mut s.borrow_mut(), &mut hits));
        hits
    }

    /// `matches` into `hits`, with caller-owned scratch space: a stream of posts allocates
    /// nothing once both have grown.
    pub fn matches_into(&self, post: &Post, s: &mut Scratch, hits: &mut Hits) {
        hits.clear();
        if !self.scan(post, s) {
            return;
        }
        self.evaluate(post, s);
        if s.passed.is_empty() {
            return;
        }
        hits.set_names(&self.names);
        if let Some(t) = s.nfkc.take() {
            hits.set_nfkc(&t);
        }
        let mut why = std::mem::take(&mut s.why);
        for &(r, regex_match) in &s.passed {
            self.hit(s, r, regex_match, &mut why, hits);
        }
        s.why = why;
    }

    /// Only the indices of the rules `post` hits (no quoting): what `vigie match --count` needs.
    pub fn matched_rules(&self, post: &Post, s: &mut Scratch, out: &mut Vec<usize>) {
        out.clear();
        if self.scan(post, s) {
            self.evaluate(post, s);
            out.extend(s.passed.drain(..).map(|(r, _)| r as usize));
        }
    }

    /// The dictionary pass: fills `s.occ` and `s.spans`; false when no rule can match.
    fn scan(&self, post: &Post, s: &mut Scratch) -> bool {
        s.occ.clear();
        if s.spans.len() > Scratch::KEEP_SPANS {
            // A huge post grew it; the next ones need a few dozen slots.
            s.spans = Vec::new();
        }
        let dict = &self.dict;
        // Literals that only follow (`INNER`) reach the closure only right after a word that
        // had a literal that may start a phrase: the tokenizer does not even hand the others
        // over.
        let leads = Leads::new(dict);
        let (occ, spans) = (&mut s.occ, &mut s.spans);
        let text = post.text.as_str();
        normalize::for_each_word_where(
            &post.text,
            &mut s.buf,
            &leads,
            // Inlined into the tokenizer's walk: the words that reach it passed the dictionary's
            // filter, and a call per word (with its `Word` spilled to the stack) cost as much
            // as the work done for most of them.
            #[inline(always)]
            |w| {
                let before = occ.len();
                let k = w.kind as usize;
                // Whether a literal occurred at the word before this one (which `leads` was
                // told of).
                let after_lit = leads.follows(w.pos);
                // Whether a literal of this word may be followed by the later words of a
                // phrase: any literal but a one-word term's (`TERM`, the usual watch word).
                let mut leads_on = false;
                let mut add = |id: u32| {
                    if id != NONE && (id & INNER == 0 || after_lit) {
                        occ.push((w.pos, id & !INNER));
                        leads_on |= id & TERM == 0;
                    }
                };
                // A hashtag or mention whose body goes on past this word with an underscore
                // (`@posteo_aide`, rare) is that body, looked up on its own: this word is only
                // a plain one.
                let body = if k != 0 {
                    normalize::tag_body(text, w.end, w.text)
                } else {
                    None
                };
                let k_here = if body.is_some() { 0 } else { k };
                dict.for_each_key(w.text, w.first16(), |e, whole| {
                    if whole {
                        add(e.exact[0]);
                    }
                    add(e.prefix[0]);
                    if k_here != 0 {
                        if whole {
                            add(e.exact[k]);
                        }
                        add(e.prefix[k]);
                    }
                });
                if let Some(body) = body {
                    let body = body.as_bytes();
                    dict.for_each_key(body, dict::head_of(body), |e, whole| {
                        if whole {
                            add(e.exact[k]);
                        }
                        add(e.prefix[k]);
                    });
                }
                if occ.len() > before {
                    let p = w.pos as usize;
                    if p >= spans.len() {
                        spans.resize(2 * p + 64, (0, 0));
                    }
                    spans[p] = (w.start, w.end);
                }
                // Only then is the next word worth a look for the keys that only follow (which
                // the pick turned away): after a one-word term's word, the tokenizer goes on
                // skipping.
                if leads_on {
                    leads.follow(w.pos);
                }
            },
        );
        !(s.occ.is_empty() && self.always.is_empty())
    }

    /// Phrases, candidate rules and their expressions, once some literal occurred: fills
    /// `s.passed` with the rules that hold, in order, each with its regex match if it has
    /// regexes.
    fn evaluate(&self, post: &Post, s: &mut Scratch) {
        self.term_occurrences(s);
        self.candidate_rules(s);
        let occ = if s.term_occ.len() <= Scratch::FEW {
            Occurrences::unsorted(&s.term_occ)
        } else {
            s.by_term.clear();
            s.by_term.extend_from_slice(&s.term_occ);
            s.by_term.sort_unstable();
            Occurrences::new(&s.by_term)
        };
        let mut nfkc = None;
        s.passed.clear();
        s.nfkc = None;
        for &r in &s.cands {
            if let Some(regex_match) = self.rule_holds(r, post, &occ, &mut nfkc) {
                s.passed.push((r, regex_match));
            }
        }
        // Hits are in rule order.
        if !s.passed.is_sorted_by_key(|p| p.0) {
            s.passed.sort_unstable_by_key(|p| p.0);
        }
        // A regex match in a text that NFKC changes quotes the form it ran on.
        if let Some(std::borrow::Cow::Owned(t)) = nfkc {
            if s.passed.iter().any(|p| p.1.is_some()) {
                s.nfkc = Some(t);
            }
        }
    }

    /// Fills `s.term_occ` with every term that occurs, once per word it starts at: single
    /// literals directly, phrases when their later words follow.
    #[inline]
    fn term_occurrences(&self, s: &mut Scratch) {
        // The scan pushes in word order (the literals of one word in any order).
        debug_assert!(s.occ.is_sorted_by_key(|o| o.0));
        s.term_occ.clear();
        for (i, &(pos, lit)) in s.occ.iter().enumerate() {
            if lit & TERM != 0 {
                s.term_occ.push((lit & !TERM, pos, pos));
                continue;
            }
            let t = self.lit_term[lit as usize];
            if t != NONE {
                s.term_occ.push((t, pos, pos));
                continue;
            }
            for &t in self.first_lit_terms.get(lit) {
                let lits = &self.terms[t as usize].lits;
                if lits.len() == 1 {
                    s.term_occ.push((t, pos, pos));
                    continue;
                }
                // The later words' literals come right after this word's: a few to read.
                let after = &s.occ[i + 1..];
                let complete = lits[1..]
                    .iter()
                    .zip(pos + 1..)
                    .all(|(&l, p)| after.iter().take_while(|o| o.0 <= p).any(|&o| o == (p, l)));
                if complete {
                    s.term_occ.push((t, pos, pos + lits.len() as u32 - 1));
                }
            }
        }
        // Each term is pushed once per word it starts at: no two are the same.
        debug_assert!({
            let mut o = s.term_occ.clone();
            o.sort_unstable();
            o.windows(2).all(|w| w[0] != w[1])
        });
    }

    /// Fills `s.cands` with the candidate rules: those using an occurred term, and those that
    /// need no literal, each once (marked with the post's number), in no particular order.
    #[inline]
    fn candidate_rules(&self, s: &mut Scratch) {
        s.cands.clear();
        s.post_no = s.post_no.wrapping_add(1);
        if s.post_no == 0 || s.seen.len() < self.rules.len() {
            s.seen.clear();
            s.seen.resize(self.rules.len(), 0);
            s.post_no = 1;
        }
        let (seen, cands, no) = (&mut s.seen, &mut s.cands, s.post_no);
        let mut add = |r: u32| {
            if seen[r as usize] != no {
                seen[r as usize] = no;
                cands.push(r);
            }
        };
        for &(t, _, _) in &s.term_occ {
            match self.term_rule[t as usize] {
                NONE => self.term_rules.get(t).iter().for_each(|&r| add(r)),
                r => add(r),
            }
        }
        self.always.iter().for_each(|&r| add(r));
    }

    /// Whether candidate rule `r` holds for `post`: its sources, its excluded authors, its
    /// expression over the occurrences, then its regexes (on the NFKC text, computed once per
    /// post into `nfkc`). `Some` with the regex match, if it has regexes; `None` if it fails.
    #[inline]
    fn rule_holds<'p>(
        &self,
        r: u32,
        post: &'p Post,
        occ: &Occurrences<'_>,
        nfkc: &mut Option<std::borrow::Cow<'p, str>>,
    ) -> Option<Option<RawMatch>> {
        if self.checks[r as usize] == 0 {
            return Some(None);
        }
        let rule = &self.rules[r as usize];
        if let (Some(globs), Some(src)) = (&rule.sources, &post.source) {
            if !globs.is_match(src) {
                return None;
            }
        }
        if let Some(author) = &post.author {
            if !rule.exclude_authors.is_empty()
                && rule.exclude_authors.contains(&author_key(author))
            {
                return None;
            }
        }
        if let Some(e) = &rule.expr {
            if !e.eval(occ) {
                return None;
            }
        }
        if rule.regex.is_empty() {
            return Some(None);
        }
        let text = nfkc.get_or_insert_with(|| normalize::nfkc(&post.text));
        let (k, m) = rule
            .regex
            .iter()
            .enumerate()
            .find_map(|(k, re)| re.find(text).map(|m| (k, m)))?;
        Some(Some(RawMatch::regex(
            rule.regex_terms + k as u32,
            m.start(),
            m.end(),
        )))
    }

    /// Adds the hit for rule `r` to `hits`, quoting every occurrence of the terms of the parts
    /// of its query that hold (SPEC §4): of all its positive terms when its query is an AND or
    /// OR of terms ([`CExpr::quotes_all`]), else of those [`CExpr::why`] gives (into `why`).
    fn hit(
        &self,
        s: &Scratch,
        r: u32,
        regex_match: Option<RawMatch>,
        why: &mut Vec<u32>,
        hits: &mut Hits,
    ) {
        let first = hits.pending_start();
        let (mut lo, mut hi) = self.positive_range[r as usize];
        let mut terms = self.positive_terms.get(r);
        if !self.quote_all[r as usize] {
            why.clear();
            // The occurrences as `evaluate` searched them (`by_term` still sorted).
            let occ = if s.term_occ.len() <= Scratch::FEW {
                Occurrences::unsorted(&s.term_occ)
            } else {
                Occurrences::new(&s.by_term)
            };
            if let Some(e) = &self.rules[r as usize].expr {
                e.why(&occ, true, why);
            }
            why.sort_unstable();
            why.dedup();
            (lo, hi, terms) = (1, 0, &why[..]);
        }
        let matched = hits.pending();
        matched.extend(regex_match);
        // The occurrences are in word order, and so are the quotes, unless two start at the
        // same word (or a regex match is among them).
        let (mut ties, mut last) = (regex_match.is_some(), NONE);
        for &(t, p0, p1) in &s.term_occ {
            let mine = if lo <= hi {
                // The rule's terms are the ids lo..=hi.
                t.wrapping_sub(lo) <= hi - lo
            } else {
                terms.binary_search(&t).is_ok()
            };
            if mine {
                ties |= p0 == last;
                last = p0;
                // A term occurred only where its words produced literals: both slots are this
                // post's.
                let (start, end) = (s.spans[p0 as usize].0, s.spans[p1 as usize].1);
                matched.push(RawMatch::word(t, p0, start, end));
            }
        }
        if ties {
            let names = &self.names.terms;
            // No two are equal: term occurrences are distinct, and a regex match has no
            // position.
            matched[first..].sort_unstable_by(|a, b| {
                (a.start, a.end)
                    .cmp(&(b.start, b.end))
                    .then_with(|| names[a.term as usize].cmp(&names[b.term as usize]))
            });
        }
        hits.push_hit(r);
    }
}

#[cfg(test)]
mod tests;
