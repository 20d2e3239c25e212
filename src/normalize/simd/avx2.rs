//! The AVX2 code (with POPCNT and BMI1; what [`super::Avx2`] proves): the scan's fold and
//! edges, 32 bytes at a time. Each function is `unsafe` only for the CPU features it is
//! compiled for, and is reached through the safe method of the token in `simd`.

use crate::normalize::block::{first_bytes, BLOCK};
use crate::normalize::fold::FoldBytes;
use crate::normalize::Buffers;

/// `scan::scan` with AVX2.
///
/// # Safety
/// The CPU must have what [`super::Avx2::get`] checks.
#[target_feature(enable = "avx2,popcnt,bmi1")]
pub(super) unsafe fn scan_avx2(bytes: &[u8], b: &mut Buffers, table: &FoldBytes) -> usize {
    crate::normalize::scan::scan_with(
        bytes,
        b,
        // SAFETY: this function runs only on CPUs with AVX2, and `scan_with` gives 128
        // bytes of room.
        |src, dst, origin, ahead| unsafe { fold_avx2(src, dst, origin, ahead, table) },
        |edges, at, out| unsafe { flatten_avx2(edges, at, out) },
    )
}

/// `block::fold_portable` with AVX2, for CPUs without AVX-512's byte compress: the lower-cased
/// copy and masks 32 bytes at a time; the characters to fold (found with a compare, a few in
/// a block of French text) looked up one by one; then the stretches between the dropped bytes
/// moved down, each with one overlapping 64-byte copy (no table of shuffles, no `pext`, which
/// is slow on AMD CPUs before Zen 3), and their bits of the masks moved down with shifts.
///
/// # Safety
/// The CPU must have what [`super::Avx2::get`] checks. `dst` and `origin` have room for 128
/// bytes (the last stretch's copy runs 64 bytes past its start).
#[target_feature(enable = "avx2,popcnt,bmi1")]
#[inline]
pub(super) unsafe fn fold_avx2(
    src: &[u8],
    dst: &mut [u8],
    origin: &mut [u8],
    ahead: u8,
    table: &FoldBytes,
) -> (u64, u64, u64, u32) {
    use std::arch::x86_64::*;
    assert!(dst.len() >= 2 * BLOCK && origin.len() >= 2 * BLOCK);
    let n = src.len().min(BLOCK);
    let loaded = first_bytes(n);
    // The block lower-cased, then zeros: every stretch below is read as 64 bytes.
    let mut low = [0u8; 2 * BLOCK];
    let mut tail = [0u8; BLOCK];
    let block: &[u8; BLOCK] = match src.try_into() {
        Ok(full) => full,
        Err(_) => {
            tail[..n].copy_from_slice(&src[..n]);
            &tail
        }
    };
    let (mut word, mut high, mut leads2, mut leads3) = (0u64, 0u64, 0u64, 0u64);
    for k in 0..2 {
        // SAFETY: `block` has 64 bytes and `low` 128: both halves are in bounds.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast()) };
        let (lower, w, h) = classify32(v);
        unsafe { _mm256_storeu_si256(low.as_mut_ptr().add(32 * k).cast(), lower) };
        let is = |b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
        let two = _mm256_or_si256(is(0xC2), is(0xC3));
        word |= w << (32 * k);
        high |= h << (32 * k);
        leads2 |= (_mm256_movemask_epi8(two) as u32 as u64) << (32 * k);
        leads3 |= (_mm256_movemask_epi8(is(0xE2)) as u32 as u64) << (32 * k);
    }
    // Characters whose bytes all lie in the block: stand-ins in place, other bytes dropped.
    let mut dropped = 0u64;
    let mut leads = leads2 & u64::MAX >> 1 | leads3 & u64::MAX >> 2;
    while leads != 0 {
        let i = leads.trailing_zeros() as usize;
        leads &= leads - 1;
        // The character's table entry, and the mask of its bytes after the lead.
        let (at, others) = if low[i] != 0xE2 {
            (
                ((low[i] & 1) as usize) << 6 | (low[i + 1] & 63) as usize,
                1u64,
            )
        } else if low[i + 1] == 0x80 {
            (128 | (low[i + 2] & 63) as usize, 3)
        } else {
            continue;
        };
        let c = table[at];
        if c != 0 {
            low[i] = c;
            dropped |= others << (i + 1);
            high &= !(1 << i);
            word = word & !(1 << i) | (c.is_ascii_alphanumeric() as u64) << i;
        }
    }
    let splat = |k: u8| _mm256_set1_epi8(k as i8);
    // SAFETY (all stores below): `dst` and `origin` have 128 bytes, and every 64-byte store
    // starts at an output position below 64; every load from `low` starts at most at 64.
    let store64 = |to: *mut u8, a: __m256i, b: __m256i| unsafe {
        _mm256_storeu_si256(to.cast(), a);
        _mm256_storeu_si256(to.add(32).cast(), b);
    };
    let load = |at: usize| unsafe { _mm256_loadu_si256(low.as_ptr().add(at).cast()) };
    store64(dst.as_mut_ptr(), load(0), load(32));
    store64(origin.as_mut_ptr(), splat(ahead), splat(ahead));
    if dropped == 0 {
        return (word, high, loaded, n as u32);
    }
    // Each stretch of kept bytes moved down over the dropped ones, with the 64 bytes after it
    // (the next stretch's copy writes over the rest), its bytes' distance to the text, and
    // its bits of the masks.
    let (mut out, mut from, mut gone) = (0usize, 0usize, ahead);
    let (mut word_out, mut high_out) = (word, high);
    let mut drop = dropped;
    while drop != 0 {
        let to = drop.trailing_zeros() as usize;
        let skip = (!(drop >> to)).trailing_zeros() as usize;
        drop &= !(((1u64 << skip) - 1) << to);
        // `out` < 64: at least one byte of the block is dropped.
        out += to - from;
        from = to + skip;
        gone = gone.wrapping_add(skip as u8);
        store64(
            unsafe { dst.as_mut_ptr().add(out) },
            load(from),
            load(from + 32),
        );
        store64(
            unsafe { origin.as_mut_ptr().add(out) },
            splat(gone),
            splat(gone),
        );
        let below = (1u64 << out) - 1;
        let rest = |m: u64| m.checked_shr(from as u32).unwrap_or(0) << out;
        word_out = word_out & below | rest(word);
        high_out = high_out & below | rest(high);
    }
    let kept = loaded & !dropped;
    (word_out, high_out, kept, kept.count_ones())
}

