//! rampart's injection detector (see `docs/design/input-validation.md`).
//!
//! [`decode`], the decodings an upstream might apply to a value before it reaches code
//! that may be vulnerable; [`sql`], SQL injection by tokenizing; [`xss`], markup and script
//! a browser would run; [`cmd`], shell command injection; [`path`], traversal and file
//! inclusion; [`ssrf`], URLs aimed at the machine itself, its metadata service or the
//! private network; [`markers`], NoSQL operators, template expressions and XML external
//! entities. [`inspect`] runs them all over every decoded form of a value and merges what
//! they find into one scored list; [`extract`] finds the values of a request and
//! [`Policy`] scores them by place into a [`Report`]. [`rules`] documents every rule.
//! Every decoder is bounded: its output is never longer than its input, and
//! [`decode::variants`] applies them a fixed number of times, so that the detector's time
//! stays linear in the size of what it inspects.
#![forbid(unsafe_code)]

use std::borrow::Cow;

pub mod cmd;
pub mod code;
pub mod decode;
pub mod extract;
pub mod leaks;
pub mod markers;
mod needles;
pub mod path;
pub mod rules;
pub mod session;
pub mod sql;
pub mod ssrf;
pub mod xss;

pub use decode::Decodings;
pub use extract::Place;
pub use sql::Hit;

/// Every scanner over every decoded form of `value`: each rule once, with its highest
/// score, the heaviest first. `level` (1–4, like CRS paranoia levels) turns on the rules
/// that also match more ordinary input.
pub fn inspect(value: &str, how: Decodings, level: u8) -> Vec<Hit> {
    scan(value, how, level, Scanners::ALL)
}

/// Which scanners read a value.
#[derive(Debug, Clone, Copy)]
struct Scanners {
    /// URL targets: only where a value may be a URL the upstream fetches (parameters and
    /// bodies), not in headers such as `Referer` or `Origin`, which hold URLs by design.
    ssrf: bool,
    /// A whole XML document: only what is about documents (entities, includes).
    document: bool,
}

impl Scanners {
    const ALL: Scanners = Scanners {
        ssrf: true,
        document: false,
    };
}

/// Whether `value` is made only of bytes that no rule can build an attack from: letters,
/// digits and `-_@`, without the stream magic of a serialized Java object. Most
/// identifiers, numbers and dates are, and they are passed without decoding or scanning.
/// (Dots are not inert: `java.lang.Runtime` is an attack made of letters and dots.)
fn inert(value: &str) -> bool {
    value.bytes().all(|b| INERT[usize::from(b)]) && !code::serialized_java(value)
}

