"""GoTestWAF test cases -> requests, mirroring GoTestWAF's encoders and placeholders.

Each YAML file under testcases/<set>/ holds payloads, encoders and placeholders; every
payload x encoder x placeholder is one request (internal/payload/payload.go: the encoder
runs first, then the placeholder builds the request around the encoded payload). The
request shapes below follow internal/payload/encoder/*.go and placeholder/*.go of GoTestWAF
and its Go HTTP client (internal/scanner/clients/gohttp_client.go): the default headers of
config.yaml are added to every request unless the request already has that header, except
User-Agent on the UserAgent placeholder. Random names (RandomHex(5): 10 hex chars) come from
a seeded generator so that every target sees byte-identical requests.
"""

from __future__ import annotations

import base64
import os
import random

import yaml

from .common import HOST, Case, Skip, go_escaped_path, go_query_escape, has_ctl, http_request, short

SETS = ("owasp", "owasp-api", "community", "false-pos")

SOAP_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
\txmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
\t<soapenv:Header>
\t\t<ns1:RequestHeader soapenv:actor="http://schemas.xmlsoap.org/soap/actor/next"
\t\t\tsoapenv:mustUnderstand="0" xmlns:ns1="https://www.google.com/apis/ads/publisher/v202002">
\t\t</ns1:RequestHeader>
\t</soapenv:Header>
\t<soapenv:Body>
\t\t<getAdUnitsByStatement xmlns="https://www.google.com/apis/ads/publisher/v202002">
\t\t\t<filterStatement>
\t\t\t\t<%s>%s</%s>
\t\t\t</filterStatement>
\t\t</getAdUnitsByStatement>
\t</soapenv:Body>
</soapenv:Envelope>"""


# ------------------------------------------------------------------ encoders -------------

def _xml_escape_text(s: str) -> str:
    """Go's xml.EscapeText (as used by xml.Encoder for a string's character data)."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append("&#34;")
        elif ch == "'":
            out.append("&#39;")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "\t":
            out.append("&#x9;")
        elif ch == "\n":
            out.append("&#xA;")
        elif ch == "\r":
            out.append("&#xD;")
        elif not (o in (0x09, 0x0A, 0x0D) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD
                  or 0x10000 <= o <= 0x10FFFF):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def encode(name: str, data: str) -> str:
    raw = data.encode("utf-8", "surrogateescape")
    if name == "Base64":
        return base64.b64encode(raw).decode()
    if name == "Base64Flat":
        return base64.b64encode(raw).decode().replace("=", "")
    if name == "URL":
        return go_query_escape(raw)
    if name == "Plain":
        return data
    if name == "JSUnicode":
        # UTF-16BE code units, each as \uXXXX (lower-case hex, as fmt %02x%02x)
        units = data.encode("utf-16-be", "surrogatepass")
        return "".join("\\u%02x%02x" % (units[i], units[i + 1]) for i in range(0, len(units), 2))
    if name == "XMLEntity":
        # xml.NewEncoder(b).Encode(string): a <string> element around the escaped text
        return "<string>" + _xml_escape_text(data) + "</string>"
    raise ValueError(f"unknown encoder {name}")


# ------------------------------------------------------------------ placeholders ---------

