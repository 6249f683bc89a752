#!/usr/bin/env bash
# TLS check of rampart's listener with testssl.sh: protocols, cipher categories, forward
# secrecy and every cipher offered per protocol.
#
# Usage (as root): bash bench/testssl.sh
#   SKIP_INSTALL=1 (tools already there)  SKIP_BUILD=1 (reuse target/release/rampart)
#   TLS_PORT=18443 ADMIN_PORT=19443 UPSTREAM_PORT=18180   loopback ports
#   CHECK_JSON=FILE  only apply the pass/fail rules to an existing testssl.sh --jsonfile
# Generates a development certificate and config with `rampart init`, starts rampart with TLS
# on 127.0.0.1:TLS_PORT, runs testssl.sh against it and fails (exit 1) if anything other
# than TLS 1.2 / TLS 1.3 is offered, or any cipher that is not ECDHE key exchange + AEAD
# (AES-GCM, ChaCha20-Poly1305, AES-CCM). Output: bench/out/testssl/ (JSON, log, summary).
set -euo pipefail

TLS_PORT=${TLS_PORT:-18443}
ADMIN_PORT=${ADMIN_PORT:-19443}
UPSTREAM_PORT=${UPSTREAM_PORT:-18180}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/out/testssl"
RAMPART="$REPO/target/release/rampart"

