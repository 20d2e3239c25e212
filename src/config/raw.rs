//! The config and rule files as written: TOML parsed with spans, read key by key.
//!
//! ARCHITECTURE asks for flat serde structs with `deny_unknown_fields` so that errors carry
//! exact positions. Serde, however, stops at the first unknown key, and `vigie check` must
//! report *every* error. So this module keeps the same idea one level down: `toml::de::DeTable`
//! gives every key and value with its span, and [`Reader`] takes the keys of one table one by
//! one, typed, recording an error (with line and column) for each wrong type, and at the end an
//! error for each key nobody asked for, with the nearest known key suggested. What the values
//! mean is `validate`'s and `rules`' business.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::duration::parse_duration;
use super::ConfigError;

/// A parsed file: its path, its text, and where its lines start.
pub struct File {
    /// The path, as given or found.
    pub path: PathBuf,
    /// The text.
    pub text: String,
    lines: Vec<usize>,
}

impl File {
    /// Wraps a file's text.
    pub fn new(path: &Path, text: String) -> File {
        let lines = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        File {
            path: path.to_path_buf(),
            text,
            lines,
        }
    }

    /// 1-based line and character column of byte offset `at`.
    pub fn position(&self, at: usize) -> (usize, usize) {
        let line = self.lines.partition_point(|&s| s <= at).max(1);
        let start = self.lines[line - 1];
        let col = self
            .text
            .get(start..at.min(self.text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }

    /// Where byte offset `at` is.
    pub fn origin(&self, at: usize) -> super::Origin {
        let (line, col) = self.position(at);
        super::Origin {
            file: self.path.clone(),
            line,
            col,
        }
    }

    /// An error at byte offset `at`.
    pub fn error(&self, at: usize, message: impl Into<String>) -> ConfigError {
        let (line, col) = self.position(at);
        ConfigError {
            file: self.path.clone(),
            line,
            col,
            message: message.into(),
            detail: None,
        }
    }

    /// Parses the text as TOML; a syntax error is located.
    pub fn parse(&self) -> Result<Spanned<DeTable<'_>>, ConfigError> {
        DeTable::parse(&self.text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            self.error(at, format!("invalid TOML: {}", e.message().trim()))
        })
    }
}

/// The nearest of `known` to `key`, if close enough to be a likely typo.
pub fn suggest<'k>(key: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

/// "a" or "an", for a TOML type name: "not an integer", "not a string".
pub fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A value with the byte range it was written at.
pub type At<T> = (T, Range<usize>);

/// Reads the keys of one table, collecting errors; [`Reader::finish`] reports unknown keys.
pub struct Reader<'a, 'i, 'e> {
    file: &'a File,
    table: &'a DeTable<'i>,
    /// Where the table starts (for "missing key" errors).
    pub at: usize,
    taken: BTreeSet<String>,
    /// Errors found so far.
    pub errors: &'e mut Vec<ConfigError>,
}

impl<'a, 'i, 'e> Reader<'a, 'i, 'e> {
    /// A reader over `table`, which starts at byte `at`.
    pub fn new(
        file: &'a File,
        table: &'a DeTable<'i>,
        at: usize,
        errors: &'e mut Vec<ConfigError>,
    ) -> Self {
        Reader {
            file,
            table,
            at,
            taken: BTreeSet::new(),
            errors,
        }
    }

