//! The dictionary of normalised words: one hash lookup per word of a post.
//!
//! Every literal word of every rule (exact words, prefixes, hashtag and mention bodies) is a key
//! of one open-addressing table, keyed by the folded bytes; the slots hold the keys and their
//! literal ids inline, so a lookup follows no pointer. A key holds up to six literal ids:
//! exact and prefix, each for "any word", "hashtag" and "mention". A text word is looked up
//! once whole (exact literals, and prefix literals equal to the whole word), then once per
//! distinct prefix length shorter than the word. A blocked Bloom filter (two bits in one 64-bit
//! word per key, about 32 bits per key, keyed by a one-multiply hash of the first 8 bytes and
//! the length) sits in front of the table, so the common case — a word that no rule mentions —
//! costs a multiply and one load, at 10 terms as at 100,000. The tokenizer runs that filter
//! itself ([`normalize::WordFilter`], eight words at a time with AVX-512), so such a word is
//! never even handed over. A second filter of the same shape leaves out the keys that only
//! follow other words (a phrase's later words, `de` in `numéro de suivi`); through [`Leads`],
//! the tokenizer hands those over only right after a word that had a literal.
//!
//! Why not an Aho-Corasick automaton over the normalised text? `benches/matcher.rs` measures
//! both; the automaton needs the whole folded text materialised first, an overlapping search
//! and a boundary check per match, and falls off sharply past a few thousand patterns, while
//! this table's cost per word stays flat. Word semantics (positions, phrases, NEAR) are
//! `eval`'s and `mod`'s business; this module only answers "which literals is this word?".

use crate::normalize::{self, WordFilter, WordKind};

/// No literal.
pub const NONE: u32 = u32::MAX;

/// One key: a folded word and the literals it stands for. Entries are the hash table's slots
/// themselves (48 bytes, no pointer to follow), so a word that is a key costs one cache miss,
/// not one for the slot and another for the entry.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The key's first 16 bytes, zero past its end ([`head_of`]).
    head: [u64; 2],
    /// The key's length in bytes; 0 marks an empty slot.
    len: u32,
    /// Where the key's bytes past the 16th start in [`Dict::tails`].
    tail: u32,
    /// Exact literal ids, indexed by `WordKind` (Plain = any word).
    pub exact: [u32; 3],
    /// Prefix literal ids, indexed by `WordKind`.
    pub prefix: [u32; 3],
}

