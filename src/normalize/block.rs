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

/// For each byte, the positions of its set bits, lowest first, then zeros.
#[cfg(target_arch = "x86_64")]
static BIT_POSITIONS: [[u8; 8]; 256] = {
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

/// [`super::flatten`] with AVX2: for each byte of `edges`, its bits' positions from a table,
/// widened and stored eight at a time, with no chain of bit clears from one edge to the next.
///
/// # Safety
/// The CPU must have what [`avx2_available`] checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
#[inline]
pub unsafe fn flatten_avx2(edges: u64, at: usize, out: &mut [usize]) -> usize {
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

/// The byte of the folded text that stands for the character whose bytes start at `i` of the
/// lower-cased block `b`, and the character's width, when step one folds it in place (see
/// `normalize::FoldBytes`): a character whose bytes all lie in the block. `None` otherwise.
#[cfg(test)]
fn stand_in(b: &[u8; BLOCK], i: usize, table: &super::FoldBytes) -> Option<(u8, usize)> {
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
fn first_bytes(n: usize) -> u64 {
    if n == BLOCK {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Step one for one block without AVX-512: the lower-cased copy and [`classify`]'s masks,
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

/// Step one for one block, one character at a time where it holds non-ASCII: the definition of
/// [`fold_avx512`], which the tests hold it to. `src` is up to 64 bytes of text (fewer for the
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
    table: &super::FoldBytes,
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

/// [`fold_portable`] with AVX-512 (with VBMI and VBMI2 for the byte permutes and the byte
/// compress): the block's characters looked up in `table` (the 192 bytes of `FoldBytes` in
/// three registers) all at once, their stand-ins put in place, and the kept bytes compressed.
///
/// # Safety
/// The CPU must have what `normalize::simd8` checks, and `dst` and `origin` room for 64 bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(
    enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,avx512vbmi2,popcnt,bmi1,bmi2"
)]
#[inline]
pub unsafe fn fold_avx512(
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

/// Whether this CPU runs [`fold_avx2`]: AVX2, with POPCNT and BMI1 (every x86_64 CPU since
/// Haswell and Zen 1). Setting `VIGIE_NO_AVX2` in the environment turns it off, and AVX-512
/// with it: the portable code then runs.
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn avx2_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        std::env::var_os("VIGIE_NO_AVX2").is_none()
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("popcnt")
            && std::is_x86_feature_detected!("bmi1")
    })
}

/// [`fold_portable`] with AVX2, for CPUs without AVX-512's byte compress: the lower-cased
/// copy and masks 32 bytes at a time; the characters to fold (found with a compare, a few in
/// a block of French text) looked up one by one; then the stretches between the dropped bytes
/// moved down, each with one overlapping 64-byte copy (no table of shuffles, no `pext`, which
/// is slow on AMD CPUs before Zen 3), and their bits of the masks moved down with shifts.
///
/// # Safety
/// The CPU must have what [`avx2_available`] checks. `dst` and `origin` have room for 128
/// bytes (the last stretch's copy runs 64 bytes past its start).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
#[inline]
pub unsafe fn fold_avx2(
    src: &[u8],
    dst: &mut [u8],
    origin: &mut [u8],
    ahead: u8,
    table: &super::FoldBytes,
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

/// 32 bytes of text lower-cased, and the masks of [`classify`] for them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn classify32(v: std::arch::x86_64::__m256i) -> (std::arch::x86_64::__m256i, u64, u64) {
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

    /// Every character up to U+07FF and from U+2000 to U+203F, cut into blocks anywhere, and
    /// blocks full of the characters step one folds, at every offset (some of them cut by the
    /// block's end): text is UTF-8, so a block is any window of it.
    fn fold_test_blocks() -> Vec<[u8; BLOCK]> {
        let all: String = (0..0x800u32)
            .chain(0x2000..0x2040)
            .filter_map(char::from_u32)
            .collect();
        let mut blocks: Vec<[u8; BLOCK]> = all
            .as_bytes()
            .chunks_exact(BLOCK)
            .map(|c| c.try_into().expect("64 bytes"))
            .collect();
        for text in ["é’«ÉaÀ…\u{A0}b\u{2003}×", "\u{AD}ß’’x", "Ça ’", "…ééé"]
        {
            for shift in 0..4 {
                let bytes: Vec<u8> = std::iter::repeat_n(b'a', shift)
                    .chain(text.bytes().cycle())
                    .take(BLOCK)
                    .collect();
                blocks.push(bytes.try_into().expect("64 bytes"));
            }
        }
        blocks
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_portable_fold_every_byte_and_tail_length_alike() {
        if !avx2_available() {
            return;
        }
        let table = super::super::fold_bytes();
        for src in &fold_test_blocks() {
            // Each read to every length.
            for len in 0..=BLOCK {
                // Garbage where the fold writes, which it must not leave in what it returns.
                let (mut a, mut b) = ([0xEEu8; 2 * BLOCK], [0u8; BLOCK]);
                let (mut oa, mut ob) = ([0xEEu8; 2 * BLOCK], [0u8; BLOCK]);
                // SAFETY: `avx2_available` said the CPU has what it needs; `a` and `oa` have
                // 128 bytes.
                let got = unsafe { fold_avx2(&src[..len], &mut a, &mut oa, 7, table) };
                let want = fold_portable(&src[..len], &mut b, &mut ob, 7, table, portable);
                assert_eq!(got, want, "{src:x?} len {len}");
                let n = want.3 as usize;
                assert_eq!(a[..n], b[..n], "{src:x?} len {len}");
                assert_eq!(oa[..n], ob[..n], "{src:x?} len {len}");
                assert!(a[n..BLOCK].iter().all(|&x| x == 0), "{src:x?} len {len}");
            }
        }
        for edges in FLATTEN_CASES {
            let (mut a, mut b) = ([0usize; BLOCK], [0usize; BLOCK]);
            let n = super::super::flatten(edges, 128, &mut a);
            // SAFETY: as above.
            assert_eq!(unsafe { flatten_avx2(edges, 128, &mut b) }, n);
            assert_eq!(a[..n], b[..n], "{edges:x}");
        }
    }

    /// Edge masks: none, all, the ends, every other bit, a different byte in each place.
    const FLATTEN_CASES: [u64; 7] = [
        0,
        1,
        u64::MAX,
        0x8000_0000_0000_0001,
        0x5555_5555_5555_5555,
        0xF0F0,
        0x0706_0504_0302_0100,
    ];

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_and_portable_fold_every_byte_and_tail_length_alike() {
        if !super::super::simd8() {
            return;
        }
        use std::arch::x86_64::__m512i;
        let table = super::super::fold_bytes();
        // SAFETY: the table is 192 bytes.
        let regs: [__m512i; 3] = std::array::from_fn(|k| unsafe {
            std::arch::x86_64::_mm512_loadu_si512(table.as_ptr().add(64 * k).cast())
        });
        let blocks = fold_test_blocks();
        for src in &blocks {
            for len in 0..=BLOCK {
                let (mut a, mut b) = ([0u8; BLOCK], [0u8; BLOCK]);
                let (mut oa, mut ob) = ([0u8; BLOCK], [0u8; BLOCK]);
                // SAFETY: `simd8` said the CPU has the features it needs; `a` and `oa` have
                // 64 bytes.
                let got =
                    unsafe { fold_avx512(&src[..len], a.as_mut_ptr(), oa.as_mut_ptr(), 7, &regs) };
                let want = fold_portable(&src[..len], &mut b, &mut ob, 7, table, portable);
                assert_eq!(got, want, "{src:x?} len {len}");
                let n = want.3 as usize;
                assert_eq!(a[..n], b[..n], "{src:x?} len {len}");
                assert_eq!(oa[..n], ob[..n], "{src:x?} len {len}");
                assert!(a[n..].iter().all(|&x| x == 0));
            }
        }
        for edges in FLATTEN_CASES {
            let (mut a, mut b) = ([0usize; BLOCK], [0usize; BLOCK]);
            let n = super::super::flatten(edges, 128, &mut a);
            // SAFETY: as above.
            assert_eq!(unsafe { flatten_avx512(edges, 128, &mut b) }, n);
            assert_eq!(a[..n], b[..n]);
        }
    }
}