    /// The file being read.
    pub fn file(&self) -> &'a File {
        self.file
    }

    /// Records an error at byte `at`.
    pub fn error(&mut self, at: usize, message: impl Into<String>) {
        let e = self.file.error(at, message);
        self.errors.push(e);
    }

    /// Whether the table has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Where `key` is written, if it is.
    pub fn key_at(&self, key: &str) -> Option<usize> {
        self.table.get_key_value(key).map(|(k, _)| k.span().start)
    }

    /// The keys present, in file order.
    pub fn keys(&self) -> Vec<At<String>> {
        let mut keys: Vec<At<String>> = self
            .table
            .keys()
            .map(|k| (k.get_ref().to_string(), k.span()))
            .collect();
        keys.sort_by_key(|k| k.1.start);
        keys
    }

    /// The raw value of `key`, marking it as known.
    pub fn raw(&mut self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.taken.insert(key.to_string());
        self.table.get(key)
    }

    fn wrong(&mut self, key: &str, v: &Spanned<DeValue<'_>>, want: &str) {
        let got = v.get_ref().type_str();
        self.error(
            v.span().start,
            format!("\"{key}\" must be {want}, not {} {got}", article(got)),
        );
    }

    /// A string.
    pub fn string(&mut self, key: &str) -> Option<At<String>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), v.span())),
            _ => {
                self.wrong(key, v, "a string");
                None
            }
        }
    }

    /// A required string.
    pub fn required(&mut self, key: &str, what: &str) -> Option<At<String>> {
        if !self.has(key) {
            let at = self.at;
            self.error(at, format!("{what} needs \"{key}\""));
        }
        self.string(key)
    }

    /// An array of strings (a lone string is accepted as a one-element array).
    pub fn strings(&mut self, key: &str) -> Option<Vec<At<String>>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(vec![(s.to_string(), v.span())]),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => out.push((s.to_string(), item.span())),
                        _ => self.wrong(key, item, "a list of strings"),
                    }
                }
                Some(out)
            }
            _ => {
                self.wrong(key, v, "a list of strings");
                None
            }
        }
    }

    /// An array of strings, strictly: a lone string is an error (`hashtags = "colis"`).
    pub fn list(&mut self, key: &str) -> Option<Vec<At<String>>> {
        let v = self.raw(key)?;
        if let DeValue::String(_) = v.get_ref() {
            self.wrong(key, v, "a list of strings");
            return None;
        }
        self.strings(key)
    }

    /// A string that is one of `allowed`.
    pub fn one_of(&mut self, key: &str, allowed: &[&str]) -> Option<At<String>> {
        let (value, span) = self.string(key)?;
        if allowed.contains(&value.as_str()) {
            return Some((value, span));
        }
        let list = allowed
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = match suggest(&value, allowed.iter().copied()) {
            Some(s) => format!(", did you mean \"{s}\"?"),
            None => String::new(),
        };
        self.error(
            span.start,
            format!("\"{key}\" must be one of {list}, not \"{value}\"{hint}"),
        );
        None
    }

    /// A string that is not empty (nor only spaces).
    pub fn non_empty(&mut self, key: &str) -> Option<At<String>> {
        let (value, span) = self.string(key)?;
        if value.trim().is_empty() {
            self.error(span.start, format!("\"{key}\" is empty"));
            return None;
        }
        Some((value, span))
    }

    /// A whole number within `min..=max`.
    pub fn u64_in(&mut self, key: &str, min: u64, max: u64) -> Option<At<u64>> {
        let (n, span) = self.u64(key)?;
        if n < min || n > max {
            let range = if max == u64::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            self.error(span.start, format!("\"{key}\" must be {range}, not {n}"));
            return None;
        }
        Some((n, span))
    }

    /// A non-negative integer.
    pub fn u64(&mut self, key: &str) -> Option<At<u64>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some((n, v.span())),
                Err(_) => {
                    self.error(
                        v.span().start,
                        format!("\"{key}\" must be a positive whole number"),
                    );
                    None
                }
            },
            _ => {
                self.wrong(key, v, "a whole number");
                None
            }
        }
    }

    /// A number (integer or float).
    pub fn f64(&mut self, key: &str) -> Option<At<f64>> {
        let v = self.raw(key)?;
        let n = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
            _ => None,
        };
        if n.is_none() {
            self.wrong(key, v, "a number");
        }
        n.map(|n| (n, v.span()))
    }

    /// A boolean.
    pub fn bool(&mut self, key: &str) -> Option<At<bool>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some((*b, v.span())),
            _ => {
                self.wrong(key, v, "true or false");
                None
            }
        }
    }

    /// A duration string.
    pub fn duration(&mut self, key: &str) -> Option<At<Duration>> {
        let (s, span) = self.string(key)?;
        match parse_duration(&s) {
            Ok(d) => Some((d, span)),
            Err(e) => {
                self.error(span.start, format!("\"{key}\": {e}"));
                None
            }
        }
    }

    /// A table of string values (`headers`).
    pub fn string_table(&mut self, key: &str) -> Option<Vec<(String, String)>> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::Table(t) => {
                let mut out = Vec::new();
                for (k, val) in t.iter() {
                    match val.get_ref() {
                        DeValue::String(s) => out.push((k.get_ref().to_string(), s.to_string())),
                        _ => self.wrong(k.get_ref(), val, "a string"),
                    }
                }
                Some(out)
            }
            _ => {
                self.wrong(key, v, "a table");
                None
            }
        }
    }

    /// A sub-table, with the byte offset where it starts.
    pub fn table(&mut self, key: &str) -> Option<(&'a DeTable<'i>, usize)> {
        let v = self.raw(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span().start)),
            _ => {
                self.wrong(key, v, "a table");
                None
            }
        }
    }

    /// Reports every key that was not read, suggesting the nearest of `known`.
    pub fn finish(self, known: &[&str]) {
        for (key, span) in self.keys() {
            if self.taken.contains(&key) {
                continue;
            }
            let msg = match suggest(&key, known.iter().copied()) {
                Some(s) => format!("unknown key \"{key}\", did you mean \"{s}\"?"),
                None => format!("unknown key \"{key}\""),
            };
            let e = self.file.error(span.start, msg);
            self.errors.push(e);
        }
    }
}

/// The `[[name]]` array of tables of a document, each with its start offset.
pub fn array_of_tables<'a, 'i>(
    file: &File,
    doc: &'a DeTable<'i>,
    name: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<(&'a DeTable<'i>, usize)> {
    let Some(v) = doc.get(name) else {
        return Vec::new();
    };
    match v.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .filter_map(|item| match item.get_ref() {
                DeValue::Table(t) => Some((t, item.span().start)),
                _ => {
                    errors.push(file.error(
                        item.span().start,
                        format!("[[{name}]] entries must be tables"),
                    ));
                    None
                }
            })
            .collect(),
        _ => {
            errors.push(file.error(
                v.span().start,
                format!("\"{name}\" must be written [[{name}]]"),
            ));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_lines_and_char_columns() {
        let f = File::new(Path::new("x.toml"), "a = 1\nété = \"x\"\n".into());
        assert_eq!(f.position(0), (1, 1));
        assert_eq!(f.position(6), (2, 1));
        // "été" is 5 bytes, 3 chars: the '=' after it is column 5.
        assert_eq!(f.position(6 + 6), (2, 5));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("evry", ["every", "url", "name"]), Some("every"));
        assert_eq!(
            suggest("max_byte", ["max_bytes", "kind"]),
            Some("max_bytes")
        );
        assert_eq!(suggest("zzzzzz", ["every", "url"]), None);
    }
}
