//! Path traversal and file inclusion: climbing out of a directory, naming the files
//! attackers read first, stream wrappers that turn a file name into code or a network
//! fetch, and NUL bytes that cut a name short. It runs on decoded forms (see
//! [`crate::decode`]), so `%2e%2e%2f` and `..%5c` arrive here as `../` and `..\`.

use std::borrow::Cow;

use crate::sql::Hit;

use crate::needles::Needles;

/// Files whose names alone are a strong sign: nothing but an attack reads them through a
/// web request. Compared lower-case with `/` separators; one alone blocks.
const SECRET_FILES: &[&str] = &[
    "etc/passwd",
    "etc/shadow",
    "etc/sudoers",
    "etc/master.passwd",
    "proc/self/",
    "win.ini",
    "boot.ini",
    ".htpasswd",
    ".ssh/",
    "id_rsa",
    "id_ecdsa",
    "id_ed25519",
    ".aws/credentials",
    ".git-credentials",
    ".git/config",
    ".bash_history",
    ".zsh_history",
    ".mysql_history",
    ".psql_history",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".kube/config",
    ".docker/config.json",
    "wp-config.php",
];

/// System, configuration, log and dump files: sought by attackers, but also named in
/// ordinary technical text. At level 1 one of these scores under the threshold (a climb or
/// a command with it blocks); at level 2 it blocks alone (`path.system_file`).
const SYSTEM_FILES: &[&str] = &[
    "etc/hosts",
    "etc/group",
    "etc/issue",
    "etc/subuid",
    "etc/subgid",
    "etc/crontab",
    "proc/version",
    "/proc/",
    "/sys/class",
    "/sys/kernel",
    "/sys/devices",
    "/sys/firmware",
    "/sys/module",
    "/sys/block",
    "/sys/bus",
    "windows/system32",
    "inetpub/wwwroot",
    "web.config",
    ".htaccess",
    ".env",
    ".docker/",
    ".aws/",
    ".kube/",
    "/.history",
    "var/log/",
    "debug.log",
    "error.log",
    ".sql.gz",
    ".sql.zip",
    ".sql.bz2",
    ".sql.xz",
    ".sql.tar",
];

const WRAPPERS: &[&str] = &[
    "php://",
    "file://",
    "zip://",
    "phar://",
    "expect://",
    "glob://",
    "data://",
    "jar:",
    "netdoc:",
    "gopher://",
    "dict://",
    "compress.zlib://",
    "ogg://",
    "rar://",
    "ssh2.",
];

/// Overlong UTF-8 (percent-encoded or decoded to replacement characters) and other
/// spellings of `.` and `/`.
const OVERLONG: &[(&str, &str)] = &[
    ("%c0%ae", "."),
    ("%c0%2e", "."),
    ("%e0%80%ae", "."),
    ("%c0%af", "/"),
    ("%c0%2f", "/"),
    ("%c1%9c", "/"),
    ("%c1%1c", "/"),
    ("%c0%5c", "/"),
    ("%e0%80%af", "/"),
    ("%u002e", "."),
    ("%u2215", "/"),
    ("%u2216", "/"),
];

