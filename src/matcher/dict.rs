//! The dictionary of normalised words: one hash lookup per word of a post.
//!
//! Every literal word of every rule (exact words, prefixes, hashtag and mention bodies) is a key
//! of one open-addressing table, keyed by the folded bytes. A key holds up to six literal ids:
//! exact and prefix, each for "any word", "hashtag" and "mention". A text word is looked up
//! once whole (exact literals, and prefix literals equal to the whole word), then once per
//! distinct prefix length shorter than the word. A one-hash Bloom filter sized at 16 bits per key
//! sits in front of the table, so the common case — a word that no rule mentions — costs one
//! hash and one bit test in a few kilobytes that stay in cache, at 10 terms as at 100,000.
//!
//! Why not an Aho-Corasick automaton over the normalised text? `benches/matcher.rs` measures
//! both; the automaton needs the whole folded text materialised first, an overlapping search
//! and a boundary check per match, and falls off sharply past a few thousand patterns, while
//! this table's cost per word stays flat. Word semantics (positions, phrases, NEAR) are
//! `eval`'s and `mod`'s business; this module only answers "which literals is this word?".

use crate::normalize::WordKind;

/// No literal.
pub const NONE: u32 = u32::MAX;

/// One key: a folded word and the literals it stands for.
#[derive(Debug, Clone)]
pub struct Entry {
    key: Box<[u8]>,
    /// Exact literal ids, indexed by `WordKind` (Plain = any word).
    pub exact: [u32; 3],
    /// Prefix literal ids, indexed by `WordKind`.
    pub prefix: [u32; 3],
}

/// Open-addressing hash table of folded words with a Bloom filter in front.
#[derive(Debug, Clone)]
pub struct Dict {
    entries: Vec<Entry>,
    /// `0` is empty; otherwise `(hash >> 32) << 32 | (entry index + 1)`.
    slots: Vec<u64>,
    bloom: Vec<u64>,
    bloom_shift: u32,
    /// Distinct byte lengths of prefix keys, ascending.
    prefix_lens: Vec<usize>,
    /// Prefix keys shorter than four bytes, by length (bit L).
    short_prefixes: u32,
    /// Prefix keys of four bytes or more, by a hash of their first four bytes: the lengths of
    /// those keys (bit L, or bit 0 for 32 bytes and more). Most words share their first four
    /// bytes with no prefix key and skip the per-length lookups entirely.
    prefix_mask: Vec<u32>,
    /// `32 - log2(prefix_mask.len())`.
    prefix_shift: u32,
    /// By first byte: bit `min(len, 63)` for every key of that first byte and length. A word
    /// whose bit is clear is no key, without hashing it: at a few terms, almost every word.
    whole: Box<[u64; 256]>,
}

/// Up to 8 bytes as a little-endian number, zero-padded: two overlapping loads instead of a
/// variable-length copy (which compiles to a `memcpy` call and a store-forwarding stall).
#[inline(always)]
fn load_le(b: &[u8]) -> u64 {
    let n = b.len();
    debug_assert!(n <= 8);
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]) as u64;
        lo | hi << (8 * (n - 4))
    } else if n > 0 {
        b[0] as u64 | (b[n / 2] as u64) << (8 * (n / 2)) | (b[n - 1] as u64) << (8 * (n - 1))
    } else {
        0
    }
}

/// Hashes a folded word: 8 bytes at a time, then a final mix.
#[inline]
pub fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut rest = bytes;
    while let Some((c, r)) = rest.split_first_chunk::<8>() {
        h = (h ^ u64::from_le_bytes(*c)).wrapping_mul(K);
        h ^= h >> 29;
        rest = r;
    }
    if !rest.is_empty() {
        h = (h ^ load_le(rest)).wrapping_mul(K);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 32)
}

/// Bits of [`Dict::prefix_mask`]: bit `L` (1 ≤ L ≤ 31) for a prefix key of `L` bytes, bit 0 for
/// one of 32 bytes or more.
const LONG_PREFIX: u32 = 1;

/// The bucket of `prefix_mask` for a word's first four bytes.
#[inline(always)]
fn head_bucket(word: &[u8], shift: u32) -> usize {
    let head = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
    (head.wrapping_mul(0x9E37_79B1) >> shift) as usize
}