/// ASCII letters and digits, and `extra`: a byte class looked up by index.
const fn byte_class(extra: &[u8]) -> [bool; 256] {
    let mut class = [false; 256];
    let mut b = 0;
    while b < 256 {
        class[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        class[extra[i] as usize] = true;
        i += 1;
    }
    class
}

/// `text` with ASCII letters in lower case, borrowed when it has no upper-case letter: the
/// scanners that compare without regard to case call it on what they are given, and
/// [`scan`] gives them the value lower-cased once, so that they copy nothing.
pub(crate) fn lower_case(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// The bytes of [`inert`] values.
static INERT: [bool; 256] = byte_class(b"-_@");
/// The bytes of prose: letters, digits, blanks, quotes and sentence punctuation, ASCII only.
static PROSE: [bool; 256] = byte_class(b" .,!?-_@+'\"");

fn scan(value: &str, how: Decodings, level: u8, scanners: Scanners) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    if !how.base64 && inert(value) {
        return hits;
    }
    if scanners.document {
        for hit in markers::xxe(value) {
            sql::add(&mut hits, hit);
        }
        return hits;
    }
    for form in decode::variants(value, how) {
        // Prose (letters, digits, blanks, quotes and sentence punctuation, ASCII only) has
        // none of the syntax the markup, path, URL, template, PHP, LDAP, include and line
        // rules need: only SQL (keywords and quotes), commands, the Java and JavaScript
        // names and, at level 2, script sinks are looked for in it.
        let prose = form.bytes().all(|b| PROSE[usize::from(b)]);
        // Scanners that compare without regard to case read one lower-cased copy; prose at
        // level 1 reaches none of them.
        let lower = if prose && level < 2 {
            Cow::Borrowed(&*form)
        } else {
            lower_case(&form)
        };
        let full = |scan: fn(&str) -> Vec<Hit>| if prose { Vec::new() } else { scan(&lower) };
        let found = [
            sql::inspect(&form),
            // Level 2's script sinks (`document.cookie`) are letters and dots.
            if prose && level < 2 {
                Vec::new()
            } else {
                xss::inspect(&lower, level)
            },
            cmd::inspect(&form),
            full(path::inspect),
            if scanners.ssrf {
                full(ssrf::inspect)
            } else {
                Vec::new()
            },
            full(markers::nosql),
            full(markers::nosql_code),
            full(markers::ssti),
            full(markers::xxe),
            full(code::php),
            code::runtime(&form),
            full(code::ldap),
            full(code::ssi),
            full(code::crlf),
            full(session::cookie_write),
            if level >= 2 {
                full(code::graphql)
            } else {
                Vec::new()
            },
        ];
        for hit in found.into_iter().flatten() {
            sql::add(&mut hits, hit);
        }
    }
    hits.retain(|h| rules::find(h.rule).is_none_or(|r| r.level <= level));
    hits.sort_by(|a, b| b.score.cmp(&a.score).then(a.rule.cmp(b.rule)));
    hits
}

/// The value at `place` (a key when `key`), with the decodings and scanners that fit the
/// place.
pub fn inspect_at(place: Place<'_>, value: &str, key: bool, level: u8, base64: bool) -> Vec<Hit> {
    let how = Decodings {
        plus_as_space: matches!(place, Place::Query(_) | Place::Form(_)),
        base64,
    };
    let scanners = Scanners {
        ssrf: !matches!(place, Place::Header(_) | Place::Cookie(_)),
        document: matches!(place, Place::XmlDocument),
    };
    let mut hits = scan(value, how, level, scanners);
    let mut extra = Vec::new();
    if key {
        extra.extend(markers::nosql_key(value));
        extra.extend(code::javascript_key(value));
        extra.extend(session::key(value, &place));
    }
    if matches!(place, Place::Path) {
        extra.extend(session::path(value));
        extra.extend(path::hidden(value));
    }
    if matches!(place, Place::Header(name) if name.eq_ignore_ascii_case("user-agent")) {
        extra.extend(code::tool_user_agent(value));
    }
    extra.retain(|h| rules::find(h.rule).is_none_or(|r| r.level <= level));
    if extra.is_empty() {
        return hits;
    }
    for hit in extra {
        sql::add(&mut hits, hit);
    }
    hits.sort_by(|a, b| b.score.cmp(&a.score).then(a.rule.cmp(b.rule)));
    hits
}

/// The anomaly score of a set of hits: their sum.
pub fn total(hits: &[Hit]) -> u32 {
    hits.iter().map(|h| h.score).sum()
}

/// How one route inspects requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// 1–4: higher levels add rules that also match more ordinary input.
    pub level: u8,
    /// A place whose score reaches this is an attack.
    pub threshold: u32,
    /// Also inspect what base64-looking values decode to.
    pub base64: bool,
    /// `(rule pattern, location pattern)` pairs whose hits are dropped.
    pub exclusions: Vec<Exclusion>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            level: 1,
            threshold: 5,
            base64: false,
            exclusions: Vec::new(),
        }
    }
}

/// Hits of `rule` (a pattern, see [`rules::matches`]) at `location` are not counted.
/// A location ending in `*` covers every location it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    pub rule: String,
    pub location: String,
}

impl Exclusion {
    fn covers(&self, rule: &str, location: &str) -> bool {
        rules::matches(&self.rule, rule)
            && match self.location.strip_suffix('*') {
                Some(prefix) => location.starts_with(prefix),
                None => self.location == location,
            }
    }
}

/// What was found at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub location: String,
    /// The place's rules, heaviest first.
    pub hits: Vec<Hit>,
    pub score: u32,
    /// At most [`EXCERPT_CHARS`] characters of the value, control characters escaped;
    /// `[redacted]` for places that may hold secrets.
    pub excerpt: String,
}

/// Longest excerpt of a value kept in a finding.
pub const EXCERPT_CHARS: usize = 32;

/// Every finding of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// The request's score: that of its worst place. Each place is judged on its own,
    /// so ordinary fields cannot add up to an attack.
    pub fn score(&self) -> u32 {
        self.findings.iter().map(|f| f.score).max().unwrap_or(0)
    }

    /// The findings at or over `threshold`, worst first.
    pub fn attacks(&self, threshold: u32) -> impl Iterator<Item = &Finding> {
        let mut over: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.score >= threshold)
            .collect();
        over.sort_by_key(|f| std::cmp::Reverse(f.score));
        over.into_iter()
    }
}

/// Names of places whose values are never excerpted.
const SECRET_NAMES: &[&str] = &[
    "pass",
    "secret",
    "token",
    "key",
    "auth",
    "session",
    "cookie",
    "card",
    "ssn",
    "otp",
    "pin",
    "cvv",
    "credential",
];

fn redacted(place: &Place<'_>) -> bool {
    let name = match place {
        Place::Cookie(_) => return true,
        Place::Query(n) | Place::Header(n) | Place::Form(n) => n.to_ascii_lowercase(),
        Place::Json(path) => match path.last() {
            Some(extract::Seg::Key(k)) => k.to_ascii_lowercase(),
            _ => return false,
        },
        _ => return false,
    };
    SECRET_NAMES.iter().any(|s| name.contains(s))
}

