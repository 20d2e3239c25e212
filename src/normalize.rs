//! Text normalisation: the one definition of "a word" shared by posts and queries (SPEC §4).
//!
//! A post's text and every query word go through the same folding, so that `réclamation`,
//! `RECLAMATION` and `reclamation` are one word: compatibility decomposition (the NFKC family),
//! combining marks dropped (accents), lower case, `œ`→`oe`, `æ`→`ae`, `ß`→`ss` and a few letters
//! that Unicode does not decompose (`ø`, `ł`, `đ`…). A word is a run of letters and digits;
//! everything else separates words (spaces, punctuation, both apostrophes, hyphens, emoji), also
//! inside a character's decomposition (`½` is `1⁄2`: the words `1` and `2`).
//! Invisible format characters (zero-width space, soft hyphen, bidi marks) are ignored inside a
//! word rather than splitting it, so `co\u{200B}lis` is still `colis`. URLs (`http://`, `https://`,
//! `www.`) are skipped whole. A word directly after `#` or `@` (or full-width `＃`, `＠`; itself
//! not glued to a previous word) is a hashtag or a mention.
//!
//! The hot path is [`for_each_word_where`], in three steps. First, 64 bytes at a time
//! (`block`; AVX-512 or AVX2 where the CPU has it, portable code otherwise), a lower-cased
//! copy of the text, which AVX-512 and AVX2 also fold: the common non-ASCII characters of French text — accented
//! Latin-1 letters, `’`, `«`, `»`, `…`, no-break spaces — are replaced by the one ASCII byte
//! that stands for them (`é` by `e`, `’` by `'`), so that `arrivé` or `l’ai` are plain ASCII
//! words from then on; and bit masks of the runs that may hold words. Then, without a branch
//! per run (`simd::pick`, eight runs at a time with AVX-512), the runs worth a closer look,
//! which are all of them except short ASCII words that the caller's [`WordFilter`] turns away.
//! All SIMD code (and its `unsafe`) is in `simd`, behind a safe API. Then
//! a walk over those, where a run of ASCII letters and digits is a word as it stands (a slice
//! of the copy), a run with one character left that folds to a letter or separates words is
//! quoted around it, and only the other runs (emoji, ligatures, other scripts) are folded one
//! character at a time. The offsets of the words handed over are mapped back to the text.
//! [`for_each_word`] keeps every word and skips the second step. No allocation per word once
//! the scratch [`Buffers`] have grown. Each word carries its position (0, 1, 2…) and its byte
//! range in the original text, so that alerts can quote the original. What the words mean is
//! the matcher's business, not this module's. HTML to text is the sources' job (they hand over
//! plain text).

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

mod block;
pub(crate) mod simd;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// What preceded a word: nothing special, `#` or `@`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WordKind {
    /// An ordinary word.
    Plain = 0,
    /// The body of a `#hashtag`.
    Hashtag = 1,
    /// The body of an `@mention`.
    Mention = 2,
}

/// One word of a text, as handed to [`for_each_word`]'s callback.
#[derive(Debug, Clone, Copy)]
pub struct Word<'a> {
    /// The folded word: lower case, no accents, UTF-8.
    pub text: &'a [u8],
    /// Position of the word in the text: 0 for the first word, 1 for the next…
    pub pos: u32,
    /// Byte offset of the word's first character in the original text.
    pub start: usize,
    /// Byte offset just past the word's last character in the original text.
    pub end: usize,
    /// Hashtag, mention or plain.
    pub kind: WordKind,
    /// `text` and at least 8 more bytes of anything (the tokenizer's padded buffers).
    tail: &'a [u8],
}

impl<'a> Word<'a> {
    /// A word whose folded bytes are `text`, the start of `tail` (which has 8 more bytes).
    #[inline(always)]
    fn new(
        text: &'a [u8],
        tail: &'a [u8],
        pos: u32,
        start: usize,
        end: usize,
        kind: WordKind,
    ) -> Word<'a> {
        Word {
            text,
            pos,
            start,
            end,
            kind,
            tail,
        }
    }

    /// The first 8 bytes of the folded word as a little-endian number, zero past its end:
    /// what the matcher's filters hash, read without a variable-length copy.
    #[inline(always)]
    pub fn first8(&self) -> u64 {
        let t: [u8; 8] = self.tail[..8].try_into().expect("8 bytes");
        u64::from_le_bytes(t) & low_bytes(self.text.len())
    }

    /// The first 16 bytes of the folded word as two little-endian numbers, zero past its
    /// end (the matcher's dictionary keys start so), read the same way as [`Word::first8`].
    #[inline(always)]
    pub fn first16(&self) -> [u64; 2] {
        let n = self.text.len();
        let second = if n > 8 {
            // `tail` holds the word and 8 more bytes: 16 at least.
            let t: [u8; 8] = self.tail[8..16].try_into().expect("8 bytes");
            u64::from_le_bytes(t) & low_bytes(n - 8)
        } else {
            0
        };
        [self.first8(), second]
    }
}

/// Masks of the first `k` bytes of 16 (`k` ≤ 16), as two little-endian `u64`s.
pub(crate) static HEAD_MASK: [[u64; 2]; 17] = {
    let mut t = [[0u64; 2]; 17];
    let mut k = 0;
    while k <= 16 {
        t[k] = [low_bytes(k), low_bytes(k.saturating_sub(8))];
        k += 1;
    }
    t
};

/// A mask of the `k` low bytes of a `u64` (all of them from 8 on), without a branch.
#[inline(always)]
pub const fn low_bytes(k: usize) -> u64 {
    let k = if k < 8 { k as u32 } else { 8 };
    // Two shifts, so that k = 0 (a shift by 64) stays defined.
    (u64::MAX >> (32 - 4 * k)) >> (32 - 4 * k)
}

/// An owned word, for callers that want the whole list (tests, FTS, `vigie match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormWord {
    /// The folded word.
    pub text: String,
    /// Position in the text.
    pub pos: u32,
    /// Byte range in the original text.
    pub start: usize,
    /// End of the byte range in the original text.
    pub end: usize,
    /// Hashtag, mention or plain.
    pub kind: WordKind,
}

/// Every word of `text`, folded, with positions and original byte ranges.
pub fn words(text: &str) -> Vec<NormWord> {
    let mut out = Vec::new();
    with_thread_buffers(text, |w| out.push(owned(w)));
    out
}

fn owned(w: Word<'_>) -> NormWord {
    NormWord {
        // The folded bytes are built from whole UTF-8 encodings only.
        text: String::from_utf8_lossy(w.text).into_owned(),
        pos: w.pos,
        start: w.start,
        end: w.end,
        kind: w.kind,
    }
}

/// [`for_each_word`] with this thread's scratch, so that [`words`] and [`folded`] (called once
/// per stored post) do not allocate it every time; fresh scratch if a caller up the stack
/// already holds it.
fn with_thread_buffers<F: FnMut(Word<'_>)>(text: &str, f: F) {
    thread_local! {
        static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
    }
    BUFFERS.with(|b| match b.try_borrow_mut() {
        Ok(mut b) => for_each_word(text, &mut b, f),
        Err(_) => for_each_word(text, &mut Buffers::default(), f),
    })
}

/// The folded words of `text` joined by single spaces (what full-text search indexes).
pub fn folded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    with_thread_buffers(text, |w| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&String::from_utf8_lossy(w.text));
    });
    out
}

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

/// The NFKC form of `text`, borrowed when it already is (regexes run on it, SPEC §4).
pub fn nfkc(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfkc().collect())
    }
}

/// What one non-ASCII character contributes to the folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    /// A letter or digit: append these folded bytes (possibly empty).
    Word([u8; 7], u8),
    /// A letter or digit whose decomposition holds characters that separate words (`½` is
    /// `1⁄2`, `⑴` is `(1)`): its folded bytes, with a space where each of those was. The
    /// words apart stay apart (SPEC §4: `½` is the words `1` and `2`, never `12`).
    Split([u8; 7], u8),
    /// A combining mark or an invisible format character: part of the word, adds nothing.
    Ignore,
    /// Anything else: ends the current word.
    Sep,
}

/// Blocks of code points folded from a table built once, by [`fold_slow`] itself (so the
/// tables cannot disagree with it): Latin-1 to Latin Extended-B; general punctuation (`’`,
/// `…`, zero-width characters) through dingbats and arrows; variation selectors to the
/// full-width forms; and the emoji planes. Everything else calls `fold_slow` directly.
const TABLE_BLOCKS: [(u32, u32); 4] = [
    (0x0080, 0x0250),
    (0x2000, 0x2C00),
    (0xFE00, 0x1_0000),
    (0x1_F000, 0x1_FB00),
];

struct FoldTables {
    /// The blocks of `TABLE_BLOCKS`, one after the other.
    folds: Vec<Fold>,
}