/// Open-addressing hash table of folded words with a Bloom filter in front.
#[derive(Debug, Clone)]
pub struct Dict {
    /// The slots, a power of two of them, at most half full; linear probing.
    slots: Vec<Entry>,
    /// Number of keys.
    keys: usize,
    /// The bytes past the 16th of every key longer than 16 bytes.
    tails: Vec<u8>,
    /// A blocked Bloom filter of every key: two bits of one 64-bit word per key, about 32 bits
    /// per key (at most 1 MiB). A word that is no key costs one hash and one load.
    bloom: Vec<u64>,
    /// The same filter of the keys that do not only follow ([`Dict::build`]), the same size.
    bloom_lead: Vec<u64>,
    /// `64 - log2(bloom.len())`.
    bloom_shift: u32,
    /// Distinct byte lengths of prefix keys, ascending.
    prefix_lens: Vec<usize>,
    /// Prefix keys shorter than four bytes, by length (bit L).
    short_prefixes: u32,
    /// Prefix keys of four bytes or more, by a hash of their first four bytes: the lengths of
    /// those keys (bit L, 4 ≤ L ≤ 31). Most words share their first four bytes with no prefix
    /// key and skip the per-length lookups entirely.
    prefix_mask: Vec<u32>,
    /// `32 - log2(prefix_mask.len())`.
    prefix_shift: u32,
    /// Whether some prefix key is 32 bytes or longer (those are tried one length at a time).
    long_prefixes: bool,
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

/// The first 16 bytes of `bytes` as two little-endian numbers, zero past its end.
pub fn head_of(bytes: &[u8]) -> [u64; 2] {
    let n = bytes.len();
    let a = load_le(&bytes[..n.min(8)]);
    let b = if n > 8 {
        load_le(&bytes[8..n.min(16)])
    } else {
        0
    };
    [a, b]
}

/// The head of the first `len` bytes of a word whose head is `head`.
#[inline(always)]
fn cut_head(head: [u64; 2], len: usize) -> [u64; 2] {
    let [m0, m1] = normalize::HEAD_MASK[len.min(16)];
    [head[0] & m0, head[1] & m1]
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Folds 8 more bytes of a key into a hash.
#[inline(always)]
fn mix(h: u64, x: u64) -> u64 {
    let y = (h ^ x).wrapping_mul(K);
    y ^ (y >> 32)
}

/// The table's hash of a key whose head ([`head_of`]) is `head` and whose Bloom hash
/// ([`quick`], which saw its first 8 bytes and its length) is `q`: the bytes `quick` did not
/// see folded in, 8 at a time. A word that passed the filter is hashed once, not twice.
#[inline(always)]
fn slot_hash(q: u64, word: &[u8], head: [u64; 2]) -> u64 {
    if word.len() <= 8 {
        return q;
    }
    let mut h = mix(q, head[1]);
    let mut rest = word.get(16..).unwrap_or_default();
    if !rest.is_empty() {
        while let Some((c, r)) = rest.split_first_chunk::<8>() {
            h = mix(h, u64::from_le_bytes(*c));
            rest = r;
        }
        h = mix(h, load_le(rest));
    }
    h
}

/// The slot of a [`slot_hash`] in a table of `mask + 1` slots: bits that the Bloom filter's
/// bit choice (the low 12) does not use.
#[inline(always)]
fn slot_of(h: u64, mask: usize) -> usize {
    h.rotate_right(12) as usize & mask
}

/// The Bloom filter's hash: a word's first 8 bytes (zero past its end) and its length, one
/// multiply. Cheaper than [`hash`] and enough to turn away the words that are no key; those
/// that pass are hashed whole for the table.
#[inline(always)]
fn quick(first8: u64, n: usize) -> u64 {
    let x = (first8 ^ (n as u64).rotate_right(8)).wrapping_mul(K);
    x ^ (x >> 32)
}

/// The bucket of `prefix_mask` for a word's first four bytes (zero past its end).
#[inline(always)]
fn head_bucket(first8: u64, shift: u32) -> usize {
    ((first8 as u32).wrapping_mul(0x9E37_79B1) >> shift) as usize
}

impl Dict {
    /// Builds the table from `(word, kind, is_prefix, literal id, follows)`. A literal that
    /// `follows` only counts right after another word: its key, unless another literal also
    /// has it, is left out of the filter that [`Dict::leads`] answers from. An id of `NONE`
    /// makes a key that only lets its word through the filters (a word whose lookup finds
    /// nothing, such as the first word of a mention whose body the caller looks up).
    pub fn build(literals: impl IntoIterator<Item = (Vec<u8>, WordKind, bool, u32, bool)>) -> Dict {
        let mut index: std::collections::HashMap<Vec<u8>, ([u32; 3], [u32; 3])> =
            Default::default();
        let mut leading = std::collections::HashSet::new();
        let mut prefix_lens = Vec::new();
        for (word, kind, prefix, id, follows) in literals {
            if !follows {
                leading.insert(word.clone());
            }
            let (exact, prefixes) = index.entry(word.clone()).or_insert(([NONE; 3], [NONE; 3]));
            if id == NONE {
                // A key for the filter only.
                continue;
            }
            if prefix {
                prefixes[kind as usize] = id;
                prefix_lens.push(word.len());
            } else {
                exact[kind as usize] = id;
            }
        }
        let n_prefix_keys = prefix_lens.len();
        prefix_lens.sort_unstable();
        prefix_lens.dedup();
        let mask_len = (n_prefix_keys * 4).next_power_of_two().clamp(64, 1 << 15);
        let prefix_shift = 32 - mask_len.trailing_zeros();
        let mut prefix_mask = vec![0u32; mask_len];
        let mut short_prefixes = 0;
        let mut long_prefixes = false;
        for (key, (_, prefix)) in &index {
            if *prefix == [NONE; 3] {
                continue;
            }
            match key.len() {
                len @ 0..4 => short_prefixes |= 1 << len,
                len @ 4..32 => prefix_mask[head_bucket(head_of(key)[0], prefix_shift)] |= 1 << len,
                _ => long_prefixes = true,
            }
        }
        let cap = (index.len() * 2).next_power_of_two().max(16);
        let bloom_words = (index.len() / 2).next_power_of_two().clamp(64, 1 << 17);
        let mut d = Dict {
            slots: vec![Entry::default(); cap],
            keys: index.len(),
            tails: Vec::new(),
            bloom: vec![0; bloom_words],
            bloom_lead: vec![0; bloom_words],
            bloom_shift: 64 - bloom_words.trailing_zeros(),
            prefix_lens,
            short_prefixes,
            prefix_mask,
            prefix_shift,
            long_prefixes,
        };
        // In key order, so that the table does not depend on the hash map's iteration order.
        let mut keys: Vec<_> = index.into_iter().collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, (exact, prefix)) in keys {
            let head = head_of(&key);
            let (word, bits) = d.bloom_bits(quick(head[0], key.len()));
            d.bloom[word] |= bits;
            if leading.contains(&key) {
                d.bloom_lead[word] |= bits;
            }
            let tail = d.tails.len() as u32;
            d.tails.extend_from_slice(key.get(16..).unwrap_or_default());
            let mask = d.slots.len() - 1;
            let mut s = slot_of(slot_hash(quick(head[0], key.len()), &key, head), mask);
            while d.slots[s].len != 0 {
                s = (s + 1) & mask;
            }
            d.slots[s] = Entry {
                head,
                len: key.len() as u32,
                tail,
                exact,
                prefix,
            };
        }
        d
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.keys
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Distinct prefix key lengths, ascending.
    #[inline]
    pub fn prefix_lens(&self) -> &[usize] {
        &self.prefix_lens
    }

    /// Approximate heap size in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Entry>()
            + self.tails.len()
            + self.bloom.len() * 16
            + self.prefix_mask.len() * 4
    }

    /// The Bloom word of [`quick`] hash `q`, and its two bits.
    #[inline(always)]
    fn bloom_bits(&self, q: u64) -> (usize, u64) {
        (
            (q >> self.bloom_shift) as usize,
            1 << (q & 63) | 1 << (q >> 6 & 63),
        )
    }

    /// Whether `bloom` (one of the two filters) may hold a key of length `n` starting with
    /// `first8`.
    #[inline(always)]
    fn in_bloom(&self, bloom: &[u64], first8: u64, n: usize) -> bool {
        self.in_bloom_q(bloom, quick(first8, n))
    }

    /// [`Dict::in_bloom`] for a key whose [`quick`] hash is `q`.
    #[inline(always)]
    fn in_bloom_q(&self, bloom: &[u64], q: u64) -> bool {
        let (word, bits) = self.bloom_bits(q);
        debug_assert!(word < bloom.len());
        // SAFETY: `bloom` is one of the two filters, both a power of two of at least 64 words,
        // and `bloom_shift` is `64 - log2` of that, so `word` (the top bits of a u64) is in
        // bounds.
        unsafe { bloom.get_unchecked(word) & bits == bits }
    }

    /// The entry for `word` (whose head is `head` and whose [`quick`] hash is `q`), past the
    /// Bloom filter.
    #[inline(always)]
    fn lookup(&self, word: &[u8], head: [u64; 2], q: u64) -> Option<&Entry> {
        let mask = self.slots.len() - 1;
        let mut s = slot_of(slot_hash(q, word, head), mask);
        loop {
            let e = &self.slots[s];
            if e.len == 0 {
                return None;
            }
            if e.head == head
                && e.len as usize == word.len()
                && (word.len() <= 16
                    || self.tails[e.tail as usize..e.tail as usize + word.len() - 16] == word[16..])
            {
                return Some(e);
            }
            s = (s + 1) & mask;
        }
    }

    /// The entry for `word`.
    #[inline]
    pub fn get(&self, word: &[u8]) -> Option<&Entry> {
        self.find(word, head_of(word))
    }

    /// [`Dict::get`] for a word whose head is `head`: the Bloom filter, then the table, with
    /// one hash for both.
    #[inline(always)]
    fn find(&self, word: &[u8], head: [u64; 2]) -> Option<&Entry> {
        let q = quick(head[0], word.len());
        if !self.in_bloom_q(&self.bloom, q) {
            return None;
        }
        self.lookup(word, head, q)
    }

    /// Calls `f(entry, true)` for the key equal to `word`, then `f(entry, false)` for every
    /// prefix key that is a proper prefix of `word`, shortest first: every key the word's
    /// literals can come from. `head` is `word`'s first 16 bytes, zero past its end
    /// ([`head_of`], `normalize::Word::first16`).
    ///
    /// The filter (two multiplies, one Bloom word, one prefix-mask word) and the lookup of the
    /// whole word are inlined into the caller; the prefix lookups, rarer, are not. Words that
    /// come from `normalize::for_each_word_where` with this dictionary as the filter have
    /// passed it already; it runs again here for the pieces the lookups need (whole word or
    /// not, which prefix lengths), and its hash is the table's.
    #[inline(always)]
    pub fn for_each_key(&self, word: &[u8], head: [u64; 2], mut f: impl FnMut(&Entry, bool)) {
        debug_assert_eq!(head, head_of(word));
        if let Some(e) = self.find(word, head) {
            f(e, true);
        }
        let (lens, long) = self.prefix_filter(head[0], word.len());
        if (lens != 0) | long {
            self.look_up_prefixes(word, head, lens, long, f);
        }
    }

    /// Whether a word of `n` bytes starting with `first8` (zero past its end) may be a key or
    /// start with one: [`Dict::for_each_key`]'s filter alone, for `normalize::for_each_word_where`.
    #[inline(always)]
    pub fn may_want(&self, first8: u64, n: usize) -> bool {
        self.wants(&self.bloom, first8, n)
    }

    /// [`Dict::may_want`] without the keys that only follow: whether the word may be a key
    /// that counts wherever it is, or start with a prefix key.
    #[inline(always)]
    pub fn leads(&self, first8: u64, n: usize) -> bool {
        self.wants(&self.bloom_lead, first8, n)
    }

    /// [`Dict::may_want`] with `bloom` (one of the two filters) for the whole word.
    #[inline(always)]
    fn wants(&self, bloom: &[u64], first8: u64, n: usize) -> bool {
        let (whole, lens, long) = self.filter(bloom, first8, n);
        whole | (lens != 0) | long
    }

    /// [`Dict::wants`] for eight words at once: the same hashes, two gathers with AVX-512.
    #[inline(always)]
    fn wants8(&self, bloom: &[u64], first8: &[u64; 8], len: &[u64; 8]) -> u8 {
        if let Some(cpu) = normalize::simd::Avx512::get() {
            let tables = normalize::simd::DictTables {
                bloom,
                bloom_shift: self.bloom_shift,
                prefix_mask: &self.prefix_mask,
                prefix_shift: self.prefix_shift,
                short_prefixes: self.short_prefixes,
                long_prefixes: self.long_prefixes,
                k: K,
            };
            return cpu.dict_wants8(&tables, first8, len);
        }
        (0..8).fold(0, |m, k| {
            m | (self.wants(bloom, first8[k], len[k] as usize) as u8) << k
        })
    }

    /// Whether `bloom` (one of the two filters) may hold the whole word as a key, the prefix
    /// key lengths it may start with, and whether it is long enough for the prefix keys of 32
    /// bytes or more.
    #[inline(always)]
    fn filter(&self, bloom: &[u64], first8: u64, n: usize) -> (bool, u32, bool) {
        let whole = self.in_bloom(bloom, first8, n);
        let (lens, long) = self.prefix_filter(first8, n);
        (whole, lens, long)
    }

    /// The prefix key lengths that a word of `n` bytes starting with `first8` may start
    /// with, and whether it is long enough for the prefix keys of 32 bytes or more.
    #[inline(always)]
    fn prefix_filter(&self, first8: u64, n: usize) -> (u32, bool) {
        // Prefix lengths shorter than the word (the whole word is looked up separately).
        let below = ((1u64 << n.min(32)) - 1) as u32;
        let bucket = head_bucket(first8, self.prefix_shift);
        debug_assert!(bucket < self.prefix_mask.len());
        // SAFETY: `prefix_mask.len()` is a power of two of at least 64 and `prefix_shift` is
        // `32 - log2(prefix_mask.len())`, so `bucket` (the top bits of a u32) is in bounds.
        let lens =
            (self.short_prefixes | unsafe { self.prefix_mask.get_unchecked(bucket) }) & below;
        (lens, self.long_prefixes & (n > 32))
    }

    /// The prefix lookups of [`Dict::for_each_key`], for a word that passed their filter.
    #[inline(never)]
    fn look_up_prefixes(
        &self,
        word: &[u8],
        head: [u64; 2],
        mut lens: u32,
        long: bool,
        mut f: impl FnMut(&Entry, bool),
    ) {
        let n = word.len();
        while lens != 0 {
            let len = lens.trailing_zeros() as usize;
            lens &= lens - 1;
            if let Some(e) = self.find(&word[..len], cut_head(head, len)) {
                f(e, false);
            }
        }
        if long {
            for &len in &self.prefix_lens {
                if len >= n {
                    break;
                }
                if len >= 32 {
                    if let Some(e) = self.find(&word[..len], cut_head(head, len)) {
                        f(e, false);
                    }
                }
            }
        }
    }
}

/// The tokenizer skips the words this filter turns away: most words of most posts.
impl WordFilter for Dict {
    #[inline(always)]
    fn keep(&self, first8: u64, len: usize) -> bool {
        self.may_want(first8, len)
    }