/// The path rules `value` matches, each once with its score.
pub fn inspect(value: &str) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    let mut hit = |rule: &'static str, score: u32| crate::sql::add(&mut hits, Hit { rule, score });
    // One spelling: lower case, `/` for `\`, `;` path parameters (`..;/`) dropped.
    // Overlong UTF-8 and full-width forms of `.` and `/` are read as them by lenient
    // decoders (IIS, old Java and Tomcat).
    let lower = crate::lower_case(value);
    let mut spelled: Cow<'_, str> = Cow::Borrowed(&lower);
    // Every overlong spelling is percent-encoded.
    if spelled.contains('%') {
        for (form, plain) in OVERLONG {
            if spelled.contains(form) {
                spelled = Cow::Owned(spelled.replace(form, plain));
            }
        }
    }
    // Only `;`, `\` and non-ASCII characters are respelled: without them, no copy.
    let respelled = spelled
        .bytes()
        .any(|b| matches!(b, b';' | b'\\') || !b.is_ascii());
    let norm: Cow<'_, str> = if respelled {
        Cow::Owned(
            spelled
                .chars()
                .filter(|c| *c != ';')
                .map(|c| match c {
                    '\\' | '\u{ff0f}' | '\u{ff3c}' | '\u{2215}' | '\u{2044}' => '/',
                    '\u{ff0e}' | '\u{2024}' => '.',
                    c => c,
                })
                .collect(),
        )
    } else {
        spelled
    };
    let climbs = count_climbs(&norm);
    // `etc/./passwd` and `etc//passwd` name `etc/passwd`. Without an empty or `.`
    // segment the flat form only loses a trailing `/`, and names no file `norm` does not.
    let flattens = norm.contains("//") || norm.contains("/.") || norm.starts_with('.');
    let flat = if !flattens {
        String::new()
    } else {
        let segments: Vec<&str> = norm
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        let mut flat = segments.join("/");
        if norm.starts_with('/') {
            flat.insert(0, '/');
        }
        flat
    };
    if climbs >= 2 {
        hit("path.traversal", 5);
    } else if climbs == 1 {
        hit("path.traversal", 3);
    }
    let names =
        |files: &Needles| contains_file(files, &norm) || flattens && contains_file(files, &flat);
    if names(&SECRET_NEEDLES) {
        hit("path.sensitive_file", 5);
    } else if names(&SYSTEM_NEEDLES) {
        hit("path.sensitive_file", 4);
        hit("path.system_file", 5);
    }
    if WRAPPER_NEEDLES.any(&norm) {
        hit("path.stream_wrapper", 4);
        hit("path.include_scheme", 5);
    } else if ["ftp://", "ftps://", "local_file:"]
        .iter()
        .any(|scheme| norm.contains(scheme))
    {
        hit("path.include_scheme", 5);
    }
    if remote_script(&lower) {
        hit("path.remote_include", 5);
    }
    if value.contains('\0') {
        hit("path.nul_byte", 3);
    }
    hits
}

/// Server-side script extensions: what a remote file inclusion makes the server fetch
/// and run.
const SCRIPT_EXTENSIONS: &[&str] = &[
    "php", "php3", "php4", "php5", "php7", "phtml", "phar", "asp", "aspx", "jsp", "jspx", "pl",
    "cgi", "sh", "py",
];

