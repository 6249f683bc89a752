"""libinjection sample data and the Big List of Naughty Strings -> requests.

libinjection-data/data/*.txt: one URL-encoded user input a line (blank lines and '#'
comments skipped). Each line is URL-decoded as libinjection's own test reader does ('+' is a
space, %XX a byte), then sent twice: as a query parameter value, re-encoded
(GET /?q=<value>), and as a JSON string value (POST / {"q": value}; bytes that are not
UTF-8 become U+FFFD, since JSON text is Unicode). sqli-*.txt are attacks
("libinjection/sqli"), xss-*.txt attacks ("libinjection/xss"), false_positives.txt benign
("libinjection/false-positives"); files named tbd-* (undecided upstream) are left out.

blns/blns.json: 515 benign strings, each sent as a JSON body value, a query parameter value
and an X-Data header value (the ones with control characters other than TAB are not legal
in a header and are skipped there).

All these requests carry a browser-like User-Agent and Accept, so that a WAF's
missing-header rules do not decide the result.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import urllib.parse

from .common import HOST, Case, Skip, has_ctl, http_request, short

COMMON_HEADERS = [
    ("Host", HOST),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("Accept", "application/json, text/plain, */*"),
    ("Accept-Language", "en-US,en;q=0.5"),
]


def query_request(value: bytes) -> bytes:
    return http_request("GET", b"/?q=" + urllib.parse.quote_plus(value, safe="").encode(), COMMON_HEADERS)


def json_request(value: str) -> bytes:
    try:
        body = json.dumps({"q": value}, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: keep it as its \uXXXX escape
        body = json.dumps({"q": value}).encode()
    return http_request("POST", b"/", COMMON_HEADERS + [
        ("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)


def header_request(value: bytes) -> bytes:
    return http_request("GET", b"/", COMMON_HEADERS + [("X-Data", value)])


def load_libinjection(corpora: str):
    root = os.path.join(corpora, "libinjection-data", "data")
    cases, skips = [], []
    for path in sorted(glob.glob(os.path.join(root, "*.txt"))):
        name = os.path.basename(path)
        if name.startswith("sqli-"):
            cls, benign = "libinjection/sqli", False
        elif name.startswith("xss-"):
            cls, benign = "libinjection/xss", False
        elif name == "false_positives.txt":
            cls, benign = "libinjection/false-positives", True
        else:
            continue
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        for no, line in enumerate(lines, 1):
            line = line.rstrip(b"\r")
            if not line.strip() or line.startswith(b"#"):
                continue
            value = urllib.parse.unquote_to_bytes(line.replace(b"+", b" "))
            ident = f"{name}:{no}"
            text = value.decode("utf-8", "replace")
            cases.append(Case(cls, benign, "query", ident, f"{ident} query q={short(value)}", query_request(value)))
            cases.append(Case(cls, benign, "json", ident, f"{ident} json q={short(text)}", json_request(text)))
    return cases, skips


# blns sections whose strings are attacks by design (XSS, SQL, code, command, XXE, file
# inclusion, template injection, known CVE probes): reported apart from the rest of blns.
INJECTION_SECTION = re.compile(r"injection|inclusion|cve", re.I)


def blns_sections(corpora: str, strings: list[str]) -> list[str]:
    """Section title of each blns.json string, from the '#' headings of blns.base64.txt
    (blns.txt cannot hold every string). Strings appear in the same order in both files;
    one not found verbatim gets the section of the string before it."""
    where = {}
    section = ""
    path = os.path.join(corpora, "blns", "blns.base64.txt")
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except OSError:
        return [""] * len(strings)
    for i, line in enumerate(lines):
        text = line.decode("ascii", "replace").rstrip("\r")
        if text.startswith("#"):
            m = re.match(r"#\s+(\S.*)$", text)
            # a title: after a blank or "#" line, followed by a lone "#"
            if m and i + 1 < len(lines) and lines[i + 1].strip() == b"#" and (
                    i == 0 or lines[i - 1].strip() in (b"", b"#")):
                section = m.group(1).strip()
            continue
        if text.strip():
            try:
                value = base64.b64decode(text.strip()).decode("utf-8", "surrogateescape")
            except ValueError:
                continue
            where.setdefault(value, section)
    out, current = [], ""
    for s in strings:
        current = where.get(s, current)
        out.append(current)
    return out


def load_blns(corpora: str):
    with open(os.path.join(corpora, "blns", "blns.json"), "rb") as f:
        strings = json.load(f)
    sections = blns_sections(corpora, strings)
    cases, skips = [], []
    for i, s in enumerate(strings):
        ident = f"blns.json[{i}]"
        cls = "blns/injection-sections" if INJECTION_SECTION.search(sections[i]) else "blns/other"
        tag = f"{ident} ({sections[i]})"
        raw = s.encode("utf-8", "surrogatepass")
        cases.append(Case(cls, True, "json", ident, f"{tag} json {short(s)}", json_request(s)))
        cases.append(Case(cls, True, "query", ident, f"{tag} query {short(s)}", query_request(raw)))
        if has_ctl(raw):
            skips.append(Skip(cls, True, ident, "control characters: not legal in a header value", "header"))
        else:
            cases.append(Case(cls, True, "header", ident, f"{tag} header {short(s)}", header_request(raw)))
    return cases, skips
