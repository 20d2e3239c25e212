//! SPEC §4 read literally, slowly: the text is made NFKC (symbols first turned into spaces,
//! so that they separate words rather than becoming letters), URLs are removed, a word is a
//! run of letters and digits folded to lower case without accents (`œ` `oe`, `ø` `o`…),
//! `#`/`@` at the start of a word make it a hashtag or mention whose body runs over letters,
//! digits and underscores; a query is parsed here too, its words read the same way, and
//! evaluated by brute force over the word positions.

use std::collections::HashMap;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Hashtag,
    Mention,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The folded word.
    pub text: String,
    pub kind: Kind,
    /// For a hashtag or mention: the folded body, over letters, digits and underscores.
    pub body: String,
}

/// Invisible characters, which vigie ignores inside a word (README: a zero-width space or
/// a soft hyphen does not split `colis`); the SPEC is silent, so the model follows vigie.
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF)
}

fn ignored(c: char) -> bool {
    is_combining_mark(c) || invisible(c)
}

/// A letter or digit. `ʼ` (U+02BC) is a letter to Unicode but an apostrophe to writers.
fn letter(c: char) -> bool {
    c.is_alphanumeric() && c != '\u{2BC}'
}

/// Lower case (through upper case, so that `ß` is `ss` and `ς` is `σ`), no accents, and
/// the Latin letters without a decomposition as Lucene's ASCII folding has them.
fn fold(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for u in c.to_uppercase() {
        for l in u.to_lowercase() {
            for d in std::iter::once(l).nfd() {
                if ignored(d) {
                    continue;
                }
                match d {
                    'œ' => out.push_str("oe"),
                    'æ' => out.push_str("ae"),
                    'ß' => out.push_str("ss"),
                    'ø' => out.push('o'),
                    'ł' => out.push('l'),
                    'đ' | 'ð' => out.push('d'),
                    'ħ' => out.push('h'),
                    'ı' => out.push('i'),
                    'þ' => out.push_str("th"),
                    _ => out.push(d),
                }
            }
        }
    }
}

/// The words of `text`, in order: the index in the vector is the word's position.
pub fn words(text: &str) -> Vec<Word> {
    // Symbols separate words: a character that is not a letter but that NFKC would turn
    // into letters or digits (`™`, `№`, `㎏`) is a space.
    let spaced: String = text
        .chars()
        .map(|c| {
            if !c.is_ascii() && !letter(c) && !ignored(c) && c.to_string().nfkc().any(letter) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let chars: Vec<char> = spaced.nfkc().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // Whether a word is being read, and the kind of a word starting now.
    let mut in_word = false;
    let mut pending = Kind::Plain;
    while i < chars.len() {
        let c = chars[i];
        if !in_word && url_at(&chars[i..]) {
            while i < chars.len() && !chars[i].is_whitespace() && !"<>\"".contains(chars[i]) {
                i += 1;
            }
            pending = Kind::Plain;
            continue;
        }
        if ignored(c) {
            i += 1;
            continue;
        }
        if letter(c) {
            if !in_word {
                in_word = true;
                let mut body = String::new();
                if pending != Kind::Plain {
                    let mut j = i;
                    while j < chars.len()
                        && (letter(chars[j]) || chars[j] == '_' || ignored(chars[j]))
                    {
                        fold(chars[j], &mut body);
                        j += 1;
                    }
                }
                out.push(Word {
                    text: String::new(),
                    kind: pending,
                    body,
                });
                pending = Kind::Plain;
            }
            let w = out.last_mut().expect("a word");
            fold(c, &mut w.text);
            i += 1;
            continue;
        }
        // A separator: `#` and `@` mark the next word only at the start of a word.
        pending = match c {
            '#' if !in_word => Kind::Hashtag,
            '@' if !in_word => Kind::Mention,
            _ => Kind::Plain,
        };
        in_word = false;
        i += 1;
    }
    // A letter that folds to nothing makes no word.
    out.retain(|w| !w.text.is_empty());
    out
}

fn url_at(chars: &[char]) -> bool {
    let head: String = chars
        .iter()
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("http://") || head.starts_with("https://") || head.starts_with("www.")
}

/// Where each word occurs: what keeps the brute force fast enough for 400 rules.
pub struct Index<'a> {
    at: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Index<'a> {
    pub fn new(words: &'a [Word]) -> Index<'a> {
        let mut at: HashMap<&str, Vec<usize>> = HashMap::new();
        for (p, w) in words.iter().enumerate() {
            at.entry(w.text.as_str()).or_default().push(p);
        }
        Index { at }
    }
}

/// A query term: its words read as text words are, the last one perhaps a prefix.
#[derive(Debug)]
pub struct Term {
    words: Vec<Word>,
    prefix: bool,
}

impl Term {
    fn new(body: &str) -> Term {
        let (body, prefix) = match body.strip_suffix('*') {
            Some(b) => (b, true),
            None => (body, false),
        };
        let words = words(body);
        assert!(!words.is_empty(), "term {body:?} has no word");
        Term { words, prefix }
    }

    fn word_at(&self, k: usize, w: &Word) -> bool {
        let q = &self.words[k];
        let last = self.prefix && k + 1 == self.words.len();
        let (have, want) = if q.kind == Kind::Plain {
            (&w.text, &q.text)
        } else if w.kind == q.kind {
            (&w.body, &q.body)
        } else {
            return false;
        };
        if last {
            have.starts_with(want.as_str())
        } else {
            have == want
        }
    }

    /// The positions where the term starts: every position, or only those of its first
    /// word when that is a whole plain word (the index), which is what keeps the brute
    /// force fast enough.
    fn starts<'w>(
        &'w self,
        words: &'w [Word],
        index: &'w Index<'_>,
    ) -> impl Iterator<Item = usize> + 'w {
        let n = self.words.len();
        let first = &self.words[0];
        let candidates: Box<dyn Iterator<Item = usize>> =
            if first.kind == Kind::Plain && !(self.prefix && n == 1) {
                Box::new(
                    index
                        .at
                        .get(first.text.as_str())
                        .into_iter()
                        .flatten()
                        .copied(),
                )
            } else {
                Box::new(0..words.len())
            };
        candidates.filter(move |&p| {
            p + n <= words.len() && (0..n).all(|k| self.word_at(k, &words[p + k]))
        })
    }
}

