//! `Hits`: the rules one post hits and the words that made each of them match, in two flat
//! vectors that a stream of posts can reuse ([`super::RuleSet::matches_into`]).
//!
//! A hit-heavy stream (half the posts of a busy watch list hit a rule) would otherwise pay for
//! a vector per hit, a vector per post, and a reference count per rule name and matched term.
//! Here a match is four numbers; rule names and term texts stay in the rule set's [`Names`],
//! which the hits share (one reference count per post, none when the buffer is reused with the
//! same rule set).

use std::sync::Arc;

/// Rule names and query term texts of a compiled rule set, shared with the hits it makes.
#[derive(Debug, Default)]
pub(super) struct Names {
    /// Rule names, by rule index.
    pub rules: Vec<Box<str>>,
    /// Term texts as written (`retard*`, `"objet cassé"`), by term id, then every rule's
    /// regexes as `/regex/`.
    pub terms: Vec<Box<str>>,
}

/// No word position: a regex match.
const NO_POSITION: u32 = u32::MAX;

/// One match as stored: its term, position and place in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawMatch {
    /// Index in `Names::terms`.
    pub term: u32,
    /// Word position of the first matched word, or [`NO_POSITION`].
    pub position: u32,
    /// Byte range in the post's text, or in [`Hits`]'s NFKC form of it (`in_nfkc`).
    pub start: usize,
    pub end: usize,
}

impl RawMatch {
    /// A word, phrase or prefix match.
    pub fn word(term: u32, position: u32, start: usize, end: usize) -> RawMatch {
        RawMatch {
            term,
            position,
            start,
            end,
        }
    }

    /// A regex match.
    pub fn regex(term: u32, start: usize, end: usize) -> RawMatch {
        RawMatch::word(term, NO_POSITION, start, end)
    }
}

/// The rules one post hits, in rule order, each with its matched words in text order.
///
/// ```
/// use vigie::matcher::RuleSpec;
/// use vigie::matcher::{Hits, RuleSet, Scratch};
/// use vigie::post::Post;
///
/// let rules = RuleSet::compile(&[RuleSpec::with_query("colis", "colis").unwrap()]).unwrap();
/// let (mut scratch, mut hits) = (Scratch::default(), Hits::default());
/// for text in ["Mon colis ?", "rien", "COLIS perdu"] {
///     let post = Post::from_text(text);
///     rules.matches_into(&post, &mut scratch, &mut hits); // no allocation once grown
///     for hit in hits.iter() {
///         let m = hit.matched().next().unwrap();
///         assert_eq!((hit.rule, m.text(&post.text)), ("colis", &text[m.start..m.end]));
///     }
/// }
/// ```
#[derive(Clone, Default)]
pub struct Hits {
    /// The names of the rule set that made the hits (none before the first hit).
    names: Option<Arc<Names>>,
    /// Each hit's rule index and where its matches end in `matched`.
    heads: Vec<(u32, u32)>,
    /// Every hit's matches, hit after hit.
    matched: Vec<RawMatch>,
    /// The post's NFKC form, when its regex matches ran on a form that differs from the text.
    nfkc: Option<Box<str>>,
}

impl Hits {
    /// Number of rules hit.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    /// Whether the post hits no rule.
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }

    /// The hits, in rule order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Hit<'_>> + '_ {
        (0..self.heads.len()).map(|i| self.hit(i))
    }

    /// Hit `i`, in rule order.
    pub fn get(&self, i: usize) -> Option<Hit<'_>> {
        (i < self.heads.len()).then(|| self.hit(i))
    }

    fn hit(&self, i: usize) -> Hit<'_> {
        let (rule, end) = self.heads[i];
        let start = if i == 0 { 0 } else { self.heads[i - 1].1 };
        let names = self.names.as_deref().expect("hits have names");
        Hit {
            rule: &names.rules[rule as usize],
            rule_index: rule as usize,
            matched: &self.matched[start as usize..end as usize],
            names,
            nfkc: self.nfkc.as_deref(),
        }
    }

    /// Empties the list for the next post (keeping its memory).
    pub(super) fn clear(&mut self) {
        self.heads.clear();
        self.matched.clear();
        self.nfkc = None;
    }

    /// Starts hits made by the rule set whose names are `names`.
    pub(super) fn set_names(&mut self, names: &Arc<Names>) {
        if !self.names.as_ref().is_some_and(|n| Arc::ptr_eq(n, names)) {
            self.names = Some(names.clone());
        }
    }

    /// Keeps the NFKC form that the regex matches of this post ran on.
    pub(super) fn set_nfkc(&mut self, text: &str) {
        self.nfkc = Some(text.into());
    }

    /// The matches of the hit being built (after the last [`Hits::push_hit`]).
    pub(super) fn pending(&mut self) -> &mut Vec<RawMatch> {
        &mut self.matched
    }

    /// Where the matches of the hit being built start.
    pub(super) fn pending_start(&self) -> usize {
        self.heads.last().map_or(0, |h| h.1 as usize)
    }

    /// Ends the hit of `rule`, whose matches are those pushed since the last one.
    pub(super) fn push_hit(&mut self, rule: u32) {
        self.heads.push((rule, self.matched.len() as u32));
    }
}

/// Shows the hits, not the rule set's names that they share (all of them).
impl std::fmt::Debug for Hits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One rule that a post hits, with the words that made it match.
#[derive(Clone, Copy)]
pub struct Hit<'a> {
    /// The rule's name.
    pub rule: &'a str,
    /// The rule's index in the order given to `compile`.
    pub rule_index: usize,
    matched: &'a [RawMatch],
    names: &'a Names,
    nfkc: Option<&'a str>,
}

impl<'a> Hit<'a> {
    /// The matched words, phrases and regex matches, in text order.
    pub fn matched(&self) -> impl ExactSizeIterator<Item = Match<'a>> + 'a {
        let (names, nfkc) = (self.names, self.nfkc);
        self.matched.iter().map(move |m| {
            let regex = m.position == NO_POSITION;
            Match {
                term: &names.terms[m.term as usize],
                position: (!regex).then_some(m.position),
                start: m.start,
                end: m.end,
                quote: nfkc.filter(|_| regex).and_then(|t| t.get(m.start..m.end)),
            }
        })
    }
}

/// Shows the rule and its matches, not the rule set's names.
impl std::fmt::Debug for Hit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hit")
            .field("rule", &self.rule)
            .field("rule_index", &self.rule_index)
            .field("matched", &self.matched().collect::<Vec<_>>())
            .finish()
    }
}

/// A matched word, phrase or regex match: where it is in the post. [`Match::text`] quotes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    /// The query term as written (`retard*`, `"objet cassé"`, `/regex/`).
    pub term: &'a str,
    /// The word position of the first matched word (none for a regex match).
    pub position: Option<u32>,
    /// Byte offset of the match in the post's text (in its NFKC form for a regex match).
    pub start: usize,
    /// Byte offset just past the match.
    pub end: usize,
    /// The quote of a regex match whose offsets are in an NFKC form that differs from the text.
    quote: Option<&'a str>,
}

impl<'a> Match<'a> {
    /// The matched text, quoted from `text`: the text of the post given to `matches`.
    pub fn text(&self, text: &'a str) -> &'a str {
        match self.quote {
            Some(q) => q,
            None => text.get(self.start..self.end).unwrap_or_default(),
        }
    }
}
