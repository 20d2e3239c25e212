//! Fuzz the query parser and the compiled matcher: any string either parses or gives an error
//! whose column lies inside the query (plus one, for "at the end"); a query that parses
//! compiles and can be matched against a text derived from the same input without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::matcher::RuleSpec;
use vigie::matcher::RuleSet;
use vigie::post::Post;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (query, text) = s.split_once('\n').unwrap_or((s, s));
    match RuleSpec::with_query("fuzz", query) {
        Ok(spec) => {
            let rules = RuleSet::compile(&[spec]).expect("a parsed query compiles");
            for hit in rules.matches(&Post::from_text(text)).iter() {
                for m in hit.matched() {
                    assert!(m.start <= m.end && m.end <= text.len());
                    // A word match quotes a non-empty slice of the post, on char boundaries.
                    assert!(m.position.is_none() || !m.text(text).is_empty());
                }
            }
        }
        Err(e) => {
            let chars = query.chars().count();
            assert!(
                e.column >= 1 && e.column <= chars + 1,
                "column {} of {chars}",
                e.column
            );
            let _ = e.caret(query);
        }
    }
});
