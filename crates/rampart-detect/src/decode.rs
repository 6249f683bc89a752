//! The decodings an upstream might apply to a value: percent-encoding (once, or twice by a
//! careless framework), HTML character references, JavaScript and JSON escapes, and
//! base64 where a route says a parameter carries it.
//!
//! Every function leaves what it does not understand as it is (an attacker gains nothing
//! from a malformed escape that the upstream would also leave alone), never produces more
//! bytes than it read, and returns the input borrowed when there was nothing to decode.

use std::borrow::Cow;

/// At most this many distinct forms of one value are inspected.
pub const MAX_VARIANTS: usize = 6;
/// Rounds of decoding applied to reach the fully decoded form.
const ROUNDS: usize = 3;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%XX` to the byte it encodes; with `plus_as_space` (query strings and forms), `+` to a
/// space. Also IIS's `%uXXXX`, which some stacks still honour. Malformed escapes stay.
pub fn percent(input: &str, plus_as_space: bool) -> Cow<'_, str> {
    let bytes = input.as_bytes();
    if !(bytes.contains(&b'%') || plus_as_space && bytes.contains(&b'+')) {
        return Cow::Borrowed(input);
    }
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                if let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                if matches!(bytes.get(i + 1), Some(b'u' | b'U'))
                    && let Some(code) = hex4(bytes.get(i + 2..i + 6))
                    && let Some(c) = char::from_u32(code)
                {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += 6;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    let digits = digits?;
    if digits.len() != 4 {
        return None;
    }
    digits
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc << 4 | u32::from(hex(d)?)))
}

/// Named references a browser decodes that matter for attacks (markup, quotes,
/// separators); numeric references cover the rest.
const NAMED: &[(&str, char)] = &[
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
    ("sol", '/'),
    ("bsol", '\\'),
    ("colon", ':'),
    ("semi", ';'),
    ("lpar", '('),
    ("rpar", ')'),
    ("equals", '='),
    ("comma", ','),
    ("period", '.'),
    ("excl", '!'),
    ("grave", '`'),
    ("tab", '\t'),
    ("newline", '\n'),
    ("nbsp", '\u{a0}'),
    ("lbrace", '{'),
    ("rbrace", '}'),
    ("lsqb", '['),
    ("rsqb", ']'),
    ("num", '#'),
    ("dollar", '$'),
    ("percnt", '%'),
    ("plus", '+'),
    ("quest", '?'),
    ("ast", '*'),
];

