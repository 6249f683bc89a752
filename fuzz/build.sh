#!/usr/bin/env bash
# Builds every fuzz target as an ordinary binary (no nightly, no cargo-fuzz needed) and replays
# the committed seed corpora through them once, so that CI proves the targets compile and the
# seeds pass. Real fuzzing: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --manifest-path fuzz/Cargo.toml --target-dir target/fuzz
for target in normalize_path http1_framing config_load api_key_parse jws_parse jwks_parse decode_variants sql_lex extract_body openapi_load; do
    target/fuzz/debug/$target -runs=0 "fuzz/corpus/$target"
done
