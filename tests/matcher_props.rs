//! Property test: the compiled `RuleSet` agrees with a slow, obviously-correct evaluator.
//!
//! Texts are random words from a small French vocabulary, in random case and with or without
//! accents, separated by random punctuation, hashtags, mentions (whose bodies may go on with
//! `_`) and apostrophes. Queries are random trees of AND/OR/NOT/NEAR over words, prefixes,
//! phrases, hashtags and mentions. The reference below tokenises with its own
//! (restricted-alphabet) rules and evaluates the tree by brute force over every position,
//! sharing no code with the matcher; and every hit quotes every place where a term of a part
//! of its rule that holds occurred, at the right bytes.

use std::collections::BTreeSet;

use proptest::prelude::*;
use vigie::matcher::RuleSet;
use vigie::matcher::RuleSpec;
use vigie::post::Post;

/// Vocabulary: (folded form, written forms).
const VOCAB: &[(&str, &[&str])] = &[
    ("colis", &["colis", "COLIS", "Colis"]),
    ("retard", &["retard", "RETARD", "Retard"]),
    ("retarde", &["retardé", "RETARDÉ", "retarde"]),
    (
        "reclamation",
        &["réclamation", "RECLAMATION", "Réclamation"],
    ),
    ("objet", &["objet", "OBJET"]),
    ("casse", &["cassé", "CASSÉ", "casse"]),
    ("perdu", &["perdu", "PERDU"]),
    ("perdue", &["perdue"]),
    ("lettre", &["lettre", "Lettre"]),
    ("l", &["l", "L"]),
    ("a", &["a", "à", "A"]),
    ("coeur", &["cœur", "coeur", "CŒUR"]),
    ("poste", &["poste", "Poste"]),
];

const SEPS: &[&str] = &[
    " ", "  ", ", ", "-", "'", "’", " ! ", " 😡 ", "\n", " — ", "_",
];

/// The separator before token `i`, if any.
fn sep_before(i: usize, seps: &[usize]) -> Option<&'static str> {
    (i > 0 || seps[i].is_multiple_of(3)).then(|| SEPS[seps[i] % SEPS.len()])
}

/// Marks, in a token's kind, a hashtag or mention whose body goes on past its word with an
/// underscore (`@colis_retard`): SPEC §4 has the body run over underscores, so `@colis` does
/// not match it, while `@col*` does (and the plain word `colis` still does).
const GOES_ON: u8 = 4;

/// The tokens as the reference reads them: hashtags and mentions followed by `_` marked.
fn read_tokens(tokens: &[Tok], seps: &[usize]) -> Vec<Tok> {
    let mut toks = tokens.to_vec();
    for i in 0..toks.len().saturating_sub(1) {
        if toks[i].2 != 0 && sep_before(i + 1, seps) == Some("_") {
            toks[i].2 |= GOES_ON;
        }
    }
    toks
}

#[derive(Debug, Clone)]
enum Q {
    Term {
        words: Vec<(usize, u8)>,
        prefix: Option<usize>,
    },
    And(Vec<Q>),
    Or(Vec<Q>),
    Not(Box<Q>),
    Near(Box<Q>, Box<Q>, u32),
}

/// A text token: vocabulary index, written form index, kind (0 plain, 1 #, 2 @; see also
/// [`GOES_ON`]).
type Tok = (usize, usize, u8);

/// The text of `tokens`, and the byte range of every token's written form in it.
fn text_and_ranges(tokens: &[Tok], seps: &[usize]) -> (String, Vec<(usize, usize)>) {
    let mut s = String::new();
    let mut ranges = Vec::new();
    for (i, &(v, f, k)) in tokens.iter().enumerate() {
        if let Some(sep) = sep_before(i, seps) {
            s.push_str(sep);
        }
        // A kind marker only after a separator that leaves it unglued (always true here).
        if k == 1 {
            s.push(' ');
            s.push('#');
        } else if k == 2 {
            s.push(' ');
            s.push('@');
        }
        let forms = VOCAB[v].1;
        let start = s.len();
        s.push_str(forms[f % forms.len()]);
        ranges.push((start, s.len()));
    }
    (s, ranges)
}

