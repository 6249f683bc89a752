//! Reader for the llhttp (Node.js HTTP/1 parser) markdown test vectors in
//! `../shared/corpora/llhttp-http1-parser-vectors/test/request/*.md`.
//!
//! Each case in those files is a heading, an HTML comment with meta JSON, an ```` ```http ````
//! block with the raw message and a ```` ```log ```` block with llhttp's events. The raw bytes
//! are decoded exactly as the upstream harness does (see `SOURCE.txt` beside the corpus):
//! drop the block's final newline, join lines that end in a backslash, turn the remaining
//! line breaks into CRLF, then the escapes `\r \n \t \f \xHH` and octal `\NNN`, then `${...}`
//! JavaScript (only `'x'.repeat(n)` forms are supported; anything else panics). The harness
//! works on a JavaScript string and hands llhttp its UTF-8 encoding, so `\xff` becomes the
//! two bytes of U+00FF, as llhttp's own span lengths confirm.

use std::fs;
use std::path::{Path, PathBuf};

/// One llhttp test vector.
#[derive(Debug, Clone)]
pub struct Case {
    /// The markdown file, e.g. `transfer-encoding.md`.
    pub file: String,
    /// The nearest heading above the case.
    pub name: String,
    /// Line of the ```` ```http ```` fence in `file`, to tell apart cases with equal names.
    pub line: usize,
    /// `meta.type`: `request`, `request-lenient-headers`, ...
    pub kind: String,
    /// The whole meta object (`pause`, `skipBody`, `noScan`, ...).
    pub meta: serde_json::Value,
    /// The bytes llhttp is fed.
    pub raw: Vec<u8>,
    /// What llhttp made of them.
    pub expect: Expect,
}

/// llhttp's verdict on a case, from its event log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    /// The reason of the `error code=` line, unless it is a pause (codes 21, 22, 23: "Pause
    /// on ..." are llhttp handing the connection over, not errors).
    pub error: Option<String>,
    /// The error's code (`HPE_*` number), when `error` is set.
    pub error_code: Option<u32>,
    /// The offset llhttp reports for the error, when `error` is set.
    pub error_offset: Option<usize>,
    /// `message complete` events before the error (all of them when there is no error).
    pub messages_before_error: usize,
    /// Offsets of every `message complete` event: the end of each complete message.
    pub message_ends: Vec<usize>,
    /// llhttp paused for CONNECT or Upgrade (code 22) or for an HTTP/2 preface (code 23):
    /// the bytes after that point are not HTTP/1 to it.
    pub upgrade_pause: bool,
}

/// Where the llhttp corpus lives.
pub fn corpus_dir() -> PathBuf {
    crate::corpora_dir().join("llhttp-http1-parser-vectors")
}

/// Every case in `test/request/*.md`, in file order. Panics if the corpus is missing.
pub fn request_cases() -> Vec<Case> {
    let dir = corpus_dir().join("test").join("request");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "llhttp corpus missing at {} ({e}); it is expected at ../shared/corpora next to the workspace",
                dir.display()
            )
        })
        .map(|entry| entry.expect("reading the llhttp corpus directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .md files in {}", dir.display());
    files.iter().flat_map(|path| read_file(path)).collect()
}

fn read_file(path: &Path) -> Vec<Case> {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading llhttp vectors {}: {e}", path.display()));
    let file = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_markdown(&file, &text)
}

/// All cases of one markdown file.
pub fn parse_markdown(file: &str, text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut name = String::new();
    let mut meta: Option<serde_json::Value> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with('#') {
            name = line.trim_start_matches('#').trim().to_owned();
        } else if let Some(json) = line
            .strip_prefix("<!-- meta=")
            .and_then(|rest| rest.strip_suffix("-->"))
        {
            meta = Some(
                serde_json::from_str(json.trim())
                    .unwrap_or_else(|e| panic!("{file}:{}: bad meta JSON {json:?}: {e}", i + 1)),
            );
        } else if line.trim_end() == "```http" {
            let fence = i + 1;
            let (block, next) = fenced(&lines, i + 1, file);
            let raw = decode(&block);
            let log_start = (next..lines.len())
                .find(|&j| lines[j].trim_end() == "```log")
                .unwrap_or_else(|| panic!("{file}:{fence}: http block without a log block"));
            let (log, after) = fenced(&lines, log_start + 1, file);
            let meta = meta
                .take()
                .unwrap_or_else(|| panic!("{file}:{fence}: http block without meta"));
            let kind = meta["type"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}:{fence}: meta without a type"))
                .to_owned();
            cases.push(Case {
                file: file.to_owned(),
                name: name.clone(),
                line: fence,
                kind,
                meta,
                raw,
                expect: parse_log(&log),
            });
            i = after;
            continue;
        }
        i += 1;
    }
    cases
}

