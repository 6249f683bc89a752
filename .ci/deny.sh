#!/usr/bin/env bash
# Dependency audit with cargo-deny against the RustSec snapshot in ../shared/advisory-db,
# offline: the snapshot is copied into a throwaway git repository (cargo-deny reads advisory
# databases from git) and cargo-deny "fetches" it from there, never from the network.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.19.0
if ! command -v cargo-deny >/dev/null || ! cargo deny --version | grep -q "$version"; then
    cargo install --locked cargo-deny --version "$version"
fi

snapshot=../shared/advisory-db
[ -d "$snapshot/crates" ] || { echo "advisory snapshot missing at $snapshot" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$snapshot" "$work/advisory-db"
git -C "$work/advisory-db" init -q
git -C "$work/advisory-db" add -A
git -C "$work/advisory-db" -c user.name=ci -c user.email=ci@localhost commit -qm snapshot

sed -e "s|^\[advisories\]|[advisories]\ndb-path = \"$work/db\"\ndb-urls = [\"file://$work/advisory-db\"]|" deny.toml > "$work/deny.toml"
cargo deny --config "$work/deny.toml" check
