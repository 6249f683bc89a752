"""OWASP CRS regression tests (go-ftw YAML) -> requests, built the way go-ftw builds them.

Only the attack-class rule files REQUEST-930..944 are used. A stage is an attack when its
expected output says the rule triggers (log.expect_ids, or log.match_regex), benign when it
says the rule must not trigger (log.no_expect_ids); anything else (status-only) is skipped.

Request building follows go-ftw (ftwhttp/request.go, test/defaults.go, test/data.go):
method default GET, uri default "/", version default HTTP/1.1; headers written as given,
sorted by name; `data` is a Go template (only `{{ "x" | repeat N }}` appears in the corpus);
with autocomplete_headers (default true) and data present, a Content-Type of
application/x-www-form-urlencoded is added if the test has no "Content-Type" key (go-ftw's
header map is case-sensitive), form data without escapes is query-escaped key by key,
multipart bodies get LF -> CRLF, "Connection: close" is added if missing, and
Content-Length when there is data or the method matches go-ftw's regex
`^POST|PUT|PATCH|DELETE$`. encoded_request is sent as decoded, byte for byte.
The Host header "localhost" becomes "localhost:PORT" (the target's port); any other Host
value (part of what a test sends) is kept.
"""

from __future__ import annotations

import base64
import glob
import os
import re

import yaml

from .common import HOST, Case, Skip, go_query_escape, go_query_unescape, short

CLASSES = {
    "930": "lfi",
    "931": "rfi",
    "932": "rce",
    "933": "php",
    "934": "generic",
    "941": "xss",
    "942": "sqli",
    "943": "session-fixation",
    "944": "java",
}

_BODY_METHODS = re.compile(r"^POST|PUT|PATCH|DELETE$")
_REPEAT = re.compile(r'\{\{\s*"((?:[^"\\]|\\.)*)"\s*\|\s*repeat\s+(\d+)\s*\}\}')


def _template(data: str) -> str:
    return _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), data)


def _b(x) -> bytes:
    if isinstance(x, bytes):
        return x
    return str(x).encode("utf-8", "surrogateescape")


def _encode_form(data: bytes) -> bytes:
    """go-ftw encodeDataParameters for application/x-www-form-urlencoded."""
    text = data.decode("utf-8", "surrogateescape")
    if go_query_unescape(text) != text:
        return data  # already escaped (or not decodable): sent as is
    parts = []
    for token in text.split("&"):
        if "=" not in token:
            parts.append(go_query_escape(token))
        else:
            k, v = token.split("=", 1)
            parts.append(go_query_escape(k) + "=" + go_query_escape(v))
    return "&".join(parts).encode()


def build(inp: dict) -> bytes:
    if inp.get("encoded_request"):
        raw = base64.b64decode(inp["encoded_request"])
        return re.sub(rb"(?im)^(Host:[ \t]*)localhost(\r?)$", rb"\1" + HOST + rb"\2", raw, count=1)
    method = inp.get("method")
    method = "GET" if method is None else str(method)
    uri = inp.get("uri")
    uri = "/" if uri is None else uri
    version = inp.get("version")
    version = "HTTP/1.1" if version is None else str(version)
    headers = {str(k): ("" if v is None else str(v)) for k, v in (inp.get("headers") or {}).items()}
    auto = inp.get("autocomplete_headers")
    auto = True if auto is None else bool(auto)
    data = inp.get("data")
    body = _b(_template(str(data))) if data is not None else b""
    if body and auto:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if headers.get("Content-Type") == "application/x-www-form-urlencoded":
            body = _encode_form(body)
    if headers.get("Content-Type", "").startswith("multipart/form-data;"):
        body = body.replace(b"\n", b"\r\n")
    if auto:
        headers.setdefault("Connection", "close")
        if body or _BODY_METHODS.search(method):
            headers.setdefault("Content-Length", str(len(body)))
    out = [_b(method) + b" " + _b(uri) + b" " + _b(version) + b"\r\n"]
    for name in sorted(headers):
        value = _b(headers[name])
        if name == "Host" and headers[name] == "localhost":
            value = HOST
        out.append(_b(name) + b": " + value + b"\r\n")
    out.append(b"\r\n")
    return b"".join(out) + body


def _verdict(output: dict):
    """'attack', 'benign' or None (nothing said about the rule triggering)."""
    log = (output or {}).get("log") or {}
    if log.get("expect_ids") or log.get("match_regex"):
        return "attack"
    if log.get("no_expect_ids") or log.get("no_match_regex"):
        return "benign"
    return None


def load(corpora: str):
    root = os.path.join(corpora, "crs-regression-tests", "tests", "regression", "tests")
    cases, skips = [], []
    for folder in sorted(glob.glob(os.path.join(root, "REQUEST-9[34]*"))):
        num = os.path.basename(folder).split("-")[1]
        if num not in CLASSES:
            continue
        cls = f"crs/{num}-{CLASSES[num]}"
        for path in sorted(glob.glob(os.path.join(folder, "*.y*ml"))):
            with open(path, "rb") as f:
                doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            if not doc:
                continue
            rule = doc.get("rule_id") or os.path.splitext(os.path.basename(path))[0]
            for test in doc.get("tests") or []:
                for si, stage in enumerate(test.get("stages") or []):
                    stage = stage.get("stage", stage)
                    inp, output = stage.get("input") or {}, stage.get("output") or {}
                    ident = f"{rule}#{test.get('test_id')}" + (f".{si + 1}" if si else "")
                    verdict = _verdict(output)
                    if verdict is None:
                        skips.append(Skip(cls, False, ident, "expected output names no rule (status only)"))
                        continue
                    benign = verdict == "benign"
                    if (inp.get("data") is not None) + bool(inp.get("encoded_request")) + bool(inp.get("raw_request")) > 1:
                        skips.append(Skip(cls, benign, ident, "more than one of data/encoded_request/raw_request"))
                        continue
                    if inp.get("raw_request"):
                        skips.append(Skip(cls, benign, ident, "raw_request (deprecated form) not supported"))
                        continue
                    try:
                        raw = build(inp)
                    except Exception as e:  # noqa: BLE001 - any malformed test is skipped, counted
                        skips.append(Skip(cls, benign, ident, f"cannot build: {e}"))
                        continue
                    line = raw.split(b"\r\n", 1)[0]
                    desc = f"{ident} {short(test.get('desc') or '', 60)} {short(line, 150)}"
                    if inp.get("data") is not None:
                        desc += f" data={short(str(inp['data']), 100)}"
                    cases.append(Case(cls, benign, "http", ident, desc, raw, fresh=True))
    return cases, skips