impl FoldTables {
    #[inline]
    fn fold(&self, cp: u32) -> Fold {
        let mut base = 0;
        for (lo, hi) in TABLE_BLOCKS {
            if cp < hi {
                if cp >= lo {
                    return self.folds[base + (cp - lo) as usize];
                }
                break;
            }
            base += (hi - lo) as usize;
        }
        char::from_u32(cp).map_or(Fold::Sep, fold_slow)
    }
}

fn fold_tables() -> &'static FoldTables {
    static TABLES: OnceLock<FoldTables> = OnceLock::new();
    TABLES.get_or_init(|| FoldTables {
        folds: TABLE_BLOCKS
            .iter()
            .flat_map(|&(lo, hi)| lo..hi)
            .map(|cp| char::from_u32(cp).map_or(Fold::Sep, fold_slow))
            .collect(),
    })
}

/// The characters step one folds in place, by their UTF-8 bytes: entry `cp - 0x80` for U+0080
/// to U+00FF (lead byte C2 or C3, then the low six bits of the second byte: `é`, `à`, `ç`,
/// `«`, the no-break space), entry `128 + cp - 0x2000` for U+2000 to U+203F (E2 80, then the
/// low six bits of the third byte: `’`, `…`, `–`, the narrow spaces). An entry is the one
/// ASCII byte that stands for the character in the folded text: the letter or digit it folds
/// to, a space for a white-space separator, an apostrophe for any other separator; or 0 for a
/// character left as it is (for `fold_run`). Built from the fold tables, so the two cannot
/// disagree; the separators' stand-ins are separators too, and end a URL exactly when the
/// character does (`skip_url`).
pub(crate) type FoldBytes = [u8; 192];

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn fold_bytes() -> &'static FoldBytes {
    static TABLE: OnceLock<FoldBytes> = OnceLock::new();
    TABLE.get_or_init(|| {
        let tables = fold_tables();
        std::array::from_fn(|i| {
            let i = i as u32;
            let cp = if i < 128 { 0x80 + i } else { 0x2000 + i - 128 };
            match tables.fold(cp) {
                Fold::Word([c, ..], 1) if c.is_ascii_alphanumeric() => c,
                Fold::Sep if char::from_u32(cp).is_some_and(char::is_whitespace) => b' ',
                Fold::Sep => b'\'',
                _ => 0,
            }
        })
    })
}

/// Letters that compatibility decomposition leaves alone but a French reader treats as others.
fn special_fold(c: char) -> Option<&'static str> {
    Some(match c {
        'œ' => "oe",
        'æ' => "ae",
        'ß' | 'ẞ' => "ss",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'ħ' => "h",
        'ı' => "i",
        'þ' => "th",
        'ς' => "σ",
        _ => return None,
    })
}

/// Invisible characters that must not split a word (soft hyphen, zero-width, bidi controls, BOM).
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF)
}

fn fold_slow(c: char) -> Fold {
    if is_invisible(c) || is_combining_mark(c) {
        return Fold::Ignore;
    }
    // U+02BC (modifier letter apostrophe) is a letter to Unicode but an apostrophe to writers.
    if !c.is_alphanumeric() || c == '\u{02BC}' {
        return Fold::Sep;
    }
    let mut out = String::new();
    fold_into(c, &mut out, 0);
    // A separator inside the decomposition is a space in `out`.
    let split = out.contains(' ');
    let bytes = out.as_bytes();
    let mut buf = [0u8; 7];
    let n = bytes.len().min(7);
    // Longer expansions (a handful of CJK compatibility squares) are cut at a char boundary.
    let n = (0..=n)
        .rev()
        .find(|&k| out.is_char_boundary(k))
        .unwrap_or(0);
    buf[..n].copy_from_slice(&bytes[..n]);
    if split {
        Fold::Split(buf, n as u8)
    } else {
        Fold::Word(buf, n as u8)
    }
}

/// Appends the folded form of `c`. Folding must be idempotent (the fuzzer checks it), so each
/// produced character is folded again until it is stable: `ŉ` decomposes to `ʼn`, whose `ʼ` is
/// an apostrophe and must go.
fn fold_into(c: char, out: &mut String, depth: u8) {
    decompose_compatible(c, |d| {
        if is_combining_mark(d) || is_invisible(d) {
            return;
        }
        if d == '\u{02BC}' {
            // The apostrophe of `ŉ` (`ʼn`) separates words, as it does in the NFKC text.
            out.push(' ');
            return;
        }
        for l in d.to_lowercase() {
            if let Some(s) = special_fold(l) {
                out.push_str(s);
            } else if !l.is_alphanumeric() {
                // Punctuation inside a decomposition (the fraction slash of `½` → `1⁄2`)
                // separates words, as it does in the NFKC text: a space marks it.
                out.push(' ');
            } else if l.is_ascii() || depth >= 2 {
                out.push(l);
            } else {
                fold_into(l, out, depth + 1);
            }
        }
    });
}

#[inline]
fn starts_with_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

/// Whether a URL starts at `i` (`http://`, `https://`, `www.`).
#[inline]
fn url_at(bytes: &[u8], i: usize) -> bool {
    let rest = &bytes[i..];
    starts_with_ignore_case(rest, b"http://")
        || starts_with_ignore_case(rest, b"https://")
        || starts_with_ignore_case(rest, b"www.")
}

/// The end of the URL starting at `i`: the next whitespace or `<`, `>`, `"`.
fn skip_url(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if b.is_ascii_whitespace() || b == 0x0B || matches!(b, b'<' | b'>' | b'"') {
                return i;
            }
            i += 1;
        } else {
            let (cp, len) = decode(bytes, i);
            if char::from_u32(cp).is_some_and(char::is_whitespace) {
                return i;
            }
            i += len;
        }
    }
    bytes.len()
}

