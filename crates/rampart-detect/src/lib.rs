//! rampart's injection detector (issue 5, in progress; see `docs/design/input-validation.md`).
//!
//! Today: [`decode`], the decodings an upstream might apply to a value before it reaches
//! code that may be vulnerable; [`sql`], SQL injection by tokenizing; [`xss`], markup and
//! script a browser would run; [`cmd`], shell command injection; [`path`], traversal and
//! file inclusion; [`ssrf`], URLs aimed at the machine itself, its metadata service or the
//! private network; [`markers`], NoSQL operators, template expressions and XML external
//! entities. [`inspect`] runs them all over every decoded form of a value and merges what
//! they find into one scored list. Every decoder is bounded: its output is never longer than
//! its input, and [`decode::variants`] applies them a fixed number of times, so that the
//! detector's time stays linear in the size of what it inspects.
#![forbid(unsafe_code)]

pub mod cmd;
pub mod decode;
pub mod markers;
pub mod path;
pub mod sql;
pub mod ssrf;
pub mod xss;

pub use decode::Decodings;
pub use sql::Hit;

/// Every scanner over every decoded form of `value`: each rule once, with its highest
/// score, the heaviest first. `level` (1–4, like CRS paranoia levels) turns on the rules
/// that also match more ordinary input.
pub fn inspect(value: &str, how: Decodings, level: u8) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    for form in decode::variants(value, how) {
        let found = [
            sql::inspect(&form),
            xss::inspect(&form, level),
            cmd::inspect(&form),
            path::inspect(&form),
            ssrf::inspect(&form),
            markers::nosql(&form),
            markers::ssti(&form),
            markers::xxe(&form),
        ];
        for hit in found.into_iter().flatten() {
            sql::add(&mut hits, hit);
        }
    }
    hits.sort_by(|a, b| b.score.cmp(&a.score).then(a.rule.cmp(b.rule)));
    hits
}

/// The anomaly score of a set of hits: their sum.
pub fn total(hits: &[Hit]) -> u32 {
    hits.iter().map(|h| h.score).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_attacks_are_seen_through_their_encodings() {
        let query = Decodings {
            plus_as_space: true,
            base64: false,
        };
        for (attack, rule) in [
            ("%27%20OR%20%271%27%3D%271", "sqli.string_break_condition"),
            (
                "%253Cscript%253Ealert(1)%253C/script%253E",
                "xss.script_tag",
            ),
            (
                "&#x3C;img src=x onerror=alert(1)&#x3E;",
                "xss.event_handler",
            ),
            ("\\u003csvg onload=alert(1)\\u003e", "xss.event_handler"),
            ("..%252f..%252fetc%252fpasswd", "path.traversal"),
            ("1+union+select+1,2", "sqli.union_select"),
            ("http%3A%2F%2F169.254.169.254%2F", "ssrf.metadata"),
        ] {
            let hits = inspect(attack, query, 1);
            assert!(hits.iter().any(|h| h.rule == rule), "{attack:?}: {hits:?}");
            assert!(total(&hits) >= 5, "{attack:?}: {hits:?}");
        }
    }

    #[test]
    fn encoded_ordinary_values_stay_quiet() {
        for text in [
            "caf%C3%A9",
            "Fish+%26+Chips",
            "O%27Reilly",
            "https%3A%2F%2Fexample.com%2Fdocs",
            "2024-01-01",
            "hello+world",
        ] {
            let hits = inspect(text, Decodings::default(), 1);
            assert!(total(&hits) < 5, "{text:?}: {hits:?}");
        }
    }
}