log() { printf '[testssl %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (apt-get install)"

if [[ -n ${CHECK_JSON:-} ]]; then
    SKIP_INSTALL=1 SKIP_BUILD=1
    OUT="$BENCH_DIR/out/testssl-check"
fi
if [[ ${SKIP_INSTALL:-0} != 1 ]]; then
    need=()
    command -v testssl >/dev/null || command -v testssl.sh >/dev/null || need+=(testssl.sh)
    command -v jq >/dev/null || need+=(jq)
    if ((${#need[@]})); then
        log "apt-get update, then install: ${need[*]}"
        apt-get update -qq
        for pkg in "${need[@]}"; do
            apt-cache show "$pkg" >/dev/null 2>&1 || die "package $pkg is not available from apt"
        done
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
fi
TESTSSL=$(command -v testssl || command -v testssl.sh) || [[ -n ${CHECK_JSON:-} ]] || die "testssl.sh not found"
command -v jq >/dev/null || die "jq not found"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    command -v cargo >/dev/null || die "cargo not found"
    log "cargo build --release -p rampart"
    (cd "$REPO" && cargo build --release -p rampart)
fi
[[ -x $RAMPART ]] || die "$RAMPART missing"

rm -rf "$OUT"; mkdir -p "$OUT"
if [[ -n ${CHECK_JSON:-} ]]; then
    cp "$CHECK_JSON" "$OUT/testssl.json"
else
WORK=$(mktemp -d /tmp/rampart-testssl.XXXXXX)
PID=""
cleanup() {
    local rc=$?
    [[ -n $PID ]] && { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$TLS_PORT" "$ADMIN_PORT"; do
    port_open "$p" && die "127.0.0.1:$p is in use (set TLS_PORT / ADMIN_PORT)"
done

# The config and certificate exactly as `rampart init` writes them; only ports change.
"$RAMPART" init "$WORK" >"$OUT/init.log"
sed -i -e "s/127.0.0.1:8443/127.0.0.1:$TLS_PORT/" -e "s/127.0.0.1:9443/127.0.0.1:$ADMIN_PORT/" \
    -e "s/127.0.0.1:18080/127.0.0.1:$UPSTREAM_PORT/" -e 's/^access = "stdout"/access = "off"/' \
    "$WORK/rampart.toml"
cp "$WORK/rampart.toml" "$OUT/rampart.toml"
(cd "$WORK" && "$RAMPART" check --config rampart.toml) >"$OUT/check.log" 2>&1 \
    || die "rampart check failed: $(cat "$OUT/check.log")"
(cd "$WORK" && exec "$RAMPART" run --config rampart.toml) >"$OUT/rampart.stdout" 2>"$OUT/rampart.stderr" &
PID=$!
for _ in $(seq 100); do port_open "$TLS_PORT" && break; sleep 0.1; done
port_open "$TLS_PORT" || die "rampart did not listen on $TLS_PORT: $(tail -5 "$OUT/rampart.stderr")"

log "testssl.sh --protocols --std --fs --cipher-per-proto (-p -s -f -E) against 127.0.0.1:$TLS_PORT (takes a minute or two)"
set +e
"$TESTSSL" --protocols --std --fs --cipher-per-proto --warnings off --quiet --color 0 \
    --jsonfile "$OUT/testssl.json" --logfile "$OUT/testssl.log" "127.0.0.1:$TLS_PORT" >/dev/null 2>"$OUT/testssl.stderr"
rc=$?
set -e
[[ -s $OUT/testssl.json ]] || die "testssl.sh wrote no JSON (exit $rc): $(tail -5 "$OUT/testssl.stderr")"
fi
jq -e 'type == "array" and length > 0' "$OUT/testssl.json" >/dev/null || die "unexpected JSON from testssl.sh"
jq -e 'map(select(.id == "scanProblem")) | length == 0' "$OUT/testssl.json" >/dev/null \
    || die "testssl.sh reports a scan problem: $(jq -r '.[] | select(.id == "scanProblem") | .finding' "$OUT/testssl.json")"

# Protocols: only TLS1_2 and TLS1_3 may be offered.
offered() { jq -r --arg id "$1" '.[] | select(.id == $id) | .finding' "$OUT/testssl.json"; }
problems=()
for proto in SSLv2 SSLv3 TLS1 TLS1_1 TLS1_2 TLS1_3; do
    finding=$(offered "$proto")
    [[ -n $finding ]] || { problems+=("protocol $proto: no result"); continue; }
    case $proto in
    TLS1_2 | TLS1_3) [[ $finding == offered* ]] || problems+=("$proto not offered: $finding") ;;
    *) [[ $finding == "not offered"* ]] || problems+=("$proto: $finding") ;;
    esac
    printf '%-7s %s\n' "$proto" "$finding"
done >"$OUT/protocols.txt"

# Cipher categories (--std): only the strong forward-secret list may be offered.
jq -r '.[] | select(.id | startswith("cipherlist_")) | "\(.id) \(.finding)"' "$OUT/testssl.json" >"$OUT/categories.txt"
while read -r id finding; do
    # testssl.sh 3.0 calls the AEAD list STRONG, 3.1+ splits it into STRONG_FS / STRONG_NOFS.
    [[ $id == cipherlist_STRONG || $id == cipherlist_STRONG_FS || $finding == "not offered"* ]] \
        || problems+=("category $id: $finding")
done <"$OUT/categories.txt"

# Every cipher offered (--cipher-per-proto): ECDHE (or TLS 1.3, always (EC)DHE) and AEAD only.
jq -r '.[] | select(.id | test("^cipher-tls|^cipher_x|^cipher-")) | .finding' "$OUT/testssl.json" \
    | sed -E 's/ +/ /g' >"$OUT/ciphers.txt"
[[ -s $OUT/ciphers.txt ]] || problems+=("no cipher list in the JSON (--cipher-per-proto)")

# And whatever else testssl.sh rates MEDIUM or worse.
while read -r line; do problems+=("testssl.sh finding: $line"); done < <(jq -r \
    '.[] | select(.severity == "MEDIUM" or .severity == "HIGH" or .severity == "CRITICAL") | "\(.severity) \(.id): \(.finding)"' \
    "$OUT/testssl.json")
while read -r line; do
    iana=$(awk '{print $NF}' <<<"$line")
    if [[ $iana =~ ^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256|AES_128_CCM_SHA256)$ ]] \
        || [[ $iana =~ ^TLS_ECDHE_(ECDSA|RSA)_WITH_.*(_GCM_|CHACHA20_POLY1305|_CCM) ]]; then
        :
    else
        problems+=("cipher not ECDHE+AEAD: $line")
    fi
done <"$OUT/ciphers.txt"

{
    [[ -n ${CHECK_JSON:-} ]] || echo "testssl.sh $("$TESTSSL" --version 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | grep -oE 'testssl +[0-9][^ ]*' | head -1 | awk '{print $2}') against rampart $("$RAMPART" --version | awk '{print $2}') on 127.0.0.1:$TLS_PORT (dev cert from rampart init)"
    echo "protocols:"; sed 's/^/  /' "$OUT/protocols.txt"
    echo "cipher categories:"; sed 's/^/  /' "$OUT/categories.txt"
    echo "ciphers offered:"; sed 's/^/  /' "$OUT/ciphers.txt"
    fs=$(jq -r '.[] | select(.id == "FS" or .id == "PFS") | .finding' "$OUT/testssl.json" | head -1)
    curves=$(jq -r '.[] | select(.id == "FS_ECDHE_curves" or .id == "PFS_ECDHE_curves") | .finding' "$OUT/testssl.json" | head -1)
    echo "forward secrecy: ${fs:-?}; ECDHE curves: ${curves:-?}"
    if ((${#problems[@]})); then
        echo "FAIL:"; printf '  %s\n' "${problems[@]}"
    else
        echo "PASS: only TLS 1.2/1.3, only ECDHE + AEAD ciphers"
    fi
} | tee "$OUT/summary.txt"
((${#problems[@]} == 0)) || exit 1
