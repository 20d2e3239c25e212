//! All of vigie's `unsafe` SIMD code, behind a safe API: the AVX-512, AVX2 and SSE2 steps of
//! the tokenizer (the scan's fold and edges, the pick) and the dictionary filter's
//! eight-word test. Everything else calls the safe functions here; nothing outside this module
//! uses `std::arch`, `#[target_feature]` or `unsafe` for SIMD (a test checks it), so the code
//! that must be proven is in one place.
//!
//! The model is `memchr`'s: the CPU's features are detected once, at run time, and the proof is
//! a token ([`Avx512`], [`Avx2`]) that only that detection makes (its field is private). The
//! safe functions take the token, so they cannot run on a CPU without the instructions; each
//! `unsafe fn` states its one safety invariant, and each `unsafe` block says why it holds.
//! Every SIMD function has a portable twin that defines it (`block::fold_portable`,
//! `scan::flatten`, [`pick_scalar`], `Dict::wants`), and the tests hold each to its twin;
//! a test whose path this CPU lacks says so on stderr (`cargo test -- --nocapture`) and fails
//! instead when `VIGIE_REQUIRE_SIMD` names it (`avx2`, `avx512`), for CI on such machines.
//!
//! `VIGIE_NO_AVX512` in the environment turns the AVX-512 code off (the AVX2 or portable code
//! then runs), to compare them or to rule them out; `VIGIE_NO_AVX2` turns off both (every
//! AVX-512 CPU has AVX2, and AVX-512 is only used where AVX2 is).

#[cfg(target_arch = "x86_64")]
use super::block::{first_bytes, BLOCK};
#[cfg(target_arch = "x86_64")]
use super::fold::{fold_bytes, FoldBytes};
use super::{Buffers, WordFilter, HEAD_MASK};

/// Proof that this CPU runs the AVX-512 steps: AVX-512 F, BW, DQ, VL, VBMI and VBMI2, which
/// the AVX-512 server CPUs since Ice Lake (and AMD's since Zen 4) have, with POPCNT, BMI1 and
/// BMI2, and AVX2 ([`Avx2`]). Only [`Avx512::get`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx512(());

/// Proof that this CPU runs the AVX2 steps: AVX2, with POPCNT and BMI1 (every x86_64 CPU since
/// Haswell and Zen 1). Only [`Avx2::get`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx2(());