fn query_of(q: &Q) -> String {
    match q {
        Q::Term { words, prefix } => {
            let mut parts = Vec::new();
            for (i, &(v, k)) in words.iter().enumerate() {
                let mut w = VOCAB[v].1[0].to_string();
                if i == words.len() - 1 {
                    if let Some(n) = prefix {
                        // Cut the folded form: a prefix of the folded word, written folded.
                        let folded = VOCAB[v].0;
                        w = format!("{}*", &folded[..(*n).clamp(1, folded.len())]);
                    }
                }
                let mark = match k {
                    1 => "#",
                    2 => "@",
                    _ => "",
                };
                parts.push(format!("{mark}{w}"));
            }
            if parts.len() > 1 {
                format!("\"{}\"", parts.join(" "))
            } else {
                parts.remove(0)
            }
        }
        Q::And(v) => format!(
            "({})",
            v.iter().map(query_of).collect::<Vec<_>>().join(" AND ")
        ),
        Q::Or(v) => format!(
            "({})",
            v.iter().map(query_of).collect::<Vec<_>>().join(" OR ")
        ),
        Q::Not(e) => format!("(NOT {})", query_of(e)),
        Q::Near(a, b, n) => format!("({} NEAR/{n} {})", query_of(a), query_of(b)),
    }
}

/// Reference: does token `t` match query word (v, kind) with optional prefix length?
fn word_matches(t: &Tok, v: usize, k: u8, prefix: Option<usize>) -> bool {
    if k != 0 && (t.2 & !GOES_ON != k || (t.2 & GOES_ON != 0 && prefix.is_none())) {
        return false;
    }
    let text = VOCAB[t.0].0;
    match prefix {
        Some(n) => {
            let folded = VOCAB[v].0;
            text.starts_with(&folded[..n.clamp(1, folded.len())])
        }
        None => text == VOCAB[v].0,
    }
}

fn spans(q: &Q, toks: &[Tok]) -> Vec<(usize, usize)> {
    match q {
        Q::Term { words, prefix } => (0..toks.len())
            .filter(|&p| {
                p + words.len() <= toks.len()
                    && words.iter().enumerate().all(|(i, &(v, k))| {
                        let pre = if i == words.len() - 1 { *prefix } else { None };
                        word_matches(&toks[p + i], v, k, pre)
                    })
            })
            .map(|p| (p, p + words.len() - 1))
            .collect(),
        Q::Or(v) => v.iter().flat_map(|e| spans(e, toks)).collect(),
        Q::And(v) => {
            let parts: Vec<_> = v.iter().map(|e| spans(e, toks)).collect();
            if parts.iter().any(|p| p.is_empty()) {
                vec![]
            } else {
                parts.concat()
            }
        }
        Q::Not(_) => vec![],
        Q::Near(a, b, n) => {
            let mut out = vec![];
            for x in spans(a, toks) {
                for y in spans(b, toks) {
                    // Overlapping spans are 0 apart.
                    let d = if x.1 < y.0 {
                        y.0 - x.1
                    } else {
                        x.0.saturating_sub(y.1)
                    };
                    if d <= *n as usize {
                        out.push((x.0.min(y.0), x.1.max(y.1)));
                    }
                }
            }
            out
        }
    }
}

/// Reference quotes (SPEC §4): every occurrence of the terms of the parts of the query that
/// hold, as (first position, start byte, end byte). Read with `want`, what the part evaluates
/// to: a term that holds, an AND's parts, an OR's parts that hold, a NEAR that holds (all its
/// terms); a NOT turns `want` over, so that an AND that fails under it gives its parts that
/// fail, and `NOT NOT x` gives what `x` does.
fn quotes(q: &Q, want: bool, toks: &[Tok], ranges: &[(usize, usize)], out: &mut Vec<Quote>) {
    match q {
        Q::Term { .. } if want => out.extend(
            spans(q, toks)
                .into_iter()
                .map(|(a, b)| (a as u32, ranges[a].0, ranges[b].1)),
        ),
        Q::Term { .. } => {}
        Q::And(v) | Q::Or(v) => v
            .iter()
            .filter(|e| eval(e, toks) == want)
            .for_each(|e| quotes(e, want, toks, ranges, out)),
        Q::Not(e) => quotes(e, !want, toks, ranges, out),
        Q::Near(a, b, _) if want => {
            every_term(a, toks, ranges, out);
            every_term(b, toks, ranges, out);
        }
        Q::Near(..) => {}
    }
}