/// The code point starting at `i` and its length in bytes.
#[inline(always)]
fn decode(bytes: &[u8], i: usize) -> (u32, usize) {
    // `bytes` is valid UTF-8 (it comes from a `str`) and `i` is always at a char boundary: the
    // scan only stops on ASCII bytes or whole chars.
    let b0 = bytes[i] as u32;
    let cont = |k: usize| (bytes[i + k] & 0x3F) as u32;
    if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | cont(1), 2)
    } else if b0 < 0xF0 {
        (((b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}

/// Scratch space for [`for_each_word`], reused across calls.
#[derive(Debug, Default)]
pub struct Buffers {
    /// The folded text of a word that needs more than ASCII lower-casing.
    buf: Vec<u8>,
    /// The text with ASCII letters lower-cased, folded with AVX-512 (see [`FoldBytes`]), then
    /// 16 zero bytes. Steps two and three work on it: the offsets of the words handed over are
    /// mapped back to the text (`origin`, `bases`).
    lower: Vec<u8>,
    /// The length of the folded text in `lower` (the text's length when nothing was folded).
    folded: usize,
    /// Per byte of the folded text (and one past its end): how far ahead the text is there
    /// (its offset in the text minus its offset in `lower`), modulo 256. Within 64 bytes of the
    /// folded text that distance grows by less than 256, so this and `bases` give it whole.
    origin: Vec<u8>,
    /// Per 64 bytes of the folded text: how far ahead the text is at the first of them.
    bases: Vec<usize>,
    /// Per block of the folded text: bit k set when byte k is not ASCII; then one zero mask
    /// past the last block.
    non_ascii: Vec<u64>,
    /// Where runs of word bytes start and end (exclusive), alternately.
    edges: Vec<usize>,
    /// The indices of the runs step two picked for a closer look.
    picked: Vec<u32>,
}

/// `#` and `@` before a word make it a hashtag or a mention; any other byte, a plain word.
static KIND: [WordKind; 256] = {
    let mut t = [WordKind::Plain; 256];
    t[b'#' as usize] = WordKind::Hashtag;
    t[b'@' as usize] = WordKind::Mention;
    t
};

/// Which words [`for_each_word_where`] hands over: a cheap test on a folded word's first 8
/// bytes (zero past its end, as [`Word::first8`]) and its length in bytes. It may say yes to
/// words the caller does not want (it is a filter, such as the matcher's Bloom filter), but a
/// word it says no to is never handed over. A filter may also want some words only at some
/// positions ([`WordFilter::keep_at`]), such as right after a word the caller cared about.
pub trait WordFilter {
    /// Whether the word may be wanted.
    fn keep(&self, first8: u64, len: usize) -> bool;

    /// Whether every word is wanted: the tokenizer then skips step two and walks every run.
    #[inline(always)]
    fn keeps_all(&self) -> bool {
        false
    }

    /// [`WordFilter::keep`] for eight words at once: bit k for word k. The tokenizer asks
    /// this on CPUs with AVX-512, where an implementation can test the eight in one go.
    #[inline]
    fn keep8(&self, first8: &[u64; 8], len: &[u64; 8]) -> u8 {
        let mut m = 0;
        for k in 0..8 {
            m |= (self.keep(first8[k], len[k] as usize) as u8) << k;
        }
        m
    }

    /// Whether the word at position `pos`, which [`WordFilter::keep`] turned away, is wanted
    /// all the same: for a filter that wants some words only right after others (the later
    /// words of a phrase, often common ones like `de`, that `keep` need not let through).
    #[inline(always)]
    fn keep_at(&self, _pos: u32, _first8: u64, _len: usize) -> bool {
        false
    }

    /// Whether [`WordFilter::keep_at`] may keep a word at position `pos`: the walk then looks
    /// at that word even if step two skipped it. Asked between the runs step two picked, so
    /// its answer may depend on the words handed over so far.
    #[inline(always)]
    fn follows(&self, _pos: u32) -> bool {
        false
    }
}

/// Every word: the filter of [`for_each_word`].
#[derive(Debug, Clone, Copy)]
pub struct EveryWord;

impl WordFilter for EveryWord {
    #[inline(always)]
    fn keep(&self, _: u64, _: usize) -> bool {
        true
    }

    #[inline(always)]
    fn keeps_all(&self) -> bool {
        true
    }

    #[inline(always)]
    fn keep8(&self, _: &[u64; 8], _: &[u64; 8]) -> u8 {
        0xFF
    }
}

/// Calls `f` with every word of `text`, in order. `b` is scratch space, reused across calls.
#[inline]
pub fn for_each_word<F: FnMut(Word<'_>)>(text: &str, b: &mut Buffers, f: F) {
    for_each_word_where(text, b, &EveryWord, f)
}

/// Calls `f` with the words of `text` that `filter` may want, in order; positions still count
/// every word.
///
/// Three steps. The first (`step_one`, `block`) makes the folded, lower-cased copy of the text
/// and the edges of every run of bytes that may belong to a word, 64 bytes at a time. The
/// second (`simd::pick`) looks at every run without a branch: a run of at most 16 ASCII letters and
/// digits that does not start a URL and that `filter` turns away is a word nobody wants, and
/// is only counted. The third walks the other runs: a run of ASCII letters and digits is a word
/// as it stands, quoted from the copy; a run with one character left that folds to a letter or
/// separates words (step one folds most of them with AVX-512, not without) is quoted the same
/// way around that character (`Walk::one_char`); any other run that holds non-ASCII (an
/// emoji, a ligature) goes to [`fold_run`], which folds it character by character and may
/// find several words in it or none. Steps two and three work on the copy; the words handed
/// to `f` carry their offsets in `text` (`Offsets`).
#[inline(always)]
pub fn for_each_word_where<W, F>(text: &str, b: &mut Buffers, filter: &W, f: F)
where
    W: WordFilter + ?Sized,
    F: FnMut(Word<'_>),
{
    words_where(text, b, filter, f, tier())
}

/// Which code step one runs: each tier finds the same words, the later ones faster. The SIMD
/// tiers carry the token that proves the CPU runs them (`simd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    /// Byte at a time where a block holds non-ASCII; nothing folded in step one.
    Portable,
    /// AVX2: the common characters folded in step one (`simd::fold_avx2`).
    Avx2(simd::Avx2),
    /// AVX-512 with VBMI2: step one folds with byte permutes and compresses.
    Avx512(simd::Avx512),
}

/// The best tier this CPU runs.
#[inline]
fn tier() -> Tier {
    if let Some(cpu) = simd::Avx512::get() {
        return Tier::Avx512(cpu);
    }
    if let Some(cpu) = simd::Avx2::get() {
        return Tier::Avx2(cpu);
    }
    Tier::Portable
}

/// [`for_each_word_where`], with step one of the given tier.
#[inline(always)]
fn words_where<W, F>(text: &str, b: &mut Buffers, filter: &W, mut f: F, tier: Tier)
where
    W: WordFilter + ?Sized,
    F: FnMut(Word<'_>),
{
    let count = step_one(text.as_bytes(), b, tier);
    let runs = count / 2;
    // Step two (see below), before steps three's borrows of `b`: the runs that need a closer
    // look, one branch-free step each.
    let picked = if filter.keeps_all() {
        0
    } else {
        simd::pick(simd::Avx512::get(), b, count, filter)
    };
    // Steps two and three work on the folded text; the words handed over get their offsets
    // in the text.
    let offsets = Offsets {
        origin: &b.origin,
        bases: &b.bases,
        same: b.folded == text.len(),
    };
    let mut f = in_text(&offsets, &mut f);

    // With the slack past `count`, so that `edges[2 * runs]` can be read (and ignored).
    let edges = &b.edges[..];
    let mut walk = Walk {
        bytes: &b.lower[..b.folded],
        lower: &b.lower,
        non_ascii: &b.non_ascii,
        anchor: 0,
        anchor_kind: WordKind::Plain,
        pos: 0,
    };
    if filter.keeps_all() {
        // Every word is wanted: no run to skip, step three walks them all.
        for r in 0..runs {
            walk.run(edges[2 * r], edges[2 * r + 1], filter, &mut b.buf, &mut f);
        }
        drop(f);
        b.shrink();
        return;
    }

    // Step two picked the runs that need a closer look (`simd::pick`), above.

    // Step three. Runs between two picked ones are plain ASCII words nobody wants: they only
    // move the position on, and leave the state a word leaves (`Walk::run`).
    let mut next = 0;
    for &r in b.picked[..picked].iter().chain([&(runs as u32)]) {
        let r = r as usize;
        // Runs step two skipped that need a look all the same, one by one: those a URL covers
        // or cuts, and words right after a handed-over one that the filter may want there.
        // (The URL test first because a run starting before the anchor is rare, and a gap
        // between picked runs is not.)
        while next < r && (edges[2 * next] < walk.anchor || filter.follows(walk.pos)) {
            walk.run(
                edges[2 * next],
                edges[2 * next + 1],
                filter,
                &mut b.buf,
                &mut f,
            );
            next += 1;
        }
        // Selects rather than a branch: whether picked runs are adjacent is anyone's guess.
        let skipped = r - next;
        let after_last = edges[(2 * r).max(1) - 1] + 1;
        walk.pos += skipped as u32;
        (walk.anchor, walk.anchor_kind) = if skipped > 0 {
            (after_last, WordKind::Plain)
        } else {
            (walk.anchor, walk.anchor_kind)
        };
        if r == runs {
            break;
        }
        walk.run(edges[2 * r], edges[2 * r + 1], filter, &mut b.buf, &mut f);
        next = r + 1;
    }
    drop(f);
    b.shrink();
}

/// Hands `word` to `f` if `filter` keeps it. Inlined: a call per word here cost as much as
/// the rest of a run's handling.
#[inline(always)]
fn offer<W, F>(filter: &W, f: &mut F, word: Word<'_>)
where
    W: WordFilter + ?Sized,
    F: FnMut(Word<'_>),
{
    let (first8, len) = (word.first8(), word.text.len());
    if filter.keep(first8, len) || filter.keep_at(word.pos, first8, len) {
        f(word);
    }
}

/// Step one of [`for_each_word_where`]: fills `b.lower` with the lower-cased text, folded
/// (see [`FoldBytes`]) with AVX2 or AVX-512, `b.non_ascii`, `b.origin`, `b.bases` and the first
/// `count` slots of `b.edges`, and returns `count` (twice the number of runs).
///
/// With AVX-512 (byte permutes for the table, a compress for the folded bytes, compressed
/// stores of the edges) or AVX2 (`simd::fold_avx2`: compares find the characters, a few per
/// block, overlapping copies drop their other bytes) the common characters are folded here.
/// Without either they are not: folding them one at a time here (`block::fold_portable`, the
/// definition the others are tested against) cost more than it saved, so step three folds
/// them as it did before (`Walk::one_char`), on a copy whose offsets are those of the text.
#[inline(always)]
fn step_one(bytes: &[u8], b: &mut Buffers, tier: Tier) -> usize {
    match tier {
        Tier::Avx512(cpu) => cpu.step_one(bytes, b),
        Tier::Avx2(cpu) => cpu.step_one(bytes, b),
        Tier::Portable => step_one_with(
            bytes,
            b,
            |src, dst, _, _| block::copy_portable(src, dst, block::classify),
            flatten,
        ),
    }
}

/// The body of [`step_one`]: `fold` takes up to 64 bytes of text (fewer for the last block)
/// and writes their folded bytes to the start of the slices it is given (128 bytes, for
/// overlapping stores), as
/// `block::fold_portable`; `flatten` as [`flatten`]. The folded bytes of each block follow
/// those of the one before, and so do their mask bits, which are regrouped 64 to a word for
/// the edges and `non_ascii`.
#[inline(always)]
fn step_one_with(
    bytes: &[u8],
    b: &mut Buffers,
    fold: impl Fn(&[u8], &mut [u8], &mut [u8], u8) -> (u64, u64, u64, u32),
    flatten: impl Fn(u64, usize, &mut [usize]) -> usize,
) -> usize {
    let n = bytes.len();
    let blocks = n / block::BLOCK + 1;
    // Room for 128 bytes of stores at any block's folded offset (which is at most the block's
    // offset in the text: the folded text is never longer), and for the 16 zero bytes after
    // the folded text, so that 16-byte reads at any word byte stay in bounds and read the same
    // on every call.
    b.lower.resize(blocks * block::BLOCK + block::BLOCK + 16, 0);
    b.origin.resize(b.lower.len(), 0);
    b.non_ascii.clear();
    b.bases.clear();
    b.bases.push(0);
    let mut count = 0;
    let mut carry = 0u64;
    let mut folded = 0;
    // Mask bits of the folded bytes not yet grouped into a word, and how many.
    let (mut word_bits, mut high_bits, mut bits) = (0u64, 0u64, 0u32);
    let mut at = 0;
    let mut emit = |b: &mut Buffers, word: u64, high: u64| {
        b.non_ascii.push(high);
        let edges = word ^ (word << 1 | carry);
        carry = word >> 63;
        // Room for this block's edges, the garbage the unrolled writes leave, and one slot
        // that step three reads past the last edge.
        if b.edges.len() <= count + block::BLOCK {
            b.edges
                .resize((count + block::BLOCK + 1).max(2 * b.edges.len()), 0);
        }
        count += flatten(edges, at, &mut b.edges[count..count + block::BLOCK]);
        at += block::BLOCK;
    };
    for k in 0..blocks {
        let start = k * block::BLOCK;
        let src = &bytes[start..(start + block::BLOCK).min(n)];
        // How far the text is ahead of the folded text at this block's first byte (which is
        // always kept: a block never starts inside a character it folds).
        let ahead = start - folded;
        let (word, high, kept, len) = fold(
            src,
            &mut b.lower[folded..folded + 2 * block::BLOCK],
            &mut b.origin[folded..folded + 2 * block::BLOCK],
            ahead as u8,
        );
        folded += len as usize;
        if bits + len < 64 {
            word_bits |= word << bits;
            high_bits |= high << bits;
            bits += len;
        } else {
            emit(b, word_bits | word << bits, high_bits | high << bits);
            let used = 64 - bits;
            (word_bits, high_bits) = if used < 64 {
                (word >> used, high >> used)
            } else {
                (0, 0)
            };
            bits = bits + len - 64;
            // The next group starts at this block's written byte number `used`, or just past
            // the block: how far the text is ahead there. Within the block that is `ahead`
            // plus the bytes dropped before it (fewer than 64), which `origin` holds modulo
            // 256; a block that dropped nothing (every block without AVX-512, whose fold
            // leaves `origin` alone) keeps `ahead`.
            b.bases.push(if used >= len {
                start + src.len() - folded
            } else if kept & kept.wrapping_add(1) == 0 {
                ahead
            } else {
                let at = folded - len as usize + used as usize;
                ahead + b.origin[at].wrapping_sub(ahead as u8) as usize
            });
        }
    }
    b.origin[folded] = (n - folded) as u8;
    // The last, partial group: zeros past the folded text.
    emit(b, word_bits, high_bits);
    // The 64-byte stores left zeros after each block's bytes, but perhaps fewer than 16.
    b.lower[folded..folded + 16].fill(0);
    b.folded = folded;
    // Past the last block, for windows that read two masks.
    b.non_ascii.push(0);
    count
}

/// `f`, handed words with their offsets in the text. Inlined, as `f` is into it: the words
/// reach `f` in the same code.
#[inline(always)]
fn in_text<'a, F: FnMut(Word<'_>)>(
    offsets: &'a Offsets<'a>,
    f: &'a mut F,
) -> impl FnMut(Word<'_>) + 'a {
    #[inline(always)]
    move |w| f(offsets.word(w))
}

/// Where the bytes of the folded text come from in the original one.
struct Offsets<'a> {
    /// `Buffers::origin` and `Buffers::bases`.
    origin: &'a [u8],
    bases: &'a [usize],
    /// Whether nothing was folded (the offsets are the same).
    same: bool,
}

impl Offsets<'_> {
    /// The offset in the text of the byte at `f` in the folded text (or of the end).
    #[inline(always)]
    fn original(&self, f: usize) -> usize {
        let base = self.bases[f / block::BLOCK];
        f + base + self.origin[f].wrapping_sub(base as u8) as usize
    }

    /// `word` with its offsets in the text.
    #[inline(always)]
    fn word<'w>(&self, mut word: Word<'w>) -> Word<'w> {
        if !self.same {
            (word.start, word.end) = (self.original(word.start), self.original(word.end));
        }
        word
    }
}

/// Step three's state: how far the words go and what the next one is.
struct Walk<'a> {
    /// The copy of step one, as long as the folded text: what URLs and characters are read in.
    bytes: &'a [u8],
    /// The same with its 16 zero bytes after, for 16-byte reads.
    lower: &'a [u8],
    non_ascii: &'a [u64],
    /// Bytes before `anchor` are done; a word starting at `anchor` is of kind `anchor_kind`,
    /// one starting later takes its kind from the byte before it.
    anchor: usize,
    anchor_kind: WordKind,
    /// The next word's position.
    pos: u32,
}

impl Walk<'_> {
    /// The words of the run `s..e`.
    #[inline(always)]
    fn run<W, F>(&mut self, s: usize, e: usize, filter: &W, buf: &mut Vec<u8>, f: &mut F)
    where
        W: WordFilter + ?Sized,
        F: FnMut(Word<'_>),
    {
        let (bytes, lower) = (self.bytes, self.lower);
        if e <= self.anchor {
            return;
        }
        let (s, kind, cut) = if s < self.anchor {
            // A run that a URL ending on a non-ASCII space cut: the rest goes to `fold_run`.
            (self.anchor, self.anchor_kind, true)
        } else {
            // `s == anchor` (one separator) about as often as not (several): both values are
            // computed, so that this can be a conditional move rather than a branch.
            let before = KIND[bytes[s.max(1) - 1] as usize];
            let kind = if s == self.anchor {
                self.anchor_kind
            } else {
                before
            };
            (s, kind, false)
        };
        if cut || has_non_ascii(self.non_ascii, s, e) {
            if !cut && self.one_char(s, e, kind, filter, buf, f) {
                return;
            }
            (self.anchor, self.anchor_kind, self.pos) = fold_run(
                bytes,
                lower,
                self.non_ascii,
                s,
                e,
                kind,
                self.pos,
                buf,
                filter,
                f,
            );
            return;
        }
        let head = u32::from_le_bytes(lower[s..s + 4].try_into().expect("4 bytes"));
        if (head == u32::from_le_bytes(*b"http") || head == u32::from_le_bytes(*b"www."))
            && url_at(bytes, s)
        {
            self.anchor = skip_url(bytes, s);
            self.anchor_kind = WordKind::Plain;
            return;
        }
        offer(
            filter,
            f,
            Word::new(&lower[s..e], &lower[s..], self.pos, s, e, kind),
        );
        self.pos += 1;
        // The byte after the word is ASCII and not a letter: a separator, or a `#` or `@`
        // glued to the word, which does not start a hashtag or mention.
        self.anchor = e + 1;
        self.anchor_kind = WordKind::Plain;
    }

    /// The run `s..e` (of kind `kind`) when its only non-ASCII character is a letter that folds
    /// to one ASCII letter (`é`, `č`) or a separator (`’`, `☀`): four runs in five that hold
    /// non-ASCII in French text, where step one did not fold it (without AVX-512, or a letter
    /// beyond Latin-1, a rarer separator, a character cut by a block's end). Such a run is at
    /// most two words, quoted from the lower-cased copy, with no character-by-character
    /// folding. Returns false, having done nothing, for any other run: [`fold_run`] takes it.
    #[inline(always)]
    fn one_char<W, F>(
        &mut self,
        s: usize,
        e: usize,
        kind: WordKind,
        filter: &W,
        buf: &mut Vec<u8>,
        f: &mut F,
    ) -> bool
    where
        W: WordFilter + ?Sized,
        F: FnMut(Word<'_>),
    {
        let (bytes, lower) = (self.bytes, self.lower);
        let ahead = self.non_ascii[s / block::BLOCK] >> (s % block::BLOCK);
        if ahead == 0 {
            return false;
        }
        let p = s + ahead.trailing_zeros() as usize;
        let (cp, width) = decode(bytes, p);
        let q = p + width;
        if p - s > 16 || e - q > 16 || non_ascii_within_16(self.non_ascii, q, e) {
            return false;
        }
        // A URL may start at either ASCII stretch: `fold_run` knows what to do with it. (With
        // no stretch before the character, `lower[s]` is its first byte; with none after,
        // `lower[q]` is the separator after the run: neither is `h` or `w`.)
        let hw = |i: usize| matches!(lower[i], b'h' | b'w');
        if (hw(s) | hw(q)) && (url_at(bytes, s) || url_at(bytes, q)) {
            return false;
        }
        match fold_tables().fold(cp) {
            Fold::Word([c, ..], 1) if c < 0x80 => {
                // The stretch before, the letter, the stretch after: 16-byte copies.
                grow(buf, 48);
                let (a, b) = (p - s, e - q);
                buf[..16].copy_from_slice(&lower[s..s + 16]);
                buf[a] = c;
                buf[a + 1..a + 17].copy_from_slice(&lower[q..q + 16]);
                let word = Word::new(&buf[..a + 1 + b], buf, self.pos, s, e, kind);
                offer(filter, f, word);
                self.pos += 1;
                self.anchor = e + 1;
            }
            // Not a full-width `＃` or `＠`, which marks the word after it (`fold_run`).
            Fold::Sep if !matches!(cp, 0xFF03 | 0xFF20) => {
                if p > s {
                    let word = Word::new(&lower[s..p], &lower[s..], self.pos, s, p, kind);
                    offer(filter, f, word);
                    self.pos += 1;
                }
                // After a separator, a word is plain; a run ending in one leaves the kind of
                // the next run to the byte before it.
                self.anchor = e;
                if q < e {
                    let word =
                        Word::new(&lower[q..e], &lower[q..], self.pos, q, e, WordKind::Plain);
                    offer(filter, f, word);
                    self.pos += 1;
                    self.anchor = e + 1;
                }
            }
            _ => return false,
        }
        self.anchor_kind = WordKind::Plain;
        true
    }
}

impl Buffers {
    /// Scratch larger than this is given back after the post that needed it.
    const KEEP: usize = 1 << 20;

    /// Gives back the memory a very long post made the buffers grow to, so that one 10 MB
    /// post does not pin tens of megabytes in a long-lived scratch.
    fn shrink(&mut self) {
        if self.lower.capacity() > Self::KEEP || self.buf.capacity() > Self::KEEP {
            *self = Buffers::default();
        } else if self.edges.capacity() * std::mem::size_of::<usize>() > Self::KEEP {
            self.edges = Vec::new();
            self.picked = Vec::new();
        }
    }
}

/// Writes the positions of the set bits of `edges` (plus `at`) to the start of `out`, and
/// returns how many there are. Eight at a time, unconditionally, so that the loop does not
/// mispredict on every block: the slots past the count get garbage.
#[inline(always)]
fn flatten(mut edges: u64, at: usize, out: &mut [usize]) -> usize {
    let count = edges.count_ones() as usize;
    let mut k = 0;
    loop {
        for slot in &mut out[k..k + 8] {
            *slot = at + edges.trailing_zeros() as usize;
            edges &= edges.wrapping_sub(1);
        }
        k += 8;
        if k >= count {
            return count;
        }
    }
}

/// Whether bytes `s..e` (a non-empty run) hold a non-ASCII byte.
#[inline(always)]
fn has_non_ascii(masks: &[u64], s: usize, e: usize) -> bool {
    let (first, last) = (s / block::BLOCK, (e - 1) / block::BLOCK);
    if first == last {
        let len = e - s;
        masks[first] >> (s % block::BLOCK) & (u64::MAX >> (64 - len)) != 0
    } else {
        let head = masks[first] >> (s % block::BLOCK) != 0;
        let tail = masks[last] & (u64::MAX >> (63 - (e - 1) % block::BLOCK)) != 0;
        head || tail || masks[first + 1..last].iter().any(|&m| m != 0)
    }
}

/// Whether bytes `s..e` (at most 16, possibly none) hold a non-ASCII byte, without a branch:
/// `masks` ends with a zero mask past the text's last block.
#[inline(always)]
fn non_ascii_within_16(masks: &[u64], s: usize, e: usize) -> bool {
    let block = s / block::BLOCK;
    let window = (masks[block] as u128 | (masks[block + 1] as u128) << 64) >> (s % block::BLOCK);
    debug_assert!(e - s <= 16);
    window as u64 & ((1u64 << (e - s)) - 1) != 0
}

/// Makes `buf` at least `need` bytes long, at least doubling it: scratch grows with what a
/// post needs, not with a bound on what it could need.
#[inline(always)]
fn grow(buf: &mut Vec<u8>, need: usize) {
    if buf.len() < need {
        buf.resize(need.max(2 * buf.len()), 0);
    }
}

/// Folds the run of word bytes `i..e` that holds non-ASCII characters (or that a URL cut):
/// stretches of ASCII letters are copied from the lower-cased text 16 bytes at a time, other
/// characters are folded one by one. Letters extend the word in progress, invisible characters
/// are skipped (inside a word or not), any other character ends the word. A URL can start
/// after such a character. `pending` is the kind of a word starting at `i`. Returns where the
/// next run may start, the kind of a word starting there, and the next word position.
#[allow(clippy::too_many_arguments)]
#[inline]
fn fold_run<W: WordFilter + ?Sized, F: FnMut(Word<'_>)>(
    bytes: &[u8],
    lower: &[u8],
    non_ascii: &[u64],
    mut i: usize,
    e: usize,
    mut pending: WordKind,
    mut pos: u32,
    buf: &mut Vec<u8>,
    filter: &W,
    f: &mut F,
) -> (usize, WordKind, u32) {
    let tables = fold_tables();
    let mut len = 0;
    let mut in_word = false;
    let (mut start, mut end, mut kind) = (i, i, WordKind::Plain);
    let mut emit = |buf: &[u8], len: usize, start, end, kind, pos: &mut u32| {
        if len > 0 {
            offer(
                filter,
                f,
                Word::new(&buf[..len], buf, *pos, start, end, kind),
            );
            *pos += 1;
        }
    };
    while i < e {
        // The ASCII letters and digits from `i` up to the next non-ASCII byte.
        let block = i / block::BLOCK;
        let ahead = non_ascii[block] >> (i % block::BLOCK);
        let stop = if ahead == 0 {
            (block + 1) * block::BLOCK
        } else {
            i + ahead.trailing_zeros() as usize
        }
        .min(e);
        if stop > i {
            if !in_word {
                if matches!(lower[i], b'h' | b'w') && url_at(bytes, i) {
                    return (skip_url(bytes, i), WordKind::Plain, pos);
                }
                (in_word, start, kind, pending, len) = (true, i, pending, WordKind::Plain, 0);
            }
            // Room for the stretch, the slack of the 16-byte copies, and the 8 bytes past the
            // word that `Word::first8` reads.
            grow(buf, len + (stop - i) + 16);
            let mut k = 0;
            while k < stop - i {
                buf[len + k..len + k + 16].copy_from_slice(&lower[i + k..i + k + 16]);
                k += 16;
            }
            len += stop - i;
            (i, end) = (stop, stop);
            continue;
        }
        let (cp, n) = decode(bytes, i);
        match tables.fold(cp) {
            Fold::Word(w, k) => {
                if !in_word {
                    (in_word, start, kind, pending, len) = (true, i, pending, WordKind::Plain, 0);
                }
                grow(buf, len + 16);
                buf[len..len + 7].copy_from_slice(&w);
                len += k as usize;
                end = i + n;
            }
            Fold::Split(w, k) => {
                // Words apart inside one character (`½`): a space ends the word in progress,
                // any other byte extends it or starts one. All of them quote the character.
                for &c in &w[..k as usize] {
                    if c == b' ' {
                        if in_word {
                            emit(buf, len, start, end, kind, &mut pos);
                            in_word = false;
                        }
                        pending = WordKind::Plain;
                        continue;
                    }
                    if !in_word {
                        (in_word, start, kind, pending, len) =
                            (true, i, pending, WordKind::Plain, 0);
                    }
                    grow(buf, len + 16);
                    buf[len] = c;
                    len += 1;
                    end = i + n;
                }
            }
            Fold::Ignore => {}
            Fold::Sep => {
                // Full-width `＃` and `＠` are `#` and `@` (NFKC), marks when not glued to a word.
                pending = match cp {
                    0xFF03 if !in_word => WordKind::Hashtag,
                    0xFF20 if !in_word => WordKind::Mention,
                    _ => WordKind::Plain,
                };
                if in_word {
                    emit(buf, len, start, end, kind, &mut pos);
                    in_word = false;
                }
            }
        }
        i += n;
    }
    if !in_word {
        return (e, pending, pos);
    }
    emit(buf, len, start, end, kind, &mut pos);
    // A `#` or `@` glued to the end of a word does not start a hashtag or mention.
    let glued = matches!(bytes.get(e), Some(b'#' | b'@'));
    (e + glued as usize, WordKind::Plain, pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Byte classes of the reference.
    const SEP: u8 = 0;
    const LOWER: u8 = 1; // a-z, 0-9: already folded
    const UPPER: u8 = 2; // A-Z
    const HASH: u8 = 4;
    const AT: u8 = 8;
    const NON_ASCII: u8 = 16;

    static CLASS: [u8; 256] = {
        let mut t = [SEP; 256];
        let mut b = 0;
        while b < 256 {
            t[b] = match b as u8 {
                b'a'..=b'z' | b'0'..=b'9' => LOWER,
                b'A'..=b'Z' => UPPER,
                b'#' => HASH,
                b'@' => AT,
                0x80..=0xff => NON_ASCII,
                _ => SEP,
            };
            b += 1;
        }
        t
    };

    /// The first, byte-at-a-time `for_each_word`, kept as the definition the fast one must match.
    fn reference<F: FnMut(NormWord)>(text: &str, buf: &mut Vec<u8>, mut f: F) {
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut i = 0;
        let mut pos = 0u32;
        let mut pending = WordKind::Plain;
        while i < n {
            // Between words: find the next word start, remembering a `#` or `@` right before it.
            let b = bytes[i];
            match CLASS[b as usize] {
                SEP => {
                    pending = WordKind::Plain;
                    i += 1;
                    continue;
                }
                HASH => {
                    pending = WordKind::Hashtag;
                    i += 1;
                    continue;
                }
                AT => {
                    pending = WordKind::Mention;
                    i += 1;
                    continue;
                }
                NON_ASCII => {
                    let c = ref_decode(text, i);
                    match fold_slow(c) {
                        Fold::Word(..) | Fold::Split(..) => {}
                        Fold::Ignore => {
                            i += c.len_utf8();
                            continue;
                        }
                        Fold::Sep => {
                            pending = match c {
                                '＃' => WordKind::Hashtag,
                                '＠' => WordKind::Mention,
                                _ => WordKind::Plain,
                            };
                            i += c.len_utf8();
                            continue;
                        }
                    }
                }
                _ => {
                    if matches!(b | 0x20, b'h' | b'w') && url_at(bytes, i) {
                        i = ref_skip_url(text, i);
                        pending = WordKind::Plain;
                        continue;
                    }
                }
            }
            let mut start = i;
            let mut kind = pending;
            pending = WordKind::Plain;
            // Fast path: a run of lower-case ASCII letters and digits ending on ASCII.
            while i < n && CLASS[bytes[i] as usize] == LOWER {
                i += 1;
            }
            if i > start && (i == n || matches!(CLASS[bytes[i] as usize], SEP | HASH | AT)) {
                emit(&mut f, &bytes[start..i], &mut pos, start..i, kind);
                // A `#` or `@` glued to the end of a word does not start a hashtag or mention.
                if i < n && CLASS[bytes[i] as usize] != SEP {
                    i += 1;
                }
                continue;
            }
            // Slow path: fold character by character into `buf`.
            buf.clear();
            buf.extend_from_slice(&bytes[start..i]);
            let mut end = i;
            // Whether a character's inner separator ended the word (then a `#` or `@` right
            // after it is not glued to a word).
            let mut ended = false;
            while i < n {
                let b = bytes[i];
                match CLASS[b as usize] {
                    LOWER => buf.push(b),
                    UPPER => buf.push(b | 0x20),
                    NON_ASCII => {
                        let c = ref_decode(text, i);
                        match fold_slow(c) {
                            Fold::Word(s, len) => {
                                buf.extend_from_slice(&s[..len as usize]);
                                i += c.len_utf8();
                                end = i;
                            }
                            Fold::Split(s, len) => {
                                // `½`: the words of its decomposition, apart.
                                let (a, z) = (i, i + c.len_utf8());
                                for (k, piece) in
                                    s[..len as usize].split(|&b| b == b' ').enumerate()
                                {
                                    if k > 0 {
                                        if !buf.is_empty() {
                                            emit(&mut f, buf, &mut pos, start..end, kind);
                                        }
                                        buf.clear();
                                        kind = WordKind::Plain;
                                    }
                                    if !piece.is_empty() {
                                        if buf.is_empty() {
                                            start = a;
                                        }
                                        buf.extend_from_slice(piece);
                                        end = z;
                                    }
                                }
                                i = z;
                                if s[len as usize - 1] == b' ' {
                                    ended = true;
                                    break;
                                }
                            }
                            Fold::Ignore => i += c.len_utf8(),
                            Fold::Sep => break,
                        }
                        continue;
                    }
                    _ => break,
                }
                i += 1;
                end = i;
            }
            if !buf.is_empty() {
                emit(&mut f, buf, &mut pos, start..end, kind);
            }
            if !ended && i < n && matches!(CLASS[bytes[i] as usize], HASH | AT) {
                i += 1;
            } else if !ended && text[i..].starts_with(['＃', '＠']) {
                i += '＃'.len_utf8();
            }
        }
    }

    /// Hands the reference's next word to `f` and counts its position.
    fn emit(
        f: &mut impl FnMut(NormWord),
        word: &[u8],
        pos: &mut u32,
        range: std::ops::Range<usize>,
        kind: WordKind,
    ) {
        f(NormWord {
            text: String::from_utf8_lossy(word).into_owned(),
            pos: *pos,
            start: range.start,
            end: range.end,
            kind,
        });
        *pos += 1;
    }

    fn ref_decode(text: &str, i: usize) -> char {
        text[i..].chars().next().unwrap_or('\u{FFFD}')
    }

    fn ref_skip_url(text: &str, i: usize) -> usize {
        text[i..]
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .map_or(text.len(), |(k, _)| i + k)
    }

    /// The words of `text` from [`words`] and from the reference; the walk with every tier of
    /// step one (the portable one folds nothing there) must find the same.
    fn both(text: &str) -> (Vec<NormWord>, Vec<NormWord>) {
        let mut want = Vec::new();
        let mut buf = Vec::new();
        reference(text, &mut buf, |w| want.push(w));
        let got = words(text);
        for tier in tiers() {
            let mut other = Vec::new();
            let mut b = Buffers::default();
            words_where(text, &mut b, &EveryWord, |w| other.push(owned(w)), tier);
            assert_eq!(other, got, "{tier:?}: {text:?}");
        }
        (got, want)
    }

    /// Whether two runs of step one over `text` left the same: folded copy, masks, offset map
    /// and run edges (`count` of them).
    fn same_step_one(
        text: &str,
        (a, count_a): (&Buffers, usize),
        (b, count_b): (&Buffers, usize),
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        proptest::prop_assert_eq!(&a.edges[..count_a], &b.edges[..count_b], "{:?}", text);
        proptest::prop_assert_eq!(&a.lower, &b.lower);
        proptest::prop_assert_eq!(&a.non_ascii, &b.non_ascii);
        proptest::prop_assert_eq!(&a.origin[..=a.folded], &b.origin[..=b.folded]);
        proptest::prop_assert_eq!(&a.bases, &b.bases);
        proptest::prop_assert_eq!(a.folded, b.folded);
        Ok(())
    }

    /// `block::fold_portable` as step one's fold: the definition of the SIMD folds.
    fn portable_fold(
        src: &[u8],
        dst: &mut [u8],
        origin: &mut [u8],
        ahead: u8,
    ) -> (u64, u64, u64, u32) {
        block::fold_portable(src, dst, origin, ahead, fold_bytes(), block::portable)
    }

    /// The tiers this CPU runs.
    fn tiers() -> Vec<Tier> {
        let mut all = vec![Tier::Portable];
        all.extend(simd::avx2_or_skip("normalize tier tests").map(Tier::Avx2));
        all.extend(simd::avx512_or_skip("normalize tier tests").map(Tier::Avx512));
        all
    }

    #[test]
    fn fast_path_agrees_with_reference_on_every_table_char() {
        let mut text = String::new();
        for (lo, hi) in TABLE_BLOCKS
            .iter()
            .copied()
            .chain([(0, 0x80), (0x0250, 0x2000)])
        {
            for cp in lo..hi {
                let Some(c) = char::from_u32(cp) else {
                    continue;
                };
                for ctx in ["a{}b", "{}", "#{}x", "X{}", "é{}@y", "{}{}"] {
                    text.clear();
                    text.push_str(&ctx.replace("{}", &c.to_string()));
                    let (got, want) = both(&text);
                    assert_eq!(got, want, "U+{cp:04X} in {ctx:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_path_agrees_with_reference(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Z", "colis", "COLIS", "Réclamation", "ŒUVRE", "9", "x1", "abcdefgh", "ABCDEFGHIJ",
                "abcdefghijklmnopq", " ", "  ", ",", "'", "’", "-", "#", "@", "##", "é", "É", "ß",
                "\u{301}", "\u{200B}", "\u{AD}", "\u{2019}", "\u{2026}", "\u{FE0F}", "😡", "👏🏼",
                "ﬁ", "Ｃ", "\u{02BC}", "http://x.fr/a", "HTTPS://A", "www.b.fr", "wwwx", "h", "w",
                "\u{A0}", "\u{2003}", "\t", "\n", "<", "\"", "\u{85}", "\u{3000}", "㎏", "①",
                "Ⅻ", "🄰", "🔟", "\u{1F1EB}", "ı", "ς", "Ω",
            ]), 0..40)
        ) {
            let text: String = parts.concat();
            let (got, want) = both(&text);
            proptest::prop_assert_eq!(got, want, "{:?}", text);
        }

        /// Long texts, so that words, URLs and non-ASCII characters straddle the 64-byte
        /// blocks of the first stage.
        #[test]
        fn blocks_agree_with_reference(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Colis", "retard", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
                " ", " ", " ", ",", "'", "’", "#", "@", "é", "É", "\u{200B}", "😡", "https://x.fr/é\u{A0}b",
                "www.b.fr", "\u{A0}", "\t", "0123456789", "ŒUVRE",
            ]), 0..200)
        ) {
            let text: String = parts.concat();
            let (got, want) = both(&text);
            proptest::prop_assert_eq!(got, want, "{:?}", text);
        }

        /// `Word::first8` and `Word::first16` are the word's first 8 and 16 bytes, zero past
        /// its end, whichever path produced the word.
        #[test]
        fn first8_is_the_first_eight_bytes(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Colis", "abcdefghijklmnopqrstu", "réclamation", "ÉÉÉÉÉÉÉÉÉ", " ", "’", "ﬃ",
                "😡", "#", "x\u{200B}y", "ß", "abcdefgh", "abcdefghi", "0123456789abcdef",
            ]), 0..80)
        ) {
            let text: String = parts.concat();
            let mut b = Buffers::default();
            let mut bad = None;
            for_each_word(&text, &mut b, |w| {
                let second = w.text.get(8..).map_or(0, first8_of);
                if (w.first8() != first8_of(w.text) || w.first16() != [w.first8(), second])
                    && bad.is_none()
                {
                    bad = Some(String::from_utf8_lossy(w.text).into_owned());
                }
            });
            proptest::prop_assert_eq!(bad, None::<String>, "{:?}", text);
        }
    }

    /// The first 8 bytes of `text` as a little-endian number, zero past its end.
    fn first8_of(text: &[u8]) -> u64 {
        let mut head = [0u8; 8];
        let n = text.len().min(8);
        head[..n].copy_from_slice(&text[..n]);
        u64::from_le_bytes(head)
    }

    /// A hash of what the tokenizer shows a filter, for the test filters' choices.
    fn shown_hash(first8: u64, len: usize) -> u64 {
        (first8 ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// A filter that keeps about half the words, by a hash of what it is shown.
    struct Half;

    impl WordFilter for Half {
        fn keep(&self, first8: u64, len: usize) -> bool {
            shown_hash(first8, len) >> 63 == 1
        }
    }

    /// A filter that keeps about a quarter of the words anywhere, and about half of the others
    /// right after a word the caller marked (a stand-in for a phrase's later words).
    struct Follower {
        next: std::cell::Cell<u32>,
    }

    impl Follower {
        /// Whether the caller marks this word once handed over.
        fn marks(w: &Word<'_>) -> bool {
            shown_hash(w.first8(), w.text.len()) >> 61 & 1 == 1
        }
    }

    impl WordFilter for Follower {
        fn keep(&self, first8: u64, len: usize) -> bool {
            shown_hash(first8, len) >> 62 == 3
        }

        fn keep_at(&self, pos: u32, first8: u64, len: usize) -> bool {
            pos == self.next.get() && shown_hash(first8, len) >> 60 & 1 == 1
        }

        fn follows(&self, pos: u32) -> bool {
            pos == self.next.get()
        }
    }

    const MIXED: [&str; 37] = [
        "a",
        "Colis",
        "retard",
        "abcdefghijklmnopq",
        "abcdefghijklmnop",
        "abcdefgh",
        " ",
        " ",
        ",",
        "'",
        "’",
        "#",
        "@",
        "é",
        "É",
        "\u{200B}",
        "😡",
        "https://x.fr/é\u{A0}b",
        "www.b.fr",
        "\u{A0}",
        "http",
        "www",
        "0123456789",
        "ŒUVRE",
        "«",
        "»",
        "…",
        "Ç",
        "à",
        "æ",
        "×",
        "\u{AD}",
        "\u{2003}",
        "\u{200D}",
        "²",
        "ª",
        "\u{301}",
    ];

    proptest::proptest! {
        /// The filtered walk hands over exactly the words of the full one that the filter
        /// keeps, with the same positions: skipping a word only moves the position on.
        #[test]
        fn filtered_words_are_the_kept_words(
            parts in proptest::collection::vec(proptest::sample::select(MIXED.to_vec()), 0..150)
        ) {
            let text: String = parts.concat();
            let mut b = Buffers::default();
            let mut want = Vec::new();
            for_each_word(&text, &mut b, |w| {
                if Half.keep(w.first8(), w.text.len()) {
                    want.push((w.text.to_vec(), w.pos, w.start, w.end, w.kind));
                }
            });
            let mut got = Vec::new();
            for_each_word_where(&text, &mut b, &Half, |w| {
                got.push((w.text.to_vec(), w.pos, w.start, w.end, w.kind))
            });
            proptest::prop_assert_eq!(got, want, "{:?}", text);
        }

        /// A filter that wants some words only right after a word it was told of gets them
        /// there, also where step two skipped them, and nowhere else.
        #[test]
        fn followers_come_right_after_marked_words(
            parts in proptest::collection::vec(proptest::sample::select(MIXED.to_vec()), 0..150)
        ) {
            let text: String = parts.concat();
            let mut b = Buffers::default();
            let reference = Follower { next: std::cell::Cell::new(u32::MAX) };
            let mut want = Vec::new();
            for_each_word(&text, &mut b, |w| {
                let (first8, len) = (w.first8(), w.text.len());
                if reference.keep(first8, len) || reference.keep_at(w.pos, first8, len) {
                    want.push((w.text.to_vec(), w.pos, w.start, w.end, w.kind));
                    if Follower::marks(&w) {
                        reference.next.set(w.pos + 1);
                    }
                }
            });
            for tier in tiers() {
                let filter = Follower { next: std::cell::Cell::new(u32::MAX) };
                let mut got = Vec::new();
                words_where(&text, &mut b, &filter, |w| {
                    got.push((w.text.to_vec(), w.pos, w.start, w.end, w.kind));
                    if Follower::marks(&w) {
                        filter.next.set(w.pos + 1);
                    }
                }, tier);
                proptest::prop_assert_eq!(&got, &want, "{:?} {:?}", tier, text);
            }
        }

        /// Step one with AVX2 gives what the portable fold gives: the same folded copy,
        /// masks, offset map and run edges.
        #[test]
        fn avx2_step_one_agrees_with_portable_fold(
            parts in proptest::collection::vec(proptest::sample::select(MIXED.to_vec()), 0..150)
        ) {
            let Some(cpu) = simd::avx2_or_skip("avx2_step_one_agrees_with_portable_fold") else {
                return Ok(());
            };
            let text: String = parts.concat();
            let mut b = Buffers::default();
            let count = step_one_with(text.as_bytes(), &mut b, portable_fold, flatten);
            let mut b2 = Buffers::default();
            let count2 = cpu.step_one(text.as_bytes(), &mut b2);
            same_step_one(&text, (&b, count), (&b2, count2))?;
        }

        /// Steps one and two give the same with AVX-512 as without: the same folded copy,
        /// masks, offset map and run edges, and the same runs picked.
        #[test]
        fn avx512_steps_agree_with_portable_ones(
            parts in proptest::collection::vec(proptest::sample::select(MIXED.to_vec()), 0..150)
        ) {
            let Some(cpu) = simd::avx512_or_skip("avx512_steps_agree_with_portable_ones") else {
                return Ok(());
            };
            let text: String = parts.concat();
            let mut b = Buffers::default();
            let count = step_one_with(text.as_bytes(), &mut b, portable_fold, flatten);
            let mut b8 = Buffers::default();
            let count8 = cpu.step_one(text.as_bytes(), &mut b8);
            same_step_one(&text, (&b, count), (&b8, count8))?;
            for filter in [&Half as &dyn WordFilter, &EveryWord] {
                let n1 = simd::pick(None, &mut b, count, filter);
                let one = b.picked[..n1].to_vec();
                let n8 = simd::pick(Some(cpu), &mut b, count, filter);
                proptest::prop_assert_eq!(&one[..], &b.picked[..n8], "{:?}", text);
            }
        }
    }

    fn texts(s: &str) -> Vec<String> {
        words(s).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn folding_table() {
        let cases: &[(&str, &[&str])] = &[
            ("Réclamation", &["reclamation"]),
            ("RÉCLAMATION", &["reclamation"]),
            ("réclamation", &["reclamation"]),
            ("re\u{301}clamation", &["reclamation"]),
            ("cœur ŒUVRE", &["coeur", "oeuvre"]),
            ("Ærosol straße STRASSE", &["aerosol", "strasse", "strasse"]),
            ("ﬁn ＣＯＬＩＳ", &["fin", "colis"]),
            ("l’objet l'objet", &["l", "objet", "l", "objet"]),
            ("colis-retard", &["colis", "retard"]),
            ("RETARD!!! 😡😡 colis", &["retard", "colis"]),
            ("co\u{200B}lis ré\u{AD}clamation", &["colis", "reclamation"]),
            ("N°12 çà", &["n", "12", "ca"]),
            // Found by the fuzzer: `ŉ` decomposes to an apostrophe and `n`.
            ("\u{149}s ǅ", &["ns", "dz"]),
            ("", &[]),
            ("   ...  ", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(texts(input), *want, "input {input:?}");
        }
    }

    #[test]
    fn vulgar_fractions_are_their_digits_apart() {
        // NFKC spells `½` as `1⁄2`: the fraction slash separates the digits, as other
        // separators inside a decomposition do (SPEC §4; issue 25).
        let cases: &[(&str, &[&str])] = &[
            ("9-track ½\" tape", &["9", "track", "1", "2", "tape"]),
            ("¼ ¾ ⅞ ⅒", &["1", "4", "3", "4", "7", "8", "1", "10"]),
            ("3½ x½y", &["31", "2", "x1", "2y"]),
            ("a⑴b ⒈x", &["a", "1", "b", "1", "x"]),
            ("x\u{149}s", &["x", "ns"]),
        ];
        for (input, want) in cases {
            assert_eq!(texts(input), *want, "input {input:?}");
            let (got, reference) = both(input);
            assert_eq!(got, reference, "input {input:?}");
        }
        // The words quote the fraction, and a mark before it applies to its first word only.
        let w = words("#½ ⑴#x");
        let got: Vec<(&str, WordKind, usize, usize)> = w
            .iter()
            .map(|w| (w.text.as_str(), w.kind, w.start, w.end))
            .collect();
        use WordKind::*;
        assert_eq!(
            got,
            [
                ("1", Hashtag, 1, 3),
                ("2", Plain, 1, 3),
                ("1", Plain, 4, 7),
                ("x", Hashtag, 8, 9)
            ]
        );
    }

    #[test]
    fn long_posts_agree_and_give_their_scratch_back() {
        // One 3 MB post of ordinary words, and one run of 200,000 accented letters (a single
        // word, folded character by character): same words as the reference, and the scratch
        // does not keep the megabytes afterwards.
        let words =
            "Mon colis n’est pas arrivé, #retard @LaPoste https://x.fr/a 😡 ".repeat(50_000);
        let run = "é".repeat(200_000);
        let mut b = Buffers::default();
        for text in [words.as_str(), run.as_str()] {
            let mut got = Vec::new();
            for_each_word(text, &mut b, |w| {
                got.push((w.pos, w.start, w.end, w.text.len()))
            });
            let mut want = Vec::new();
            let mut kept = Vec::new();
            reference(text, &mut Vec::new(), |w| {
                if Half.keep(first8_of(w.text.as_bytes()), w.text.len()) {
                    kept.push((w.pos, w.start, w.end, w.text.len()));
                }
                want.push((w.pos, w.start, w.end, w.text.len()))
            });
            assert_eq!(got, want);
            assert!(b.lower.capacity() <= Buffers::KEEP && b.buf.capacity() <= Buffers::KEEP);
            assert!(b.edges.capacity() * 8 <= Buffers::KEEP);
            // The same through steps two and three, keeping about half the words.
            let mut got = Vec::new();
            for_each_word_where(text, &mut b, &Half, |w| {
                got.push((w.pos, w.start, w.end, w.text.len()))
            });
            assert_eq!(got, kept);
            assert!(b.picked.capacity() * 4 <= Buffers::KEEP);
        }
        assert_eq!(texts(&run), ["e".repeat(200_000)]);
    }

    #[test]
    fn folding_inside_a_word_callback_gets_its_own_scratch() {
        // The thread's scratch is held by the outer call; the inner one must not panic on it.
        let mut inner = Vec::new();
        with_thread_buffers("un deux", |_| inner.push(folded("Réclamation COLIS")));
        assert_eq!(inner, ["reclamation colis", "reclamation colis"]);
    }

    #[test]
    fn upper_case_after_a_full_chunk_is_folded() {
        // Found by the property test: an upper-case letter in the first 8 bytes of a word
        // longer than 8 was missed when the word ended in the byte-wise tail.
        assert_eq!(
            texts("wwwxZabcdefgh ABCDEFGHIJ"),
            ["wwwxzabcdefgh", "abcdefghij"]
        );
    }

    #[test]
    fn folding_is_idempotent() {
        for cp in 0x80..0x11_0000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let once = folded(&format!("a{c}b"));
            assert_eq!(folded(&once), once, "U+{cp:04X}");
        }
    }

    #[test]
    fn urls_are_removed() {
        assert_eq!(
            texts("voir https://laposte.fr/colis/suivi et (http://x.fr/a) www.colis.fr/x fin"),
            ["voir", "et", "fin"]
        );
        // Only at a word start: `xhttp` is a word.
        assert_eq!(texts("HTTPS://COLIS.FR colis"), ["colis"]);
    }

    #[test]
    fn skip_url_stops_where_a_byte_at_a_time_scan_does() {
        let slow = |bytes: &[u8], mut i: usize| {
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            while let Some(c) = text[i..].chars().next() {
                if c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\u{0B}') {
                    break;
                }
                i += c.len_utf8();
            }
            i
        };
        for end in [
            "", " ", "\t", "\n", "\u{0B}", "\u{0C}", "\r", "<", ">", "\"", "\u{A0}", "\u{3000}",
        ] {
            for inner in ["", "\u{1}", "é", "\u{2019}", "'", "x"] {
                for k in 0..20 {
                    let url = format!(
                        "http://{}{inner}{}{end}fin",
                        "a".repeat(k),
                        "b".repeat(k % 9)
                    );
                    assert_eq!(
                        skip_url(url.as_bytes(), 0),
                        slow(url.as_bytes(), 0),
                        "{url:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn hashtags_and_mentions() {
        let w = words("#Colis @LaPoste a#b mail@x.fr # colis @ retard ##double");
        let got: Vec<(&str, WordKind)> = w.iter().map(|w| (w.text.as_str(), w.kind)).collect();
        use WordKind::*;
        assert_eq!(
            got,
            [
                ("colis", Hashtag),
                ("laposte", Mention),
                ("a", Plain),
                ("b", Plain),
                ("mail", Plain),
                ("x", Plain),
                ("fr", Plain),
                ("colis", Plain),
                ("retard", Plain),
                ("double", Hashtag),
            ]
        );
    }

    #[test]
    fn full_width_marks_are_hashtags_and_mentions() {
        // SPEC §4: full-width `＠` and `＃` are `@` and `#` (NFKC), at the start of a word only.
        let got: Vec<(String, WordKind)> = words("＃Colis ＠LaPoste a＠b x＃y ＃＠z #＠w ＠ v")
            .into_iter()
            .map(|w| (w.text, w.kind))
            .collect();
        use WordKind::*;
        let want = [
            ("colis", Hashtag),
            ("laposte", Mention),
            ("a", Plain),
            ("b", Plain),
            ("x", Plain),
            ("y", Plain),
            ("z", Mention),
            ("w", Mention),
            ("v", Plain),
        ];
        let want: Vec<(String, WordKind)> = want.iter().map(|&(t, k)| (t.into(), k)).collect();
        assert_eq!(got, want);
        for text in [
            "＃Colis ＠LaPoste a＠b x＃y ＃＠z #＠w ＠ v",
            "é＠x ＠é ＠＠y",
        ] {
            let (got, reference) = both(text);
            assert_eq!(got, reference, "{text:?}");
        }
    }

    #[test]
    fn tag_bodies_run_over_underscores() {
        // SPEC §4: a hashtag or mention body runs over letters, digits and underscores.
        let body = |text: &str| {
            let w = &words(text)[0];
            assert_ne!(w.kind, WordKind::Plain, "{text:?}");
            tag_body(text, w.end, w.text.as_bytes())
        };
        let cases: &[(&str, Option<&str>)] = &[
            ("@posteo merci", None),
            ("@posteo-aide", None),
            ("@Posteo_Aide!", Some("posteo_aide")),
            ("#colis_perdu_2 encore", Some("colis_perdu_2")),
            ("@posteo_", Some("posteo_")),
            ("@a__b_c d", Some("a__b_c")),
            ("@Éric_Dupont_", Some("eric_dupont_")),
            ("＠posteo＿ａｉｄｅ", Some("posteo_aide")),
            ("@posteo_aide’s", Some("posteo_aide")),
        ];
        for &(text, want) in cases {
            assert_eq!(body(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn positions_and_offsets_point_into_the_original() {
        let text = "Mon COLIS n’est pas arrivé";
        let w = words(text);
        let pos: Vec<u32> = w.iter().map(|w| w.pos).collect();
        assert_eq!(pos, [0, 1, 2, 3, 4, 5]);
        assert_eq!(&text[w[1].start..w[1].end], "COLIS");
        assert_eq!(&text[w[5].start..w[5].end], "arrivé");
        assert_eq!(w[3].text, "est");
    }

    #[test]
    fn folded_joins_words() {
        assert_eq!(
            folded("L'objet CASSÉ, vraiment !"),
            "l objet casse vraiment"
        );
    }

    #[test]
    fn nfkc_borrows_normal_text() {
        assert!(matches!(nfkc("colis"), Cow::Borrowed(_)));
        assert_eq!(nfkc("ﬁn"), "fin");
    }
}
