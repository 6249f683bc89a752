//! What an upstream should never send a client: database errors (they show the query and
//! invite injection), stack traces (paths, versions, code) and framework debug pages
//! (settings, environment, sometimes a console).
//!
//! One Aho-Corasick pass over the text finds the literal signatures of the common
//! databases, runtimes and frameworks; a few shapes that no literal pins down (a Java or
//! Python stack frame, `ORA-` error numbers, Ruby frames) are checked at the candidate
//! positions the same pass finds. Time is linear in the size of the body.
//!
//! [`scrub_text`] replaces each line that leaks (and the indented lines that follow it, the
//! rest of a trace) with `[redacted]`; [`scrub_json`] replaces the JSON strings that leak,
//! so that the document stays valid.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeakClass {
    SqlError,
    StackTrace,
    DebugPage,
}

impl LeakClass {
    pub fn as_str(self) -> &'static str {
        match self {
            LeakClass::SqlError => "sql_error",
            LeakClass::StackTrace => "stack_trace",
            LeakClass::DebugPage => "debug_page",
        }
    }
}

/// How a signature is confirmed once its literal is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The literal is enough.
    Literal,
    /// `ORA-` then five digits and `:`.
    OracleCode,
    /// `(` ... `.java:` / `.kt:` / `.scala:` digits `)`: a JVM frame `at a.b.C.m(C.java:12)`.
    JvmFrame,
    /// `File "` path `", line ` digits: a Python frame.
    PythonFrame,
    /// `.rb:` digits `:in `: a Ruby frame.
    RubyFrame,
    /// `.cs:line ` digits: a .NET frame with sources.
    DotNetFrame,
    /// `.php` then ` on line ` or `:` digits: a PHP error location.
    PhpLine,
    /// Right after a qualified class name (`java.lang.IllegalStateException:`,
    /// `System.NullReferenceException:`): the head line of a JVM or .NET trace.
    QualifiedName,
}

