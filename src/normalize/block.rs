//! Stage one of [`super::for_each_word`]: 64 bytes at a time, the lower-case ASCII copy of the
//! text and two bit masks, "may be part of a word" (ASCII letters and digits, and every byte of
//! a non-ASCII character, which the fold tables judge later) and "non-ASCII". Word runs are
//! then read off the masks' edges with bit arithmetic instead of a branch per byte, which is
//! what made the byte-at-a-time loop slow: its branches mispredict once or twice per word.

/// Bytes handled per step.
pub const BLOCK: usize = 64;

/// Classifies one block: writes its ASCII-lower-case copy to `dst` and returns the masks
/// (bit k for byte k): `(word, non_ascii)`.
#[inline]
pub fn classify(src: &[u8; BLOCK], dst: &mut [u8; BLOCK]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has it.
        unsafe { sse2(src, dst) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        portable(src, dst)
    }
}

/// The same, one byte at a time: the definition, and the code on other architectures.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub fn portable(src: &[u8; BLOCK], dst: &mut [u8; BLOCK]) -> (u64, u64) {
    let (mut word, mut non_ascii) = (0u64, 0u64);
    for (k, (&b, d)) in src.iter().zip(dst.iter_mut()).enumerate() {
        *d = b.to_ascii_lowercase();
        let high = (b >= 0x80) as u64;
        word |= ((b.is_ascii_alphanumeric() as u64) | high) << k;
        non_ascii |= high << k;
    }
    (word, non_ascii)
}

/// SSE2 is part of x86_64, so this needs no run-time detection.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn sse2(src: &[u8; BLOCK], dst: &mut [u8; BLOCK]) -> (u64, u64) {
    use std::arch::x86_64::*;
    let (mut word, mut non_ascii) = (0u64, 0u64);
    for k in 0..BLOCK / 16 {
        let lane: &[u8; 16] = src[16 * k..16 * k + 16].try_into().expect("16 bytes");
        let out: &mut [u8; 16] = (&mut dst[16 * k..16 * k + 16])
            .try_into()
            .expect("16 bytes");
        // SAFETY: `lane` and `out` are 16 bytes long; the unaligned load and store read and
        // write exactly those bytes.
        let v = unsafe { _mm_loadu_si128(lane.as_ptr().cast()) };
        let upper = within(v, b'A', b'Z');
        let lower = _mm_or_si128(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
        // SAFETY: as above.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), lower) };
        let alnum = _mm_or_si128(within(lower, b'a', b'z'), within(v, b'0', b'9'));
        let high = _mm_movemask_epi8(v) as u16 as u64;
        let a = _mm_movemask_epi8(alnum) as u16 as u64;
        word |= (a | high) << (16 * k);
        non_ascii |= high << (16 * k);
    }
    (word, non_ascii)
}

/// [`classify`] with AVX-512 BW, for up to 64 bytes: `src` may be shorter (the last block of
/// a text), and reads as if zeros followed.
///
/// # Safety
/// The CPU must have what `normalize::simd8` checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
#[inline]
pub unsafe fn classify_avx512(src: &[u8], dst: &mut [u8; BLOCK]) -> (u64, u64) {
    use std::arch::x86_64::*;
    let n = src.len().min(BLOCK);
    let loaded = if n == BLOCK {
        u64::MAX
    } else {
        (1u64 << n) - 1
    };
    // SAFETY: the masked load reads only the first `n` bytes, all of them in `src`.
    let v = unsafe { _mm512_maskz_loadu_epi8(loaded, src.as_ptr().cast()) };
    // Unsigned `x - lo < len`: one compare per range.
    let range = |x, lo: u8, len: u8| {
        _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(x, _mm512_set1_epi8(lo as i8)),
            _mm512_set1_epi8(len as i8),
        )
    };
    let upper = range(v, b'A', 26);
    let lower = _mm512_mask_add_epi8(v, upper, v, _mm512_set1_epi8(0x20));
    // SAFETY: `dst` is 64 bytes long.
    unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), lower) };
    let high = _mm512_movepi8_mask(v);
    (range(lower, b'a', 26) | range(v, b'0', 10) | high, high)
}

/// [`super::flatten`] with AVX-512: eight compressed stores of eight positions each, no
/// branch on the number of edges.
///
/// # Safety
/// The CPU must have what `normalize::simd8` checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
#[inline]
pub unsafe fn flatten_avx512(edges: u64, at: usize, out: &mut [usize]) -> usize {
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

/// The bytes of `v` within `lo..=hi` (both below 0x80). Signed compares: bytes of 0x80 and
/// above are negative, so they fall in no such range.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn within(v: std::arch::x86_64::__m128i, lo: u8, hi: u8) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    _mm_and_si128(
        _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
        _mm_cmplt_epi8(v, _mm_set1_epi8(hi as i8 + 1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse2_and_portable_agree_on_every_byte() {
        for first in (0..=255u8).step_by(BLOCK) {
            let src: [u8; BLOCK] = std::array::from_fn(|k| first.wrapping_add(k as u8));
            let (mut a, mut b) = ([0; BLOCK], [0; BLOCK]);
            assert_eq!(classify(&src, &mut a), portable(&src, &mut b));
            assert_eq!(a, b);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_and_portable_agree_on_every_byte_and_tail_length() {
        if !super::super::simd8() {
            return;
        }
        for first in (0..=255u8).step_by(BLOCK) {
            let src: [u8; BLOCK] = std::array::from_fn(|k| first.wrapping_add(k as u8));
            for len in 0..=BLOCK {
                // A shorter block reads as if zeros followed.
                let mut padded = [0u8; BLOCK];
                padded[..len].copy_from_slice(&src[..len]);
                let (mut a, mut b) = ([0; BLOCK], [0; BLOCK]);
                // SAFETY: `simd8` said the CPU has the features it needs.
                let got = unsafe { classify_avx512(&src[..len], &mut a) };
                assert_eq!(got, portable(&padded, &mut b), "len {len}");
                assert_eq!(a, b);
            }
        }
        for edges in [
            0u64,
            1,
            u64::MAX,
            0x8000_0000_0000_0001,
            0x5555_5555_5555_5555,
            0xF0F0,
        ] {
            let (mut a, mut b) = ([0usize; BLOCK], [0usize; BLOCK]);
            let n = super::super::flatten(edges, 128, &mut a);
            // SAFETY: as above.
            assert_eq!(unsafe { flatten_avx512(edges, 128, &mut b) }, n);
            assert_eq!(a[..n], b[..n]);
        }
    }
}
