//! The query language (SPEC §4): lexer and recursive-descent parser → [`Expr`].
//!
//! ```text
//! query := or ;  or := and ("OR" and)* ;  and := unary (["AND"] unary)* ;
//! unary := "NOT" unary | "-" atom | atom ;
//! atom  := word | prefix* | "phrase of words" | #hashtag | @mention | "(" or ")" | atom "NEAR/" n atom
//! ```
//!
//! Operators are upper-case words; juxtaposition is AND. Query words go through
//! `normalize`, the same folding as the text, and a word that folds into several words
//! (`aujourd'hui`, `e-commerce`) becomes a phrase. French quotes `« … »` and typographic quotes
//! `“ … ”` delimit phrases like `"…"`. Errors carry the 1-based column (in characters) of the
//! offending token, so `vigie check` can put a caret under it. Compiling terms into automata is
//! `matcher`'s job; evaluating expressions is `eval`'s.

use std::fmt;

use crate::normalize::{self, WordKind};

/// A parsed query: its text as written and its expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The query as written in the rule file.
    pub text: String,
    /// The parsed expression.
    pub expr: Expr,
}

/// A query expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A word, prefix, phrase, hashtag or mention.
    Term(Term),
    /// Every part matches.
    And(Vec<Expr>),
    /// At least one part matches.
    Or(Vec<Expr>),
    /// The part does not match.
    Not(Box<Expr>),
    /// An occurrence of each side, at most `n` words apart, in either order.
    Near(Box<Expr>, Box<Expr>, u32),
}

/// A literal: consecutive folded words, each with the kind it must have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    /// Folded words with their required kind (`Plain` accepts any kind).
    pub words: Vec<(String, WordKind)>,
    /// Whether the last word is a prefix (`retard*`).
    pub prefix: bool,
    /// The term as written (`retard*`, `"objet cassé"`, `#colis`), for display.
    pub raw: String,
}

/// A query syntax error at a 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// 1-based column, in characters, of the offending token.
    pub column: usize,
    /// Lowercase message: `expected ')'`.
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.message, self.column)
    }
}

impl std::error::Error for QueryError {}

impl QueryError {
    /// The query with a caret under the error's column, for error output.
    pub fn caret(&self, query: &str) -> String {
        format!(
            "    {query}\n    {}^",
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

impl Query {
    /// Parses a query.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let tokens = lex(text)?;
        let end = text.chars().count() + 1;
        let mut p = Parser { tokens, i: 0, end };
        if p.tokens.is_empty() {
            return Err(err(1, "empty query"));
        }
        let expr = p.or()?;
        if let Some(t) = p.peek() {
            let msg = match t.tok {
                Tok::RParen => "unexpected ')'".to_string(),
                _ => format!("unexpected {}", t.tok.describe()),
            };
            return Err(err(t.col, msg));
        }
        Ok(Query {
            text: text.to_string(),
            expr,
        })
    }
}

fn err(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column,
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    Near(u32),
    Term(Term),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Not => "NOT".into(),
            Tok::Minus => "'-'".into(),
            Tok::Near(n) => format!("NEAR/{n}"),
            Tok::Term(t) => format!("'{}'", t.raw),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    col: usize,
}

fn closing_quote(open: char) -> Option<&'static [char]> {
    match open {
        '"' => Some(&['"']),
        '“' | '”' => Some(&['”', '"', '“']),
        '«' => Some(&['»']),
        _ => None,
    }
}

fn is_word_end(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')') || closing_quote(c).is_some()
}

/// Folds `body` into a term; `raw` is what the user wrote, `col` where.
fn term(body: &str, raw: String, col: usize) -> Result<Term, QueryError> {
    let (body, prefix) = match body.strip_suffix('*') {
        Some(rest) => (rest, true),
        None => (body, false),
    };
    if let Some(k) = body.chars().position(|c| c == '*') {
        let offset = if raw.starts_with(closing_quote_prefix) {
            1
        } else {
            0
        };
        return Err(err(
            col + offset + k,
            "'*' is only allowed at the end of a word",
        ));
    }
    // A hashtag or mention is its whole body (`@posteo_aide`), and its later words follow it
    // as in the text (`aide`), so that it spans and quotes what it does there.
    let words: Vec<(String, WordKind)> = normalize::words(body)
        .into_iter()
        .map(|w| match w.kind {
            WordKind::Plain => (w.text, w.kind),
            kind => (
                normalize::tag_body(body, w.end, w.text.as_bytes()).unwrap_or(w.text),
                kind,
            ),
        })
        .collect();
    if words.is_empty() {
        return Err(err(col, format!("{raw} has no letter or digit to match")));
    }
    Ok(Term { words, prefix, raw })
}

