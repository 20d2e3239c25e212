//! The scan, the first stage of [`super::for_each_word_where`]: the lower-cased copy of the text
//! (folded with AVX2 or AVX-512, see [`super::fold::FoldBytes`]), its non-ASCII masks, the map of
//! its offsets back to the text, and the edges of every run of bytes that may belong to a word, 64
//! bytes at a time. [`Isa`] says which code runs it; one block's portable code is in `block`, the
//! SIMD code in `simd`. It leaves to the pick and the walk what the runs are.

use super::block;
use super::simd;
use super::Buffers;

/// Which instruction set the scan runs on: each finds the same words, the later ones faster.
/// The SIMD ones carry the token that proves the CPU runs them (`simd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isa {
    /// Byte at a time where a block holds non-ASCII; nothing folded in the scan.
    Portable,
    /// AVX2: the common characters folded in the scan (`simd::avx2::fold_avx2`).
    Avx2(simd::Avx2),
    /// AVX-512 with VBMI2: the scan folds with byte permutes and compresses.
    Avx512(simd::Avx512),
}

impl Isa {
    /// The best instruction set this CPU runs.
    #[inline]
    pub(super) fn best() -> Isa {
        if let Some(cpu) = simd::Avx512::get() {
            return Isa::Avx512(cpu);
        }
        if let Some(cpu) = simd::Avx2::get() {
            return Isa::Avx2(cpu);
        }
        Isa::Portable
    }
}

/// The scan of [`super::for_each_word_where`]: fills `b.lower` with the lower-cased text, folded
/// (see [`super::fold::FoldBytes`]) with AVX2 or AVX-512, `b.non_ascii`, `b.origin`, `b.bases` and
/// the first `count` slots of `b.edges`, and returns `count` (twice the number of runs).
///
/// With AVX-512 (byte permutes for the table, a compress for the folded bytes, compressed stores of
/// the edges) or AVX2 (`simd::avx2::fold_avx2`: compares find the characters, a few per block,
/// overlapping copies drop their other bytes) the common characters are folded here. Without either
/// they are not: folding them one at a time here (`block::fold_portable`, the definition the others
/// are tested against) cost more than it saved, so the walk folds them as it did before
/// (`Walk::one_char`), on a copy whose offsets are those of the text.
#[inline(always)]
pub(super) fn scan(bytes: &[u8], b: &mut Buffers, isa: Isa) -> usize {
    match isa {
        Isa::Avx512(cpu) => cpu.scan(bytes, b),
        Isa::Avx2(cpu) => cpu.scan(bytes, b),
        Isa::Portable => scan_with(
            bytes,
            b,
            |src, dst, _, _| block::copy_portable(src, dst, block::classify),
            flatten,
        ),
    }
}

/// The body of [`scan`]: `fold` takes up to 64 bytes of text (fewer for the last block)
/// and writes their folded bytes to the start of the slices it is given (128 bytes, for
/// overlapping stores), as
/// `block::fold_portable`; `flatten` as [`flatten`]. The folded bytes of each block follow
/// those of the one before, and so do their mask bits, which are regrouped 64 to a word for
/// the edges and `non_ascii`.
#[inline(always)]
pub(super) fn scan_with(
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
        // that the walk reads past the last edge.
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

/// Writes the positions of the set bits of `edges` (plus `at`) to the start of `out`, and
/// returns how many there are. Eight at a time, unconditionally, so that the loop does not
/// mispredict on every block: the slots past the count get garbage.
#[inline(always)]
pub(super) fn flatten(mut edges: u64, at: usize, out: &mut [usize]) -> usize {
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
