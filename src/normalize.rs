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
//!
//! The hot path is [`for_each_word_where`] (`tokenize`), in three stages, each named for what
//! it does and living in its own file:
//!
//! - **scan** (`scan`, one block at a time in `block`): 64 bytes at a time, a lower-cased copy
//!   of the text and bit masks of the runs that may hold words. With AVX-512 or AVX2 the copy
//!   is also folded: the common non-ASCII characters of French text — accented Latin-1
//!   letters, `’`, `«`, `»`, `…`, no-break spaces — are replaced by the one ASCII byte that
//!   stands for them (`é` by `e`, `’` by `'`; the table is [`fold::FoldBytes`]), so that
//!   `arrivé` or `l’ai` are plain ASCII words from then on.
//! - **pick** (`simd::pick`): without a branch per run (eight runs at a time with AVX-512),
//!   the runs worth a closer look, which are all of them except short ASCII words that the
//!   caller's [`WordFilter`] (`filter`) turns away.
//! - **walk** (`walk`): over the picked runs, a run of ASCII letters and digits is a word as it
//!   stands (a slice of the copy), a run with one character left that folds to a letter or
//!   separates words is quoted around it, and only the other runs (emoji, ligatures, other
//!   scripts) are folded one character at a time (`fold`, the one definition of a character's
//!   folding). URLs are skipped there (`url`). The offsets of the words handed over are mapped
//!   back to the text (`tokenize`).
//!
//! All SIMD code (and its `unsafe`) is in `simd`, behind a safe API. [`for_each_word`] keeps
//! every word and skips the pick. No allocation per word once the scratch [`Buffers`] have
//! grown. Each word carries its position (0, 1, 2…) and its byte range in the original text,
//! so that alerts can quote the original. A hashtag's or mention's body past its first word is
//! `tag`'s. What the words mean is the matcher's business, not this module's. HTML to text is
//! the sources' job (they hand over plain text). The tests are in `tests`.

use std::borrow::Cow;
use std::cell::RefCell;

mod block;
mod filter;
mod fold;
mod scan;
pub(crate) mod simd;
mod tag;
mod tokenize;
mod url;
mod walk;

pub use filter::{EveryWord, WordFilter};
pub use tag::tag_body;

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

/// The NFKC form of `text`, borrowed when it already is (regexes run on it, SPEC §4).
pub fn nfkc(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfkc().collect())
    }
}

/// Scratch space for [`for_each_word`], reused across calls.
#[derive(Debug, Default)]
pub struct Buffers {
    /// The folded text of a word that needs more than ASCII lower-casing.
    buf: Vec<u8>,
    /// The text with ASCII letters lower-cased, folded with AVX2 or AVX-512 (see [`fold::FoldBytes`]), then
    /// 16 zero bytes. The pick and the walk work on it: the offsets of the words handed over are
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
    /// The indices of the runs the pick kept for a closer look.
    picked: Vec<u32>,
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

/// Calls `f` with every word of `text`, in order. `b` is scratch space, reused across calls.
#[inline]
pub fn for_each_word<F: FnMut(Word<'_>)>(text: &str, b: &mut Buffers, f: F) {
    for_each_word_where(text, b, &EveryWord, f)
}

/// Calls `f` with the words of `text` that `filter` may want, in order; positions still count
/// every word.
///
/// Three stages (`tokenize`). The scan (`scan`, `block`) makes the folded, lower-cased copy of
/// the text and the edges of every run of bytes that may belong to a word, 64 bytes at a time.
/// The pick (`simd::pick`) looks at every run without a branch: a run of at most 16 ASCII
/// letters and digits that does not start a URL and that `filter` turns away is a word nobody
/// wants, and is only counted. The walk (`walk`) reads the other runs: a run of ASCII letters
/// and digits is a word as it stands, quoted from the copy; a run with one character left that
/// folds to a letter or separates words (the scan folds most of them with AVX2 or AVX-512, not
/// without) is quoted the same way around that character (`Walk::one_char`); any other run
/// that holds non-ASCII (an emoji, a ligature) goes to `walk::fold_run`, which folds it
/// character by character and may find several words in it or none. The pick and the walk
/// work on the copy; the words handed to `f` carry their offsets in `text` (`Offsets`).
#[inline(always)]
pub fn for_each_word_where<W, F>(text: &str, b: &mut Buffers, filter: &W, f: F)
where
    W: WordFilter + ?Sized,
    F: FnMut(Word<'_>),
{
    tokenize::words_where(text, b, filter, f, scan::Isa::best())
}

#[cfg(test)]
mod tests;
