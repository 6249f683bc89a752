//! SQL injection by tokenizing, not by a pile of regexes.
//!
//! A value is lexed as SQL three times: as it is (a number or bare word spliced into a
//! query), and as if it followed a single or a double quote (the value sits inside a string
//! literal, and an attacker has to break out of it). The token kinds are then matched
//! against the shapes an injection needs, written from SQL's grammar: a string break
//! followed by a condition or a comment, `UNION SELECT`, a stacked statement after `;`, a
//! condition that is always true, calls of the functions blind injection relies on. Plain
//! text rarely lexes into those shapes: an apostrophe in "O'Reilly" breaks out of a string
//! into a bare word, which no shape accepts.
//!
//! The lexer reads each byte once (strings and comments scan forward to their end), so its
//! time is linear in the input; it keeps at most [`MAX_TOKENS`] tokens.

use std::sync::OnceLock;

/// Tokens kept per lexing; injections show their shape within the first few.
pub const MAX_TOKENS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A quoted literal (`'...'`, `"..."`, `N'...'`, `$$...$$`), closed or running to the end.
    Str,
    Num,
    /// An identifier or an unknown bare word.
    Word,
    /// Any other SQL keyword (`FROM`, `WHERE`, `NULL`, `ORDER`...).
    Keyword,
    Select,
    /// A statement other than `SELECT` (`INSERT`, `DROP`, `EXEC`, `WAITFOR`...).
    Statement,
    /// `UNION`, `INTERSECT`, `EXCEPT`.
    Union,
    /// `AND`, `OR`, `XOR`, `NOT`, `&&`, `||`, `!`.
    Logic,
    /// `=`, `<>`, `LIKE`, `IN`, `IS`, `BETWEEN`...
    Compare,
    /// `+ - * / % & | ^ ~ << >> ::`, `DIV`, `MOD`.
    Arith,
    /// A word called as a function: followed by `(`.
    Func,
    /// `@name`, `@@name`.
    Var,
    Comment,
    Open,
    Close,
    Comma,
    Semi,
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
}

/// Where the value sits in the query it is spliced into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Bare,
    SingleQuoted,
    DoubleQuoted,
}

const LOGIC: &[&str] = &["AND", "OR", "XOR", "NOT"];
const COMPARE: &[&str] = &[
    "LIKE", "RLIKE", "REGEXP", "IS", "IN", "BETWEEN", "SOUNDS", "GLOB", "ILIKE",
];
const ARITH: &[&str] = &["DIV", "MOD"];
const STATEMENT: &[&str] = &[
    "INSERT", "UPDATE", "DELETE", "DROP", "CREATE", "ALTER", "TRUNCATE", "EXEC", "EXECUTE",
    "DECLARE", "GRANT", "REVOKE", "SHUTDOWN", "REPLACE", "MERGE", "CALL", "WAITFOR", "HANDLER",
    "RENAME",
];
const UNION: &[&str] = &["UNION", "INTERSECT", "EXCEPT"];
const KEYWORD: &[&str] = &[
    "FROM",
    "WHERE",
    "HAVING",
    "GROUP",
    "ORDER",
    "BY",
    "LIMIT",
    "OFFSET",
    "INTO",
    "VALUES",
    "SET",
    "AS",
    "ON",
    "JOIN",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "NULL",
    "TRUE",
    "FALSE",
    "ALL",
    "DISTINCT",
    "TOP",
    "OUTFILE",
    "DUMPFILE",
    "TABLE",
    "DATABASE",
    "PROCEDURE",
    "ASC",
    "DESC",
    "DELAY",
    "COLLATE",
    "ESCAPE",
    "EXISTS",
    "ANY",
    "SOME",
];
/// Functions blind and error-based injection depend on; almost never called in text.
const PROBE_FUNCTIONS: &[&str] = &[
    "SLEEP",
    "BENCHMARK",
    "PG_SLEEP",
    "LOAD_FILE",
    "EXTRACTVALUE",
    "UPDATEXML",
    "XP_CMDSHELL",
    "RECEIVE_MESSAGE",
    "GET_HOST_ADDRESS",
    "RANDOMBLOB",
    "SYS_EVAL",
    "SYS_EXEC",
    "DBMS_LOCK",
    "GTID_SUBSET",
];

/// Functions that turn one character of extracted data into a number (blind extraction).
const EXTRACTORS: &[&str] = &[
    "ASCII", "ORD", "HEX", "UNICODE", "BIN", "CONV", "CHAR", "CHR", "LENGTH", "UNHEX",
];

/// Functions that cut one character out of a value.
const SLICERS: &[&str] = &[
    "SUBSTRING",
    "SUBSTR",
    "MID",
    "LEFT",
    "RIGHT",
    "SUBSTRING_INDEX",
];

