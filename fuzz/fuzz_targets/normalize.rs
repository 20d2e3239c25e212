//! Fuzz the normaliser: any string gives words whose byte ranges are in bounds, on char
//! boundaries, increasing, with consecutive positions and non-empty, lower-case folded text; folding is
//! idempotent (the folded text of the folded text is itself); and shifting the text by a few
//! spaces shifts the words and changes nothing else (the 64-byte blocks fall elsewhere); and a
//! filtered walk hands over exactly the words the filter keeps, at the same positions, also when
//! the filter wants some words only right after others.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::matcher::dict::head_of;
use vigie::normalize::{self, WordFilter};

/// Keeps about half the words, by a hash of what the tokenizer shows a filter.
struct Half;

impl WordFilter for Half {
    fn keep(&self, first8: u64, len: usize) -> bool {
        hash(first8, len) >> 63 == 1
    }
}

/// Keeps about a quarter of the words anywhere, and about half of the others right after a
/// word the caller marked (as the matcher does for a phrase's later words).
struct Follower {
    next: std::cell::Cell<u32>,
}

fn hash(first8: u64, len: usize) -> u64 {
    (first8 ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl WordFilter for Follower {
    fn keep(&self, first8: u64, len: usize) -> bool {
        hash(first8, len) >> 62 == 3
    }

    fn keep_at(&self, pos: u32, first8: u64, len: usize) -> bool {
        pos == self.next.get() && hash(first8, len) >> 60 & 1 == 1
    }

    fn follows(&self, pos: u32) -> bool {
        pos == self.next.get()
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let words = normalize::words(&text);
    let mut last_end = 0;
    for (i, w) in words.iter().enumerate() {
        assert_eq!(w.pos as usize, i);
        assert!(!w.text.is_empty());
        assert!(
            !w.text.bytes().any(|b| b.is_ascii_uppercase()),
            "not folded: {:?}",
            w.text
        );
        assert!(w.start < w.end && w.end <= text.len());
        assert!(text.is_char_boundary(w.start) && text.is_char_boundary(w.end));
        assert!(w.start >= last_end);
        last_end = w.end;
    }
    let shift = 1 + data.len() % 63;
    let shifted = normalize::words(&format!("{}{text}", " ".repeat(shift)));
    assert_eq!(shifted.len(), words.len());
    for (a, b) in words.iter().zip(&shifted) {
        assert_eq!((&a.text, a.pos, a.kind), (&b.text, b.pos, b.kind));
        assert_eq!((a.start + shift, a.end + shift), (b.start, b.end));
    }
    let mut kept = Vec::new();
    normalize::for_each_word_where(&text, &mut normalize::Buffers::default(), &Half, |w| {
        kept.push((
            String::from_utf8_lossy(w.text).into_owned(),
            w.pos,
            w.start,
            w.end,
        ))
    });
    let want: Vec<_> = words
        .iter()
        .filter(|w| Half.keep(head_of(w.text.as_bytes())[0], w.text.len()))
        .map(|w| (w.text.clone(), w.pos, w.start, w.end))
        .collect();
    assert_eq!(kept, want);
    // Marks every other handed-over word (by its hash); the reference replays the same rule
    // over every word.
    let marks = |first8: u64, len: usize| hash(first8, len) >> 61 & 1 == 1;
    let filter = Follower {
        next: std::cell::Cell::new(u32::MAX),
    };
    let mut got = Vec::new();
    normalize::for_each_word_where(&text, &mut normalize::Buffers::default(), &filter, |w| {
        got.push((w.pos, w.start, w.end));
        if marks(w.first8(), w.text.len()) {
            filter.next.set(w.pos + 1);
        }
    });
    let reference = Follower {
        next: std::cell::Cell::new(u32::MAX),
    };
    let mut want = Vec::new();
    for w in &words {
        let (first8, len) = (head_of(w.text.as_bytes())[0], w.text.len());
        if reference.keep(first8, len) || reference.keep_at(w.pos, first8, len) {
            want.push((w.pos, w.start, w.end));
            if marks(first8, len) {
                reference.next.set(w.pos + 1);
            }
        }
    }
    assert_eq!(got, want);
    let folded = normalize::folded(&text);
    assert_eq!(normalize::folded(&folded), folded);
    let _ = normalize::nfkc(&text);
});
