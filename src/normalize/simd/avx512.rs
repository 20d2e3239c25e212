//! The AVX-512 code (F, BW, DQ, VL, VBMI, VBMI2; what [`super::Avx512`] proves): the scan's
//! fold and edges, the pick eight runs at a time, and the dictionary filter's eight-word test.
//! Each function is `unsafe` only for the CPU features it is compiled for, and is reached
//! through the safe methods of the token in `simd`.

use super::DictTables;
use crate::normalize::block::{first_bytes, BLOCK};
use crate::normalize::fold::FoldBytes;
use crate::normalize::{Buffers, WordFilter};

/// `scan::scan` with AVX-512.
///
/// # Safety
/// The CPU must have what [`super::Avx512::get`] checks.
#[target_feature(
    enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,avx512vbmi2,popcnt,bmi1,bmi2"
)]
pub(super) unsafe fn scan_avx512(bytes: &[u8], b: &mut Buffers, table: &FoldBytes) -> usize {
    use std::arch::x86_64::*;
    // SAFETY: `table` is 192 bytes: three 64-byte loads.
    let regs: [__m512i; 3] =
        std::array::from_fn(|k| unsafe { _mm512_loadu_si512(table.as_ptr().add(64 * k).cast()) });
    crate::normalize::scan::scan_with(
        bytes,
        b,
        // SAFETY: this function runs only on CPUs with the features these need, and
        // `scan_with` gives 64 bytes of room.
        |src, dst, origin, ahead| unsafe {
            fold_avx512(src, dst.as_mut_ptr(), origin.as_mut_ptr(), ahead, &regs)
        },
        |edges, at, out| unsafe { flatten_avx512(edges, at, out) },
    )
}

/// `block::fold_portable` with AVX-512 (with VBMI and VBMI2 for the byte permutes and the byte
/// compress): the block's characters looked up in `table` (the 192 bytes of `FoldBytes` in
/// three registers) all at once, their stand-ins put in place, and the kept bytes compressed.
///
/// # Safety
/// The CPU must have what [`super::Avx512::get`] checks, and `dst` and `origin` room for 64 bytes.
#[target_feature(
    enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,avx512vbmi2,popcnt,bmi1,bmi2"
)]
#[inline]
pub(super) unsafe fn fold_avx512(
    src: &[u8],
    dst: *mut u8,
    origin: *mut u8,
    ahead: u8,
    table: &[std::arch::x86_64::__m512i; 3],
) -> (u64, u64, u64, u32) {
    use std::arch::x86_64::*;
    let loaded = first_bytes(src.len().min(BLOCK));
    // SAFETY: the masked load reads only the bytes of `loaded`, all of them in `src`.
    let v = unsafe { _mm512_maskz_loadu_epi8(loaded, src.as_ptr().cast()) };
    let range = |x, lo: u8, len: u8| {
        _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(x, _mm512_set1_epi8(lo as i8)),
            _mm512_set1_epi8(len as i8),
        )
    };
    let upper = range(v, b'A', 26);
    let lower = _mm512_mask_add_epi8(v, upper, v, _mm512_set1_epi8(0x20));
    let is = |x, b: u8| _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(b as i8));
    let iota = _mm512_set_epi8(
        63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41,
        40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
        17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
    );
    let next1 = _mm512_permutexvar_epi8(_mm512_add_epi8(iota, _mm512_set1_epi8(1)), lower);
    let next2 = _mm512_permutexvar_epi8(_mm512_add_epi8(iota, _mm512_set1_epi8(2)), lower);
    // Leads whose character lies in the block.
    let lead3 = is(v, 0xC3);
    let lead2 = (is(v, 0xC2) | lead3) & u64::MAX >> 1;
    let lead_e2 = is(v, 0xE2) & is(next1, 0x80) & u64::MAX >> 2;
    let six = _mm512_set1_epi8(63);
    let low6 = _mm512_and_si512(next1, six);
    let at2 = _mm512_mask_add_epi8(low6, lead3, low6, _mm512_set1_epi8(64));
    let by2 = _mm512_permutex2var_epi8(table[0], at2, table[1]);
    let by3 = _mm512_permutexvar_epi8(_mm512_and_si512(next2, six), table[2]);
    let stand_in = _mm512_mask_blend_epi8(lead_e2, by2, by3);
    let folded = (lead2 | lead_e2) & _mm512_test_epi8_mask(stand_in, stand_in);
    let out = _mm512_mask_mov_epi8(lower, folded, stand_in);
    let two = folded & lead2;
    let three = folded & lead_e2;
    let kept = loaded & !(two << 1 | three << 1 | three << 2);
    let high = _mm512_movepi8_mask(out) & kept;
    let word = (range(out, b'a', 26) | range(out, b'0', 10) | high) & kept;
    // Each written byte's position in the block, less its position in the output: the bytes
    // dropped before it.
    let from = _mm512_maskz_compress_epi8(kept, iota);
    let ahead = _mm512_add_epi8(_mm512_sub_epi8(from, iota), _mm512_set1_epi8(ahead as i8));
    // SAFETY: the caller gives 64 bytes of room at `dst` and at `origin`.
    unsafe {
        _mm512_storeu_si512(dst.cast(), _mm512_maskz_compress_epi8(kept, out));
        _mm512_storeu_si512(origin.cast(), ahead);
    }
    (
        _pext_u64(word, kept),
        _pext_u64(high, kept),
        kept,
        kept.count_ones(),
    )
}

