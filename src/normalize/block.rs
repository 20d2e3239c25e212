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
}