/// The part of the query language the drawn rules use.
#[derive(Debug)]
pub enum Query {
    Term(Term),
    Near(Term, Term, usize),
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    AndNot(Box<Query>, Box<Query>),
}

impl Query {
    pub fn eval(&self, words: &[Word], index: &Index<'_>) -> bool {
        match self {
            Query::Term(t) => t.starts(words, index).next().is_some(),
            Query::Near(a, b, n) => a
                .starts(words, index)
                .any(|x| b.starts(words, index).any(|y| x.abs_diff(y) <= *n)),
            Query::And(a, b) => a.eval(words, index) && b.eval(words, index),
            Query::Or(a, b) => a.eval(words, index) || b.eval(words, index),
            Query::AndNot(a, b) => a.eval(words, index) && !b.eval(words, index),
        }
    }
}

/// `t`, `t NEAR/n t`, `t AND t`, `t OR t`, `t NOT t`, where `t` is a bare word (up to a
/// space) or a "quoted phrase".
pub fn parse(q: &str) -> Query {
    let mut rest = q.trim();
    let mut terms = Vec::new();
    let mut op = None;
    while !rest.is_empty() {
        let (tok, after) = if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').expect("closing quote");
            (&r[..end], &r[end + 1..])
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let tok = &rest[..end];
            if matches!(tok, "AND" | "OR" | "NOT") || tok.starts_with("NEAR/") {
                op = Some(tok);
                rest = rest[end..].trim_start();
                continue;
            }
            (tok, &rest[end..])
        };
        terms.push(Term::new(tok));
        rest = after.trim_start();
    }
    let b = terms.pop().expect("a term");
    let Some(a) = terms.pop() else {
        return Query::Term(b);
    };
    let t = |t| Box::new(Query::Term(t));
    match op.expect("an operator") {
        "AND" => Query::And(t(a), t(b)),
        "OR" => Query::Or(t(a), t(b)),
        "NOT" => Query::AndNot(t(a), t(b)),
        near => Query::Near(a, b, near[5..].parse().expect("NEAR/n")),
    }
}