fn closing_quote_prefix(c: char) -> bool {
    closing_quote(c).is_some()
}

fn lex(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '-' => {
                i += 1;
                match chars.get(i) {
                    Some(&n) if !n.is_whitespace() && n != ')' => Tok::Minus,
                    _ => {
                        return Err(err(
                            col,
                            "'-' must be followed by a word, phrase or '(' (no space)",
                        ))
                    }
                }
            }
            _ if closing_quote(c).is_some() => {
                let closers = closing_quote(c).unwrap_or(&['"']);
                let start = i + 1;
                let Some(len) = chars[start..].iter().position(|c| closers.contains(c)) else {
                    return Err(err(col, format!("unclosed {c}")));
                };
                let body: String = chars[start..start + len].iter().collect();
                let raw: String = chars[i..start + len + 1].iter().collect();
                i = start + len + 1;
                Tok::Term(term(body.trim(), raw, col)?)
            }
            _ => {
                let start = i;
                while i < chars.len() && !is_word_end(chars[i]) {
                    i += 1;
                }
                let raw: String = chars[start..i].iter().collect();
                match raw.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    "NEAR" => return Err(err(col, "NEAR needs a distance, like NEAR/3")),
                    _ => match raw.strip_prefix("NEAR/") {
                        Some(n) => match n.parse::<u32>() {
                            Ok(n) => Tok::Near(n),
                            Err(_) => {
                                return Err(err(
                                    col + 5,
                                    "NEAR/ needs a whole number of words, like NEAR/3",
                                ))
                            }
                        },
                        None => Tok::Term(term(&raw, raw.clone(), col)?),
                    },
                }
            }
        };
        out.push(Token { tok, col });
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
    /// Column just past the end of the query, for "expected …" at the end.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.i)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end, |t| t.col)
    }

    fn starts_operand(&self) -> bool {
        matches!(
            self.peek().map(|t| &t.tok),
            Some(Tok::Term(_) | Tok::LParen | Tok::Not | Tok::Minus)
        )
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.and()?];
        while matches!(self.peek().map(|t| &t.tok), Some(Tok::Or)) {
            self.i += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Or(Vec::new()))
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.unary()?];
        loop {
            if matches!(self.peek().map(|t| &t.tok), Some(Tok::And)) {
                self.i += 1;
            } else if !self.starts_operand() {
                break;
            }
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Not) => {
                self.i += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Minus) => {
                self.i += 1;
                Ok(Expr::Not(Box::new(self.near()?)))
            }
            _ => self.near(),
        }
    }

    fn near(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.primary()?;
        while let Some(Token {
            tok: Tok::Near(n),
            col,
        }) = self.peek().cloned()
        {
            self.i += 1;
            let right = self.primary()?;
            if contains_not(&left) || contains_not(&right) {
                return Err(err(col, "NOT cannot be used inside NEAR"));
            }
            left = Expr::Near(Box::new(left), Box::new(right), n);
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let col = self.col();
        let Some(t) = self.peek().cloned() else {
            return Err(err(
                col,
                "unexpected end of query, expected a word, phrase or '('",
            ));
        };
        self.i += 1;
        match t.tok {
            Tok::Term(term) => Ok(Expr::Term(term)),
            Tok::LParen => {
                if matches!(self.peek().map(|t| &t.tok), Some(Tok::RParen)) {
                    return Err(err(self.col(), "empty parentheses"));
                }
                let e = self.or()?;
                match self.peek().map(|t| &t.tok) {
                    Some(Tok::RParen) => {
                        self.i += 1;
                        Ok(e)
                    }
                    _ => Err(err(self.col(), "expected ')'")),
                }
            }
            Tok::And | Tok::Or | Tok::Near(_) => Err(err(
                t.col,
                format!(
                    "{} needs a word, phrase or '(' on its left",
                    t.tok.describe()
                ),
            )),
            other => Err(err(
                t.col,
                format!("expected a word, phrase or '(', found {}", other.describe()),
            )),
        }
    }
}