/// System catalogs: what an attacker reads to learn the schema.
const CATALOGS: &[&str] = &[
    "INFORMATION_SCHEMA",
    "SYSOBJECTS",
    "SYSCOLUMNS",
    "SYSUSERS",
    "SYSDATABASES",
    "PG_CATALOG",
    "PG_SHADOW",
    "PG_USER",
    "PG_TABLES",
    "SQLITE_MASTER",
    "SQLITE_SCHEMA",
    "SQLITE_TEMP_MASTER",
    "MSYSOBJECTS",
    "ALL_TABLES",
    "ALL_TAB_COLUMNS",
    "USER_TABLES",
    "USER_TAB_COLUMNS",
    "DBA_USERS",
    "SYSIBM",
];

/// SQL's own functions: rarely called by name outside a query. At level 2 any call of
/// one of them, or of the probe, extractor and slicer functions above, is a hit.
const SQL_FUNCTIONS: &[&str] = &[
    "CAST",
    "CONVERT",
    "CONCAT",
    "CONCAT_WS",
    "GROUP_CONCAT",
    "STRING_AGG",
    "LISTAGG",
    "NCHAR",
    "IFNULL",
    "NULLIF",
    "COALESCE",
    "ISNULL",
    "NVL",
    "IIF",
    "DATABASE",
    "VERSION",
    "CURRENT_USER",
    "SYSTEM_USER",
    "SESSION_USER",
    "USER_NAME",
    "DB_NAME",
    "SCHEMA_NAME",
    "HOST_NAME",
    "MAKE_SET",
    "EXPORT_SET",
    "ELT",
    "FIND_IN_SET",
    "INSTR",
    "LOCATE",
    "CHARINDEX",
    "PATINDEX",
    "CHAR_LENGTH",
    "BIT_LENGTH",
    "SOUNDEX",
    "LPAD",
    "RPAD",
    "QUOTENAME",
    "JSON_EXTRACT",
    "JSON_KEYS",
    "JSONB_PRETTY",
    "JSON_ARRAYAGG",
    "JSON_OBJECTAGG",
    "STARTS_WITH",
    "PG_READ_FILE",
    "PG_LS_DIR",
    "LO_IMPORT",
    "CURRENT_SETTING",
    "SYS_CONTEXT",
    "OPENROWSET",
    "OPENQUERY",
    "OPENDATASOURCE",
    "TO_CHAR",
];

/// Longest keyword in any list above (a longer one would not be found: a test checks).
const LONGEST_KEYWORD: usize = 9;

/// A word of at most [`LONGEST_KEYWORD`] bytes, upper-cased and packed into one number
/// (words hold no NUL, so the zero padding cannot collide); `None` if it is longer.
fn packed(word: &[u8]) -> Option<u128> {
    (word.len() <= LONGEST_KEYWORD).then(|| {
        word.iter().fold(0u128, |key, b| {
            key << 8 | u128::from(b.to_ascii_uppercase())
        }) << (8 * (LONGEST_KEYWORD - word.len()))
    })
}

/// Every keyword of the lists above, packed, with its kind, sorted: one binary search per
/// word instead of a comparison with each list entry.
fn keywords() -> &'static [(u128, Kind)] {
    static TABLE: OnceLock<Vec<(u128, Kind)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<(u128, Kind)> = Vec::new();
        // Highest precedence first, so that a word in two lists keeps the kind it had when
        // the lists were tried in order (SELECT, UNION, LOGIC, ...).
        for (list, kind) in [
            (&["SELECT"][..], Kind::Select),
            (UNION, Kind::Union),
            (LOGIC, Kind::Logic),
            (COMPARE, Kind::Compare),
            (ARITH, Kind::Arith),
            (STATEMENT, Kind::Statement),
            (KEYWORD, Kind::Keyword),
        ] {
            for word in list {
                if let Some(key) = packed(word.as_bytes())
                    && !table.iter().any(|(k, _)| *k == key)
                {
                    table.push((key, kind));
                }
            }
        }
        table.sort_by_key(|(key, _)| *key);
        table
    })
}