impl Avx512 {
    /// The token, if this CPU has the features and `VIGIE_NO_AVX512` (or `VIGIE_NO_AVX2`) is
    /// not set. Detected once per process.
    #[inline]
    pub fn get() -> Option<Avx512> {
        #[cfg(target_arch = "x86_64")]
        {
            static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            let yes = *AVAILABLE.get_or_init(|| {
                Avx2::get().is_some()
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
            });
            yes.then_some(Avx512(()))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// The scan of `normalize::for_each_word_where` with AVX-512 (see `scan::scan`):
    /// fills `b` for `bytes` and returns twice the number of runs.
    #[inline(always)]
    pub(super) fn scan(self, bytes: &[u8], b: &mut Buffers) -> usize {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` proves the CPU has what `scan_avx512` is compiled for.
        return unsafe { scan_avx512(bytes, b, fold_bytes()) };
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (bytes, b);
            unreachable!("no AVX-512 token off x86_64")
        }
    }

    /// `Dict::wants8` with AVX-512: the same hashes as the one-word filter, two gathers.
    #[inline(always)]
    pub(crate) fn dict_wants8(self, t: &DictTables<'_>, first8: &[u64; 8], len: &[u64; 8]) -> u8 {
        t.check();
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` proves the CPU has what `dict_wants8` is compiled for, and
        // `DictTables::check` that every gather index is in its table.
        return unsafe { dict_wants8(t, first8, len) };
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (first8, len);
            unreachable!("no AVX-512 token off x86_64")
        }
    }
}

impl Avx2 {
    /// The token, if this CPU has the features and `VIGIE_NO_AVX2` is not set. Detected once
    /// per process.
    #[inline]
    pub fn get() -> Option<Avx2> {
        #[cfg(target_arch = "x86_64")]
        {
            static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            let yes = *AVAILABLE.get_or_init(|| {
                std::env::var_os("VIGIE_NO_AVX2").is_none()
                    && std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("popcnt")
                    && std::is_x86_feature_detected!("bmi1")
            });
            yes.then_some(Avx2(()))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }

    /// The scan of `normalize::for_each_word_where` with AVX2 (see `scan::scan`):
    /// fills `b` for `bytes` and returns twice the number of runs.
    #[inline(always)]
    pub(super) fn scan(self, bytes: &[u8], b: &mut Buffers) -> usize {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` proves the CPU has what `scan_avx2` is compiled for.
        return unsafe { scan_avx2(bytes, b, fold_bytes()) };
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (bytes, b);
            unreachable!("no AVX2 token off x86_64")
        }
    }
}

/// Classifies one block as `block::classify` does (its lower-cased copy to `dst`; the masks
/// `(word, non_ascii)`), with SSE2.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn classify(src: &[u8; BLOCK], dst: &mut [u8; BLOCK]) -> (u64, u64) {
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has it.
    unsafe { sse2(src, dst) }
}

/// The pick of `normalize::for_each_word_where` (the module comment of `normalize` says what
/// it is for): writes the indices of the runs of `b.edges[..count]` that need a closer look to
/// the start of `b.picked` (grown as needed) and returns how many there are. A run of at most
/// 16 ASCII letters and digits that does not start a URL (`http`, `www.`) and that `filter`
/// turns away is a word nobody wants; every other run is picked. The pick touches every word
/// of every post, so it has no branch per run: eight runs at a time with AVX-512 (gathers of
/// the runs' first 16 bytes, the filter's own eight-lane test, a compressed store of the
/// picked indices), one at a time otherwise; both give the same picks.
///
/// `b` must be as the scan left it for `count`: that is `Buffers`' invariant (its fields are
/// private to `normalize`, and only the scan writes `lower` and `edges`), which puts 16
/// readable bytes of `lower` after every run start.
#[inline(always)]
pub(super) fn pick<W: WordFilter + ?Sized>(
    cpu: Option<Avx512>,
    b: &mut Buffers,
    count: usize,
    filter: &W,
) -> usize {
    let runs = count / 2;
    if b.picked.len() < runs + 8 {
        b.picked.resize((runs + 8).max(2 * b.picked.len()), 0);
    }
    let (lower, edges) = (&b.lower, &b.edges[..count]);
    debug_assert!(edges.chunks_exact(2).all(|r| r[0] + 16 <= lower.len()));
    #[cfg(target_arch = "x86_64")]
    if cpu.is_some() {
        // SAFETY: the token proves the CPU has what `pick_avx512` is compiled for; `Buffers`'
        // invariant gives the 16 bytes.
        return unsafe { pick_avx512(lower, edges, filter, &mut b.picked) };
    }
    let _ = cpu;
    // SAFETY: `Buffers`' invariant gives the 16 bytes.
    unsafe { pick_scalar(lower, edges, filter, &mut b.picked) }
}

/// What `Dict::wants8` reads: one of the dictionary's two Bloom filters and its prefix
/// table, with the shifts that index them (see `matcher::dict`).
pub(crate) struct DictTables<'a> {
    pub bloom: &'a [u64],
    pub bloom_shift: u32,
    pub prefix_mask: &'a [u32],
    pub prefix_shift: u32,
    pub short_prefixes: u32,
    pub long_prefixes: bool,
    /// The multiplier of `dict::quick`.
    pub k: u64,
}

impl DictTables<'_> {
    /// Panics unless every index the gathers of `dict_wants8` can make is in its table: the
    /// top `64 - bloom_shift` bits of a u64 for `bloom`, the top `32 - prefix_shift` bits of a
    /// u32 for `prefix_mask`. A few compares per eight words.
    #[inline(always)]
    fn check(&self) {
        assert!(
            (1..=64).contains(&self.bloom_shift)
                && (1..=32).contains(&self.prefix_shift)
                && self.bloom.len() >> (64 - self.bloom_shift) != 0
                && self.prefix_mask.len() >> (32 - self.prefix_shift) != 0,
            "dictionary tables smaller than their shifts index"
        );
    }
}

/// [`classify`] with SSE2, which is part of x86_64: no run-time detection, no token.
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

/// `scan::scan` with AVX-512.
///
/// # Safety
/// The CPU must have what [`Avx512::get`] checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(
    enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,avx512vbmi2,popcnt,bmi1,bmi2"
)]
unsafe fn scan_avx512(bytes: &[u8], b: &mut Buffers, table: &FoldBytes) -> usize {
    use std::arch::x86_64::*;
    // SAFETY: `table` is 192 bytes: three 64-byte loads.
    let regs: [__m512i; 3] =
        std::array::from_fn(|k| unsafe { _mm512_loadu_si512(table.as_ptr().add(64 * k).cast()) });
    super::scan::scan_with(
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

/// `scan::scan` with AVX2.
///
/// # Safety
/// The CPU must have what [`Avx2::get`] checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
unsafe fn scan_avx2(bytes: &[u8], b: &mut Buffers, table: &FoldBytes) -> usize {
    super::scan::scan_with(
        bytes,
        b,
        // SAFETY: this function runs only on CPUs with AVX2, and `scan_with` gives 128
        // bytes of room.
        |src, dst, origin, ahead| unsafe { fold_avx2(src, dst, origin, ahead, table) },
        |edges, at, out| unsafe { flatten_avx2(edges, at, out) },
    )
}

/// `block::fold_portable` with AVX-512 (with VBMI and VBMI2 for the byte permutes and the byte
/// compress): the block's characters looked up in `table` (the 192 bytes of `FoldBytes` in
/// three registers) all at once, their stand-ins put in place, and the kept bytes compressed.
///
/// # Safety
/// The CPU must have what [`Avx512::get`] checks, and `dst` and `origin` room for 64 bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(
    enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,avx512vbmi2,popcnt,bmi1,bmi2"
)]
#[inline]
unsafe fn fold_avx512(
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

/// `block::fold_portable` with AVX2, for CPUs without AVX-512's byte compress: the lower-cased
/// copy and masks 32 bytes at a time; the characters to fold (found with a compare, a few in
/// a block of French text) looked up one by one; then the stretches between the dropped bytes
/// moved down, each with one overlapping 64-byte copy (no table of shuffles, no `pext`, which
/// is slow on AMD CPUs before Zen 3), and their bits of the masks moved down with shifts.
///
/// # Safety
/// The CPU must have what [`Avx2::get`] checks. `dst` and `origin` have room for 128
/// bytes (the last stretch's copy runs 64 bytes past its start).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
#[inline]
unsafe fn fold_avx2(
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

/// [`super::scan::flatten`] with AVX-512: eight compressed stores of eight positions each, no
/// branch on the number of edges.
///
/// # Safety
/// The CPU must have what [`Avx512::get`] checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
#[inline]
unsafe fn flatten_avx512(edges: u64, at: usize, out: &mut [usize]) -> usize {
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

/// [`super::scan::flatten`] with AVX2: for each byte of `edges`, its bits' positions from a table,
/// widened and stored eight at a time, with no chain of bit clears from one edge to the next.
///
/// # Safety
/// The CPU must have what [`Avx2::get`] checks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
#[inline]
unsafe fn flatten_avx2(edges: u64, at: usize, out: &mut [usize]) -> usize {
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

/// [`pick`], one run at a time: the definition, and the code on CPUs without AVX-512.
///
/// # Safety
/// `lower` has 16 readable bytes from every run start in `edges`. The loop reads them and
/// writes `picks` unchecked (the bounds checks were a tenth of the step's instructions).
#[inline(always)]
unsafe fn pick_scalar<W: WordFilter + ?Sized>(
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

/// [`pick_scalar`], eight runs at a time.
///
/// # Safety
/// The CPU must have what [`Avx512::get`] checks, and `lower` 16 readable bytes from every
/// run start in `edges`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
unsafe fn pick_avx512<W: WordFilter + ?Sized>(
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
/// The CPU must have what [`Avx512::get`] checks, and `t` pass `DictTables::check`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,popcnt,bmi1,bmi2")]
unsafe fn dict_wants8(t: &DictTables<'_>, first8: &[u64; 8], len: &[u64; 8]) -> u8 {
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

/// For a test of a SIMD path: the token, or `None` after saying on stderr (once per test,
/// shown with `cargo test -- --nocapture`) that the path was not exercised. When
/// `VIGIE_REQUIRE_SIMD` names the path (`avx2`, `avx512`, comma-separated), a panic instead:
/// CI on a machine that has the instructions sets it, so that a test cannot pass unexercised.
#[cfg(test)]
pub(crate) fn avx512_or_skip(test: &str) -> Option<Avx512> {
    or_skip(
        Avx512::get(),
        "avx512",
        "AVX-512 (F, BW, DQ, VL, VBMI, VBMI2)",
        test,
    )
}

/// [`avx512_or_skip`] for AVX2.
#[cfg(test)]
pub(crate) fn avx2_or_skip(test: &str) -> Option<Avx2> {
    or_skip(Avx2::get(), "avx2", "AVX2", test)
}

#[cfg(test)]
fn or_skip<T>(token: Option<T>, key: &str, name: &str, test: &str) -> Option<T> {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if token.is_some() {
        return token;
    }
    let required = std::env::var("VIGIE_REQUIRE_SIMD").unwrap_or_default();
    assert!(
        !required.split(',').any(|k| k.trim() == key),
        "{test}: VIGIE_REQUIRE_SIMD names {key}, but this CPU lacks {name} (or VIGIE_NO_* is set)"
    );
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.iter().any(|t| t == test) {
        said.push(test.to_string());
        eprintln!(
            "{test}: skipped: {name} not available on this CPU (or turned off by VIGIE_NO_*); \
             the {key} path was not exercised"
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::block::{fold_portable, portable};
    use super::*;

    /// Every character up to U+07FF and from U+2000 to U+203F, cut into blocks anywhere, and
    /// blocks full of the characters the scan folds, at every offset (some of them cut by the
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
        if avx2_or_skip("avx2_and_portable_fold_every_byte_and_tail_length_alike").is_none() {
            return;
        }
        let table = fold_bytes();
        for src in &fold_test_blocks() {
            // Each read to every length.
            for len in 0..=BLOCK {
                // Garbage where the fold writes, which it must not leave in what it returns.
                let (mut a, mut b) = ([0xEEu8; 2 * BLOCK], [0u8; BLOCK]);
                let (mut oa, mut ob) = ([0xEEu8; 2 * BLOCK], [0u8; BLOCK]);
                // SAFETY: `Avx2::get` said the CPU has what it needs; `a` and `oa` have
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
            let n = crate::normalize::scan::flatten(edges, 128, &mut a);
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
        if avx512_or_skip("avx512_and_portable_fold_every_byte_and_tail_length_alike").is_none() {
            return;
        }
        use std::arch::x86_64::__m512i;
        let table = fold_bytes();
        // SAFETY: the table is 192 bytes.
        let regs: [__m512i; 3] = std::array::from_fn(|k| unsafe {
            std::arch::x86_64::_mm512_loadu_si512(table.as_ptr().add(64 * k).cast())
        });
        let blocks = fold_test_blocks();
        for src in &blocks {
            for len in 0..=BLOCK {
                let (mut a, mut b) = ([0u8; BLOCK], [0u8; BLOCK]);
                let (mut oa, mut ob) = ([0u8; BLOCK], [0u8; BLOCK]);
                // SAFETY: `Avx512::get` said the CPU has the features it needs; `a` and `oa` have
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
            let n = crate::normalize::scan::flatten(edges, 128, &mut a);
            // SAFETY: as above.
            assert_eq!(unsafe { flatten_avx512(edges, 128, &mut b) }, n);
            assert_eq!(a[..n], b[..n]);
        }
    }

    /// The point of this module: `std::arch`, `#[target_feature]` and SIMD `unsafe` are here
    /// and nowhere else in `src/`. The crate's only other `unsafe` is not SIMD: the two
    /// `get_unchecked` reads of `matcher::dict` (bounds), and FFI calls that rusqlite has no safe
    /// API for, each under a `// SAFETY:` comment that says why it holds.
    #[test]
    fn simd_code_lives_only_in_this_module() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).expect("src").flatten() {
                let p = e.path();
                if p.is_dir() {
                    files(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        let mut found = Vec::new();
        for p in all.iter().filter(|p| !p.ends_with("normalize/simd.rs")) {
            let text = std::fs::read_to_string(p).expect("read source");
            let lines: Vec<&str> = text.lines().collect();
            for (n, line) in lines.iter().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                // An FFI block is allowed when a SAFETY comment stands just above it.
                let justified = lines[n.saturating_sub(3)..n]
                    .iter()
                    .any(|l| l.trim_start().starts_with("// SAFETY:"));
                let simd = [
                    "std::arch",
                    "target_feature",
                    "is_x86_feature_detected",
                    "_mm",
                ]
                .iter()
                .any(|w| line.contains(w));
                let unsafe_ =
                    line.contains("unsafe") && !line.contains("get_unchecked(") && !justified;
                if simd || unsafe_ {
                    found.push(format!("{}:{}: {}", p.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(found.len() < all.len(), "{} source files", all.len());
        assert!(
            found.is_empty(),
            "SIMD or unsafe code outside simd.rs:\n{}",
            found.join("\n")
        );
    }
}