def _canonical(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey (for names made of letters, digits and '-')."""
    if not all(c.isalnum() or c == "-" for c in name):
        return name
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


class Builder:
    def __init__(self, default_headers: dict, seed: int = 5):
        self.defaults = [(_canonical(k), str(v)) for k, v in default_headers.items()]
        self.rng = random.Random(seed)

    def hex(self) -> str:  # placeholder.RandomHex(Seed=5): 5 random bytes, hex
        return self.rng.randbytes(5).hex()

    def boundary(self) -> str:  # mime/multipart randomBoundary: 30 random bytes, hex
        return self.rng.randbytes(30).hex()

    def finish(self, method: str, url_path: str, headers: list, body: bytes | None,
               ua_placeholder: bool = False) -> bytes:
        """Go's http.NewRequest + the GoTestWAF client: parse the URL (fragment dropped,
        path escaped), add config headers unless present, Host and Content-Length."""
        url_path = url_path.split("#", 1)[0]
        path, sep, query = url_path.partition("?")
        target = go_escaped_path(path.encode("utf-8", "surrogateescape"))
        if sep:
            target += b"?" + query.encode("utf-8", "surrogateescape")
        have = {k.lower() for k, _ in headers}
        hdrs = [("Host", HOST)]
        for k, v in self.defaults:
            if k.lower() == "user-agent" and ua_placeholder:
                continue
            if k.lower() not in have:
                hdrs.append((k, v))
        hdrs.extend(headers)
        if body:
            hdrs.append(("Content-Length", str(len(body))))
        return http_request(method, target, hdrs, body or b"")

    def build(self, placeholder: str, conf, payload: str):
        """-> (raw request bytes, None) or (None, reason it is not sent)."""
        p = payload
        pb = p.encode("utf-8", "surrogateescape")
        if placeholder == "URLPath":
            return self.finish("GET", "/" + p, [], None), None
        if placeholder == "URLParam":
            return self.finish("GET", "/?" + self.hex() + "=" + p, [], None), None
        if placeholder == "Header":
            if has_ctl(pb):
                return None, "header value with control characters (Go refuses to send it)"
            return self.finish("GET", "/", [(_canonical("X-" + self.hex()), p)], None), None
        if placeholder == "UserAgent":
            if has_ctl(pb):
                return None, "header value with control characters (Go refuses to send it)"
            return self.finish("GET", "/", [("User-Agent", p)], None, ua_placeholder=True), None
        if placeholder == "HTMLForm":
            body = (self.hex() + "=").encode() + pb
            return self.finish("POST", "/", [("Content-Type", "application/x-www-form-urlencoded")], body), None
        if placeholder == "HTMLMultipartForm":
            b = self.boundary()
            body = (f"--{b}\r\nContent-Disposition: form-data; name=\"{self.hex()}\"\r\n\r\n").encode() \
                + pb + f"\r\n--{b}--\r\n".encode()
            return self.finish("POST", "/", [("Content-Type", f"multipart/form-data; boundary={b}")], body), None
        if placeholder == "JSONBody":
            return self.finish("POST", "/", [("Content-Type", "application/json")], pb), None
        if placeholder == "JSONRequest":
            body = '{"test":true, "%s": "%s"}' % (self.hex(), encode("JSUnicode", p))
            return self.finish("POST", "/", [("Content-Type", "application/json")], body.encode()), None
        if placeholder == "RequestBody":
            return self.finish("POST", "/", [], pb), None
        if placeholder == "SOAPBody":
            name = "ab" + self.hex()
            body = SOAP_TEMPLATE % (name, encode("XMLEntity", p), name)
            return self.finish("POST", "/", [("SOAPAction", '"http://schemas.xmlsoap.org/soap/actor/next"'),
                                             ("Content-Type", "text/xml")], body.encode()), None
        if placeholder == "XMLBody":
            return self.finish("POST", "/", [("Content-Type", "text/xml")], pb), None
        if placeholder == "GraphQL":
            # GoTestWAF's GraphQL client sends to the GraphQL URL it found (/graphql, ...).
            method = (conf or {}).get("method", "GET")
            if method == "GET":
                # url.Values{"query": payload}.Encode(): the (already encoded) payload is
                # query-escaped once more
                return self.finish("GET", "/graphql?query=" + go_query_escape(p), [], None), None
            return self.finish("POST", "/graphql", [], pb), None
        if placeholder == "RawRequest":
            conf = conf or {}
            path = conf.get("path") or "/"
            path = path[1:] if path.startswith("/") else path
            url_path = ("/" + path).replace("{{payload}}", p)
            body = (conf.get("body") or "").replace("{{payload}}", p).encode("utf-8", "surrogateescape")
            headers = []
            for k, v in (conf.get("headers") or {}).items():
                value = str(v).replace("{{payload}}", p)
                if has_ctl(value.encode("utf-8", "surrogateescape")):
                    return None, "header value with control characters (Go refuses to send it)"
                headers.append((_canonical(str(k)), value))
            return self.finish(conf.get("method", "GET"), url_path, headers, body), None
        if placeholder == "gRPC":
            return None, "gRPC placeholder (needs HTTP/2 + a gRPC upstream)"
        return None, f"unknown placeholder {placeholder}"


def load(corpora: str):
    """-> (cases, skips)"""
    root = os.path.join(corpora, "gotestwaf-testcases")
    with open(os.path.join(root, "config.yaml"), "rb") as f:
        config = yaml.safe_load(f)
    builder = Builder(config.get("headers") or {})
    cases, skips = [], []
    for set_name in SETS:
        folder = os.path.join(root, "testcases", set_name)
        if not os.path.isdir(folder):
            continue
        for fname in sorted(os.listdir(folder)):
            if not fname.endswith((".yml", ".yaml")):
                continue
            with open(os.path.join(folder, fname), "rb") as f:
                text = f.read().decode("utf-8")
            # Go's yaml.v2 accepts \' in double-quoted scalars; YAML 1.1 (PyYAML) does not.
            doc = yaml.safe_load(text.replace("\\'", "'"))
            case_name = os.path.splitext(fname)[0]
            cls = f"gotestwaf/{set_name}/{case_name}"
            benign = set_name == "false-pos"
            for pi, payload in enumerate(doc.get("payload") or []):
                payload = str(payload)
                for enc in doc.get("encoder") or []:
                    encoded = encode(enc, payload)
                    for ph in doc.get("placeholder") or []:
                        if isinstance(ph, dict):
                            (ph_name, ph_conf), = ph.items()
                        else:
                            ph_name, ph_conf = ph, None
                        placement = f"{ph_name}/{enc}"
                        if ph_name == "GraphQL":
                            placement = f"GraphQL-{(ph_conf or {}).get('method', 'GET')}/{enc}"
                        ident = f"{set_name}/{fname}#{pi} {placement}"
                        raw, why = builder.build(ph_name, ph_conf, encoded)
                        if raw is None:
                            skips.append(Skip(cls, benign, ident, why))
                            continue
                        cases.append(Case(cls, benign, placement, ident,
                                          f"{set_name}/{fname}#{pi} payload={short(payload, 140)}", raw))
    return cases, skips