/// [`crate::normalize::scan::flatten`] with AVX-512: eight compressed stores of eight positions
/// each, no branch on the number of edges.
///
/// # Safety
/// The CPU must have what [`super::Avx512::get`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
#[inline]
pub(super) unsafe fn flatten_avx512(edges: u64, at: usize, out: &mut [usize]) -> usize {
    use std::arch::x86_64::*;
    assert!(out.len() >= BLOCK);
    let mut index = _mm512_add_epi64(
        _mm512_set1_epi64(at as i64),
        _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let mut n = 0;
    for j in 0..BLOCK / 8 {
        let k = (edges >> (8 * j)) as u8;
        let packed = _mm512_maskz_compress_epi64(k, index);
        // SAFETY: before group j at most 8j positions were written, so the 8 slots written
        // here end by 8j + 8 <= 64 <= `out.len()`.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(n).cast(), packed) };
        n += k.count_ones() as usize;
        index = _mm512_add_epi64(index, _mm512_set1_epi64(8));
    }
    n
}

/// [`super::pick_scalar`], eight runs at a time.
///
/// # Safety
/// The CPU must have what [`super::Avx512::get`] checks, and `lower` 16 readable bytes from every
/// run start in `edges`.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
pub(super) unsafe fn pick_avx512<W: WordFilter + ?Sized>(
    lower: &[u8],
    edges: &[usize],
    filter: &W,
    picks: &mut [u32],
) -> usize {
    use std::arch::x86_64::*;
    let runs = edges.len() / 2;
    assert!(
        picks.len() >= runs + 8,
        "room for every run, and a full store past them"
    );
    // Every gather below reads 8 bytes at a run start, or at 8 past it: the caller
    // guarantees 16 readable bytes from every run start, and the lanes past the last run
    // read at offset 0.
    assert!(lower.len() >= 16);
    let even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    let odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    let ones = _mm512_set1_epi64(-1);
    let eight = _mm512_set1_epi64(8);
    let mut picked = 0;
    let mut r = 0;
    while r < runs {
        let lanes = (runs - r).min(8);
        let valid: __mmask8 = (0xFFu16 >> (8 - lanes)) as u8;
        // The runs' starts and ends, interleaved in `edges`; zero past the last run.
        let at = edges.as_ptr().add(2 * r).cast::<i64>();
        let k_lo = ((1u32 << (2 * lanes).min(8)) - 1) as __mmask8;
        let k_hi = ((1u32 << (2 * lanes).saturating_sub(8)) - 1) as __mmask8;
        let lo = _mm512_maskz_loadu_epi64(k_lo, at);
        let hi = _mm512_maskz_loadu_epi64(k_hi, at.wrapping_add(8));
        let starts = _mm512_permutex2var_epi64(lo, even, hi);
        let ends = _mm512_permutex2var_epi64(lo, odd, hi);
        let lens = _mm512_sub_epi64(ends, starts);
        let base = lower.as_ptr().cast::<i64>();
        let w0 = _mm512_i64gather_epi64::<1>(starts, base);
        let w1 = _mm512_i64gather_epi64::<1>(_mm512_add_epi64(starts, eight), base);
        // First `len` bytes of 8, then of the next 8: a shift by 64 or more gives 0.
        let bits = _mm512_slli_epi64::<3>(lens);
        let m0 = _mm512_andnot_si512(_mm512_sllv_epi64(ones, bits), ones);
        let rest = _mm512_sub_epi64(_mm512_max_epu64(lens, eight), eight);
        let m1 = _mm512_andnot_si512(_mm512_sllv_epi64(ones, _mm512_slli_epi64::<3>(rest)), ones);
        let first8 = _mm512_and_si512(w0, m0);
        let both = _mm512_or_si512(first8, _mm512_and_si512(w1, m1));
        let high = _mm512_test_epi64_mask(both, _mm512_set1_epi64(0x8080_8080_8080_8080u64 as i64));
        let long = _mm512_cmpgt_epu64_mask(lens, _mm512_set1_epi64(16));
        let head = _mm512_and_si512(w0, _mm512_set1_epi64(0xFFFF_FFFF));
        let http =
            _mm512_cmpeq_epi64_mask(head, _mm512_set1_epi64(u32::from_le_bytes(*b"http") as i64));
        let www =
            _mm512_cmpeq_epi64_mask(head, _mm512_set1_epi64(u32::from_le_bytes(*b"www.") as i64));
        let mut f8 = [0u64; 8];
        let mut l8 = [0u64; 8];
        _mm512_storeu_si512(f8.as_mut_ptr().cast(), first8);
        _mm512_storeu_si512(l8.as_mut_ptr().cast(), lens);
        let look = (high | long | http | www | filter.keep8(&f8, &l8)) & valid;
        let index = _mm256_add_epi32(
            _mm256_set1_epi32(r as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        // Compressed in a register and stored whole (a compressed store to memory is slow
        // on some CPUs): `picked` <= `r` < `runs`, so the 8 slots fit in `runs + 8`.
        let packed = _mm256_maskz_compress_epi32(look, index);
        _mm256_storeu_si256(picks.as_mut_ptr().add(picked).cast(), packed);
        picked += look.count_ones() as usize;
        r += 8;
    }
    picked
}

/// `Dict::wants8` with AVX-512.
///
/// # Safety
/// The CPU must have what [`super::Avx512::get`] checks, and `t` pass `DictTables::check`.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
pub(super) unsafe fn dict_wants8(t: &DictTables<'_>, first8: &[u64; 8], len: &[u64; 8]) -> u8 {
    use std::arch::x86_64::*;
    let f = _mm512_loadu_si512(first8.as_ptr().cast());
    let n = _mm512_loadu_si512(len.as_ptr().cast());
    let one = _mm512_set1_epi64(1);
    let six3 = _mm512_set1_epi64(63);
    // `quick`: one multiply of the first 8 bytes and the length.
    let x = _mm512_mullo_epi64(
        _mm512_xor_si512(f, _mm512_ror_epi64::<8>(n)),
        _mm512_set1_epi64(t.k as i64),
    );
    let q = _mm512_xor_si512(x, _mm512_srli_epi64::<32>(x));
    // `bloom_bits` and `may_hold`: the word is below `bloom.len()` by construction.
    let word = _mm512_srlv_epi64(q, _mm512_set1_epi64(t.bloom_shift as i64));
    let got = _mm512_i64gather_epi64::<8>(word, t.bloom.as_ptr().cast());
    let bits = _mm512_or_si512(
        _mm512_sllv_epi64(one, _mm512_and_si512(q, six3)),
        _mm512_sllv_epi64(one, _mm512_and_si512(_mm512_srli_epi64::<6>(q), six3)),
    );
    let whole = _mm512_cmpeq_epi64_mask(_mm512_and_si512(got, bits), bits);
    // `head_bucket`: a 32-bit multiply of the first four bytes; below `prefix_mask.len()`.
    let h = _mm512_mullo_epi32(f, _mm512_set1_epi64(0x9E37_79B1));
    let h = _mm512_srlv_epi64(
        _mm512_and_si512(h, _mm512_set1_epi64(0xFFFF_FFFF)),
        _mm512_set1_epi64(t.prefix_shift as i64),
    );
    let mask = _mm512_cvtepu32_epi64(_mm512_i64gather_epi32::<4>(
        h,
        t.prefix_mask.as_ptr().cast(),
    ));
    let mask = _mm512_or_si512(mask, _mm512_set1_epi64(t.short_prefixes as i64));
    let below = _mm512_sub_epi64(
        _mm512_sllv_epi64(one, _mm512_min_epu64(n, _mm512_set1_epi64(32))),
        one,
    );
    let lens = _mm512_test_epi64_mask(mask, below);
    let long = if t.long_prefixes {
        _mm512_cmpgt_epu64_mask(n, _mm512_set1_epi64(32))
    } else {
        0
    };
    whole | lens | long
}