/// 32 bytes of text lower-cased, and the masks of `block::classify` for them.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn classify32(v: std::arch::x86_64::__m256i) -> (std::arch::x86_64::__m256i, u64, u64) {
    use std::arch::x86_64::*;
    // Signed compares: bytes of 0x80 and above are negative, in no ASCII range.
    let within = |x, lo: u8, hi: u8| {
        _mm256_and_si256(
            _mm256_cmpgt_epi8(x, _mm256_set1_epi8(lo as i8 - 1)),
            _mm256_cmpgt_epi8(_mm256_set1_epi8(hi as i8 + 1), x),
        )
    };
    let upper = within(v, b'A', b'Z');
    let lower = _mm256_or_si256(v, _mm256_and_si256(upper, _mm256_set1_epi8(0x20)));
    let alnum = _mm256_or_si256(within(lower, b'a', b'z'), within(v, b'0', b'9'));
    let high = _mm256_movemask_epi8(v) as u32 as u64;
    let word = _mm256_movemask_epi8(alnum) as u32 as u64 | high;
    (lower, word, high)
}

/// For each byte, the positions of its set bits, lowest first, then zeros.
pub(super) static BIT_POSITIONS: [[u8; 8]; 256] = {
    let mut t = [[0u8; 8]; 256];
    let mut byte = 0;
    while byte < 256 {
        let (mut bit, mut n) = (0, 0);
        while bit < 8 {
            if byte >> bit & 1 == 1 {
                t[byte][n] = bit as u8;
                n += 1;
            }
            bit += 1;
        }
        byte += 1;
    }
    t
};

/// [`crate::normalize::scan::flatten`] with AVX2: for each byte of `edges`, its bits' positions
/// from a table, widened and stored eight at a time, with no chain of bit clears from one edge to
/// the next.
///
/// # Safety
/// The CPU must have what [`super::Avx2::get`] checks.
#[target_feature(enable = "avx2,popcnt,bmi1")]
#[inline]
pub(super) unsafe fn flatten_avx2(edges: u64, at: usize, out: &mut [usize]) -> usize {
    use std::arch::x86_64::*;
    assert!(out.len() >= BLOCK);
    let mut base = _mm256_set1_epi64x(at as i64);
    let mut n = 0;
    for j in 0..BLOCK / 8 {
        let k = (edges >> (8 * j)) as u8;
        // SAFETY: a table row is 8 bytes, the size of the load.
        let bits = unsafe { _mm_loadl_epi64(BIT_POSITIONS[k as usize].as_ptr().cast()) };
        let lo = _mm256_add_epi64(base, _mm256_cvtepu8_epi64(bits));
        let hi = _mm256_add_epi64(base, _mm256_cvtepu8_epi64(_mm_srli_si128::<4>(bits)));
        // SAFETY: before group j at most 8j positions were written, so the 8 slots written
        // here end by 8j + 8 <= 64 <= `out.len()`.
        unsafe {
            let to = out.as_mut_ptr().add(n).cast::<__m256i>();
            _mm256_storeu_si256(to, lo);
            _mm256_storeu_si256(to.add(1), hi);
        }
        n += k.count_ones() as usize;
        base = _mm256_add_epi64(base, _mm256_set1_epi64x(8));
    }
    n
}