/// The lines of a fenced block starting at `start`, and the index after its closing fence.
fn fenced(lines: &[&str], start: usize, file: &str) -> (Vec<String>, usize) {
    let end = (start..lines.len())
        .find(|&j| lines[j].trim_end() == "```")
        .unwrap_or_else(|| panic!("{file}:{start}: unterminated code block"));
    let block = lines[start..end].iter().map(|l| (*l).to_owned()).collect();
    (block, end + 1)
}

/// The raw bytes of an ```` ```http ```` block, decoded like the upstream harness does.
pub fn decode(block_lines: &[String]) -> Vec<u8> {
    // Joining the lines drops the block's final newline.
    let mut s = block_lines.join("\n");
    s = s.replace("\\\n", "");
    s = s.replace('\n', "\r\n");
    // One pass per escape, in the harness's order (so `\\r` is not special, as upstream).
    s = s.replace("\\r", "\r");
    s = s.replace("\\n", "\n");
    s = s.replace("\\t", "\t");
    s = s.replace("\\f", "\x0c");
    s = replace_numeric(&s, 'x', 16, 2, 2);
    s = replace_octal(&s);
    s = replace_js(&s);
    s.into_bytes()
}

/// `\x` followed by exactly `min..=max` digits of `radix`, as a code point.
fn replace_numeric(s: &str, marker: char, radix: u32, min: usize, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && chars.get(i + 1) == Some(&marker) {
            let digits: String = chars[i + 2..]
                .iter()
                .take(max)
                .take_while(|c| c.is_digit(radix))
                .collect();
            if digits.len() >= min {
                let value = u32::from_str_radix(&digits, radix).expect("digits checked above");
                out.push(char::from_u32(value).expect("at most two hex digits is a valid char"));
                i += 2 + digits.len();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `\` followed by one to three octal digits, as a code point.
fn replace_octal(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            let digits: String = chars[i + 1..]
                .iter()
                .take(3)
                .take_while(|c| ('0'..='7').contains(*c))
                .collect();
            if !digits.is_empty() {
                let value = u32::from_str_radix(&digits, 8).expect("octal digits checked above");
                out.push(char::from_u32(value).expect("at most 0o777 is a valid char"));
                i += 1 + digits.len();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `${'x'.repeat(n)}` (either quote), the only JavaScript the vectors are known to use.
fn replace_js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or_else(|| panic!("unterminated ${{...}} in llhttp vector: {rest:?}"));
        out.push_str(&eval_repeat(&rest[start + 2..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn eval_repeat(code: &str) -> String {
    fn unsupported<T>(code: &str) -> T {
        panic!("unsupported JavaScript in llhttp vector: ${{{code}}}")
    }
    let code = code.trim();
    let quote = code.chars().next().unwrap_or_else(|| unsupported(code));
    if quote != '\'' && quote != '"' {
        unsupported::<()>(code);
    }
    let body = &code[1..];
    let close = body.find(quote).unwrap_or_else(|| unsupported(code));
    let text = &body[..close];
    let count = body[close + 1..]
        .strip_prefix(".repeat(")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or_else(|| unsupported(code));
    text.repeat(count)
}

/// llhttp's verdict from the lines of a ```` ```log ```` block.
pub fn parse_log(lines: &[String]) -> Expect {
    let mut expect = Expect::default();
    for line in lines {
        let Some((offset, event)) = line
            .strip_prefix("off=")
            .and_then(|rest| rest.split_once(' '))
        else {
            continue;
        };
        let Ok(offset) = offset.parse::<usize>() else {
            continue;
        };
        if event == "message complete" {
            expect.message_ends.push(offset);
            if expect.error.is_none() {
                expect.messages_before_error += 1;
            }
        } else if let Some(rest) = event.strip_prefix("error code=") {
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            let code: u32 = code
                .parse()
                .unwrap_or_else(|_| panic!("bad error code in llhttp log line {line:?}"));
            let reason = reason
                .strip_prefix("reason=\"")
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(reason)
                .to_owned();
            match code {
                // HPE_PAUSED: a callback asked to pause; not a verdict on the bytes.
                21 => {}
                // HPE_PAUSED_UPGRADE, HPE_PAUSED_H2_UPGRADE.
                22 | 23 => expect.upgrade_pause = true,
                _ if expect.error.is_none() => {
                    expect.error = Some(reason);
                    expect.error_code = Some(code);
                    expect.error_offset = Some(offset);
                }
                _ => {}
            }
        }
    }
    expect
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(block: &str) -> Vec<String> {
        block.lines().map(str::to_owned).collect()
    }

    #[test]
    fn decoding_follows_the_harness() {
        assert_eq!(
            decode(&lines("GET / HTTP/1.1\n\n\n")),
            b"GET / HTTP/1.1\r\n\r\n"
        );
        assert_eq!(decode(&lines("a\\n\\\nb\\r\\t\\f")), b"a\nb\r\t\x0c");
        assert_eq!(
            decode(&lines("\\033\\065\\325e")),
            "\x1b5\u{d5}e".as_bytes()
        );
        assert_eq!(decode(&lines("\\xffV")), "\u{ff}V".as_bytes());
        assert_eq!(decode(&lines("x${'ab'.repeat(3)}y")), b"xabababy");
        assert_eq!(decode(&lines("\\\"q\\\\e")), b"\\\"q\\\\e");
    }

    #[test]
    fn log_verdicts() {
        let log = lines(
            "off=0 message begin\noff=40 message complete\noff=41 pause\n\
             off=45 error code=5 reason=\"Data after `Connection: close`\"",
        );
        let expect = parse_log(&log);
        assert_eq!(
            expect.error.as_deref(),
            Some("Data after `Connection: close`")
        );
        assert_eq!(
            (expect.error_code, expect.error_offset),
            (Some(5), Some(45))
        );
        assert_eq!(expect.messages_before_error, 1);
        let paused = parse_log(&lines(
            "off=10 message complete\noff=10 error code=22 reason=\"Pause on CONNECT/Upgrade\"",
        ));
        assert_eq!((paused.error, paused.upgrade_pause), (None, true));
    }

    /// The decoder is right when every span llhttp logged lies inside the decoded bytes and,
    /// where the logged text is plain, matches them byte for byte.
    #[test]
    fn every_logged_span_matches_the_decoded_bytes() {
        let dir = corpus_dir().join("test").join("request");
        let cases = request_cases();
        assert!(
            cases.len() > 100,
            "expected the whole request corpus, got {}",
            cases.len()
        );
        let mut checked = 0;
        for entry in fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("corpus entry").path();
            let text = fs::read_to_string(&path).expect("corpus file");
            let file = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            for case in parse_markdown(&file, &text) {
                let log_lines = log_block_after(&text, case.line);
                for line in log_lines {
                    let Some((off, len, value)) = span(&line) else {
                        continue;
                    };
                    let what = format!("{}:{} {line}", case.file, case.line);
                    assert!(
                        off + len <= case.raw.len(),
                        "span outside the bytes: {what}"
                    );
                    if !value.contains('\\') {
                        assert_eq!(&case.raw[off..off + len], value.as_bytes(), "{what}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000, "only {checked} spans checked");
    }

    fn log_block_after(text: &str, fence: usize) -> Vec<String> {
        let lines: Vec<&str> = text.lines().collect();
        let start = (fence..lines.len())
            .find(|&j| lines[j].trim_end() == "```log")
            .expect("log block");
        lines[start + 1..]
            .iter()
            .take_while(|l| l.trim_end() != "```")
            .map(|l| (*l).to_owned())
            .collect()
    }

    /// `off=N len=L span[x]="value"`.
    fn span(line: &str) -> Option<(usize, usize, String)> {
        let rest = line.strip_prefix("off=")?;
        let (off, rest) = rest.split_once(" len=")?;
        let (len, rest) = rest.split_once(' ')?;
        let value = rest.split_once("]=\"")?.1.strip_suffix('"')?;
        Some((off.parse().ok()?, len.parse().ok()?, value.to_owned()))
    }
}