fn classify(word: &str) -> Kind {
    let Some(key) = packed(word.as_bytes()) else {
        return Kind::Word;
    };
    let table = keywords();
    table
        .binary_search_by_key(&key, |(k, _)| *k)
        .map_or(Kind::Word, |i| table[i].1)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Lexes `input` as SQL in `context`; at most [`MAX_TOKENS`] tokens.
pub fn lex(input: &str, context: Context) -> Vec<Token<'_>> {
    let bytes = input.as_bytes();
    let mut tokens: Vec<Token<'_>> = Vec::with_capacity(MAX_TOKENS.min(input.len() / 2 + 1));
    let mut i = 0;
    // Inside a quoted context the value starts within a string: read its rest first.
    match context {
        Context::Bare => {}
        Context::SingleQuoted | Context::DoubleQuoted => {
            let quote = if context == Context::SingleQuoted {
                b'\''
            } else {
                b'"'
            };
            let end = string_end(bytes, 0, quote);
            tokens.push(Token {
                kind: Kind::Str,
                text: &input[..end.min(bytes.len())],
            });
            i = end;
        }
    }
    let mut in_executable_comment = false;
    while i < bytes.len() && tokens.len() < MAX_TOKENS {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0 => {
                i += 1;
                continue;
            }
            b'\'' | b'"' => {
                i = string_end(bytes, i + 1, b);
                Kind::Str
            }
            b'`' => {
                i = bytes[i + 1..]
                    .iter()
                    .position(|&c| c == b'`')
                    .map_or(bytes.len(), |p| i + 1 + p + 1);
                Kind::Word
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = line_end(bytes, i);
                Kind::Comment
            }
            b'#' => {
                i = line_end(bytes, i);
                Kind::Comment
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                if bytes.get(i + 2) == Some(&b'!') {
                    // MySQL runs what is inside `/*! ... */`: lex it as code.
                    i += 3;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    in_executable_comment = true;
                    continue;
                }
                i = match input[i + 2..].find("*/") {
                    Some(p) => i + 2 + p + 2,
                    None => bytes.len(),
                };
                Kind::Comment
            }
            b'*' if in_executable_comment && bytes.get(i + 1) == Some(&b'/') => {
                in_executable_comment = false;
                i += 2;
                continue;
            }
            b'$' if bytes.get(i + 1) == Some(&b'$') => {
                i = match input[i + 2..].find("$$") {
                    Some(p) => i + 2 + p + 2,
                    None => bytes.len(),
                };
                Kind::Str
            }
            b'@' => {
                i += 1;
                while i < bytes.len() && (bytes[i] == b'@' || is_word_byte(bytes[i])) {
                    i += 1;
                }
                Kind::Var
            }
            b'0'..=b'9' => {
                i = number_end(bytes, i);
                Kind::Num
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = number_end(bytes, i);
                Kind::Num
            }
            b'(' => {
                i += 1;
                Kind::Open
            }
            b')' => {
                i += 1;
                Kind::Close
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            b';' => {
                i += 1;
                Kind::Semi
            }
            b'.' => {
                i += 1;
                Kind::Dot
            }
            b'=' | b'<' | b'>' | b'!' | b'|' | b'&' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^'
            | b'~' | b':' => {
                let (kind, len) = operator(&bytes[i..]);
                i += len;
                kind
            }
            b if is_word_byte(b) => {
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                let word = &input[start..i];
                // N'..', X'..', B'..', E'..': prefixed string literals.
                if word.len() == 1
                    && matches!(
                        word.as_bytes()[0].to_ascii_uppercase(),
                        b'N' | b'X' | b'B' | b'E'
                    )
                    && bytes.get(i) == Some(&b'\'')
                {
                    i = string_end(bytes, i + 1, b'\'');
                    Kind::Str
                } else {
                    let kind = classify(word);
                    let called = bytes[i..]
                        .iter()
                        .find(|c| !c.is_ascii_whitespace())
                        .is_some_and(|&c| c == b'(');
                    if called && matches!(kind, Kind::Word | Kind::Keyword) {
                        Kind::Func
                    } else {
                        kind
                    }
                }
            }
            _ => {
                // Anything else (stray punctuation) is a word of its own.
                i += input[i..].chars().next().map_or(1, char::len_utf8);
                Kind::Word
            }
        };
        tokens.push(Token {
            kind,
            text: &input[start..i.min(bytes.len())],
        });
    }
    tokens
}

