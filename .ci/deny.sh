#!/usr/bin/env bash
# Dependency audit with cargo-deny (advisories, licenses, bans, sources) against the RustSec
# snapshot in ../shared/advisory-db, offline. cargo-deny reads advisory databases from git
# checkouts at a path derived from the database URL, so the snapshot is copied into a
# throwaway git repository at that path and cargo-deny runs with --offline.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
if ! command -v cargo-deny >/dev/null || ! cargo deny --version | grep -q "$version"; then
    cargo install --locked cargo-deny --version "$version"
fi

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
cargo deny --offline --config "$work/deny.toml" check
