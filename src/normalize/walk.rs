//! The walk, the last stage of [`super::for_each_word_where`]: over the runs the pick kept,
//! reads the words. A run of ASCII letters and digits is a word as it stands, quoted from the
//! scan's copy; a run with one character left that folds to a letter or separates words is
//! quoted around it ([`Walk::one_char`]); any other run that holds non-ASCII (an emoji, a
//! ligature) goes to [`fold_run`], character by character. It keeps the word positions and
//! the kinds (`#`, `@`), skips URLs, and offers each word to the filter.

use super::block;
use super::fold::{decode, fold_tables, Fold};
use super::url::{skip_url, url_at};
use super::{Word, WordFilter, WordKind};

/// `#` and `@` before a word make it a hashtag or a mention; any other byte, a plain word.
static KIND: [WordKind; 256] = {
    let mut t = [WordKind::Plain; 256];
    t[b'#' as usize] = WordKind::Hashtag;
    t[b'@' as usize] = WordKind::Mention;
    t
};

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

/// The walk's state: how far the words go and what the next one is.
pub(super) struct Walk<'a> {
    /// The scan's copy, as long as the folded text: what URLs and characters are read in.
    pub(super) bytes: &'a [u8],
    /// The same with its 16 zero bytes after, for 16-byte reads.
    pub(super) lower: &'a [u8],
    pub(super) non_ascii: &'a [u64],
    /// Bytes before `anchor` are done; a word starting at `anchor` is of kind `anchor_kind`,
    /// one starting later takes its kind from the byte before it.
    pub(super) anchor: usize,
    pub(super) anchor_kind: WordKind,
    /// The next word's position.
    pub(super) pos: u32,
}

impl Walk<'_> {
    /// The words of the run `s..e`.
    #[inline(always)]
    pub(super) fn run<W, F>(&mut self, s: usize, e: usize, filter: &W, buf: &mut Vec<u8>, f: &mut F)
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
    /// non-ASCII in French text, where the scan did not fold it (without AVX-512, or a letter
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
pub(super) fn fold_run<W: WordFilter + ?Sized, F: FnMut(Word<'_>)>(
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