fn contains_not(e: &Expr) -> bool {
    match e {
        Expr::Not(_) => true,
        Expr::Term(_) => false,
        Expr::And(v) | Expr::Or(v) => v.iter().any(contains_not),
        Expr::Near(a, b, _) => contains_not(a) || contains_not(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match e {
            Expr::Term(t) => {
                let words: Vec<String> = t
                    .words
                    .iter()
                    .map(|(w, k)| match k {
                        WordKind::Plain => w.clone(),
                        WordKind::Hashtag => format!("#{w}"),
                        WordKind::Mention => format!("@{w}"),
                    })
                    .collect();
                let s = words.join(" ");
                let s = if t.prefix { format!("{s}*") } else { s };
                if t.words.len() > 1 {
                    format!("\"{s}\"")
                } else {
                    s
                }
            }
            Expr::And(v) => format!("(and {})", v.iter().map(show).collect::<Vec<_>>().join(" ")),
            Expr::Or(v) => format!("(or {})", v.iter().map(show).collect::<Vec<_>>().join(" ")),
            Expr::Not(e) => format!("(not {})", show(e)),
            Expr::Near(a, b, n) => format!("(near/{n} {} {})", show(a), show(b)),
        }
    }

    #[test]
    fn parses() {
        let cases = [
            ("colis", "colis"),
            ("Réclamation", "reclamation"),
            ("colis retard", "(and colis retard)"),
            ("colis AND retard OR perdu", "(or (and colis retard) perdu)"),
            ("colis OR retard perdu", "(or colis (and retard perdu))"),
            ("NOT spam", "(not spam)"),
            ("colis -suspect", "(and colis (not suspect))"),
            (
                "colis -\"colis suspect\"",
                "(and colis (not \"colis suspect\"))",
            ),
            ("retard*", "retard*"),
            ("\"objet cassé\"", "\"objet casse\""),
            ("« objet cassé »", "\"objet casse\""),
            ("“pas reçu”", "\"pas recu\""),
            ("\"objet cass*\"", "\"objet cass*\""),
            ("#colis @LaPoste", "(and #colis @laposte)"),
            // One mention, its body whole, then its later words as the text has them.
            ("@Posteo_Aide", "\"@posteo_aide aide\""),
            ("\"#colis_perdu encore\"", "\"#colis_perdu perdu encore\""),
            ("posteo_aide", "\"posteo aide\""),
            ("aujourd'hui", "\"aujourd hui\""),
            ("e-commerce", "\"e commerce\""),
            ("colis NEAR/3 perdu", "(near/3 colis perdu)"),
            ("a b NEAR/2 c", "(and a (near/2 b c))"),
            (
                "(colis OR lettre) NEAR/5 (perdu* OR égaré*)",
                "(near/5 (or colis lettre) (or perdu* egare*))",
            ),
            ("a NEAR/1 b NEAR/2 c", "(near/2 (near/1 a b) c)"),
            ("NOT NOT a", "(not (not a))"),
            ("-(a OR b) c", "(and (not (or a b)) c)"),
            ("or and not", "(and or and not)"),
        ];
        for (q, want) in cases {
            let got = Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert_eq!(show(&got.expr), want, "query {q}");
        }
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            ("", 1, "empty query"),
            ("(colis OR lettre", 17, "expected ')'"),
            ("colis)", 6, "unexpected ')'"),
            ("colis AND", 10, "unexpected end of query"),
            ("AND colis", 1, "AND needs"),
            ("colis OR OR retard", 10, "OR needs"),
            ("\"objet cassé", 1, "unclosed \""),
            ("colis NEAR retard", 7, "NEAR needs a distance"),
            ("colis NEAR/x retard", 12, "NEAR/ needs a whole number"),
            ("ret*ard", 4, "'*' is only allowed at the end"),
            ("colis - retard", 7, "'-' must be followed"),
            ("colis !!!", 7, "has no letter or digit"),
            ("()", 2, "empty parentheses"),
            ("(a NOT b) NEAR/2 c", 11, "NOT cannot be used inside NEAR"),
        ];
        for (q, col, msg) in cases {
            let e = Query::parse(q).expect_err(q);
            assert_eq!(e.column, col, "query {q:?}: {e}");
            assert!(e.message.contains(msg), "query {q:?}: {e}");
        }
    }

    #[test]
    fn caret_sits_under_the_column() {
        let e = Query::parse("(colis OR lettre").unwrap_err();
        assert_eq!(
            e.caret("(colis OR lettre"),
            "    (colis OR lettre\n                    ^"
        );
    }
}
