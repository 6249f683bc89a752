"""Shared pieces of the scoring harness: the test case, Go-compatible escaping, file paths."""

from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH_DIR)


def default_corpora() -> str:
    """../shared/corpora next to the repository (the layout every checkout has)."""
    return os.path.normpath(os.path.join(REPO, "..", "shared", "corpora"))


# Stands for the target's port inside a prepared request (in the Host header). It holds NUL
# bytes, which no corpus request carries in this sequence, so replacing it is unambiguous.
PORT_MARK = b"\x00@@score-port@@\x00"
HOST = b"localhost:" + PORT_MARK


@dataclasses.dataclass
class Case:
    """One HTTP request sent to every target.

    cls       report row, e.g. "gotestwaf/owasp/sql-injection" or "libinjection/sqli"
    benign    True: blocking it is a false positive; False: an attack that should be blocked
    placement where the payload sits (e.g. "URLParam/URL", "query", "json", "header")
    ident     stable id of the source item (file, test id, line number)
    desc      short human-readable repr (for the missed/false-positive lists)
    raw       the complete request bytes, with PORT_MARK where the target's port goes
    fresh     send it on a new connection and close that after the response (requests built
              to be odd, whose leftovers must not spill into the next request)
    """

    cls: str
    benign: bool
    placement: str
    ident: str
    desc: str
    raw: bytes
    fresh: bool = False

    def request(self, port: int) -> bytes:
        return self.raw.replace(PORT_MARK, str(port).encode(), 1)


@dataclasses.dataclass
class Skip:
    """A corpus item that could not be turned into a request (counted, not sent)."""

    cls: str
    benign: bool
    ident: str
    reason: str
    placement: str = ""


def short(value, limit: int = 160) -> str:
    """repr() of a str/bytes value, cut to `limit` characters."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 20] + f"...<{len(value)} chars>"
    return text


def go_query_escape(value) -> str:
    """Go's url.QueryEscape: unreserved (A-Za-z0-9-_.~) kept, space -> '+', rest %XX."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return urllib.parse.quote_plus(value, safe="")


_HEX = "0123456789abcdefABCDEF"


def go_query_unescape(value: str):
    """Go's url.QueryUnescape: '+' -> ' ', %XX decoded; None where Go returns an error."""
    out = bytearray()
    i = 0
    raw = value.encode("utf-8", "surrogateescape")
    while i < len(raw):
        c = raw[i]
        if c == 0x25:  # '%'
            if i + 2 >= len(raw) or chr(raw[i + 1]) not in _HEX or chr(raw[i + 2]) not in _HEX:
                return None
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B else c)
        i += 1
    return bytes(out).decode("utf-8", "surrogateescape")


# Characters Go's url.URL.EscapedPath keeps as they are in a path (shouldEscape in
# encodePath mode is false for these); '%' is kept when it starts a valid %XX escape.
_PATH_OK = set(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~$&+,/:;=@!'()*[]"
)


def go_escaped_path(path: bytes) -> bytes:
    """What Go sends on the wire for a URL path parsed from `path` (approximation of
    url.URL.EscapedPath: valid escapes and path-safe characters pass, everything else %XX)."""
    out = bytearray()
    i = 0
    while i < len(path):
        c = path[i]
        if c == 0x25 and re.fullmatch(rb"%[0-9A-Fa-f]{2}", path[i : i + 3]):
            out += path[i : i + 3]
            i += 3
            continue
        if c in _PATH_OK:
            out.append(c)
        else:
            out += b"%%%02X" % c
        i += 1
    return bytes(out)


def has_ctl(value: bytes) -> bool:
    """True if a header value holds a control character other than HTAB (not legal in a
    header field value; Go's client refuses to send it)."""
    return any((b < 0x20 and b != 0x09) or b == 0x7F for b in value)


def http_request(method: str, target: bytes, headers, body: bytes = b"",
                 version: bytes = b"HTTP/1.1") -> bytes:
    """Serialize a request. `headers` is a list of (name, value) str/bytes pairs, in order."""
    def b(x):
        return x if isinstance(x, bytes) else str(x).encode("utf-8", "surrogateescape")

    lines = [b(method) + b" " + b(target) + b" " + version]
    for name, value in headers:
        lines.append(b(name) + b": " + b(value))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
