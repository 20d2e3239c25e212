//! Fuzz the normaliser: any string gives words whose byte ranges are in bounds, on char
//! boundaries, increasing, with consecutive positions and non-empty, lower-case folded text; folding is
//! idempotent (the folded text of the folded text is itself); and shifting the text by a few
//! spaces shifts the words and changes nothing else (the 64-byte blocks fall elsewhere).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::normalize;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let words = normalize::words(&text);
    let mut last_end = 0;
    for (i, w) in words.iter().enumerate() {
        assert_eq!(w.pos as usize, i);
        assert!(!w.text.is_empty());
        assert!(!w.text.bytes().any(|b| b.is_ascii_uppercase()), "not folded: {:?}", w.text);
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
    let folded = normalize::folded(&text);
    assert_eq!(normalize::folded(&folded), folded);
    let _ = normalize::nfkc(&text);
});