fn excerpt(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars().take(EXCERPT_CHARS) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if value.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

impl Policy {
    /// Inspects one value and records what it finds in `report`.
    pub fn check(&self, report: &mut Report, place: Place<'_>, value: &str, key: bool) {
        let mut hits = inspect_at(place, value, key, self.level, self.base64);
        if hits.is_empty() {
            return;
        }
        let location = place.to_string();
        hits.retain(|h| !self.exclusions.iter().any(|e| e.covers(h.rule, &location)));
        if hits.is_empty() {
            return;
        }
        let score = total(&hits);
        match report.findings.iter_mut().find(|f| f.location == location) {
            Some(found) => {
                for hit in hits {
                    sql::add(&mut found.hits, hit);
                }
                found
                    .hits
                    .sort_by(|a, b| b.score.cmp(&a.score).then(a.rule.cmp(b.rule)));
                found.score = total(&found.hits);
                if score >= found.score {
                    found.excerpt = excerpt_for(&place, value);
                }
            }
            None => report.findings.push(Finding {
                location,
                hits,
                score,
                excerpt: excerpt_for(&place, value),
            }),
        }
    }
}

fn excerpt_for(place: &Place<'_>, value: &str) -> String {
    if redacted(place) {
        "[redacted]".to_owned()
    } else {
        excerpt(value)
    }
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

    fn policy() -> Policy {
        Policy::default()
    }

    #[test]
    fn a_report_scores_each_place_on_its_own() {
        let p = policy();
        let mut report = Report::default();
        p.check(
            &mut report,
            Place::Query("q"),
            "1 union select password from users",
            false,
        );
        p.check(&mut report, Place::Query("name"), "Fish & Chips", false);
        p.check(
            &mut report,
            Place::Header("user-agent"),
            "Mozilla/5.0 (X11; Linux x86_64)",
            false,
        );
        assert_eq!(report.findings.len(), 1, "{report:?}");
        let attack = report.attacks(5).next().expect("an attack");
        assert_eq!(attack.location, "query.q");
        assert_eq!(attack.hits[0].rule, "sqli.union_select");
        assert_eq!(attack.excerpt, "1 union select password from use…");
        assert!(report.score() >= 5);
    }

    #[test]
    fn exclusions_drop_rules_by_place() {
        let mut p = policy();
        p.exclusions.push(Exclusion {
            rule: "sqli.*".into(),
            location: "json.$.query*".into(),
        });
        let mut report = Report::default();
        let path = [extract::Seg::Key("query".into())];
        p.check(&mut report, Place::Json(&path), "x' or '1'='1", false);
        assert_eq!(report.score(), 0, "{report:?}");
        let path = [extract::Seg::Key("other".into())];
        p.check(&mut report, Place::Json(&path), "x' or '1'='1", false);
        assert!(report.score() >= 5, "{report:?}");
    }

    #[test]
    fn secrets_are_never_excerpted() {
        let p = policy();
        let mut report = Report::default();
        p.check(
            &mut report,
            Place::Cookie("sid"),
            "<script>alert(1)</script>",
            false,
        );
        let path = [extract::Seg::Key("password".into())];
        p.check(&mut report, Place::Json(&path), "' or 1=1--", false);
        assert_eq!(report.findings.len(), 2);
        assert!(
            report.findings.iter().all(|f| f.excerpt == "[redacted]"),
            "{report:?}"
        );
    }

    #[test]
    fn urls_in_headers_are_not_ssrf_but_in_parameters_they_are() {
        let p = policy();
        let mut report = Report::default();
        p.check(
            &mut report,
            Place::Header("referer"),
            "http://localhost:3000/app",
            false,
        );
        assert_eq!(report.score(), 0);
        p.check(
            &mut report,
            Place::Query("callback"),
            "http://localhost:3000/app",
            false,
        );
        assert!(report.score() >= 5);
    }

    #[test]
    fn prose_is_read_for_what_prose_can_carry() {
        let prose = Scan::prose_cases();
        for (value, rule) in prose {
            let hits = inspect(value, Decodings::default(), 1);
            assert!(hits.iter().any(|h| h.rule == rule), "{value:?}: {hits:?}");
        }
        let hits = inspect(
            "Please deliver before Friday, thanks! It's a gift.",
            Decodings::default(),
            1,
        );
        assert!(total(&hits) < 5, "{hits:?}");
    }

    struct Scan;

    impl Scan {
        /// Attacks written only with letters, digits, blanks, quotes and punctuation.
        fn prose_cases() -> [(&'static str, &'static str); 4] {
            [
                ("1 union select password from users", "sqli.union_select"),
                ("x' or 'a'='a", "sqli.string_break_condition"),
                ("java.lang.Runtime", "java.runtime_access"),
                ("rO0ABXNyABdqYXZh", "java.serialized_object"),
            ]
        }
    }

    #[test]
    fn inert_values_are_not_scanned_and_keys_are_checked_as_keys() {
        assert!(inspect_at(Place::Query("id"), "user-42@example.com", false, 4, false).is_empty());
        let hits = inspect_at(Place::Json(&[]), "$where", true, 1, false);
        assert!(
            hits.iter().any(|h| h.rule == "nosql.code_operator"),
            "{hits:?}"
        );
    }
}