    #[inline(always)]
    fn keep8(&self, first8: &[u64; 8], len: &[u64; 8]) -> u8 {
        self.wants8(&self.bloom, first8, len)
    }
}

/// The dictionary as a filter that lets the keys that only follow ([`Dict::build`]) through
/// only right after a word that the caller marked ([`Leads::follow`]): the later words of
/// phrases (`de` in `numéro de suivi`) are most of the words a post shares with a rule set,
/// and nearly all of them follow no other literal.
#[derive(Debug)]
pub struct Leads<'d> {
    dict: &'d Dict,
    /// The position right after the last word marked.
    next: std::cell::Cell<u32>,
}

impl<'d> Leads<'d> {
    /// The filter of `dict`, with no word marked yet.
    pub fn new(dict: &'d Dict) -> Leads<'d> {
        Leads {
            dict,
            next: std::cell::Cell::new(u32::MAX),
        }
    }

    /// Lets the keys that only follow through at position `pos + 1`.
    #[inline(always)]
    pub fn follow(&self, pos: u32) {
        self.next.set(pos.wrapping_add(1));
    }
}

impl WordFilter for Leads<'_> {
    #[inline(always)]
    fn keep(&self, first8: u64, len: usize) -> bool {
        self.dict.leads(first8, len)
    }