/// HTML character references: `&lt;`, `&#60;`, `&#x3c;`, also without the final `;` and
/// with leading zeros, as browsers accept them.
pub fn html_entities(input: &str) -> Cow<'_, str> {
    if !input.contains('&') {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match reference(after) {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// One reference after its `&`: the character and the bytes it took.
fn reference(s: &str) -> Option<(char, usize)> {
    let bytes = s.as_bytes();
    if bytes.first() == Some(&b'#') {
        let (radix, start) = match bytes.get(1) {
            Some(b'x' | b'X') => (16, 2),
            _ => (10, 1),
        };
        let digits = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit() && (radix == 16 || b.is_ascii_digit()))
            .count();
        // Leading zeros are legal and unbounded; the value is not.
        let text = &s[start..start + digits];
        let trimmed = text.trim_start_matches('0');
        if digits == 0 || trimmed.len() > 7 {
            return None;
        }
        let code = if trimmed.is_empty() {
            0
        } else {
            u32::from_str_radix(trimmed, radix).ok()?
        };
        let c = char::from_u32(code).unwrap_or('\u{fffd}');
        let mut used = start + digits;
        if bytes.get(used) == Some(&b';') {
            used += 1;
        }
        return Some((c, used));
    }
    let name_len = bytes
        .iter()
        .take(10)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let name = &s[..name_len];
    let &(_, c) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    let mut used = name_len;
    if bytes.get(used) == Some(&b';') {
        used += 1;
    }
    Some((c, used))
}

/// JavaScript and JSON string escapes: `\uXXXX` (surrogate pairs joined), `\u{X...}`,
/// `\xHH`, and the one-letter ones. Unknown escapes lose their backslash, as in JS.
pub fn js_escapes(input: &str) -> Cow<'_, str> {
    if !input.contains('\\') {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut chars = input.char_indices().peekable();
    let bytes = input.as_bytes();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&(_, next)) = chars.peek() else {
            out.push('\\');
            break;
        };
        let (decoded, used) = match next {
            'u' if bytes.get(i + 2) == Some(&b'{') => {
                let end = input[i + 3..].find('}').filter(|&n| (1..=6).contains(&n));
                match end.and_then(|n| u32::from_str_radix(&input[i + 3..i + 3 + n], 16).ok()) {
                    Some(code) => (char::from_u32(code), 2 + end.unwrap_or(0) + 2),
                    None => (None, 0),
                }
            }
            'u' => match hex4(bytes.get(i + 2..i + 6)) {
                Some(high @ 0xD800..=0xDBFF)
                    if bytes.get(i + 6) == Some(&b'\\') && bytes.get(i + 7) == Some(&b'u') =>
                {
                    match hex4(bytes.get(i + 8..i + 12)) {
                        Some(low @ 0xDC00..=0xDFFF) => (
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)),
                            12,
                        ),
                        _ => (Some('\u{fffd}'), 6),
                    }
                }
                Some(code) => (Some(char::from_u32(code).unwrap_or('\u{fffd}')), 6),
                None => (None, 0),
            },
            'x' => match (
                bytes.get(i + 2).copied().and_then(hex),
                bytes.get(i + 3).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => (Some(char::from(h << 4 | l)), 4),
                _ => (None, 0),
            },
            'n' => (Some('\n'), 2),
            't' => (Some('\t'), 2),
            'r' => (Some('\r'), 2),
            'b' => (Some('\u{8}'), 2),
            'f' => (Some('\u{c}'), 2),
            'v' => (Some('\u{b}'), 2),
            '0' => (Some('\0'), 2),
            other => (Some(other), 2),
        };
        match decoded {
            Some(d) if used > 0 => {
                out.push(d);
                // Skip what the escape used, past the backslash already taken.
                while chars.peek().is_some_and(|&(j, _)| j < i + used) {
                    chars.next();
                }
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Base64 (standard or URL-safe alphabet, padding optional) when the whole value is
/// base64 of at least 8 characters and decodes to UTF-8 text. Only for parameters a
/// route declares as base64: elsewhere, ordinary words would decode to noise.
pub fn base64_text(input: &str) -> Option<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let trimmed = input.trim().trim_end_matches('=');
    if trimmed.len() < 8 {
        return None;
    }
    let decoded = STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .ok()?;
    String::from_utf8(decoded).ok()
}

/// Which decodings apply to a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decodings {
    /// `+` is a space (query strings, urlencoded forms).
    pub plus_as_space: bool,
    /// The value may be base64.
    pub base64: bool,
}