/// A value that is an `http`, `https`, `ftp` or `ftps` URL to a server-side script
/// (`http://198.51.100.7/shell.php`), or one ending in `?`, which turns whatever an
/// including server appends to the name into a query string (`http://x/shell.txt?`).
fn remote_script(lower: &str) -> bool {
    let value = lower.trim();
    let Some(rest) = ["http://", "https://", "ftp://", "ftps://"]
        .iter()
        .find_map(|scheme| value.strip_prefix(scheme))
    else {
        return false;
    };
    if rest.ends_with('?') {
        return true;
    }
    let path = match rest.find('/') {
        Some(at) => &rest[at..],
        None => return false,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.rsplit('/')
        .next()
        .and_then(|file| file.rsplit_once('.'))
        .is_some_and(|(name, ext)| !name.is_empty() && SCRIPT_EXTENSIONS.contains(&ext))
}

/// `..` segments: `..` between separators, or at either end next to one.
fn count_climbs(norm: &str) -> usize {
    norm.split('/')
        .enumerate()
        .filter(|(_, segment)| {
            let trimmed = segment.trim_end_matches(['.', ' ']);
            segment.starts_with("..") && trimmed.is_empty()
        })
        .filter(|(i, _)| *i > 0 || norm.len() > 2)
        .count()
}

static SECRET_NEEDLES: Needles = Needles::new(SECRET_FILES);
static SYSTEM_NEEDLES: Needles = Needles::new(SYSTEM_FILES);
static WRAPPER_NEEDLES: Needles = Needles::new(WRAPPERS);

/// One of `files` as a path (after a separator or at the start, unless it starts with
/// one or is a dump's extension), not inside a longer word.
fn contains_file(files: &Needles, norm: &str) -> bool {
    let bytes = norm.as_bytes();
    let mut found = false;
    files.each(norm, |file, at| {
        let starts = at == 0
            || file.starts_with('/')
            || file.starts_with(".sql.")
            || matches!(bytes[at - 1], b'/' | b'=' | b':' | b'"' | b'\'' | b' ');
        let end = at + file.len();
        let ends = file.ends_with('/')
            || end == bytes.len()
            || matches!(
                bytes[end],
                b'/' | b'?' | b'#' | b'&' | b'"' | b'\'' | b' ' | 0
            );
        found = starts && ends;
        !found
    });
    found
}

/// A hidden file or directory in the request path (`/.git/`, `/.env`, `/app/.claude/`):
/// a segment that starts with a dot and a name. Web servers rarely mean to serve them;
/// `/.well-known/` (RFC 8615) is the exception that is meant to be public.
pub fn hidden(path: &str) -> Vec<Hit> {
    let hidden = path.split('/').any(|segment| {
        segment
            .strip_prefix('.')
            .is_some_and(|name| name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
            && !segment.eq_ignore_ascii_case(".well-known")
    });
    if hidden {
        vec![Hit {
            rule: "path.hidden_file",
            score: 5,
        }]
    } else {
        Vec::new()
    }
}

pub fn score(value: &str) -> u32 {
    inspect(value).iter().map(|h| h.score).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climbing_out_and_reading_secrets_scores_high() {
        for attack in [
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "....//....//etc/passwd",
            "/var/www/../../../etc/shadow",
            "..;/..;/admin",
            "/etc/passwd",
            "php://filter/convert.base64-encode/resource=index.php",
            "file:///etc/passwd",
            "../../../../boot.ini\0.png",
            "C:\\Windows\\win.ini",
            "../.git/config",
        ] {
            assert!(
                score(attack) >= 5 || (score(attack) >= 4 && !attack.contains("..")),
                "{attack:?}: {:?}",
                inspect(attack)
            );
        }
    }

    #[test]
    fn ordinary_text_scores_low() {
        for text in [
            "Wait... what?",
            "v1.2..1.3",
            "see ../README for details",
            "my.env.file",
            "passwords are stored hashed",
            "/api/v1/orders/42",
            "etc. and so on",
            "https://example.com/docs/page",
            "profile.php",
        ] {
            assert!(score(text) < 4, "{text:?}: {:?}", inspect(text));
        }
    }

    #[test]
    fn secret_files_block_alone_and_system_files_at_level_two() {
        for secret in [
            "/etc/passwd",
            ".ssh/id_rsa",
            "/home/u/.aws/credentials",
            "x=~/.netrc",
        ] {
            let hits = inspect(secret);
            assert!(
                hits.iter()
                    .any(|h| h.rule == "path.sensitive_file" && h.score >= 5),
                "{secret:?}: {hits:?}"
            );
        }
        for system in [
            "/sys/class",
            "/proc/interrupts",
            "backup.sql.zip",
            "../.history",
            "/path/to/.docker/secrets",
        ] {
            let hits = inspect(system);
            assert!(
                hits.iter().any(|h| h.rule == "path.system_file"),
                "{system:?}: {hits:?}"
            );
            assert!(
                !hits
                    .iter()
                    .any(|h| h.rule == "path.sensitive_file" && h.score >= 5)
            );
        }
        for text in [
            "/v1/sys/health",
            "my.sql.zipper",
            "the sys/class notes",
            "proc/123",
        ] {
            assert!(inspect(text).is_empty(), "{text:?}: {:?}", inspect(text));
        }
    }

    #[test]
    fn remote_inclusion_at_level_two() {
        let rules = |v: &str| inspect(v).into_iter().map(|h| h.rule).collect::<Vec<_>>();
        for url in [
            "http://198.51.100.7/crash.php",
            "https://foo.example/shell.txt?",
            "HTTPS://evil.example/x.PHP?cmd=id",
            "ftp://foo.example/x",
            "jar:http://evil.example/b.zip!/a",
        ] {
            let rules = rules(url);
            assert!(
                rules.contains(&"path.remote_include") || rules.contains(&"path.include_scheme"),
                "{url}: {rules:?}"
            );
        }
        for text in [
            "https://example.com/docs/page",
            "https://example.com/",
            "see http://example.com/index.php for details",
            "https://api.example.com/v1/orders?id=1",
        ] {
            assert!(inspect(text).is_empty(), "{text}: {:?}", inspect(text));
        }
    }

    #[test]
    fn hidden_segments_of_the_request_path() {
        for path in [
            "/.claude/settings.json",
            "/app/.cursor/mcp.json",
            "/.aiignore",
            "/.env",
        ] {
            assert_eq!(hidden(path).len(), 1, "{path}");
        }
        for path in [
            "/.well-known/openid-configuration",
            "/a/../b",
            "/v1/./x",
            "/files/a.b",
            "/",
        ] {
            assert!(hidden(path).is_empty(), "{path}");
        }
    }

    #[test]
    fn time_is_linear_in_the_input() {
        for unit in ["../", "..\\", "etc/", ".env", ";"] {
            let _ = inspect(&unit.repeat(100_000));
        }
    }
}