const SIGNATURES: &[(&str, LeakClass, Check)] = &[
    // MySQL / MariaDB
    (
        "You have an error in your SQL syntax",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "corresponds to your MySQL server version",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "corresponds to your MariaDB server version",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("Warning: mysql_", LeakClass::SqlError, Check::Literal),
    ("Warning</b>:  mysql", LeakClass::SqlError, Check::Literal),
    ("mysqli_sql_exception", LeakClass::SqlError, Check::Literal),
    ("MySqlException", LeakClass::SqlError, Check::Literal),
    (
        "MySQLSyntaxErrorException",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("com.mysql.jdbc", LeakClass::SqlError, Check::Literal),
    // PostgreSQL
    (
        "ERROR:  syntax error at or near",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "syntax error at or near \"",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "unterminated quoted string at or near",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("PG::SyntaxError", LeakClass::SqlError, Check::Literal),
    (
        "org.postgresql.util.PSQLException",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("psycopg2.errors.", LeakClass::SqlError, Check::Literal),
    (
        "pg_query(): Query failed",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "Npgsql.PostgresException",
        LeakClass::SqlError,
        Check::Literal,
    ),
    // SQL Server, Access
    (
        "Unclosed quotation mark after the character string",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "Microsoft OLE DB Provider for SQL Server",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "System.Data.SqlClient.SqlException",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "Microsoft.Data.SqlClient.SqlException",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("[Microsoft][ODBC", LeakClass::SqlError, Check::Literal),
    ("[SQL Server]", LeakClass::SqlError, Check::Literal),
    (
        "Syntax error in string in query expression",
        LeakClass::SqlError,
        Check::Literal,
    ),
    // Oracle, DB2, Firebird, SQLite, generic drivers and ORMs
    ("ORA-", LeakClass::SqlError, Check::OracleCode),
    (
        "quoted string not properly terminated",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("DB2 SQL error", LeakClass::SqlError, Check::Literal),
    ("Dynamic SQL Error", LeakClass::SqlError, Check::Literal),
    ("SQLITE_ERROR", LeakClass::SqlError, Check::Literal),
    (
        "sqlite3.OperationalError",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("SQLiteException", LeakClass::SqlError, Check::Literal),
    ("SQLSTATE[", LeakClass::SqlError, Check::Literal),
    ("java.sql.SQLException", LeakClass::SqlError, Check::Literal),
    (
        "java.sql.SQLSyntaxErrorException",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "org.hibernate.exception.",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("sqlalchemy.exc.", LeakClass::SqlError, Check::Literal),
    (
        "ActiveRecord::StatementInvalid",
        LeakClass::SqlError,
        Check::Literal,
    ),
    (
        "SequelizeDatabaseError",
        LeakClass::SqlError,
        Check::Literal,
    ),
    ("MongoServerError", LeakClass::SqlError, Check::Literal),
    // Stack traces
    (
        "Traceback (most recent call last)",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    ("File \"", LeakClass::StackTrace, Check::PythonFrame),
    (
        "Exception in thread \"",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    ("Exception:", LeakClass::StackTrace, Check::QualifiedName),
    ("Error:", LeakClass::StackTrace, Check::QualifiedName),
    (".java:", LeakClass::StackTrace, Check::JvmFrame),
    (".kt:", LeakClass::StackTrace, Check::JvmFrame),
    (".scala:", LeakClass::StackTrace, Check::JvmFrame),
    (".cs:line ", LeakClass::StackTrace, Check::DotNetFrame),
    (
        "--- End of stack trace from previous location",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    ("   at System.", LeakClass::StackTrace, Check::Literal),
    ("Stack trace:\n#0 ", LeakClass::StackTrace, Check::Literal),
    ("PHP Fatal error:", LeakClass::StackTrace, Check::Literal),
    ("Fatal error</b>:", LeakClass::StackTrace, Check::Literal),
    (
        "Fatal error: Uncaught",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    (
        "Parse error: syntax error, unexpected",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    (".php", LeakClass::StackTrace, Check::PhpLine),
    (
        "at Object.<anonymous> (",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    ("at Module._compile", LeakClass::StackTrace, Check::Literal),
    ("(node:internal/", LeakClass::StackTrace, Check::Literal),
    (
        "at process.processTicksAndRejections",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    (".rb:", LeakClass::StackTrace, Check::RubyFrame),
    (
        "goroutine 1 [running]:",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    (
        "panic: runtime error:",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    (
        "thread 'main' panicked at",
        LeakClass::StackTrace,
        Check::Literal,
    ),
    // Debug pages
    ("DEBUG = True", LeakClass::DebugPage, Check::Literal),
    ("Werkzeug Debugger", LeakClass::DebugPage, Check::Literal),
    (
        "The debugger caught an exception in your WSGI application",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    (
        "Whoops! There was an error.",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    (
        "Whoops, looks like something went wrong.",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    (
        "laravel/framework/src/",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    (
        "Action Controller: Exception caught",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    (
        "Whitelabel Error Page",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    (
        "Server Error in '/' Application",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    (
        "ASP.NET is configured to show verbose error messages",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    (
        "<title>phpinfo()</title>",
        LeakClass::DebugPage,
        Check::Literal,
    ),
    ("Symfony\\Component\\", LeakClass::DebugPage, Check::Literal),
    ("<b>Root Cause</b>", LeakClass::DebugPage, Check::Literal),
    (
        "<br> &nbsp; &nbsp;at ",
        LeakClass::DebugPage,
        Check::Literal,
    ),
];

/// The automaton over every signature (fixed literals: building it does not fail; the
/// tests would show it if it did).
fn automaton() -> Option<&'static AhoCorasick> {
    static AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(SIGNATURES.iter().map(|(s, _, _)| s))
            .ok()
    })
    .as_ref()
}

/// A leak: its class and the byte range of the signature that gave it away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leak {
    pub class: LeakClass,
    pub start: usize,
    pub end: usize,
}

/// Every leak in `text`, in order.
pub fn find(text: &str) -> Vec<Leak> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let Some(ac) = automaton() else {
        return out;
    };
    for m in ac.find_overlapping_iter(text) {
        let (_, class, check) = SIGNATURES[m.pattern().as_usize()];
        if confirm(bytes, m.start(), m.end(), check) {
            out.push(Leak {
                class,
                start: m.start(),
                end: m.end(),
            });
        }
    }
    out
}

/// The line around `at`: (start, end) byte offsets, the end without the newline.
fn line_of(bytes: &[u8], at: usize) -> (usize, usize) {
    let start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| at + i);
    (start, end)
}

fn digits_at(bytes: &[u8], at: usize) -> usize {
    bytes[at.min(bytes.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

fn confirm(bytes: &[u8], start: usize, end: usize, check: Check) -> bool {
    // Frames are short: look at most this far around the literal.
    const NEAR: usize = 256;
    match check {
        Check::Literal => true,
        Check::OracleCode => digits_at(bytes, end) == 5 && bytes.get(end + 5) == Some(&b':'),
        Check::JvmFrame => {
            let n = digits_at(bytes, end);
            if n == 0 || bytes.get(end + n) != Some(&b')') {
                return false;
            }
            // `at pkg.Class.method(File.java:12)`: an `at ` and a `(` before, on the line.
            let near = &bytes[start.saturating_sub(NEAR)..start];
            let before = match near.iter().rposition(|&b| b == b'\n') {
                Some(nl) => &near[nl + 1..],
                None => near,
            };
            let Some(paren) = before.iter().rposition(|&b| b == b'(') else {
                return false;
            };
            let head = &before[..paren];
            head.windows(3).any(|w| w == b"at ")
                && head
                    .iter()
                    .rev()
                    .take_while(|&&b| b != b' ')
                    .any(|&b| b == b'.')
        }
        Check::PythonFrame => {
            // `File "/srv/app.py", line 12`
            let rest = &bytes[end..bytes.len().min(end + NEAR)];
            let Some(q) = rest.iter().position(|&b| b == b'"') else {
                return false;
            };
            rest[q..].starts_with(b"\", line ") && digits_at(rest, q + 8) > 0
        }
        Check::RubyFrame => {
            let n = digits_at(bytes, end);
            n > 0 && bytes[end + n..].starts_with(b":in ")
        }
        Check::DotNetFrame => digits_at(bytes, end) > 0,
        Check::QualifiedName => {
            // The name ends where the literal starts: letters, digits, `_$.`, with a dot,
            // starting with a letter, and the class part itself capitalized.
            let lo = start.saturating_sub(NEAR);
            let name_start = bytes[lo..start]
                .iter()
                .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.')))
                .map_or(lo, |i| lo + i + 1);
            let name = &bytes[name_start..start];
            let class = name.rsplit(|&b| b == b'.').next().unwrap_or(b"");
            let package = &name[..name.len() - class.len()];
            name.first().is_some_and(u8::is_ascii_alphabetic)
                && package.len() > 1
                && class.first().is_none_or(u8::is_ascii_uppercase)
        }
        Check::PhpLine => {
            let rest = &bytes[end..];
            let on_line = rest.starts_with(b" on line ") && digits_at(rest, 9) > 0;
            let on_line_b = rest.starts_with(b"</b> on line <b>") && digits_at(rest, 16) > 0;
            let colon = rest.first() == Some(&b':')
                && digits_at(rest, 1) > 0
                && bytes[..start].iter().rev().take(NEAR).any(|&b| b == b'/');
            // `#0 /var/www/x.php(12): f()`: PHP's own trace format.
            let paren = rest.first() == Some(&b'(')
                && digits_at(rest, 1) > 0
                && rest.get(1 + digits_at(rest, 1)) == Some(&b')');
            on_line || on_line_b || colon || paren
        }
    }
}

/// `text` with every leaking line (and the indented lines after it) replaced by
/// `[redacted]`; `None` if nothing leaks.
pub fn scrub_text(text: &str) -> Option<String> {
    let leaks = find(text);
    if leaks.is_empty() {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    let mut leaks = leaks.iter().peekable();
    while let Some(leak) = leaks.next() {
        let (mut start, mut end) = line_of(bytes, leak.start);
        start = start.max(pos);
        if start < pos {
            continue;
        }
        // The rest of a trace: following lines that are indented or are frames.
        loop {
            let next = end + 1;
            if next >= bytes.len() {
                break;
            }
            let (_, next_end) = line_of(bytes, next);
            let line = &bytes[next..next_end];
            let continues = line.first().is_some_and(|b| *b == b' ' || *b == b'\t')
                || line.starts_with(b"#")
                || line.starts_with(b"Caused by:");
            if !continues {
                break;
            }
            end = next_end;
        }
        while leaks.peek().is_some_and(|l| l.start < end) {
            leaks.next();
        }
        out.push_str(&text[pos..start]);
        out.push_str("[redacted]");
        pos = end;
    }
    out.push_str(&text[pos..]);
    Some(out)
}

/// Replaces, in place, every JSON string (value or key's value) that leaks with
/// `"[redacted]"`; returns how many were replaced.
pub fn scrub_json(value: &mut Value) -> usize {
    let mut replaced = 0;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if !find(s).is_empty() => {
                *s = "[redacted]".to_owned();
                replaced += 1;
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(text: &str) -> Vec<LeakClass> {
        let mut c: Vec<LeakClass> = find(text).iter().map(|l| l.class).collect();
        c.sort();
        c.dedup();
        c
    }

    #[test]
    fn database_errors_are_found() {
        for text in [
            "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''1''' at line 1",
            "ERROR:  syntax error at or near \"OR\"\nLINE 1: SELECT * FROM users WHERE id = 1' OR",
            "Microsoft OLE DB Provider for SQL Server error '80040e14' Unclosed quotation mark after the character string ''.",
            "ORA-01756: quoted string not properly terminated",
            "{\"error\":\"SQLSTATE[42000]: Syntax error or access violation: 1064\"}",
            "sqlite3.OperationalError: near \"'\": syntax error",
            "org.postgresql.util.PSQLException: ERROR: column \"x\" does not exist",
        ] {
            assert!(classes(text).contains(&LeakClass::SqlError), "{text}");
        }
    }

    #[test]
    fn stack_traces_are_found() {
        for text in [
            "java.lang.NullPointerException\n\tat com.example.orders.OrderService.find(OrderService.java:42)\n\tat com.example.Api.get(Api.java:17)",
            "Traceback (most recent call last):\n  File \"/srv/app/views.py\", line 12, in get\n    return db.query(q)\nKeyError: 'id'",
            "  File \"/srv/app/views.py\", line 12, in get",
            "System.NullReferenceException: Object reference not set\n   at Orders.Controllers.OrderController.Get(Int32 id) in C:\\src\\Orders\\OrderController.cs:line 27",
            "PHP Fatal error:  Uncaught Exception: boom in /var/www/html/index.php:12\nStack trace:\n#0 {main}",
            "<b>Warning</b>:  include(x): failed to open stream in <b>/var/www/html/page.php</b> on line <b>4</b>",
            "TypeError: Cannot read properties of undefined\n    at Object.<anonymous> (/app/server.js:10:5)\n    at Module._compile (node:internal/modules/cjs/loader:1105:14)",
            "app/controllers/orders_controller.rb:12:in `show'",
            "goroutine 1 [running]:\nmain.main()\n\t/app/main.go:9 +0x1d",
            "java.lang.IllegalStateException: pool exhausted",
            "Unhandled exception. System.InvalidOperationException: Sequence contains no elements",
        ] {
            assert_eq!(classes(text), [LeakClass::StackTrace], "{text}");
        }
    }

    #[test]
    fn debug_pages_are_found() {
        for text in [
            "<p>You're seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>",
            "<title>Werkzeug Debugger</title>",
            "<h1>Whitelabel Error Page</h1><p>This application has no explicit mapping for /error</p>",
            "<h1>Server Error in '/' Application.</h1>",
        ] {
            assert!(classes(text).contains(&LeakClass::DebugPage), "{text}");
        }
    }

    #[test]
    fn ordinary_responses_are_not_leaks() {
        for text in [
            "{\"orders\":[{\"id\":1,\"note\":\"at home (call first)\"}],\"error\":null}",
            "<html><body><h1>Order history</h1><p>File \"report\" is ready.</p></body></html>",
            "Our SQL course: learn SELECT, JOIN and error handling. Contact us at support@example.com.",
            "The ORA-1 form is due. Ruby gems: rails.rb is a file name.",
            "{\"file\":\"index.php\",\"line\":3}",
            "See Main.java: it explains (Main.java:x) nothing.",
            "Error: the card was declined. Exception: none.",
            "Upload Error: too large; see docs.example.com/Exception: faq",
        ] {
            assert!(find(text).is_empty(), "{text}: {:?}", find(text));
        }
    }

    #[test]
    fn scrubbing_removes_the_leak_and_keeps_the_rest() {
        let page = "<h1>Error</h1>\njava.lang.IllegalStateException: boom\n\tat com.example.A.b(A.java:1)\n\tat com.example.C.d(C.java:2)\n<p>Request id 42</p>";
        let scrubbed = scrub_text(page).expect("leaks");
        assert!(
            !scrubbed.contains("A.java") && !scrubbed.contains("C.java"),
            "{scrubbed}"
        );
        assert!(scrubbed.contains("<h1>Error</h1>") && scrubbed.contains("Request id 42"));
        assert!(scrub_text("all good").is_none());
        let mut json: Value = serde_json::from_str(
            r#"{"ok":false,"detail":"You have an error in your SQL syntax near 'x'","items":[{"n":"ORA-00933: SQL command not properly ended"}],"id":7}"#,
        )
        .expect("json");
        assert_eq!(scrub_json(&mut json), 2);
        assert_eq!(json["detail"], "[redacted]");
        assert_eq!(json["items"][0]["n"], "[redacted]");
        assert_eq!(json["id"], 7);
    }

    #[test]
    fn time_is_linear_in_the_input() {
        // Many candidate literals that never confirm.
        let text = ".java:1 ".repeat(50_000) + &"File \"x".repeat(20_000);
        let start = std::time::Instant::now();
        let _ = find(&text);
        let _ = scrub_text(&text);
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
