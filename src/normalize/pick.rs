//! Step two of [`super::for_each_word_where`]: which runs of word bytes need a closer look.
//!
//! A run of at most 16 ASCII letters and digits that does not start a URL (`http`, `www.`)
//! and that the caller's [`WordFilter`] turns away is a word nobody wants: step three only
//! counts it. Every other run is picked. This is the one step that touches every word of every
//! post, so it has no branch per run: eight runs at a time with AVX-512 where the CPU has it
//! (gathers of the runs' first 16 bytes, the filter's own eight-lane test, a compressed store
//! of the picked indices), one run at a time otherwise. Both give the same picks; the tests
//! check it on random texts.

use super::{WordFilter, HEAD_MASK};

/// Writes the indices of the runs to look at to the start of `picks` and returns how many
/// there are. `edges` holds the runs' starts and ends, alternately; `lower` is the
/// lower-cased text; `picks` has room for one index per run and 8 more.
///
/// # Safety
/// `lower` has at least 16 readable bytes from every run start (step one pads it).
#[inline(always)]
pub unsafe fn pick<W: WordFilter + ?Sized>(
    lower: &[u8],
    edges: &[usize],
    filter: &W,
    picks: &mut [u32],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // SAFETY: the CPU has the features `avx512::pick` is compiled for, checked just above;
        // the caller guarantees the rest.
        return unsafe { avx512::pick(lower, edges, filter, picks) };
    }
    // SAFETY: the caller's guarantee.
    unsafe { pick_scalar(lower, edges, filter, picks) }
}

/// [`pick`], one run at a time: the definition, and the code on CPUs without AVX-512.
///
/// # Safety
/// As for [`pick`]: 16 readable bytes of `lower` from every run start. The loop reads them
/// and writes `picks` unchecked (the bounds checks were a tenth of the step's instructions).
#[inline(always)]
pub unsafe fn pick_scalar<W: WordFilter + ?Sized>(
    lower: &[u8],
    edges: &[usize],
    filter: &W,
    picks: &mut [u32],
) -> usize {
    assert!(picks.len() >= edges.len() / 2, "room for every run");
    let mut picked = 0;
    for (r, run) in edges.chunks_exact(2).enumerate() {
        let (s, e) = (run[0], run[1]);
        let len = e - s;
        debug_assert!(s + 16 <= lower.len());
        // SAFETY: the caller's guarantee.
        let (w0, w1) = unsafe {
            let head = lower.as_ptr().add(s);
            (
                head.cast::<u64>().read_unaligned().to_le(),
                head.add(8).cast::<u64>().read_unaligned().to_le(),
            )
        };
        let [m0, m1] = HEAD_MASK[len.min(16)];
        let first8 = w0 & m0;
        let high = (first8 | w1 & m1) & 0x8080_8080_8080_8080;
        // Unmasked: `www.` ends in the separator after a three-letter run.
        let url = (w0 as u32 == u32::from_le_bytes(*b"http"))
            | (w0 as u32 == u32::from_le_bytes(*b"www."));
        let look = (high != 0) | (len > 16) | url || filter.keep(first8, len);
        // SAFETY: `picked <= r`, and `picks` has room for every run (asserted above).
        unsafe { *picks.get_unchecked_mut(picked) = r as u32 };
        picked += look as usize;
    }
    picked
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    use super::WordFilter;

    /// Whether this CPU runs the tokenizer's AVX-512 steps (and the filters' eight-lane
    /// tests). Together they need AVX-512 F, BW, DQ, VL, VBMI and VBMI2, which the AVX-512
    /// server CPUs since Ice Lake (and AMD's since Zen 4) have, with POPCNT, BMI1 and BMI2.
    /// Setting `VIGIE_NO_AVX512` in the environment turns them off (the AVX2 or portable code
    /// then runs), to compare them or to rule them out; `VIGIE_NO_AVX2` turns off both (AVX2
    /// is checked first: every AVX-512 CPU has it).
    #[inline]
    pub fn available() -> bool {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            super::super::block::avx2_available()
                && std::env::var_os("VIGIE_NO_AVX512").is_none()
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512vbmi")
                && std::is_x86_feature_detected!("avx512vbmi2")
                && std::is_x86_feature_detected!("popcnt")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2")
        })
    }

    /// [`super::pick`], eight runs at a time.
    ///
    /// # Safety
    /// The CPU must have what [`available`] checks.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
    pub unsafe fn pick<W: WordFilter + ?Sized>(
        lower: &[u8],
        edges: &[usize],
        filter: &W,
        picks: &mut [u32],
    ) -> usize {
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
            let m1 =
                _mm512_andnot_si512(_mm512_sllv_epi64(ones, _mm512_slli_epi64::<3>(rest)), ones);
            let first8 = _mm512_and_si512(w0, m0);
            let both = _mm512_or_si512(first8, _mm512_and_si512(w1, m1));
            let high =
                _mm512_test_epi64_mask(both, _mm512_set1_epi64(0x8080_8080_8080_8080u64 as i64));
            let long = _mm512_cmpgt_epu64_mask(lens, _mm512_set1_epi64(16));
            let head = _mm512_and_si512(w0, _mm512_set1_epi64(0xFFFF_FFFF));
            let http = _mm512_cmpeq_epi64_mask(
                head,
                _mm512_set1_epi64(u32::from_le_bytes(*b"http") as i64),
            );
            let www = _mm512_cmpeq_epi64_mask(
                head,
                _mm512_set1_epi64(u32::from_le_bytes(*b"www.") as i64),
            );
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
}
