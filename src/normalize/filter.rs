//! [`WordFilter`]: which words the tokenizer hands over, asked by the pick (eight words at a
//! time with AVX-512) and the walk; [`EveryWord`], the filter that keeps them all. The
//! matcher's dictionary is the other implementation.

/// Which words [`for_each_word_where`] hands over: a cheap test on a folded word's first 8
/// bytes (zero past its end, as [`Word::first8`]) and its length in bytes. It may say yes to
/// words the caller does not want (it is a filter, such as the matcher's Bloom filter), but a
/// word it says no to is never handed over. A filter may also want some words only at some
/// positions ([`WordFilter::keep_at`]), such as right after a word the caller cared about.
pub trait WordFilter {
    /// Whether the word may be wanted.
    fn keep(&self, first8: u64, len: usize) -> bool;

    /// Whether every word is wanted: the tokenizer then skips the pick and walks every run.
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
    /// at that word even if the pick skipped it. Asked between the runs the pick kept, so
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
