//! `RuleSet::compile`: every rule's query broken into terms and literal words, shared across
//! rules, and the tables that let `scan` and `evaluate` (in `mod.rs`) do as few lookups as
//! possible per word.
//!
//! The steps, in order: each rule's expression, source globs and excluded authors
//! ([`compile_rule`]); the names hits quote ([`names`]); what a candidate rule still needs
//! checked ([`checks`]); which terms start with each literal and which rules use each term
//! ([`term_index`]); and the dictionary, whose ids say what a literal is ([`dictionary`]).

use std::collections::HashMap;
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::dict::{Dict, NONE};
use super::eval::{CExpr, Occurrences, TermSet};
use super::hits::Names;
use super::query::{Expr, Term};
use super::{
    author_key, CTerm, Checks, CompileError, CompiledRule, Lists, RuleSet, RuleSpec, INNER, TERM,
};
use crate::normalize::WordKind;

/// The literals and terms of every rule, each once.
#[derive(Default)]
struct Builder {
    lits: HashMap<(Vec<u8>, WordKind, bool), u32>,
    terms: HashMap<Vec<u32>, u32>,
    cterms: Vec<CTerm>,
    /// Each term's text as first written.
    raw: Vec<Box<str>>,
}

impl Builder {
    fn lit(&mut self, word: &str, kind: WordKind, prefix: bool) -> u32 {
        let n = self.lits.len() as u32;
        *self
            .lits
            .entry((word.as_bytes().to_vec(), kind, prefix))
            .or_insert(n)
    }

    fn term(&mut self, t: &Term) -> u32 {
        let last = t.words.len() - 1;
        let lits: Vec<u32> = t
            .words
            .iter()
            .enumerate()
            .map(|(i, (w, k))| self.lit(w, *k, t.prefix && i == last))
            .collect();
        let n = self.cterms.len() as u32;
        *self.terms.entry(lits.clone()).or_insert_with(|| {
            self.cterms.push(CTerm { lits });
            self.raw.push(t.raw.as_str().into());
            n
        })
    }

    fn expr(&mut self, e: &Expr) -> CExpr {
        match e {
            Expr::Term(t) => CExpr::Term(self.term(t)),
            Expr::And(v) => CExpr::And(v.iter().map(|e| self.expr(e)).collect()),
            Expr::Or(v) => {
                let parts: Vec<CExpr> = v.iter().map(|e| self.expr(e)).collect();
                let terms: Option<Vec<u32>> = parts
                    .iter()
                    .map(|p| match p {
                        CExpr::Term(t) => Some(*t),
                        _ => None,
                    })
                    .collect();
                match terms {
                    Some(ids) => CExpr::AnyTerm(TermSet::new(ids)),
                    None => CExpr::Or(parts),
                }
            }
            Expr::Not(e) => CExpr::Not(Box::new(self.expr(e))),
            Expr::Near(a, b, n) => CExpr::Near(Box::new(self.expr(a)), Box::new(self.expr(b)), *n),
        }
    }
}

/// Which terms start with each literal, and which rules use each term.
struct TermIndex {
    /// literal id → terms whose first literal it is.
    first_lit_terms: Vec<Vec<u32>>,
    /// term id → rules that use it.
    term_rules: Vec<Vec<u32>>,
    /// Rules that hold without any literal (`NOT spam`, a regex-only rule).
    always: Vec<u32>,
}

impl RuleSet {
    /// Compiles every rule into one matcher.
    pub fn compile<'a>(
        specs: impl IntoIterator<Item = &'a RuleSpec>,
    ) -> Result<RuleSet, CompileError> {
        let specs: Vec<&RuleSpec> = specs.into_iter().collect();
        let mut b = Builder::default();
        let mut rules = Vec::with_capacity(specs.len());
        let mut positive_terms = Vec::with_capacity(specs.len());
        for spec in &specs {
            let (rule, positive) = compile_rule(&mut b, spec)?;
            rules.push(rule);
            positive_terms.push(positive);
        }
        let names = names(&mut b, &mut rules, &specs);
        let checks = rules.iter().map(checks).collect();
        let index = term_index(&b, &rules);
        // A literal that is a one-word term and nothing else: that term (one load for the
        // common case, where a list would cost three: cache misses, with 100,000 terms).
        let lit_term: Vec<u32> = index
            .first_lit_terms
            .iter()
            .map(|ts| match ts[..] {
                [t] if b.cterms[t as usize].lits.len() == 1 => t,
                _ => NONE,
            })
            .collect();
        assert!(b.lits.len() < TERM as usize && b.cterms.len() < TERM as usize);
        let dict = dictionary(b.lits, &b.cterms, &index.first_lit_terms, &lit_term);
        let quote_all = rules
            .iter()
            .map(|r| r.expr.as_ref().is_none_or(CExpr::quotes_all))
            .collect();
        Ok(RuleSet {
            rules,
            names,
            dict,
            terms: b.cterms,
            lit_term,
            first_lit_terms: Lists::new(index.first_lit_terms),
            term_rule: index
                .term_rules
                .iter()
                .map(|r| if r.len() == 1 { r[0] } else { NONE })
                .collect(),
            term_rules: Lists::new(index.term_rules),
            positive_range: positive_terms.iter().map(|ts| id_range(ts)).collect(),
            positive_terms: Lists::new(positive_terms),
            quote_all,
            checks,
            always: index.always,
        })
    }
}

