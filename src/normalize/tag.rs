//! The body of a hashtag or mention past its first word (`@posteo_aide`), which SPEC §4 has run
//! over underscores where words stop. Whether a word is a hashtag or a mention at all is the
//! walk's business (`WordKind`).

use unicode_normalization::char::is_combining_mark;

use super::fold::is_invisible;
use super::words;

/// The body of a hashtag or mention whose first word, folded to `word`, ends at byte `end` of
/// `text`, when the body goes on past that word: SPEC §4 has it run over letters, digits and
/// underscores (`@posteo_aide` is one mention), while the words stop at an underscore (`posteo`
/// and `aide` are two, which plain words match). The body is `word`, then each underscore
/// (`_`, or a full-width `＿`) and folded word up to its end: `posteo_aide`. None when the
/// body is `word` alone, as it nearly always is (one byte read).
#[inline]
pub fn tag_body(text: &str, end: usize, word: &[u8]) -> Option<String> {
    let rest = text.get(end..)?;
    if !rest.starts_with(['_', '\u{FF3F}']) {
        return None;
    }
    Some(tag_body_after(rest, word))
}

/// [`tag_body`] for a body that goes on with an underscore at the start of `rest`.
#[cold]
#[inline(never)]
fn tag_body_after(rest: &str, word: &[u8]) -> String {
    let underscore = |c: char| matches!(c, '_' | '\u{FF3F}');
    // Where the body ends: at the first character that is no underscore, letter or digit, nor
    // one that words ignore (a combining mark, a soft hyphen).
    let len = rest
        .char_indices()
        .find(|&(_, c)| {
            !(underscore(c)
                || (c.is_alphanumeric() && c != '\u{2BC}')
                || is_combining_mark(c)
                || is_invisible(c))
        })
        .map_or(rest.len(), |(i, _)| i);
    let rest = &rest[..len];
    let mut body = String::from_utf8_lossy(word).into_owned();
    let mut at = 0;
    for w in words(rest) {
        body.extend(
            rest[at..w.start]
                .chars()
                .filter(|&c| underscore(c))
                .map(|_| '_'),
        );
        body.push_str(&w.text);
        at = w.end;
    }
    body.extend(rest[at..].chars().filter(|&c| underscore(c)).map(|_| '_'));
    body
}