/// The end of a string whose opening `quote` came before `from`: past the closing quote
/// (a doubled quote or a backslash escapes it), or the end of the input.
fn string_end(bytes: &[u8], from: usize, quote: u8) -> usize {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            c if c == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn number_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    if bytes.get(i) == Some(&b'0') && matches!(bytes.get(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
        i += 2;
        while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E'))
        && bytes
            .get(i + 1)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'+' || *c == b'-')
    {
        i += 2;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

fn operator(bytes: &[u8]) -> (Kind, usize) {
    const MULTI: &[(&[u8], Kind)] = &[
        (b"<=>", Kind::Compare),
        (b"<>", Kind::Compare),
        (b"!=", Kind::Compare),
        (b"<=", Kind::Compare),
        (b">=", Kind::Compare),
        (b"==", Kind::Compare),
        (b"||", Kind::Logic),
        (b"&&", Kind::Logic),
        (b"<<", Kind::Arith),
        (b">>", Kind::Arith),
        (b"::", Kind::Arith),
    ];
    for (text, kind) in MULTI {
        if bytes.starts_with(text) {
            return (*kind, text.len());
        }
    }
    let kind = match bytes[0] {
        b'=' | b'<' | b'>' => Kind::Compare,
        b'!' => Kind::Logic,
        _ => Kind::Arith,
    };
    (kind, 1)
}

/// A rule that matched, with how much it weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub rule: &'static str,
    pub score: u32,
}

/// Adds `hit` to `hits`: each rule once, with its highest score.
pub fn add(hits: &mut Vec<Hit>, hit: Hit) {
    match hits.iter_mut().find(|h| h.rule == hit.rule) {
        Some(h) => h.score = h.score.max(hit.score),
        None => hits.push(hit),
    }
}

/// `tokens` from the first one `skip` refuses.
fn skip_while<'s, 'a>(
    tokens: &'s [&'a Token<'a>],
    skip: impl Fn(&Token<'a>) -> bool,
) -> &'s [&'a Token<'a>] {
    let n = tokens.iter().take_while(|t| skip(t)).count();
    &tokens[n..]
}

fn significant<'a>(tokens: &'a [Token<'a>]) -> impl Iterator<Item = &'a Token<'a>> {
    tokens.iter().filter(|t| t.kind != Kind::Comment)
}

/// A literal, or something that evaluates to one.
fn is_operand(t: &Token<'_>) -> bool {
    matches!(t.kind, Kind::Num | Kind::Str | Kind::Func | Kind::Var)
        || (t.kind == Kind::Keyword
            && ["NULL", "TRUE", "FALSE"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(t.text)))
}

/// What follows a logic operator makes a condition an attacker controls: a comparison of
/// operands, an operand alone, or a call.
fn condition_follows(rest: &[&Token<'_>]) -> bool {
    let mut it = rest
        .iter()
        .skip_while(|t| matches!(t.kind, Kind::Open | Kind::Logic));
    let Some(first) = it.next() else {
        return false;
    };
    if first.kind == Kind::Func {
        return true;
    }
    let operand = is_operand(first) || first.kind == Kind::Word;
    if !operand {
        return false;
    }
    match it.next() {
        None => is_operand(first),
        Some(t) if matches!(t.kind, Kind::Semi | Kind::Close | Kind::Union) => is_operand(first),
        Some(t) if t.kind == Kind::Compare || t.kind == Kind::Arith => {
            it.next().is_some_and(|second| {
                is_operand(second)
                    || (second.kind == Kind::Word
                        && (is_operand(first) || second.text.eq_ignore_ascii_case(first.text)))
            })
        }
        _ => false,
    }
}

/// After a logic operator (and any `(`): an operand or column, a comparison written as a
/// symbol (`=`, `<`, `>`, `<>`, `!=`, `<=>`), and an operand, or a column when the first
/// was an operand: `deleted = 0`, `(7319=8742)`, `1>x`. Words (`IN`, `LIKE`) are left to
/// the level 1 rules, since prose uses them (`sizes 8 and 10 in stock`).
fn symbolic_comparison(rest: &[&Token<'_>]) -> bool {
    let mut it = rest
        .iter()
        .skip_while(|t| matches!(t.kind, Kind::Open | Kind::Logic));
    let (Some(first), Some(op)) = (it.next(), it.next()) else {
        return false;
    };
    let symbol = op.kind == Kind::Compare && op.text.bytes().all(|b| b"=<>!".contains(&b));
    if !symbol || !(is_operand(first) || first.kind == Kind::Word) {
        return false;
    }
    match it.next() {
        Some(second) => {
            is_operand(second)
                || (second.kind == Kind::Word || second.kind == Kind::Open) && is_operand(first)
        }
        // A probe cut short after its operator: `or 'a' <`, `xor 99>`.
        None => is_operand(first),
    }
}

/// Level 2: one of SQL's own functions (or a probe, extractor or slicer) called with its
/// parenthesis right after the name, as code writes it (`CAST(`, `sleep(5)`); prose puts a
/// blank there (`Left (WA, RR)`, `convert (to)`).
fn function_call(value: &str, tokens: &[Token<'_>]) -> bool {
    tokens.iter().any(|t| {
        t.kind == Kind::Func
            && [SQL_FUNCTIONS, PROBE_FUNCTIONS, EXTRACTORS, SLICERS]
                .iter()
                .any(|list| named(t, list))
            && value
                .match_indices(t.text)
                .any(|(at, _)| value.as_bytes().get(at + t.text.len()) == Some(&b'('))
    })
}

/// Two tokens that only SQL puts together: `ORDER BY`, `GROUP BY`, `UNION ALL`,
/// `INTO OUTFILE`, `SELECT` then a call, a parenthesis, `*`, a variable, `CASE`,
/// `DISTINCT` or `TOP`, or a PostgreSQL cast to a type (`::int`, `::jsonb`).
fn clause(a: &Token<'_>, b: &Token<'_>) -> bool {
    if a.text == "::" {
        return named(
            b,
            &[
                "INT", "INTEGER", "BIGINT", "SMALLINT", "TEXT", "VARCHAR", "JSON", "JSONB", "BOOL",
                "BOOLEAN", "NUMERIC", "FLOAT", "BYTEA", "REGCLASS", "OID", "XML",
            ],
        );
    }
    match a.kind {
        Kind::Keyword if named(a, &["ORDER", "GROUP"]) => named(b, &["BY"]),
        Kind::Keyword if named(a, &["INTO"]) => named(b, &["OUTFILE", "DUMPFILE"]),
        Kind::Union => named(b, &["ALL", "DISTINCT"]),
        Kind::Select => {
            matches!(b.kind, Kind::Func | Kind::Open | Kind::Var)
                || b.text == "*"
                || named(b, &["CASE", "DISTINCT", "TOP"])
        }
        _ => false,
    }
}

fn named(t: &Token<'_>, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(t.text))
}

/// The index of the `Close` matching the `Open` at `open`.
fn close_of(t: &[&Token<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, x) in t.iter().enumerate().skip(open) {
        match x.kind {
            Kind::Open => depth += 1,
            Kind::Close => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The length of the constant expression `t` starts with (literals, calls, parentheses,
/// signs and arithmetic), or 0. Nesting is bounded by [`MAX_TOKENS`].
fn constant_expr(t: &[&Token<'_>]) -> usize {
    let mut i = 0;
    loop {
        while t
            .get(i)
            .is_some_and(|x| x.kind == Kind::Arith && matches!(x.text, "-" | "+" | "~"))
        {
            i += 1;
        }
        let Some(x) = t.get(i) else {
            return 0;
        };
        match x.kind {
            Kind::Num | Kind::Str | Kind::Var => i += 1,
            Kind::Keyword if named(x, &["NULL", "TRUE", "FALSE"]) => i += 1,
            Kind::Func => {
                i += 1;
                if t.get(i).is_some_and(|o| o.kind == Kind::Open) {
                    match close_of(t, i) {
                        Some(c) => i = c + 1,
                        None => return 0,
                    }
                }
            }
            Kind::Open => {
                let inner = constant_expr(&t[i + 1..]);
                if inner == 0 || t.get(i + 1 + inner).is_none_or(|c| c.kind != Kind::Close) {
                    return 0;
                }
                i += inner + 2;
            }
            _ => return 0,
        }
        if t.get(i).is_some_and(|x| x.kind == Kind::Arith) {
            i += 1;
            continue;
        }
        return i;
    }
}

/// `t` starts with a comparison of two constant expressions: `8=3`, `'a'='a'`,
/// `COS(PI())=-1`, `(1)=(1)`, `ASCII(SUBSTRING(x,1,1))>64`.
fn constant_comparison(t: &[&Token<'_>]) -> bool {
    let left = constant_expr(t);
    left > 0
        && t.get(left).is_some_and(|c| c.kind == Kind::Compare)
        && constant_expr(&t[left + 1..]) > 0
}

/// The rules that match `tokens` lexed in `context`.
pub fn rules(tokens: &[Token<'_>], context: Context) -> Vec<Hit> {
    let mut hits = Vec::new();
    let sig: Vec<&Token<'_>> = significant(tokens).collect();
    let kinds: Vec<Kind> = sig.iter().map(|t| t.kind).collect();

    // UNION [ALL|DISTINCT] [(] SELECT
    for (i, k) in kinds.iter().enumerate() {
        if *k == Kind::Union {
            let next = sig[i + 1..]
                .iter()
                .find(|t| !(t.kind == Kind::Open || (t.kind == Kind::Keyword)));
            if next.is_some_and(|t| t.kind == Kind::Select) {
                add(
                    &mut hits,
                    Hit {
                        rule: "sqli.union_select",
                        score: 5,
                    },
                );
                break;
            }
        }
    }
    // ; followed by a statement.
    if kinds
        .windows(2)
        .any(|w| w[0] == Kind::Semi && matches!(w[1], Kind::Select | Kind::Statement))
    {
        add(
            &mut hits,
            Hit {
                rule: "sqli.stacked_query",
                score: 5,
            },
        );
    }
    // A call of a function blind or error-based injection relies on.
    if sig.iter().any(|t| {
        t.kind == Kind::Func
            && PROBE_FUNCTIONS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(t.text))
    }) {
        add(
            &mut hits,
            Hit {
                rule: "sqli.probe_function",
                score: 3,
            },
        );
    }
    // WAITFOR DELAY|TIME '...': a time probe that needs no function.
    if sig.windows(3).any(|w| {
        w[0].text.eq_ignore_ascii_case("WAITFOR")
            && (w[1].text.eq_ignore_ascii_case("DELAY") || w[1].text.eq_ignore_ascii_case("TIME"))
            && w[2].kind == Kind::Str
    }) {
        add(
            &mut hits,
            Hit {
                rule: "sqli.probe_function",
                score: 5,
            },
        );
    }
    // A logic operator, then a comparison of constants: `AND 8=3`, `OR 'a'='a'`,
    // `&& COS(PI())=-1`, `AND ASCII(SUBSTRING(x,1,1))>64`: a condition the attacker chose.
    if sig.iter().enumerate().any(|(i, t)| {
        t.kind == Kind::Logic
            && !t.text.eq_ignore_ascii_case("NOT")
            && constant_comparison(skip_while(&sig[i + 1..], |x| {
                x.text.eq_ignore_ascii_case("NOT") || x.text == "!"
            }))
    }) {
        add(
            &mut hits,
            Hit {
                rule: "sqli.constant_condition",
                score: 5,
            },
        );
    }
    // One character of data turned into a number: `ASCII(SUBSTRING(...`, `ORD(MID(...`,
    // or a slice of a subquery: `SUBSTRING((SELECT ...`.
    if sig.windows(3).any(|w| {
        w[0].kind == Kind::Func
            && w[1].kind == Kind::Open
            && (named(w[0], EXTRACTORS) && w[2].kind == Kind::Func && named(w[2], SLICERS)
                || named(w[0], SLICERS) && matches!(w[2].kind, Kind::Select | Kind::Open))
    }) {
        add(
            &mut hits,
            Hit {
                rule: "sqli.blind_extraction",
                score: 5,
            },
        );
    }
    // System catalogs read in a query.
    let query = kinds.contains(&Kind::Select)
        || sig
            .iter()
            .any(|t| t.kind == Kind::Keyword && named(t, &["FROM", "JOIN", "WHERE"]));
    if sig.iter().any(|t| named(t, CATALOGS))
        || sig.windows(3).any(|w| {
            named(w[0], &["MYSQL", "SYS", "MASTER"])
                && w[1].kind == Kind::Dot
                && named(
                    w[2],
                    &["USER", "OBJECTS", "TABLES", "COLUMNS", "SYSDATABASES", "DB"],
                )
        })
    {
        add(
            &mut hits,
            Hit {
                rule: "sqli.catalog_access",
                score: if query { 5 } else { 3 },
            },
        );
    }
    // SELECT with a query's structure (a call, `*`, a column list or a qualified name)
    // and FROM; as a subquery (after an opening parenthesis) it blocks on its own.
    for (i, t) in sig.iter().enumerate() {
        if t.kind != Kind::Select {
            continue;
        }
        let list = &sig[i + 1..];
        let Some(from) = list
            .iter()
            .take(24)
            .position(|x| x.kind == Kind::Keyword && x.text.eq_ignore_ascii_case("FROM"))
        else {
            continue;
        };
        let structured = list[..from]
            .iter()
            .any(|x| matches!(x.kind, Kind::Func | Kind::Comma | Kind::Dot) || x.text == "*");
        if structured && list.get(from + 1).is_some() {
            let subquery = i > 0 && sig[i - 1].kind == Kind::Open;
            add(
                &mut hits,
                Hit {
                    rule: "sqli.select_from",
                    score: if subquery { 5 } else { 4 },
                },
            );
            break;
        }
    }
    // A statement on a variable: `DECLARE @s`, `EXEC @q`, `SET @x`.
    if sig
        .windows(2)
        .any(|w| named(w[0], &["DECLARE", "EXEC", "EXECUTE", "SET"]) && w[1].kind == Kind::Var)
    {
        add(
            &mut hits,
            Hit {
                rule: "sqli.tsql_variable",
                score: 5,
            },
        );
    }

    // Level 2 (the registry in rules.rs turns these on): clause keyword pairs, and a
    // logic operator followed by a condition. (SQL's own functions called: `inspect`.)
    if sig.windows(2).any(|w| clause(w[0], w[1])) {
        add(
            &mut hits,
            Hit {
                rule: "sqli.clause",
                score: 5,
            },
        );
    }
    if sig.iter().enumerate().any(|(i, t)| {
        // Words only: `||` and `&&` separate fields in URLs and code (`a||b=2`).
        t.kind == Kind::Logic
            && t.text.bytes().all(|b| b.is_ascii_alphabetic())
            && !t.text.eq_ignore_ascii_case("NOT")
            && symbolic_comparison(&sig[i + 1..])
    }) {
        add(
            &mut hits,
            Hit {
                rule: "sqli.logic_condition",
                score: 5,
            },
        );
    }

    match context {
        Context::SingleQuoted | Context::DoubleQuoted => {
            // The value closed the string it was in (an unclosed one would have run to the
            // end, leaving no other token); what comes next, past closing parentheses,
            // decides.
            let closed = tokens.len() > 1;
            let after = skip_while(sig.get(1..).unwrap_or_default(), |t| t.kind == Kind::Close);
            if closed && !after.is_empty() {
                match after[0].kind {
                    Kind::Logic => {
                        let score = if condition_follows(&after[1..]) { 5 } else { 3 };
                        add(
                            &mut hits,
                            Hit {
                                rule: "sqli.string_break_condition",
                                score,
                            },
                        );
                    }
                    Kind::Compare if after.get(1).is_some_and(|t| is_operand(t)) => {
                        add(
                            &mut hits,
                            Hit {
                                rule: "sqli.string_break_condition",
                                score: 5,
                            },
                        );
                    }
                    Kind::Arith | Kind::Compare => add(
                        &mut hits,
                        Hit {
                            rule: "sqli.string_break_operator",
                            score: 2,
                        },
                    ),
                    Kind::Statement | Kind::Select => add(
                        &mut hits,
                        Hit {
                            rule: "sqli.string_break_operator",
                            score: 4,
                        },
                    ),
                    Kind::Semi | Kind::Union | Kind::Keyword => add(
                        &mut hits,
                        Hit {
                            rule: "sqli.string_break_operator",
                            score: 2,
                        },
                    ),
                    _ => {}
                }
            }
            // A string break, then a comment that cuts off the rest of the query.
            if tokens.get(1).is_some_and(|t| t.kind == Kind::Comment) {
                add(
                    &mut hits,
                    Hit {
                        rule: "sqli.string_break_comment",
                        score: 5,
                    },
                );
            }
        }
        Context::Bare => {
            // A number extended by a condition: `1 OR 1=1`, `-1 AND SLEEP(5)`, `1) OR (1=1`.
            let body = skip_while(&sig, |t| t.kind == Kind::Arith);
            let number = body.first().is_some_and(|t| t.kind == Kind::Num);
            let rest = skip_while(body.get(1..).unwrap_or_default(), |t| t.kind == Kind::Close);
            if number
                && rest.len() >= 2
                && rest[0].kind == Kind::Logic
                && condition_follows(&rest[1..])
            {
                add(
                    &mut hits,
                    Hit {
                        rule: "sqli.number_condition",
                        score: 5,
                    },
                );
            }
            // A number and a comment that cuts off the rest of the query.
            if kinds.len() == 1
                && kinds[0] == Kind::Num
                && tokens.len() >= 2
                && tokens[1].kind == Kind::Comment
            {
                add(
                    &mut hits,
                    Hit {
                        rule: "sqli.number_comment",
                        score: 4,
                    },
                );
            }
        }
    }
    hits
}

/// The SQL rules `value` matches in any of the three contexts, each rule once with its
/// highest score.
pub fn inspect(value: &str) -> Vec<Hit> {
    let mut best: Vec<Hit> = Vec::new();
    for context in [Context::Bare, Context::SingleQuoted, Context::DoubleQuoted] {
        if context == Context::SingleQuoted && !value.contains('\'') {
            continue;
        }
        if context == Context::DoubleQuoted && !value.contains('"') {
            continue;
        }
        let tokens = lex(value, context);
        for hit in rules(&tokens, context) {
            add(&mut best, hit);
        }
        if function_call(value, &tokens) {
            add(
                &mut best,
                Hit {
                    rule: "sqli.function_call",
                    score: 5,
                },
            );
        }
    }
    best
}

/// The total score of `value`'s SQL hits.
pub fn score(value: &str) -> u32 {
    inspect(value).iter().map(|h| h.score).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str, context: Context) -> Vec<Kind> {
        lex(input, context).iter().map(|t| t.kind).collect()
    }

    #[test]
    fn every_listed_keyword_is_classified_by_its_first_list() {
        let lists: [(&[&str], Kind); 6] = [
            (UNION, Kind::Union),
            (LOGIC, Kind::Logic),
            (COMPARE, Kind::Compare),
            (ARITH, Kind::Arith),
            (STATEMENT, Kind::Statement),
            (KEYWORD, Kind::Keyword),
        ];
        let mut seen = vec!["SELECT"];
        assert_eq!(classify("select"), Kind::Select);
        for (list, kind) in lists {
            for word in list {
                assert!(word.len() <= LONGEST_KEYWORD, "{word}");
                if !seen.contains(word) {
                    assert_eq!(classify(&word.to_ascii_lowercase()), kind, "{word}");
                    assert_eq!(classify(word), kind, "{word}");
                    seen.push(word);
                }
            }
        }
        for word in ["selects", "o", "", "unionx", "informationschema", "ÜNION"] {
            assert_eq!(classify(word), Kind::Word, "{word}");
        }
    }

    #[test]
    fn the_lexer_reads_sql_as_a_database_would() {
        use Kind::*;
        assert_eq!(
            kinds("1 UNION/**/ALL SELECT @@version,2--", Context::Bare),
            [
                Num, Union, Comment, Keyword, Select, Var, Comma, Num, Comment
            ]
        );
        assert_eq!(
            kinds("admin' OR 'a'='a", Context::SingleQuoted),
            [Str, Logic, Str, Compare, Str]
        );
        assert_eq!(
            kinds("x'/*!50000UNION*/ SELECT", Context::SingleQuoted),
            [Str, Union, Select],
            "MySQL executable comments are code"
        );
        assert_eq!(kinds("sleep (5)", Context::Bare), [Func, Open, Num, Close]);
        assert_eq!(kinds("N'abc' 0x1F 1.5e3", Context::Bare), [Str, Num, Num]);
        assert_eq!(kinds("'it''s'", Context::Bare), [Str], "doubled quote");
        assert_eq!(
            kinds("a<=>b||c", Context::Bare),
            [Word, Compare, Word, Logic, Word]
        );
    }

    #[test]
    fn injections_of_every_shape_score_high() {
        for attack in [
            "HOPE AND 8=3",
            "(1)*HOPE AND (-8)=(-3)",
            "PI() && COS(PI())=-1",
            "-9-(2) OR 1 = 1",
            "x AND ASCII(SUBSTRING(passwd,1,1))>64",
            "234 + (1 / ASCII(substring(passwd,1,1))-4)",
            "SUBSTRING((SELECT password FROM users),1,1)",
            "(select group_concat(table_name) from information_schema.tables)",
            "-1; if (1=1) waitfor delay '00:00:01'--",
            "username'declare @s varchar(8000)",
            "' OR '1'='1",
            "admin'--",
            "admin' #",
            "1' or 1=1 -- -",
            "\" or \"\"=\"",
            "1 OR 1=1",
            "-1 or 2>1",
            "1 AND SLEEP(5)",
            "1; DROP TABLE users",
            "x'; exec xp_cmdshell('dir')--",
            "' UNION SELECT username, password FROM users--",
            "1 union all select null,null,@@version",
            "0 UnIoN/**/SeLeCt 1,2,3",
            "1'/*!50000union*/ select 1,2",
            "x' AND extractvalue(1,concat(0x7e,version()))--",
            "1) or (1=1",
            "1') or ('1'='1",
            "'; WAITFOR DELAY '0:0:5'--",
            "' or true--",
            "' || '1'='1",
        ] {
            assert!(score(attack) >= 5, "{attack:?}: {:?}", inspect(attack));
        }
    }

    #[test]
    fn ordinary_text_scores_low() {
        for text in [
            "O'Reilly",
            "rock'n'roll",
            "it's a nice day, isn't it?",
            "Tom's and Jerry's",
            "select the best option from the menu",
            "1+1=2",
            "5' 10\"",
            "john.doe@example.com",
            "order by price desc",
            "union station",
            "I'd like 2 or 3",
            "C:\\Program Files\\App",
            "{\"name\": \"value\", \"n\": 1}",
            "2024-01-01T10:00:00Z",
            "-- not a comment here, just dashes",
            "don't or won't",
            "100% sure; really",
            "Select one from the list, then press OK",
            "salt and pepper = seasoning",
            "sizes 8 and 10 in stock",
            "the ascii table and substring search",
            "Information schema design course",
        ] {
            assert!(level_one(text) < 5, "{text:?}: {:?}", inspect(text));
        }
    }

    /// The score of the level 1 rules alone.
    fn level_one(text: &str) -> u32 {
        inspect(text)
            .iter()
            .filter(|h| crate::rules::find(h.rule).is_some_and(|r| r.level == 1))
            .map(|h| h.score)
            .sum()
    }

    #[test]
    fn level_two_reads_sql_functions_clauses_and_chained_conditions() {
        let rules = |v: &str| inspect(v).into_iter().map(|h| h.rule).collect::<Vec<_>>();
        for (text, rule) in [
            ("CAST(", "sqli.function_call"),
            ("sleep(5000)", "sqli.function_call"),
            (", FIND_IN_SET('22', Category )", "sqli.function_call"),
            ("starts_with(password,'a')::int", "sqli.function_call"),
            ("ORder by", "sqli.clause"),
            ("SELECT (CASE", "sqli.clause"),
            ("SELECT GROUP_CONCAT(", "sqli.clause"),
            ("AND deleted = 0)", "sqli.logic_condition"),
            ("OR (7319=8742)", "sqli.logic_condition"),
            ("AND 7639=(", "sqli.logic_condition"),
            ("or 'a' <", "sqli.logic_condition"),
            ("OR '{\"b\":2}'::jsonb <@ '{\"a\":1}'", "sqli.clause"),
        ] {
            assert!(rules(text).contains(&rule), "{text:?}: {:?}", rules(text));
        }
        for rule in ["sqli.function_call", "sqli.clause", "sqli.logic_condition"] {
            assert_eq!(crate::rules::find(rule).map(|r| r.level), Some(2), "{rule}");
        }
        for text in [
            "sizes 8 and 10 in stock",
            "I'd like 2 or 3",
            "salt and pepper = seasoning",
            "select the best option from the menu",
            "Select one from the list, then press OK",
            "the ascii table and substring search",
            "cast of the movie (2020)",
            "Left (WA, RR), following wood edge",
            "5685587||ORDER=||SECTION_ID=||PAGE=2",
        ] {
            let found = rules(text);
            assert!(
                !found.iter().any(|r| [
                    "sqli.function_call",
                    "sqli.clause",
                    "sqli.logic_condition"
                ]
                .contains(r)),
                "{text:?}: {found:?}"
            );
        }
    }

    #[test]
    fn time_is_linear_in_the_input() {
        // Worst shapes for a scanner: endless quotes, comment openers, escapes.
        for unit in ["'", "/*", "\\'", "-- \n", "/*!", "''", "(", "@@"] {
            let short = unit.repeat(1_000);
            let long = unit.repeat(100_000);
            // Tokens are capped; lexing a hundred times more input must not blow up. The
            // check is by token count and completion, not wall-clock.
            assert!(lex(&long, Context::Bare).len() <= MAX_TOKENS);
            assert!(lex(&long, Context::SingleQuoted).len() <= MAX_TOKENS);
            let _ = (inspect(&short), inspect(&long));
        }
    }
}