impl Dict {
    /// Builds the table from `(word, kind, is_prefix, literal id)`.
    pub fn build(literals: impl IntoIterator<Item = (Vec<u8>, WordKind, bool, u32)>) -> Dict {
        let mut index: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        let mut entries: Vec<Entry> = Vec::new();
        let mut prefix_lens = Vec::new();
        for (word, kind, prefix, id) in literals {
            let i = *index.entry(word.clone()).or_insert_with(|| {
                entries.push(Entry {
                    key: word.clone().into_boxed_slice(),
                    exact: [NONE; 3],
                    prefix: [NONE; 3],
                });
                entries.len() - 1
            });
            let e = &mut entries[i];
            if prefix {
                e.prefix[kind as usize] = id;
                prefix_lens.push(word.len());
            } else {
                e.exact[kind as usize] = id;
            }
        }
        let n_prefix_keys = prefix_lens.len();
        prefix_lens.sort_unstable();
        prefix_lens.dedup();
        let mask_len = (n_prefix_keys * 4).next_power_of_two().clamp(64, 1 << 15);
        let prefix_shift = 32 - mask_len.trailing_zeros();
        let mut prefix_mask = vec![0u32; mask_len];
        let mut short_prefixes = 0;
        for e in &entries {
            if e.prefix == [NONE; 3] {
                continue;
            }
            let len = e.key.len();
            let bit = if len < 32 { 1 << len } else { LONG_PREFIX };
            if len < 4 {
                short_prefixes |= bit;
            } else {
                prefix_mask[head_bucket(&e.key, prefix_shift)] |= bit;
            }
        }
        let cap = (entries.len() * 2).next_power_of_two().max(16);
        let bloom_bits = (entries.len() * 16).next_power_of_two().max(4096);
        let mut d = Dict {
            slots: vec![0; cap],
            bloom: vec![0; bloom_bits / 64],
            bloom_shift: 64 - bloom_bits.trailing_zeros(),
            prefix_lens,
            short_prefixes,
            prefix_mask,
            prefix_shift,
            whole: Box::new([0; 256]),
            entries: Vec::new(),
        };
        for (i, e) in entries.iter().enumerate() {
            if let Some(&first) = e.key.first() {
                d.whole[first as usize] |= 1 << e.key.len().min(63);
            }
            let h = hash(&e.key);
            let bit = (h >> d.bloom_shift) as usize;
            d.bloom[bit / 64] |= 1 << (bit % 64);
            let mask = d.slots.len() - 1;
            let mut s = h as usize & mask;
            while d.slots[s] != 0 {
                s = (s + 1) & mask;
            }
            d.slots[s] = (h >> 32) << 32 | (i as u64 + 1);
        }
        d.entries = entries;
        d
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Distinct prefix key lengths, ascending.
    #[inline]
    pub fn prefix_lens(&self) -> &[usize] {
        &self.prefix_lens
    }

    /// Approximate heap size in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * 8
            + self.bloom.len() * 8
            + self.prefix_mask.len() * 4
            + std::mem::size_of_val(&*self.whole)
            + self.entries.len() * std::mem::size_of::<Entry>()
            + self.entries.iter().map(|e| e.key.len()).sum::<usize>()
    }

    /// The entry for `word`, whose hash is `h`.
    #[inline]
    pub fn get(&self, word: &[u8], h: u64) -> Option<&Entry> {
        let bit = (h >> self.bloom_shift) as usize;
        if self.bloom[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let tag = h >> 32;
        let mut s = h as usize & mask;
        loop {
            let slot = self.slots[s];
            if slot == 0 {
                return None;
            }
            if slot >> 32 == tag {
                let e = &self.entries[(slot as u32 - 1) as usize];
                if &*e.key == word {
                    return Some(e);
                }
            }
            s = (s + 1) & mask;
        }
    }

    /// Calls `f(entry, true)` for the key equal to `word`, then `f(entry, false)` for every
    /// prefix key that is a proper prefix of `word`, shortest first: every key the word's
    /// literals can come from.
    #[inline]
    pub fn for_each_key(&self, word: &[u8], mut f: impl FnMut(&Entry, bool)) {
        let n = word.len();
        let Some(&first) = word.first() else { return };
        if self.whole[first as usize] >> n.min(63) & 1 != 0 {
            if let Some(e) = self.get(word, hash(word)) {
                f(e, true);
            }
        }
        let mut lens = self.short_prefixes;
        if n > 4 {
            lens |= self.prefix_mask[head_bucket(word, self.prefix_shift)];
        }
        if lens == 0 {
            return;
        }
        // Only lengths shorter than the word (the whole word was looked up above).
        let below = if n >= 32 { !0 } else { (1u32 << n) - 1 };
        let long = lens & LONG_PREFIX != 0 && n > 32;
        let mut bits = lens & below & !LONG_PREFIX;
        while bits != 0 {
            let len = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let p = &word[..len];
            if let Some(e) = self.get(p, hash(p)) {
                f(e, false);
            }
        }
        if long {
            for &len in &self.prefix_lens {
                if len >= n {
                    break;
                }
                if len >= 32 {
                    let p = &word[..len];
                    if let Some(e) = self.get(p, hash(p)) {
                        f(e, false);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_and_prefix_keys_only() {
        let d = Dict::build([
            (b"colis".to_vec(), WordKind::Plain, false, 0),
            (b"colis".to_vec(), WordKind::Hashtag, false, 1),
            (b"retard".to_vec(), WordKind::Plain, true, 2),
        ]);
        let e = d.get(b"colis", hash(b"colis")).expect("colis");
        assert_eq!(e.exact, [0, 1, NONE]);
        assert_eq!(
            d.get(b"retard", hash(b"retard")).map(|e| e.prefix[0]),
            Some(2)
        );
        assert!(d.get(b"coli", hash(b"coli")).is_none());
        assert!(d.get(b"colisx", hash(b"colisx")).is_none());
        assert_eq!(d.prefix_lens(), [6]);
    }

    #[test]
    fn many_keys_all_found() {
        let words: Vec<Vec<u8>> = (0..50_000).map(|i| format!("w{i}x").into_bytes()).collect();
        let d = Dict::build(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| (w.clone(), WordKind::Plain, false, i as u32)),
        );
        for (i, w) in words.iter().enumerate() {
            assert_eq!(d.get(w, hash(w)).map(|e| e.exact[0]), Some(i as u32));
        }
        assert!(d.get(b"w50000x", hash(b"w50000x")).is_none());
    }
}
