//! Folding one character: the one definition of what a non-ASCII character contributes to a
//! word (compatibility decomposition, accents dropped, lower case, `œ`→`oe` and the letters
//! Unicode does not decompose), as [`Fold`], from tables built once by [`fold_slow`] itself;
//! and [`FoldBytes`], the 192 characters the scan folds in place to one ASCII byte, derived
//! from the same tables. Where the folded characters go (words, runs) is `walk`'s business.

use std::sync::OnceLock;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// What one non-ASCII character contributes to the folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fold {
    /// A letter or digit: append these folded bytes (possibly empty).
    Word([u8; 7], u8),
    /// A letter or digit whose decomposition holds characters that separate words (`½` is
    /// `1⁄2`, `⑴` is `(1)`): its folded bytes, with a space where each of those was. The
    /// words apart stay apart (SPEC §4: `½` is the words `1` and `2`, never `12`).
    Split([u8; 7], u8),
    /// A combining mark or an invisible format character: part of the word, adds nothing.
    Ignore,
    /// Anything else: ends the current word.
    Sep,
}

/// Blocks of code points folded from a table built once, by [`fold_slow`] itself (so the
/// tables cannot disagree with it): Latin-1 to Latin Extended-B; general punctuation (`’`,
/// `…`, zero-width characters) through dingbats and arrows; variation selectors to the
/// full-width forms; and the emoji planes. Everything else calls `fold_slow` directly.
pub(super) const TABLE_BLOCKS: [(u32, u32); 4] = [
    (0x0080, 0x0250),
    (0x2000, 0x2C00),
    (0xFE00, 0x1_0000),
    (0x1_F000, 0x1_FB00),
];

pub(super) struct FoldTables {
    /// The blocks of `TABLE_BLOCKS`, one after the other.
    folds: Vec<Fold>,
}

impl FoldTables {
    #[inline]
    pub(super) fn fold(&self, cp: u32) -> Fold {
        let mut base = 0;
        for (lo, hi) in TABLE_BLOCKS {
            if cp < hi {
                if cp >= lo {
                    return self.folds[base + (cp - lo) as usize];
                }
                break;
            }
            base += (hi - lo) as usize;
        }
        char::from_u32(cp).map_or(Fold::Sep, fold_slow)
    }
}

pub(super) fn fold_tables() -> &'static FoldTables {
    static TABLES: OnceLock<FoldTables> = OnceLock::new();
    TABLES.get_or_init(|| FoldTables {
        folds: TABLE_BLOCKS
            .iter()
            .flat_map(|&(lo, hi)| lo..hi)
            .map(|cp| char::from_u32(cp).map_or(Fold::Sep, fold_slow))
            .collect(),
    })
}

/// The characters the scan folds in place, by their UTF-8 bytes: entry `cp - 0x80` for U+0080
/// to U+00FF (lead byte C2 or C3, then the low six bits of the second byte: `é`, `à`, `ç`,
/// `«`, the no-break space), entry `128 + cp - 0x2000` for U+2000 to U+203F (E2 80, then the
/// low six bits of the third byte: `’`, `…`, `–`, the narrow spaces). An entry is the one
/// ASCII byte that stands for the character in the folded text: the letter or digit it folds
/// to, a space for a white-space separator, an apostrophe for any other separator; or 0 for a
/// character left as it is (for `fold_run`). Built from the fold tables, so the two cannot
/// disagree; the separators' stand-ins are separators too, and end a URL exactly when the
/// character does (`skip_url`).
pub(crate) type FoldBytes = [u8; 192];

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn fold_bytes() -> &'static FoldBytes {
    static TABLE: OnceLock<FoldBytes> = OnceLock::new();
    TABLE.get_or_init(|| {
        let tables = fold_tables();
        std::array::from_fn(|i| {
            let i = i as u32;
            let cp = if i < 128 { 0x80 + i } else { 0x2000 + i - 128 };
            match tables.fold(cp) {
                Fold::Word([c, ..], 1) if c.is_ascii_alphanumeric() => c,
                Fold::Sep if char::from_u32(cp).is_some_and(char::is_whitespace) => b' ',
                Fold::Sep => b'\'',
                _ => 0,
            }
        })
    })
}

/// Letters that compatibility decomposition leaves alone but a French reader treats as others.
fn special_fold(c: char) -> Option<&'static str> {
    Some(match c {
        'œ' => "oe",
        'æ' => "ae",
        'ß' | 'ẞ' => "ss",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'ħ' => "h",
        'ı' => "i",
        'þ' => "th",
        'ς' => "σ",
        _ => return None,
    })
}

/// Invisible characters that must not split a word (soft hyphen, zero-width, bidi controls, BOM).
pub(super) fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF)
}

pub(super) fn fold_slow(c: char) -> Fold {
    if is_invisible(c) || is_combining_mark(c) {
        return Fold::Ignore;
    }
    // U+02BC (modifier letter apostrophe) is a letter to Unicode but an apostrophe to writers.
    if !c.is_alphanumeric() || c == '\u{02BC}' {
        return Fold::Sep;
    }
    let mut out = String::new();
    fold_into(c, &mut out, 0);
    // A separator inside the decomposition is a space in `out`.
    let split = out.contains(' ');
    let bytes = out.as_bytes();
    let mut buf = [0u8; 7];
    let n = bytes.len().min(7);
    // Longer expansions (a handful of CJK compatibility squares) are cut at a char boundary.
    let n = (0..=n)
        .rev()
        .find(|&k| out.is_char_boundary(k))
        .unwrap_or(0);
    buf[..n].copy_from_slice(&bytes[..n]);
    if split {
        Fold::Split(buf, n as u8)
    } else {
        Fold::Word(buf, n as u8)
    }
}

/// Appends the folded form of `c`. Folding must be idempotent (the fuzzer checks it), so each
/// produced character is folded again until it is stable: `ŉ` decomposes to `ʼn`, whose `ʼ` is
/// an apostrophe and must go.
fn fold_into(c: char, out: &mut String, depth: u8) {
    decompose_compatible(c, |d| {
        if is_combining_mark(d) || is_invisible(d) {
            return;
        }
        if d == '\u{02BC}' {
            // The apostrophe of `ŉ` (`ʼn`) separates words, as it does in the NFKC text.
            out.push(' ');
            return;
        }
        for l in d.to_lowercase() {
            if let Some(s) = special_fold(l) {
                out.push_str(s);
            } else if !l.is_alphanumeric() {
                // Punctuation inside a decomposition (the fraction slash of `½` → `1⁄2`)
                // separates words, as it does in the NFKC text: a space marks it.
                out.push(' ');
            } else if l.is_ascii() || depth >= 2 {
                out.push(l);
            } else {
                fold_into(l, out, depth + 1);
            }
        }
    });
}

/// The code point starting at `i` and its length in bytes.
#[inline(always)]
pub(super) fn decode(bytes: &[u8], i: usize) -> (u32, usize) {
    // `bytes` is valid UTF-8 (it comes from a `str`) and `i` is always at a char boundary: the
    // scan only stops on ASCII bytes or whole chars.
    let b0 = bytes[i] as u32;
    let cont = |k: usize| (bytes[i + k] & 0x3F) as u32;
    if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | cont(1), 2)
    } else if b0 < 0xF0 {
        (((b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}
