//! Roff (man(7)) source to lines of text: comments, requests and the macros that only lay out
//! are dropped, the arguments of font and heading macros kept, escapes turned into the
//! characters they stand for (`\(Fo` is `«`, `\(aq` is `'`, `\-` is `-`).

/// Macros whose arguments are text; the alternating-font ones glue their arguments.
const TEXT: &[&str] = &["B", "I", "SM", "SB", "SH", "SS", "IP", "TP", "UE", "ME"];
const ALTERNATE: &[&str] = &["BR", "RB", "BI", "IB", "IR", "RI"];

pub fn lines(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_def = false;
    let mut table_format = false;
    for raw in src.lines() {
        let line = raw.trim_end();
        if in_def {
            in_def = line != "..";
            continue;
        }
        if table_format {
            // The format lines of a table end with a full stop.
            table_format = !line.ends_with('.');
            continue;
        }
        let text = if let Some(ctl) = line.strip_prefix('.').or(line.strip_prefix('\'')) {
            let ctl = ctl.trim_start();
            let (name, args) = ctl.split_once([' ', '\t']).unwrap_or((ctl, ""));
            match name {
                "de" | "de1" | "am" | "ig" => {
                    in_def = true;
                    continue;
                }
                "TS" => {
                    table_format = true;
                    continue;
                }
                _ if TEXT.contains(&name) => {
                    let args = split_args(args);
                    if name == "IP" {
                        args.into_iter().next().unwrap_or_default()
                    } else {
                        args.join(" ")
                    }
                }
                _ if ALTERNATE.contains(&name) => split_args(args).concat(),
                _ => continue,
            }
        } else {
            line.to_string()
        };
        let text = unescape(&text);
        let text = text.trim();
        if text.chars().any(char::is_alphanumeric) {
            out.push(text.to_string());
        }
    }
    out
}

/// A macro's arguments: words, or "quoted strings" with `""` for a quote.
fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = args.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let Some(&c) = chars.peek() else {
            return out;
        };
        let mut arg = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' && chars.next_if_eq(&'"').is_none() {
                    break;
                }
                arg.push(c);
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
                arg.push(c);
            }
        }
        out.push(arg);
    }
}

/// The character a special-character name stands for (`\(xx`, `\[xx]`, `\*(xx`).
fn special(name: &str) -> Option<&'static str> {
    #[rustfmt::skip]
    const NAMES: &[(&str, &str)] = &[
        ("'e", "é"), ("`e", "è"), ("^e", "ê"), (":e", "ë"), ("'a", "á"), ("`a", "à"),
        ("^a", "â"), (":a", "ä"), (",c", "ç"), ("^i", "î"), (":i", "ï"), ("'i", "í"),
        ("^o", "ô"), (":o", "ö"), ("'o", "ó"), ("`u", "ù"), ("^u", "û"), (":u", "ü"),
        ("'u", "ú"), ("~n", "ñ"), ("'E", "É"), ("`E", "È"), ("^E", "Ê"), ("`A", "À"),
        ("^A", "Â"), (",C", "Ç"), ("^O", "Ô"), ("^I", "Î"), ("oe", "œ"), ("OE", "Œ"),
        ("ae", "æ"), ("AE", "Æ"), ("ss", "ß"), ("/o", "ø"), ("/O", "Ø"), ("Fo", "«"),
        ("Fc", "»"), ("aq", "'"), ("cq", "’"), ("oq", "‘"), ("lq", "“"), ("rq", "”"),
        ("dq", "\""), ("bu", "•"), ("co", "©"), ("rg", "®"), ("R", "®"), ("tm", "™"),
        ("Tm", "™"), ("en", "–"), ("em", "—"), ("hy", "-"), ("mi", "−"), ("at", "@"),
        ("sh", "#"), ("ti", "~"), ("ha", "^"), ("rs", "\\"), ("dg", "†"), ("de", "°"),
        ("mu", "×"), ("di", "÷"), ("+-", "±"), ("12", "½"), ("14", "¼"), ("34", "¾"),
        ("Eu", "€"), ("eu", "€"), ("<=", "≤"), (">=", "≥"), ("!=", "≠"), ("->", "→"),
        ("<-", "←"), ("lB", "["), ("rB", "]"), ("lC", "{"), ("rC", "}"), ("ba", "|"),
        ("or", "|"), ("fm", "′"), ("sq", "□"), ("*a", "α"), ("*b", "β"), ("*g", "γ"),
        ("*d", "δ"), ("*e", "ε"), ("*l", "λ"), ("*m", "μ"), ("*p", "π"), ("*s", "σ"),
        ("*t", "τ"), ("*f", "φ"), ("*W", "Ω"), ("*w", "ω"), ("*S", "Σ"), ("*D", "Δ"),
    ];
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Text with its escapes resolved; an unknown named character becomes a space.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    // A name after `(` (two characters) or in `[…]`, or one character.
    fn name(it: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
        match it.next() {
            Some('(') => it.by_ref().take(2).collect(),
            Some('[') => it.by_ref().take_while(|&c| c != ']').collect(),
            Some(c) => c.to_string(),
            None => String::new(),
        }
    }
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = it.next() else {
            break;
        };
        match e {
            '"' | '#' => break,
            '(' | '[' => {
                let n: String = if e == '(' {
                    it.by_ref().take(2).collect()
                } else {
                    it.by_ref().take_while(|&c| c != ']').collect()
                };
                let unicode = n
                    .strip_prefix('u')
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32);
                match (unicode, special(&n)) {
                    (Some(u), _) => out.push(u),
                    (None, Some(t)) => out.push_str(t),
                    (None, None) => out.push(' '),
                }
            }
            '*' => {
                let n = name(&mut it);
                out.push_str(special(&n).unwrap_or(""));
            }
            'f' | 'n' | 'k' | 'F' | 'm' | 'g' | 'Y' => {
                name(&mut it);
            }
            's' => {
                it.next_if(|c| matches!(c, '+' | '-'));
                if it.peek().is_some_and(|c| matches!(c, '(' | '[')) {
                    name(&mut it);
                } else {
                    it.next_if(char::is_ascii_digit);
                }
            }
            'h' | 'v' | 'w' | 'l' | 'L' | 'D' | 'X' | 'o' | 'b' | 'N' | 'C' | 'Z' | 'A' | 'B'
            | 'R' | 'x' | 'S' | 'H' => {
                // An argument between delimiters: dropped.
                if let Some(d) = it.next() {
                    for c in it.by_ref() {
                        if c == d {
                            break;
                        }
                    }
                }
            }
            '-' => out.push('-'),
            'e' | 'E' | '\\' => out.push('\\'),
            ' ' | '0' => out.push(' '),
            '~' => out.push('\u{A0}'),
            't' => out.push('\t'),
            '\'' => out.push('´'),
            '`' => out.push('`'),
            '.' => out.push('.'),
            '&' | ')' | '|' | '^' | '%' | ':' | 'c' | '!' | 'p' | 'r' | 'd' | 'u' | 'z' | '{'
            | '}' | 'a' => {}
            other => out.push(other),
        }
    }
    out
}
