//! One block of the scan (`scan`), the first stage of [`super::for_each_word`]: 64 bytes at a time,
//! the lower-case ASCII copy of the text and two bit masks, "may be part of a word" (ASCII letters
//! and digits, and every byte of a non-ASCII character, which the fold tables judge later) and
//! "non-ASCII". Word runs are then read off the masks' edges with bit arithmetic instead of a
//! branch per byte, which is what made the byte-at-a-time loop slow: its branches mispredict once
//! or twice per word.

/// Bytes handled per step.
pub const BLOCK: usize = 64;

/// Classifies one block: writes its ASCII-lower-case copy to `dst` and returns the masks
/// (bit k for byte k): `(word, non_ascii)`.
#[inline]
pub fn classify(src: &[u8; BLOCK], dst: &mut [u8; BLOCK]) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        super::simd::classify(src, dst)
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

/// The byte of the folded text that stands for the character whose bytes start at `i` of the
/// lower-cased block `b`, and the character's width, when the scan folds it in place (see
/// `fold::FoldBytes`): a character whose bytes all lie in the block. `None` otherwise.
#[cfg(test)]
fn stand_in(b: &[u8; BLOCK], i: usize, table: &super::fold::FoldBytes) -> Option<(u8, usize)> {
    let (at, width) = match b[i] {
        0xC2 | 0xC3 if i + 1 < BLOCK => (((b[i] & 1) as usize) << 6 | (b[i + 1] & 63) as usize, 2),
        0xE2 if i + 2 < BLOCK && b[i + 1] == 0x80 => (128 | (b[i + 2] & 63) as usize, 3),
        _ => return None,
    };
    let c = table[at];
    (c != 0).then_some((c, width))
}

/// The mask of a block's first `n` bytes (`n` ≤ 64).
#[inline(always)]
pub(super) fn first_bytes(n: usize) -> u64 {
    if n == BLOCK {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The scan of one block without AVX2 or AVX-512: the lower-cased copy and [`classify`]'s masks,
/// nothing folded, in [`fold_portable`]'s form (`dst` has room for 64 bytes).
#[inline(always)]
pub fn copy_portable(
    src: &[u8],
    dst: &mut [u8],
    classify: impl Fn(&[u8; BLOCK], &mut [u8; BLOCK]) -> (u64, u64),
) -> (u64, u64, u64, u32) {
    let n = src.len().min(BLOCK);
    let lower: &mut [u8; BLOCK] = (&mut dst[..BLOCK]).try_into().expect("64 bytes");
    let (word, high) = match src.try_into() {
        Ok(full) => classify(full, lower),
        Err(_) => {
            let mut tail = [0u8; BLOCK];
            tail[..n].copy_from_slice(&src[..n]);
            classify(&tail, lower)
        }
    };
    let loaded = first_bytes(n);
    (word & loaded, high & loaded, loaded, n as u32)
}

/// The scan of one block, one character at a time where it holds non-ASCII: the definition of
/// `simd::fold_avx512` and `simd::fold_avx2`, which the tests hold them to. `src` is up to 64 bytes of text (fewer for the
/// last block, read as if zeros followed). Writes the block's folded, lower-cased bytes to the
/// start of `dst` (which has room for 64) and returns `(word, non_ascii, kept, count)`: `count`
/// bytes were written, `kept` marks the bytes of `src` that they come from, and `word` and
/// `non_ascii` are [`classify`]'s masks of the written bytes (bit k for written byte k). Writes
/// to `origin`, for each written byte, how far ahead of it its byte in the text is, modulo
/// 256: `ahead` (for the block's first byte) plus the bytes dropped before it.
#[cfg(test)]
pub fn fold_portable(
    src: &[u8],
    dst: &mut [u8],
    origin: &mut [u8],
    ahead: u8,
    table: &super::fold::FoldBytes,
    classify: impl Fn(&[u8; BLOCK], &mut [u8; BLOCK]) -> (u64, u64),
) -> (u64, u64, u64, u32) {
    let (mut word, mut high, loaded, count) = copy_portable(src, dst, &classify);
    let n = count as usize;
    let lower: &mut [u8; BLOCK] = (&mut dst[..BLOCK]).try_into().expect("64 bytes");
    // Stand-ins put in place, their characters' other bytes marked to drop, the masks fixed.
    let mut dropped = 0u64;
    let mut rest = high;
    while rest != 0 {
        let i = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        if let Some((c, width)) = stand_in(lower, i, table) {
            lower[i] = c;
            let tail = ((1u64 << (width - 1)) - 1) << (i + 1);
            dropped |= tail;
            rest &= !tail;
            high &= !(1 << i);
            word = word & !(1 << i) | (c.is_ascii_alphanumeric() as u64) << i;
        }
    }
    let kept = loaded & !dropped;
    if dropped & loaded == 0 {
        origin[..BLOCK].fill(ahead);
        return (word, high, loaded, count);
    }
    // The stretches between dropped bytes, moved down in place, each with how many were
    // dropped before it.
    let (mut out, mut from, mut gone) = (0, 0, 0u8);
    let mut drop = dropped & loaded;
    loop {
        let to = if drop == 0 {
            n
        } else {
            drop.trailing_zeros() as usize
        };
        dst.copy_within(from..to, out);
        origin[out..out + to - from].fill(ahead.wrapping_add(gone));
        out += to - from;
        if drop == 0 {
            break;
        }
        let skip = (!(drop >> to)).trailing_zeros() as usize;
        drop &= !(((1u64 << skip) - 1) << to);
        from = to + skip;
        gone = gone.wrapping_add(skip as u8);
    }
    dst[out..BLOCK].fill(0);
    // The masks lose the dropped bits, highest first.
    let mut drop = dropped & loaded;
    while drop != 0 {
        let i = 63 - drop.leading_zeros();
        drop &= !(1 << i);
        let below = (1u64 << i) - 1;
        word = word & below | word >> 1 & !below;
        high = high & below | high >> 1 & !below;
    }
    (word, high, kept, out as u32)
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
