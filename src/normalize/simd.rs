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
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod sse2;

#[cfg(target_arch = "x86_64")]
use self::avx2::scan_avx2;
#[cfg(target_arch = "x86_64")]
use self::avx512::{dict_wants8, pick_avx512, scan_avx512};
#[cfg(target_arch = "x86_64")]
use self::sse2::sse2;
#[cfg(target_arch = "x86_64")]
use super::block::BLOCK;
#[cfg(target_arch = "x86_64")]
use super::fold::fold_bytes;
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
mod tests;
