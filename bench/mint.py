#!/usr/bin/env python3
"""Key material for bench/run.sh (standard library and the openssl CLI only).

  mint.py fill DB N    add N random API-key rows to a rampart SQLite store, so that the
                       store holds N more keys than the real one(s) `rampart keys` made
                       (the rows are never valid keys: random ids, random hashes)
  mint.py jwt DIR      an RSA-2048 and a P-256 key pair (openssl), DIR/jwks.json with their
                       public halves, and DIR/rs256.token, DIR/es256.token: access tokens
                       for issuer https://bench.rampart, audience bench, scope orders:read,
                       valid for a day
"""
import base64
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fill(db: str, n: int) -> None:
    conn = sqlite3.connect(db)
    now = int(time.time())
    with conn:
        rev = conn.execute("UPDATE meta SET revision = revision + 1 RETURNING revision").fetchone()[0]
        conn.execute(
            "INSERT INTO consumers (name, created, rev) VALUES ('filler', ?, ?) ON CONFLICT DO NOTHING",
            (now, rev),
        )
        batch = []
        for _ in range(n):
            kid = "".join(secrets.choice(ALPHABET) for _ in range(12))
            batch.append((kid, "filler", secrets.token_bytes(32), "orders:read", now, rev))
            if len(batch) == 50_000:
                conn.executemany(
                    "INSERT OR IGNORE INTO api_keys (id, consumer, hash, scopes, created, rev) VALUES (?, ?, ?, ?, ?, ?)",
                    batch,
                )
                batch.clear()
        conn.executemany(
            "INSERT OR IGNORE INTO api_keys (id, consumer, hash, scopes, created, rev) VALUES (?, ?, ?, ?, ?, ?)",
            batch,
        )
    total = conn.execute("SELECT count(*) FROM api_keys").fetchone()[0]
    print(f"{db}: {total} keys")


def der_ecdsa_to_raw(der: bytes, size: int) -> bytes:
    # SEQUENCE { INTEGER r, INTEGER s } -> r || s, each `size` bytes.
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        length = der[i + 1]
        value = der[i + 2 : i + 2 + length].lstrip(b"\x00")
        out += value.rjust(size, b"\x00")
        i += 2 + length
    return out


def openssl(*args: str, data: bytes = b"") -> bytes:
    return subprocess.run(["openssl", *args], input=data, check=True, capture_output=True).stdout


def jwt(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    rs, es = os.path.join(directory, "rs.pem"), os.path.join(directory, "es.pem")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rs)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", es)
    modulus = openssl("rsa", "-in", rs, "-noout", "-modulus").decode().strip().split("=", 1)[1]
    spki = openssl("pkey", "-in", es, "-pubout", "-outform", "DER")
    point = spki[-65:]
    assert point[0] == 4
    jwks = {
        "keys": [
            {"kty": "RSA", "kid": "bench-rs", "use": "sig", "alg": "RS256",
             "n": b64(bytes.fromhex(modulus)), "e": b64((65537).to_bytes(3, "big"))},
            {"kty": "EC", "kid": "bench-es", "use": "sig", "alg": "ES256", "crv": "P-256",
             "x": b64(point[1:33]), "y": b64(point[33:65])},
        ]
    }
    with open(os.path.join(directory, "jwks.json"), "w") as f:
        json.dump(jwks, f)
    now = int(time.time())
    claims = {"iss": "https://bench.rampart", "aud": "bench", "sub": "bench-client",
              "iat": now, "exp": now + 86_400, "scope": "orders:read"}
    for alg, kid, pem in (("RS256", "bench-rs", rs), ("ES256", "bench-es", es)):
        header = {"alg": alg, "kid": kid, "typ": "at+jwt"}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        signature = openssl("dgst", "-sha256", "-sign", pem, data=signing_input.encode())
        if alg == "ES256":
            signature = der_ecdsa_to_raw(signature, 32)
        with open(os.path.join(directory, f"{alg.lower()}.token"), "w") as f:
            f.write(f"{signing_input}.{b64(signature)}")
    print(f"{directory}: jwks.json, rs256.token, es256.token")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "fill":
        fill(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "jwt":
        jwt(sys.argv[2])
    else:
        sys.exit(__doc__)
