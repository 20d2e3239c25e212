//! The three stages together: [`words_where`] runs the scan, the pick and the walk over one
//! text, and hands the words over with their offsets in the text ([`Offsets`]) rather than in
//! the folded copy the stages work on. What each stage does is in its own module.

use super::scan::{self, Isa};
use super::walk::Walk;
use super::{block, simd, Buffers, Word, WordFilter, WordKind};

/// [`super::for_each_word_where`], with the scan on the given instruction set.
#[inline(always)]
pub(super) fn words_where<W, F>(text: &str, b: &mut Buffers, filter: &W, mut f: F, isa: Isa)
where
    W: WordFilter + ?Sized,
    F: FnMut(Word<'_>),
{
    let count = scan::scan(text.as_bytes(), b, isa);
    let runs = count / 2;
    // The pick, before the walk's borrows of `b`: the runs that need a closer look, one
    // branch-free step each.
    let picked = if filter.keeps_all() {
        0
    } else {
        simd::pick(simd::Avx512::get(), b, count, filter)
    };
    // The pick and the walk work on the folded text; the words handed over get their offsets
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
        // Every word is wanted: no run to skip, the walk reads them all.
        for r in 0..runs {
            walk.run(edges[2 * r], edges[2 * r + 1], filter, &mut b.buf, &mut f);
        }
        drop(f);
        b.shrink();
        return;
    }

    // The pick kept the runs that need a closer look (`simd::pick`), above.

    // The walk. Runs between two picked ones are plain ASCII words nobody wants: they only
    // move the position on, and leave the state a word leaves (`Walk::run`).
    let mut next = 0;
    for &r in b.picked[..picked].iter().chain([&(runs as u32)]) {
        let r = r as usize;
        // Runs the pick skipped that need a look all the same, one by one: those a URL covers
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
pub(super) struct Offsets<'a> {
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