/// Every occurrence of every term of `q` (a NEAR operand: terms and ORs, no NOT).
fn every_term(q: &Q, toks: &[Tok], ranges: &[(usize, usize)], out: &mut Vec<Quote>) {
    match q {
        Q::Term { .. } => quotes(q, true, toks, ranges, out),
        Q::And(v) | Q::Or(v) => v.iter().for_each(|e| every_term(e, toks, ranges, out)),
        Q::Not(_) => unreachable!("no NOT in a NEAR operand"),
        Q::Near(a, b, _) => {
            every_term(a, toks, ranges, out);
            every_term(b, toks, ranges, out);
        }
    }
}

type Quote = (u32, usize, usize);

fn eval(q: &Q, toks: &[Tok]) -> bool {
    match q {
        Q::And(v) => v.iter().all(|e| eval(e, toks)),
        Q::Or(v) => v.iter().any(|e| eval(e, toks)),
        Q::Not(e) => !eval(e, toks),
        _ => !spans(q, toks).is_empty(),
    }
}

fn arb_term() -> impl Strategy<Value = Q> {
    (
        prop::collection::vec(
            (
                0..VOCAB.len(),
                prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
            ),
            // Phrases of up to three words: a later word of a phrase counts only right after
            // the word before it, which the matcher relies on to skip most of them.
            1..4,
        ),
        prop::option::weighted(0.25, 1usize..6),
    )
        .prop_map(|(mut words, prefix)| {
            // Only the first word of a phrase may carry a # or @ in this generator.
            for w in words.iter_mut().skip(1) {
                w.1 = 0;
            }
            Q::Term { words, prefix }
        })
}

fn arb_query() -> impl Strategy<Value = Q> {
    arb_term().prop_recursive(3, 12, 3, |inner| {
        let near_operand =
            arb_term().prop_recursive(1, 4, 2, |i| prop::collection::vec(i, 2..3).prop_map(Q::Or));
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Q::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Q::Or),
            inner.prop_map(|e| Q::Not(Box::new(e))),
            (near_operand.clone(), near_operand, 0u32..4).prop_map(|(a, b, n)| Q::Near(
                Box::new(a),
                Box::new(b),
                n
            )),
        ]
    })
}

fn arb_text() -> impl Strategy<Value = (Vec<Tok>, Vec<usize>)> {
    prop::collection::vec(
        (
            0..VOCAB.len(),
            0usize..3,
            prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        ),
        // Up to 30 words: past 16 term occurrences, evaluation sorts them by term first.
        0..30,
    )
    .prop_flat_map(|toks| {
        let n = toks.len();
        (Just(toks), prop::collection::vec(0usize..30, n.max(1)))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn ruleset_agrees_with_reference(queries in prop::collection::vec(arb_query(), 1..5),
                                     texts in prop::collection::vec(arb_text(), 1..6)) {
        let specs: Vec<RuleSpec> = queries
            .iter()
            .enumerate()
            .map(|(i, q)| RuleSpec::with_query(&format!("r{i}"), &query_of(q)).expect("generated query parses"))
            .collect();
        let rs = RuleSet::compile(&specs).expect("compile");
        for (toks, seps) in &texts {
            let (text, ranges) = text_and_ranges(toks, seps);
            let toks = &read_tokens(toks, seps);
            let hits = rs.matches(&Post::from_text(text.clone()));
            let got: Vec<usize> = hits.iter().map(|h| h.rule_index).collect();
            let want: Vec<usize> = queries.iter().enumerate().filter(|(_, q)| eval(q, toks)).map(|(i, _)| i).collect();
            prop_assert_eq!(got, want, "text {:?} queries {:?}", text,
                queries.iter().map(query_of).collect::<Vec<_>>());
            // Each hit quotes every place a term of a part of its rule that holds occurred (as
            // a set: two terms of one place, like `colis` and `coli*`, quote it twice).
            for h in hits.iter() {
                let order: Vec<(usize, usize)> = h.matched().map(|m| (m.start, m.end)).collect();
                prop_assert!(order.is_sorted(), "quotes in text order: {:?}", order);
                let got: BTreeSet<Quote> = h
                    .matched()
                    .map(|m| (m.position.expect("a word match"), m.start, m.end))
                    .collect();
                let mut want = Vec::new();
                quotes(&queries[h.rule_index], true, toks, &ranges, &mut want);
                let want: BTreeSet<Quote> = want.into_iter().collect();
                prop_assert_eq!(got, want, "rule {:?} on {:?}", query_of(&queries[h.rule_index]), text);
            }
        }
    }
}
