//! URLs in the text: where one starts (`http://`, `https://`, `www.`) and where it ends. The
//! walk skips them whole, so that no word is read inside a link.

use super::fold::decode;

#[inline]
fn starts_with_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

/// Whether a URL starts at `i` (`http://`, `https://`, `www.`).
#[inline]
pub(super) fn url_at(bytes: &[u8], i: usize) -> bool {
    let rest = &bytes[i..];
    starts_with_ignore_case(rest, b"http://")
        || starts_with_ignore_case(rest, b"https://")
        || starts_with_ignore_case(rest, b"www.")
}

/// The end of the URL starting at `i`: the next whitespace or `<`, `>`, `"`.
pub(super) fn skip_url(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if b.is_ascii_whitespace() || b == 0x0B || matches!(b, b'<' | b'>' | b'"') {
                return i;
            }
            i += 1;
        } else {
            let (cp, len) = decode(bytes, i);
            if char::from_u32(cp).is_some_and(char::is_whitespace) {
                return i;
            }
            i += len;
        }
    }
    bytes.len()
}