/// The forms of `input` to inspect: the value as received, and what repeated rounds of
/// percent, HTML and JS decoding make of it (each distinct form once, at most
/// [`MAX_VARIANTS`]).
pub fn variants(input: &str, how: Decodings) -> Vec<String> {
    let mut out: Vec<String> = vec![input.to_owned()];
    // Nothing any decoder reads: the value is its only form.
    let encoded = input
        .bytes()
        .any(|b| matches!(b, b'%' | b'&' | b'\\') || how.plus_as_space && b == b'+');
    if !encoded && !how.base64 {
        return out;
    }
    let push = |form: String, out: &mut Vec<String>| {
        if out.len() < MAX_VARIANTS && !out.contains(&form) {
            out.push(form);
        }
    };
    if how.base64
        && let Some(text) = base64_text(input)
    {
        push(text, &mut out);
    }
    let mut current = input.to_owned();
    for _ in 0..ROUNDS {
        let next = js_escapes(&html_entities(&percent(&current, how.plus_as_space))).into_owned();
        if next == current {
            break;
        }
        push(next.clone(), &mut out);
        current = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_what_it_does_not_understand() {
        assert_eq!(percent("a%20b%2Fc", false), "a b/c");
        assert_eq!(percent("a+b", true), "a b");
        assert_eq!(percent("a+b", false), "a+b");
        assert_eq!(percent("100%", false), "100%");
        assert_eq!(percent("%zz%4", false), "%zz%4");
        assert_eq!(percent("%u003cscript%u003E", false), "<script>");
        assert_eq!(percent("%252e%252e%252f", false), "%2e%2e%2f", "one round");
        assert!(matches!(percent("plain", true), Cow::Borrowed(_)));
        assert_eq!(
            percent("%ff", false),
            "\u{fffd}",
            "invalid UTF-8 is replaced"
        );
    }

    #[test]
    fn html_references_decode_as_browsers_do() {
        assert_eq!(html_entities("&lt;img src=x&gt;"), "<img src=x>");
        assert_eq!(html_entities("&#60;&#x3C;&#X3c&#0000060;"), "<<<<");
        assert_eq!(html_entities("java&Tab;script&colon;"), "java\tscript:");
        assert_eq!(html_entities("AT&T & co &unknown;"), "AT&T & co &unknown;");
        assert_eq!(html_entities("&#99999999999;"), "&#99999999999;");
        assert_eq!(html_entities("&#0;"), "\0");
        assert_eq!(html_entities("&"), "&");
    }

    #[test]
    fn js_escapes_decode_including_surrogates_and_braces() {
        assert_eq!(js_escapes(r"\u003cscript\u003e"), "<script>");
        assert_eq!(js_escapes(r"\x3cb\x3E"), "<b>");
        assert_eq!(js_escapes(r"\u{3c}\u{1F600}"), "<\u{1F600}");
        assert_eq!(js_escapes(r"\ud83d\ude00"), "\u{1F600}");
        assert_eq!(js_escapes(r"\ud83d!"), "\u{fffd}!");
        assert_eq!(js_escapes(r"a\'b\q"), "a'bq");
        assert_eq!(js_escapes(r"\u12"), r"\u12", "malformed stays");
        assert_eq!(js_escapes("end\\"), "end\\");
        assert_eq!(js_escapes("é\\u00e9"), "éé");
    }

    #[test]
    fn base64_only_when_the_whole_value_is_text() {
        assert_eq!(
            base64_text("PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==").as_deref(),
            Some("<script>alert(1)</script>")
        );
        assert_eq!(base64_text("short").as_deref(), None);
        assert_eq!(base64_text("not base64 at all!").as_deref(), None);
        assert_eq!(base64_text("//////////8=").as_deref(), None, "not UTF-8");
    }

    #[test]
    fn variants_reach_the_fully_decoded_form_and_stay_bounded() {
        let forms = variants("%253Cscript%253E", Decodings::default());
        assert_eq!(forms[0], "%253Cscript%253E");
        assert!(forms.contains(&"<script>".to_owned()), "{forms:?}");
        let mixed = variants("%26lt%3Bimg%26gt%3B", Decodings::default());
        assert!(mixed.contains(&"<img>".to_owned()), "{mixed:?}");
        assert_eq!(variants("hello", Decodings::default()), ["hello"]);
        let deep = "%25".repeat(40) + "41";
        assert!(variants(&deep, Decodings::default()).len() <= MAX_VARIANTS);
        let b64 = variants(
            "JyBPUiAxPTEgLS0=",
            Decodings {
                base64: true,
                ..Decodings::default()
            },
        );
        assert!(b64.contains(&"' OR 1=1 --".to_owned()), "{b64:?}");
    }

    #[test]
    fn no_decoder_grows_its_input() {
        let samples = [
            "%41%u0041&#65;&lt;\\u0041\\x41\\n&amp;&#x1F600;",
            "&#1114111;&#x10FFFF;\\u{10FFFF}",
            "%ff%fe\\ud800",
        ];
        for s in samples {
            for out in [
                percent(s, true).into_owned(),
                html_entities(s).into_owned(),
                js_escapes(s).into_owned(),
            ] {
                assert!(out.len() <= s.len(), "{s:?} -> {out:?}");
            }
        }
    }
}
