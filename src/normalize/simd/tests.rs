//! Each SIMD path against its portable twin, on every byte and tail length, and the layout
//! test that keeps SIMD and `unsafe` code in `simd`.

use super::*;
#[cfg(target_arch = "x86_64")]
use super::{avx2::*, avx512::*};
use crate::normalize::block::{fold_portable, portable};

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
    for text in ["é’«ÉaÀ…\u{A0}b\u{2003}×", "\u{AD}ß’’x", "Ça ’", "…ééé"] {
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
    let simd = src.join("normalize").join("simd");
    let allowed = |p: &std::path::Path| p.with_extension("") == simd || p.starts_with(&simd);
    for p in all.iter().filter(|p| !allowed(p)) {
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
            let unsafe_ = line.contains("unsafe") && !line.contains("get_unchecked(") && !justified;
            if simd || unsafe_ {
                found.push(format!("{}:{}: {}", p.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.len() < all.len(), "{} source files", all.len());
    assert!(
        found.is_empty(),
        "SIMD or unsafe code outside normalize::simd:\n{}",
        found.join("\n")
    );
}