/// One rule: its expression over the builder's terms, its globs, its excluded authors, and
/// its positive terms (not under an odd number of NOTs), sorted, each once.
fn compile_rule(
    b: &mut Builder,
    spec: &RuleSpec,
) -> Result<(CompiledRule, Vec<u32>), CompileError> {
    let expr = spec.query.as_ref().map(|q| b.expr(&q.expr));
    let sources = if spec.sources.is_empty() {
        None
    } else {
        Some(globs(spec)?)
    };
    let mut positive = Vec::new();
    if let Some(e) = &expr {
        e.positive_terms(false, &mut positive);
        positive.sort_unstable();
        positive.dedup();
    }
    let rule = CompiledRule {
        expr,
        regex: spec.regex.clone(),
        sources,
        exclude_authors: spec.exclude_authors.iter().map(|a| author_key(a)).collect(),
        regex_terms: 0,
    };
    Ok((rule, positive))
}

/// The rule's `sources` globs as one set.
fn globs(spec: &RuleSpec) -> Result<GlobSet, CompileError> {
    let error = |e: globset::Error| CompileError {
        rule: spec.name.clone(),
        message: format!("sources: {e}"),
    };
    let mut gs = GlobSetBuilder::new();
    for g in &spec.sources {
        gs.add(Glob::new(g).map_err(error)?);
    }
    gs.build().map_err(error)
}

/// The rule names and term texts that hits quote. Regexes are quoted as `/regex/`, with ids
/// after the query terms' (each rule's `regex_terms` is set here).
fn names(b: &mut Builder, rules: &mut [CompiledRule], specs: &[&RuleSpec]) -> Arc<Names> {
    let mut terms = std::mem::take(&mut b.raw);
    for (rule, spec) in rules.iter_mut().zip(specs) {
        rule.regex_terms = terms.len() as u32;
        terms.extend(
            spec.regex
                .iter()
                .map(|re| format!("/{}/", re.as_str()).into()),
        );
    }
    Arc::new(Names {
        rules: specs.iter().map(|s| s.name.as_str().into()).collect(),
        terms,
    })
}

/// What the rule still needs checked once one of its terms occurred ([`Checks`]).
fn checks(r: &CompiledRule) -> u8 {
    let mut c = 0;
    if r.sources.is_some() {
        c |= Checks::SOURCES;
    }
    if !r.exclude_authors.is_empty() {
        c |= Checks::AUTHORS;
    }
    if !r.regex.is_empty() {
        c |= Checks::REGEX;
    }
    if r.expr.as_ref().is_some_and(|e| !e.is_any_term()) {
        c |= Checks::QUERY;
    }
    c
}

/// Which terms each literal starts, which rules use each term, and which rules are
/// evaluated on every post (those that hold on a post without any term, and those without
/// a query).
fn term_index(b: &Builder, rules: &[CompiledRule]) -> TermIndex {
    let mut first_lit_terms = vec![Vec::new(); b.lits.len()];
    for (i, t) in b.cterms.iter().enumerate() {
        first_lit_terms[t.lits[0] as usize].push(i as u32);
    }
    let mut term_rules = vec![Vec::new(); b.cterms.len()];
    let mut always = Vec::new();
    let empty = Occurrences::new(&[]);
    for (r, rule) in rules.iter().enumerate() {
        match &rule.expr {
            Some(e) => {
                if e.eval(&empty) {
                    always.push(r as u32);
                }
                let mut ts = Vec::new();
                e.terms(&mut ts);
                ts.sort_unstable();
                ts.dedup();
                for t in ts {
                    term_rules[t as usize].push(r as u32);
                }
            }
            None => always.push(r as u32),
        }
    }
    TermIndex {
        first_lit_terms,
        term_rules,
        always,
    }
}

/// The dictionary of every literal, with ids that say what the literal is, so that the scan
/// records what evaluation needs with as few lookups (cache misses, with 100,000 terms) as
/// possible:
/// - a literal that starts no term (a later word of a phrase, often a common one like `de`)
///   only counts right after another literal: its id carries `INNER`, and `scan` records it
///   only there, so most posts record no literal at all;
/// - a literal that is a one-word term and nothing else (the usual watch word) is recorded as
///   that term, `TERM | term`;
/// - any other literal by its id.
fn dictionary(
    lits: HashMap<(Vec<u8>, WordKind, bool), u32>,
    cterms: &[CTerm],
    first_lit_terms: &[Vec<u32>],
    lit_term: &[u32],
) -> Dict {
    let mut later_word = vec![false; lits.len()];
    for t in cterms {
        for &l in &t.lits[1..] {
            later_word[l as usize] = true;
        }
    }
    // A hashtag or mention whose body goes on past its first word (`posteo_aide`) is looked
    // up by `scan` when that word is handed over: the filters let the word through.
    let first_words: Vec<Vec<u8>> = lits
        .keys()
        .filter(|(_, kind, _)| *kind != WordKind::Plain)
        .filter_map(|(word, _, _)| Some(word[..word.iter().position(|&c| c == b'_')?].to_vec()))
        .collect();
    Dict::build(
        lits.into_iter()
            .map(|((word, kind, prefix), id)| {
                let i = id as usize;
                let follows = first_lit_terms[i].is_empty();
                let id = if follows {
                    id | INNER
                } else if lit_term[i] != NONE && !later_word[i] {
                    lit_term[i] | TERM
                } else {
                    id
                };
                (word, kind, prefix, id, follows)
            })
            .chain(
                first_words
                    .into_iter()
                    .map(|w| (w, WordKind::Plain, false, NONE, false)),
            ),
    )
}

/// The first and last of a rule's sorted term ids when they are every id in between, else
/// `(1, 0)` (see `RuleSet::positive_range`).
fn id_range(ts: &[u32]) -> (u32, u32) {
    match (ts.first(), ts.last()) {
        (Some(&lo), Some(&hi)) if (hi - lo) as usize + 1 == ts.len() => (lo, hi),
        _ => (1, 0),
    }
}
