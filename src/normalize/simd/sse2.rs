//! The SSE2 code of the scan's block classification (`block::classify`): SSE2 is part of
//! x86_64, so it needs no run-time detection and no token.

use crate::normalize::block::BLOCK;

/// [`super::classify`] with SSE2, which is part of x86_64: no run-time detection, no token.
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn sse2(src: &[u8; BLOCK], dst: &mut [u8; BLOCK]) -> (u64, u64) {
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

/// The bytes of `v` within `lo..=hi` (both below 0x80). Signed compares: bytes of 0x80 and
/// above are negative, so they fall in no such range.
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn within(v: std::arch::x86_64::__m128i, lo: u8, hi: u8) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    _mm_and_si128(
        _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
        _mm_cmplt_epi8(v, _mm_set1_epi8(hi as i8 + 1)),
    )
}