    #[inline(always)]
    fn keep8(&self, first8: &[u64; 8], len: &[u64; 8]) -> u8 {
        self.dict.wants8(&self.dict.bloom_lead, first8, len)
    }

    #[inline(always)]
    fn keep_at(&self, pos: u32, first8: u64, len: usize) -> bool {
        pos == self.next.get() && self.dict.may_want(first8, len)
    }

    #[inline(always)]
    fn follows(&self, pos: u32) -> bool {
        pos == self.next.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_and_prefix_keys_only() {
        let d = Dict::build([
            (b"colis".to_vec(), WordKind::Plain, false, 0, false),
            (b"colis".to_vec(), WordKind::Hashtag, false, 1, false),
            (b"retard".to_vec(), WordKind::Plain, true, 2, false),
        ]);
        let e = d.get(b"colis").expect("colis");
        assert_eq!(e.exact, [0, 1, NONE]);
        assert_eq!(d.get(b"retard").map(|e| e.prefix[0]), Some(2));
        assert!(d.get(b"coli").is_none());
        assert!(d.get(b"colisx").is_none());
        assert_eq!(d.prefix_lens(), [6]);
    }

    #[test]
    fn eight_words_at_a_time_filter_the_same() {
        if normalize::simd::avx512_or_skip("eight_words_at_a_time_filter_the_same").is_none() {
            return;
        }
        // Exact keys, prefixes shorter than four bytes, of four to 31, and of 32 or more.
        // Every third exact key only follows other words.
        let mut lits: Vec<(Vec<u8>, WordKind, bool, u32, bool)> = (0..3_000)
            .map(|i| {
                (
                    format!("word{i}x").into_bytes(),
                    WordKind::Plain,
                    i % 7 == 0,
                    i,
                    i % 7 != 0 && i % 3 == 0,
                )
            })
            .collect();
        lits.push((vec![b'z'; 40], WordKind::Hashtag, true, 3_000, false));
        let mut words: Vec<Vec<u8>> = lits.iter().map(|l| l.0.clone()).collect();
        words.extend((0..3_000).map(|i| format!("word{i}xyz").into_bytes()));
        words.extend((0..3_000).map(|i| format!("quux{i}").into_bytes()));
        words.extend([
            b"abc".to_vec(),
            vec![b'z'; 41],
            vec![b'z'; 33],
            b"a".to_vec(),
        ]);
        let kept = |d: &Dict| {
            let mut kept = 0;
            for chunk in words.chunks(8) {
                let (mut f8, mut l8) = ([0u64; 8], [0u64; 8]);
                for (k, w) in chunk.iter().enumerate() {
                    f8[k] = head_of(w)[0];
                    l8[k] = w.len() as u64;
                }
                let want = (0..8).fold(0u8, |m, k| {
                    m | (d.may_want(f8[k], l8[k] as usize) as u8) << k
                });
                assert_eq!(d.keep8(&f8, &l8), want, "{chunk:?}");
                let lead = (0..8).fold(0u8, |m, k| m | (d.leads(f8[k], l8[k] as usize) as u8) << k);
                assert_eq!(Leads::new(d).keep8(&f8, &l8), lead, "{chunk:?}");
                assert_eq!(lead & !want, 0, "{chunk:?}");
                kept += want.count_ones() as usize;
            }
            kept
        };
        // Every key and every word with a prefix key passes, and most `q…` words do not…
        let n = kept(&Dict::build(lits.iter().cloned()));
        assert!(n >= lits.len() && n < words.len() - 2_500, "{n}");
        // …unless a prefix key shorter than four bytes lets every longer word through.
        lits.push((b"ab".to_vec(), WordKind::Plain, true, 3_001, false));
        let n = kept(&Dict::build(lits.iter().cloned()));
        assert!(n >= words.len() - 2, "{n}");
    }

    /// A dictionary of whole plain words, each word's entry naming its index.
    fn numbered_words(words: &[Vec<u8>]) -> Dict {
        Dict::build(
            words
                .iter()
                .enumerate()
                .map(|(i, w)| (w.clone(), WordKind::Plain, false, i as u32, false)),
        )
    }

    #[test]
    fn many_keys_all_found() {
        let words: Vec<Vec<u8>> = (0..50_000).map(|i| format!("w{i}x").into_bytes()).collect();
        let d = numbered_words(&words);
        for (i, w) in words.iter().enumerate() {
            assert_eq!(d.get(w).map(|e| e.exact[0]), Some(i as u32));
        }
        assert!(d.get(b"w50000x").is_none());
    }

    #[test]
    fn keys_that_share_their_first_bytes_and_length_are_all_found() {
        // The table hashes what the Bloom filter saw (the first 8 bytes and the length), then
        // the rest: keys of 9 to 40 bytes that differ only past their 8th, 16th or 24th byte.
        let mut words = Vec::new();
        for len in [9, 12, 16, 17, 24, 25, 40] {
            for i in 0..200u32 {
                let mut w = vec![b'k'; len];
                let at = [8, 15, 16, 23, len - 1][i as usize % 5].min(len - 1);
                w[at] = b'a' + (i / 5 % 26) as u8;
                w[len - 2] = b'a' + (i / 130) as u8;
                words.push(w);
            }
        }
        words.sort();
        words.dedup();
        let d = numbered_words(&words);
        for (i, w) in words.iter().enumerate() {
            assert_eq!(d.get(w).map(|e| e.exact[0]), Some(i as u32), "{w:?}");
            let mut seen = Vec::new();
            d.for_each_key(w, head_of(w), |e, whole| seen.push((e.exact[0], whole)));
            assert_eq!(seen, [(i as u32, true)], "{w:?}");
            let mut other = w.clone();
            *other.last_mut().unwrap() = b'z';
            assert!(
                d.get(&other).is_none() || words.contains(&other),
                "{other:?}"
            );
        }
    }

    #[test]
    fn keys_that_only_follow_pass_only_after_a_marked_word() {
        let d = Dict::build([
            (b"numero".to_vec(), WordKind::Plain, false, 0, false),
            (b"de".to_vec(), WordKind::Plain, false, 1, true),
            // A key that one literal only follows with and another leads with: it leads.
            (b"suivi".to_vec(), WordKind::Plain, false, 2, true),
            (b"suivi".to_vec(), WordKind::Hashtag, false, 3, false),
        ]);
        let f = Leads::new(&d);
        let keeps = |w: &[u8], pos| {
            let first8 = head_of(w)[0];
            f.keep(first8, w.len()) || f.keep_at(pos, first8, w.len())
        };
        assert!(keeps(b"numero", 0) && keeps(b"suivi", 0));
        assert!(!keeps(b"de", 1) && !f.follows(1));
        f.follow(0);
        assert!(f.follows(1) && keeps(b"de", 1));
        assert!(!f.follows(2) && !keeps(b"de", 2));
        // The dictionary alone, as a filter, keeps every key.
        assert!(d.keep(head_of(b"de")[0], 2));
    }
}
