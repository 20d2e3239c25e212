//! Rules drawn from the lines with a fixed seed, so that every run compares the same ones.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// xorshift64*: small, deterministic, good enough to pick.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The words of a line as written (runs of letters and digits), with their char ranges.
fn written(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_alphanumeric() {
            let s = i;
            while i < chars.len() && chars[i].is_alphanumeric() {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

fn unaccented(w: &str) -> String {
    w.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

/// A term as a query operand: bare when that is safe, else in quotes.
fn operand(t: &str) -> String {
    let bare = t.chars().all(|c| c.is_alphanumeric() || "'’*".contains(c))
        && !matches!(t, "AND" | "OR" | "NOT")
        && !t.starts_with("NEAR");
    if bare {
        t.to_string()
    } else {
        format!("\"{t}\"")
    }
}

/// `n` rules (fewer if the text has too few tags): terms of every kind, NEAR pairs,
/// tags and mentions, and boolean pairs.
pub fn rules(lines: &[String], n: usize) -> Vec<String> {
    let mut rng = Rng(0x5EED_0025_F00D_CAFE);
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // The text's own hashtags and mentions (a `#` or `@` then letters, digits, `_`).
    let mut tags = Vec::new();
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if c == '#' || c == '@' {
                let body: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || **c == '_')
                    .collect();
                if body.chars().any(char::is_alphanumeric) && !body.starts_with('_') {
                    tags.push(format!("{c}{body}"));
                }
            }
        }
    }
    tags.sort();
    tags.dedup();
    let rare: Vec<usize> = (0..lines.len())
        .filter(|&i| super::rare(&lines[i]))
        .collect();
    assert!(!rare.is_empty(), "no line with a rare character");
    // The single terms drawn so far, for the boolean pairs.
    let mut singles: Vec<String> = Vec::new();
    let mut tries = 0;
    while out.len() < n && tries < 100 * n {
        tries += 1;
        // One word in four from a rare line.
        let line = if rng.below(4) == 0 {
            &lines[rare[rng.below(rare.len())]]
        } else {
            &lines[rng.below(lines.len())]
        };
        let line: Vec<char> = line.chars().collect();
        let ws = written(&line);
        if ws.is_empty() {
            continue;
        }
        let k = rng.below(ws.len());
        let word: String = line[ws[k].0..ws[k].1].iter().collect();
        let kind = out.len() % 10;
        let q = match kind {
            // As written, without accents, in capitals, capitalised.
            0 | 1 => operand(&word),
            2 => operand(&unaccented(&word)),
            3 => operand(&word.to_uppercase()),
            4 => {
                let mut c = word.chars();
                let first: String = c.next().into_iter().flat_map(char::to_uppercase).collect();
                operand(&(first + c.as_str()))
            }
            // A prefix of at least three letters.
            5 => {
                let cs: Vec<char> = word.chars().collect();
                if cs.len() < 4 {
                    continue;
                }
                let cut = 3 + rng.below(cs.len() - 3);
                operand(&format!("{}*", cs[..cut].iter().collect::<String>()))
            }
            // Two or three words and what separates them as written, when that is only
            // apostrophes, hyphens and spaces with at least one apostrophe or hyphen:
            // quoted, or bare when it has no space.
            6 | 7 => {
                let len = 2 + rng.below(2);
                if k + len > ws.len() {
                    continue;
                }
                let span: String = line[ws[k].0..ws[k + len - 1].1].iter().collect();
                let seps: String = (k..k + len - 1)
                    .flat_map(|j| line[ws[j].1..ws[j + 1].0].iter())
                    .collect();
                if seps.is_empty()
                    || !seps.chars().all(|c| "'’- ".contains(c))
                    || !seps.chars().any(|c| "'’-".contains(c))
                {
                    continue;
                }
                if span.contains(' ') || rng.below(2) == 0 {
                    format!("\"{span}\"")
                } else {
                    span
                }
            }
            // Two different words of the line, at most six words apart.
            8 => {
                let j = (k + 1 + rng.below(6)).min(ws.len() - 1);
                let other: String = line[ws[j].0..ws[j].1].iter().collect();
                if j == k || unaccented(&other).to_lowercase() == unaccented(&word).to_lowercase() {
                    continue;
                }
                let dist = 1 + rng.below(5);
                format!("{} NEAR/{dist} {}", operand(&word), operand(&other))
            }
            // A tag or mention of the text, or a pair of terms drawn before.
            _ => {
                if !tags.is_empty() && rng.below(2) == 0 {
                    tags[rng.below(tags.len())].clone()
                } else if singles.len() >= 2 {
                    let a = &singles[rng.below(singles.len())];
                    let b = &singles[rng.below(singles.len())];
                    let op = ["AND", "OR", "NOT"][rng.below(3)];
                    format!("{a} {op} {b}")
                } else {
                    continue;
                }
            }
        };
        // Drop terms without a letter for the query (a word that is only a URL).
        if vigie::matcher::RuleSpec::with_query("x", &q).is_err() {
            continue;
        }
        if seen.insert(q.clone()) {
            if kind < 8 {
                singles.push(q.clone());
            }
            out.push(q);
        }
    }
    out
}
