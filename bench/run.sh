#!/usr/bin/env bash
# rampart vs nginx vs HAProxy, side by side, in one run.
#
# Every proxy runs ONE worker thread in front of the same trivial upstream (a separate nginx
# instance answering a fixed ~50-byte JSON body), in these configurations:
#   plain     plaintext listener, keep-alive to the upstream, access log off
#   hardened  + security headers (nosniff, X-Frame-Options, Referrer-Policy, Cache-Control
#             no-store, CSP), request id, X-Forwarded-For, 1 MiB request body limit, JSON
#             access log to a file under bench/out
#   secured   hardened + an API key (X-API-Key) checked with a scope (orders:read): nginx by
#             map, HAProxy by ACL and map file, rampart by its key store (10 keys); nginx and
#             HAProxy also carry a per-IP rate limit set too high to trigger
# and, for rampart alone (their ratio is to rampart's secured row):
#   secured-1m  secured with 1,000,000 keys in the store (authentication cost vs store size)
#   secured-rl  secured + a per-consumer rate limit never reached (the limiter's cost: on vs off)
#   secured-redis  secured-rl counted in the local Redis (cluster mode: one round trip a request)
#   jwt-rs256   hardened + a JWT access token (RS256, JWKS file) checked with the scope
#   jwt-es256   the same with ES256
# Proxies and the upstream are pinned to CPU 0, wrk to CPU 1. After a warm-up, the runs are
# interleaved (ROUNDS rounds x 3 targets x 2 configs, order rotated per round) and the script
# reports, per target and config, the medians of req/s, p50, p99 and server CPU microseconds
# per request (utime+stime of the proxy's processes from /proc/PID/stat, before/after,
# divided by the requests wrk completed), and each target's ratio to nginx.
#
# Usage (as root, from anywhere):  bash bench/run.sh
# Environment knobs:
#   ROUNDS=5 DURATION=10 WARMUP=3 CONNECTIONS=50   measurement shape
#   BASE_PORT=18180                                ports BASE_PORT..BASE_PORT+6 and +1000..
#   SKIP_INSTALL=1  skip apt (tools already there)   SKIP_BUILD=1  reuse target/release/rampart
#   PROXY_CPU=0 CLIENT_CPU=1                       CPU pinning
#   RAMPART_B=/path/to/rampart   A/B: also run that binary as target "rampart-b" with the same
#                                configs (e.g. a candidate build from another checkout)
# Output: bench/out/ (raw wrk output, results.csv, summary.md, configs, logs, headers seen).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-50}
BASE_PORT=${BASE_PORT:-18180}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
URL_PATH=${URL_PATH:-/v1/items/42}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/out"
RAMPART="$REPO/target/release/rampart"
CLK_TCK=$(getconf CLK_TCK)

UPSTREAM_PORT=$BASE_PORT
TARGETS=(nginx haproxy rampart)
read -r -a CONFIGS <<<"${CONFIGS:-plain hardened secured}"
read -r -a RAMPART_ONLY <<<"${RAMPART_ONLY-secured-1m secured-rl secured-redis jwt-rs256 jwt-es256}"
declare -A PORT=()
next_port=$((BASE_PORT + 1))
assign_port() { PORT[$1]=$next_port; next_port=$((next_port + 1)); }
for cfg in "${CONFIGS[@]}"; do for t in nginx haproxy rampart; do assign_port "$t/$cfg"; done; done
for cfg in "${RAMPART_ONLY[@]}"; do assign_port "rampart/$cfg"; done
BODY='{"id":42,"name":"widget","price":9.99,"in_stock":true}'
CSP="default-src 'none'; frame-ancestors 'none'"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (apt-get install, binding ports, reading /proc)"
(( $(nproc) >= 2 )) || die "needs at least 2 CPUs (proxy on CPU $PROXY_CPU, wrk on CPU $CLIENT_CPU)"

# ---------------------------------------------------------------- install --------------
install_tools() {
    local need=() pkg
    command -v nginx >/dev/null || need+=(nginx)
    command -v haproxy >/dev/null || need+=(haproxy)
    command -v wrk >/dev/null || need+=(wrk)
    command -v taskset >/dev/null || need+=(util-linux)
    command -v curl >/dev/null || need+=(curl)
    ((${#need[@]})) || { log "nginx, haproxy, wrk, taskset, curl: already installed"; return; }
    log "apt-get update (once), then install: ${need[*]}"
    apt-get update -qq
    local install=()
    for pkg in "${need[@]}"; do
        if [[ $pkg == nginx ]]; then
            # nginx-light is enough (core, proxy, upstream keepalive, headers); else nginx.
            if apt-cache show nginx-light >/dev/null 2>&1; then pkg=nginx-light
            elif apt-cache show nginx >/dev/null 2>&1; then pkg=nginx
            else die "neither nginx-light nor nginx is available from apt"; fi
        else
            apt-cache show "$pkg" >/dev/null 2>&1 || die "package $pkg is not available from apt"
        fi
        install+=("$pkg")
    done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${install[@]}" >/dev/null
}
[[ ${SKIP_INSTALL:-0} == 1 ]] || install_tools
for tool in nginx haproxy wrk taskset curl awk; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

# ---------------------------------------------------------------- build ----------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (see rust-toolchain / Cargo.toml rust-version)"
    log "cargo build --release -p rampart"
    (cd "$REPO" && cargo build --release -p rampart)
fi
[[ -x $RAMPART ]] || die "$RAMPART missing (build it, or unset SKIP_BUILD)"
declare -A BIN=([rampart]=$RAMPART)
RAMPARTS=(rampart)
if [[ -n ${RAMPART_B:-} ]]; then
    [[ -x $RAMPART_B ]] || die "RAMPART_B=$RAMPART_B is not an executable"
    TARGETS+=(rampart-b); RAMPARTS+=(rampart-b)
    BIN[rampart-b]=$RAMPART_B
    for cfg in "${CONFIGS[@]}" "${RAMPART_ONLY[@]}"; do assign_port "rampart-b/$cfg"; done
fi
# Every (config, target) pair measured.
COMBOS=()
for cfg in "${CONFIGS[@]}"; do for t in "${TARGETS[@]}"; do COMBOS+=("$cfg $t"); done; done
for cfg in "${RAMPART_ONLY[@]}"; do for t in "${RAMPARTS[@]}"; do COMBOS+=("$cfg $t"); done; done
# Admin listeners of the rampart instances sit 1000 ports above their data ports.
(( next_port + 1000 < 65536 )) || die "BASE_PORT too high"

# ---------------------------------------------------------------- processes ------------
rm -rf "$OUT"/{conf,wrk,logs,headers,keys} "$OUT"/results.csv "$OUT"/summary.md
mkdir -p "$OUT"/{conf,wrk,logs,headers,keys}
declare -A PID=()          # name -> pid of the process we started
STARTED=()

cleanup() {
    local rc=$? p
    for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for p in "${STARTED[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.3
    done
    for p in "${STARTED[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    ((rc == 0)) || log "failed (exit $rc); logs in $OUT/logs"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME PORT CMD... : start pinned to PROXY_CPU, wait until PORT accepts connections.
start() {
    local name=$1 port=$2 file=${1//\//-}; shift 2
    port_open "$port" && die "127.0.0.1:$port is already in use (set BASE_PORT)"
    taskset -c "$PROXY_CPU" "$@" >"$OUT/logs/$file.stdout" 2>"$OUT/logs/$file.stderr" &
    PID[$name]=$!
    STARTED+=($!)
    for _ in $(seq 100); do
        port_open "$port" && return 0
        kill -0 "${PID[$name]}" 2>/dev/null || die "$name exited at start: $(tail -5 "$OUT/logs/$file.stderr")"
        sleep 0.1
    done
    die "$name did not listen on $port"
}

# The process and all its descendants (nginx: master + worker).
tree_pids() {
    local root=$1 out=($1) changed=1 stat pid ppid
    while ((changed)); do
        changed=0
        for stat in /proc/[0-9]*/stat; do
            read -r pid ppid < <(sed -E 's/^([0-9]+) \(.*\) . ([0-9]+) .*/\1 \2/' "$stat" 2>/dev/null) || continue
            [[ " ${out[*]} " == *" $ppid "* && " ${out[*]} " != *" $pid "* ]] && { out+=("$pid"); changed=1; }
        done
    done
    echo "${out[@]}"
}

# Sum of utime+stime (clock ticks, all threads) over the given pids.
cpu_ticks() {
    local total=0 p rest
    for p in "$@"; do
        rest=$(sed -E 's/^.*\) //' "/proc/$p/stat") || die "process $p is gone"
        # after "comm) ": field 3 is state ... utime is field 14, stime 15 => index 11, 12 here
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# "busy idle" ticks of one CPU from /proc/stat (noise indicator: other tenants' load).
cpu_busy() {
    awk -v c="cpu$1" '$1 == c { idle = $5 + $6; t = 0; for (i = 2; i <= 9; i++) t += $i; print t - idle, idle }' /proc/stat
}

# ---------------------------------------------------------------- keys -----------------
# One master key (rampart init), a store with the bench key plus 9 random ones, a copy of
# it grown to 1,000,000 keys, and a JWKS file with RS256 and ES256 tokens for it.
KEYS="$OUT/keys"
make_keys() {
    "$RAMPART" init "$KEYS/init" >/dev/null
    local cfg="$KEYS/store.toml"
    printf '[store]\npath = "small.db"\nmaster_key_file = "init/data/master.key"\n' >"$cfg"
    API_KEY=$("$RAMPART" keys create --config "$cfg" --consumer bench --scopes orders:read | tail -1)
    [[ $API_KEY == rmpt_* ]] || die "rampart keys create did not print a key"
    python3 "$BENCH_DIR/mint.py" fill "$KEYS/small.db" 9 >/dev/null
    if [[ " ${RAMPART_ONLY[*]} " == *" secured-1m "* ]]; then
        python3 -c 'import sqlite3,sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
            "$KEYS/small.db" "$KEYS/large.db"
        log "filling a store with 1,000,000 keys"
        python3 "$BENCH_DIR/mint.py" fill "$KEYS/large.db" 999990 >/dev/null
    fi
    python3 "$BENCH_DIR/mint.py" jwt "$KEYS/jwt" >/dev/null
    RS256_TOKEN=$(cat "$KEYS/jwt/rs256.token")
    ES256_TOKEN=$(cat "$KEYS/jwt/es256.token")
}
make_keys

# The header each config's requests carry: its credential.
credential() {
    case $1 in
        secured|secured-1m|secured-rl|secured-redis) echo "X-API-Key: $API_KEY" ;;
        jwt-rs256) echo "Authorization: Bearer $RS256_TOKEN" ;;
        jwt-es256) echo "Authorization: Bearer $ES256_TOKEN" ;;
        *) echo "X-Bench: none" ;;
    esac
}

# ---------------------------------------------------------------- configs --------------
nginx_common() {
    cat <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $OUT/logs/$1.pid;
error_log $OUT/logs/$1.error.log warn;
events { worker_connections 4096; multi_accept off; }
http {
    client_body_temp_path $OUT/logs/$1.tmp/body;
    proxy_temp_path $OUT/logs/$1.tmp/proxy;
    fastcgi_temp_path $OUT/logs/$1.tmp/fastcgi;
    uwsgi_temp_path $OUT/logs/$1.tmp/uwsgi;
    scgi_temp_path $OUT/logs/$1.tmp/scgi;
    # nginx closes a keep-alive connection after 1000 requests by default; the others don't.
    keepalive_requests 1000000;
    keepalive_timeout 60s;
EOF
}

write_configs() {
    local c="$OUT/conf" n
    for n in upstream nginx-plain nginx-hardened; do mkdir -p "$OUT/logs/$n.tmp"; done

    # Upstream: fixed small JSON body, 1 worker, no log.
    { nginx_common upstream; cat <<EOF
    access_log off;
    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        location / {
            default_type application/json;
            return 200 '$BODY';
        }
    }
}
EOF
    } >"$c/upstream.nginx.conf"

    { nginx_common nginx-plain; cat <<EOF
    access_log off;
    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:${PORT[nginx/plain]};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    } >"$c/nginx-plain.conf"

    { nginx_common nginx-hardened; cat <<EOF
    server_tokens off;
    client_max_body_size 1m;
    log_format jsonl escape=json '{"time":"\$time_iso8601","request_id":"\$request_id","client_ip":"\$remote_addr","protocol":"\$server_protocol","method":"\$request_method","path":"\$uri","status":\$status,"duration_ms":\$request_time,"upstream_ms":"\$upstream_response_time","bytes_in":\$request_length,"bytes_out":\$bytes_sent,"user_agent":"\$http_user_agent"}';
    access_log $OUT/access-nginx-hardened.log jsonl buffer=64k flush=1s;
    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:${PORT[nginx/hardened]};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Request-Id \$request_id;
            proxy_hide_header X-Powered-By;
            add_header X-Request-Id \$request_id always;
            add_header X-Content-Type-Options nosniff always;
            add_header X-Frame-Options DENY always;
            add_header Referrer-Policy no-referrer always;
            add_header Cache-Control no-store always;
            add_header Content-Security-Policy "$CSP" always;
        }
    }
}
EOF
    } >"$c/nginx-hardened.conf"

    if [[ -n ${PORT[nginx/secured]:-} ]]; then
        mkdir -p "$OUT/logs/nginx-secured.tmp"
        # secured = hardened + the API key by map (with its scopes) + a rate limit never reached.
        awk -v port="${PORT[nginx/secured]}" -v hport="${PORT[nginx/hardened]}" -v key="$API_KEY" '
            { gsub("nginx-hardened", "nginx-secured"); gsub("access-nginx-hardened.log", "access-nginx-secured.log") }
            $1 == "listen" && index($0, hport) { sub(hport, port) }
            /^    upstream backend \{/ {
                print "    map_hash_bucket_size 128;"
                print "    map $http_x_api_key $api_scopes { default \"\"; \"" key "\" \"orders:read\"; }"
                print "    limit_req_zone $binary_remote_addr zone=perip:10m rate=100000000r/s;"
            }
            { print }
            /^        location \/ \{/ {
                print "            limit_req zone=perip burst=100000000 nodelay;"
                print "            if ($api_scopes = \"\") { return 401; }"
                print "            if ($api_scopes !~ \"(^| )orders:read( |$)\") { return 403; }"
            }' "$c/nginx-hardened.conf" >"$c/nginx-secured.conf"
    fi

    local haproxy_common
    haproxy_common=$(cat <<EOF
global
    nbthread 1
    maxconn 4096
    # HAProxy writes logs to syslog or stdout; stdout goes to a file under bench/out.
    log stdout format raw local0 info

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 15s
    timeout http-keep-alive 60s
    option http-keep-alive
    http-reuse always
EOF
)
    cat >"$c/haproxy-plain.cfg" <<EOF
$haproxy_common

frontend fe
    bind 127.0.0.1:${PORT[haproxy/plain]}
    default_backend be

backend be
    server up 127.0.0.1:$UPSTREAM_PORT
EOF

    cat >"$c/haproxy-hardened.cfg" <<EOF
$haproxy_common

frontend fe
    bind 127.0.0.1:${PORT[haproxy/hardened]}
    log global
    log-format '{"time":"%tr","request_id":"%ID","client_ip":"%ci","protocol":"%HV","method":"%HM","path":"%HPO","status":%ST,"duration_ms":%Ta,"upstream_ms":%Tr,"bytes_in":%U,"bytes_out":%B}'
    unique-id-format %[uuid()]
    unique-id-header X-Request-Id
    option forwardfor
    # Content-Length only: HAProxy cannot cap a chunked body without buffering it.
    http-request deny deny_status 413 if { req.hdr_val(content-length) gt 1048576 }
    http-request set-header X-Forwarded-Proto http
    http-after-response del-header Server
    http-after-response del-header X-Powered-By
    http-after-response set-header X-Request-Id %[unique-id]
    http-after-response set-header X-Content-Type-Options nosniff
    http-after-response set-header X-Frame-Options DENY
    http-after-response set-header Referrer-Policy no-referrer
    http-after-response set-header Cache-Control no-store
    http-after-response set-header Content-Security-Policy "$CSP"
    default_backend be

backend be
    server up 127.0.0.1:$UPSTREAM_PORT
EOF

    if [[ -n ${PORT[haproxy/secured]:-} ]]; then
        printf '%s orders:read\n' "$API_KEY" >"$c/haproxy-keys.map"
        awk -v port="${PORT[haproxy/secured]}" -v hport="${PORT[haproxy/hardened]}" -v map="$c/haproxy-keys.map" '
            $1 == "bind" { sub(hport, port) }
            $1 == "default_backend" {
                print "    stick-table type ip size 100k expire 10s store http_req_rate(10s)"
                print "    http-request track-sc0 src"
                print "    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100000000 }"
                print "    http-request set-var(txn.scopes) req.hdr(x-api-key),map(" map ")"
                print "    http-request deny deny_status 401 unless { var(txn.scopes) -m found }"
                print "    http-request deny deny_status 403 unless { var(txn.scopes) -m reg (^|\\ )orders:read(\\ |$) }"
            }
            { print }' "$c/haproxy-hardened.cfg" >"$c/haproxy-secured.cfg"
    fi

    local cfg access r auth extra db
    for r in "${RAMPARTS[@]}"; do for cfg in "${CONFIGS[@]}" "${RAMPART_ONLY[@]}"; do
        if [[ $cfg == plain ]]; then access=off; else access="$OUT/access-$r-$cfg.log"; fi
        auth='auth = ["none"]'; extra=""
        case $cfg in
            secured|secured-1m|secured-rl|secured-redis)
                auth=$'auth = ["api_key"]\nscopes = ["orders:read"]'
                db=small.db; [[ $cfg == secured-1m ]] && db=large.db
                extra=$(printf '[store]\npath = "%s"\nmaster_key_file = "%s"' "$KEYS/$db" "$KEYS/init/data/master.key")
                if [[ $cfg == secured-rl || $cfg == secured-redis ]]; then
                    auth+=$'\nrate_limit = { limit = 1000000000, per = "1s", key = "consumer" }'
                fi
                if [[ $cfg == secured-redis ]]; then
                    extra+=$(printf '\n[ratelimit]\nbackend = "redis://127.0.0.1:6379/0"\nprefix = "rampart-bench-%s"\ntimeout = "1s"\nfail_mode = "closed"' "$r")
                fi ;;
            jwt-*)
                auth=$'auth = ["jwt"]\nscopes = ["orders:read"]'
                extra=$(printf '[[jwt_issuers]]\nissuer = "https://bench.rampart"\naudiences = ["bench"]\njwks_file = "%s"\nalgorithms = ["RS256", "ES256"]' "$KEYS/jwt/jwks.json") ;;
        esac
        cat >"$c/$r-$cfg.toml" <<EOF
[server]
listen = "127.0.0.1:${PORT[$r/$cfg]}"
worker_threads = 1
max_body_bytes = 1048576
secure_headers = { cache_control = "no-store", content_security_policy = "$CSP" }

[admin]
listen = "127.0.0.1:$((PORT[$r/$cfg] + 1000))"

[log]
access = "$access"
level = "warn"

[[upstreams]]
name = "bench"
url = "http://127.0.0.1:$UPSTREAM_PORT"

$extra

[[routes]]
name = "all"
path = "/{*rest}"
upstream = "bench"
$auth
EOF
    done; done
}

write_configs
rm -f "$OUT"/access-*.log
for combo in "${COMBOS[@]}"; do read -r cfg t <<<"$combo"; : >"$OUT/access-$t-$cfg.log"; done

log "checking configs"
nginx -t -q -e "$OUT/logs/nginx-check.log" -c "$OUT/conf/upstream.nginx.conf"
for combo in "${COMBOS[@]}"; do
    read -r cfg t <<<"$combo"
    case $t in
        nginx) nginx -t -q -e "$OUT/logs/nginx-check.log" -c "$OUT/conf/nginx-$cfg.conf" ;;
        haproxy) haproxy -c -q -f "$OUT/conf/haproxy-$cfg.cfg" ;;
        *) "${BIN[$t]}" check --config "$OUT/conf/$t-$cfg.toml" >>"$OUT/logs/rampart-check.log" 2>&1 \
            || die "$t check failed: $(cat "$OUT/logs/rampart-check.log")" ;;
    esac
done

log "starting upstream and proxies (pinned to CPU $PROXY_CPU)"
start upstream "$UPSTREAM_PORT" nginx -e "$OUT/logs/upstream.error.log" -c "$OUT/conf/upstream.nginx.conf"
for combo in "${COMBOS[@]}"; do
    read -r cfg t <<<"$combo"
    case $t/$cfg in
        nginx/*) start "nginx/$cfg" "${PORT[nginx/$cfg]}" nginx -e "$OUT/logs/nginx-$cfg.error.log" -c "$OUT/conf/nginx-$cfg.conf" ;;
        haproxy/plain) start "haproxy/$cfg" "${PORT[haproxy/$cfg]}" haproxy -db -f "$OUT/conf/haproxy-$cfg.cfg" ;;
        haproxy/*)
            # Its stdout is the access log.
            port_open "${PORT[haproxy/$cfg]}" && die "127.0.0.1:${PORT[haproxy/$cfg]} is already in use (set BASE_PORT)"
            taskset -c "$PROXY_CPU" haproxy -db -f "$OUT/conf/haproxy-$cfg.cfg" \
                >"$OUT/access-haproxy-$cfg.log" 2>"$OUT/logs/haproxy-$cfg.stderr" &
            PID[haproxy/$cfg]=$!; STARTED+=($!)
            for _ in $(seq 100); do port_open "${PORT[haproxy/$cfg]}" && break; sleep 0.1; done
            port_open "${PORT[haproxy/$cfg]}" || die "haproxy/$cfg did not start: $(tail -5 "$OUT/logs/haproxy-$cfg.stderr")" ;;
        *) start "$t/$cfg" "${PORT[$t/$cfg]}" "${BIN[$t]}" run --config "$OUT/conf/$t-$cfg.toml" ;;
    esac
done

declare -A PIDS=()
PIDS[upstream]=$(tree_pids "${PID[upstream]}")
for combo in "${COMBOS[@]}"; do
    read -r cfg t <<<"$combo"
    PIDS[$t/$cfg]=$(tree_pids "${PID[$t/$cfg]}")
done

# ---------------------------------------------------------------- sanity ---------------
log "sanity: status, headers, 413 past 1 MiB, 401 without the credential"
big="$OUT/logs/2MiB.bin"
head -c $((2 * 1024 * 1024)) /dev/zero >"$big"
for combo in "${COMBOS[@]}"; do
    read -r cfg t <<<"$combo"
    url="http://127.0.0.1:${PORT[$t/$cfg]}$URL_PATH"
    cred=$(credential "$cfg")
    if [[ $cfg != plain && $cfg != hardened ]]; then
        anon=$(curl -sS -o /dev/null -w '%{http_code}' "$url")
        [[ $anon == 401 ]] || die "$t/$cfg: a request without the credential got $anon, not 401"
    fi
    curl -sS -H "$cred" -D "$OUT/headers/$t-$cfg.txt" -o "$OUT/headers/$t-$cfg.body" "$url"
    status=$(head -1 "$OUT/headers/$t-$cfg.txt" | awk '{print $2}')
    [[ $status == 200 ]] || die "$t/$cfg answered $status, not 200 (see $OUT/headers/$t-$cfg.txt)"
    cmp -s <(printf '%s' "$BODY") "$OUT/headers/$t-$cfg.body" || die "$t/$cfg: body differs from the upstream's"
    big_status=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
        -H "$cred" --data-binary @"$big" "$url" || true)
    echo "$t/$cfg POST 2 MiB -> $big_status" >>"$OUT/headers/body-limit.txt"
    if [[ $cfg != plain ]]; then
        for h in x-content-type-options x-frame-options referrer-policy cache-control content-security-policy; do
            grep -qi "^$h:" "$OUT/headers/$t-$cfg.txt" || die "$t/$cfg: response lacks $h"
        done
        [[ $big_status == 413 ]] || die "$t/$cfg: 2 MiB body got $big_status, not 413"
    fi
    if [[ $cfg == secured-rl || $cfg == secured-redis ]]; then
        grep -qi '^ratelimit-policy:' "$OUT/headers/$t-$cfg.txt" || die "$t/$cfg: the rate limit is not on"
    fi
done

# ---------------------------------------------------------------- measure --------------
to_us() { # wrk latency ("812.00us", "1.23ms", "1.01s", "2.00m") -> microseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1000; else if (u == "s") m = 1000000;
        else if (u == "m") m = 60000000; else m = -1
        printf "%.1f", n * m }'
}

# run_one ROUND CONFIG TARGET SECONDS -> appends a CSV row (round 0 = warm-up, not kept)
run_one() {
    local round=$1 cfg=$2 t=$3 secs=$4 key="$2-$3"
    local port=${PORT[$t/$cfg]} raw="$OUT/wrk/r$1-$cfg-$t.txt"
    local c0 c1 u0 u1 b0 b1 l0=0 l1=0 alog=""
    [[ $cfg != plain ]] && alog="$OUT/access-$t-$cfg.log"
    # shellcheck disable=SC2086
    c0=$(cpu_ticks ${PIDS[$t/$cfg]}); u0=$(cpu_ticks ${PIDS[upstream]})
    read -r -a b0 <<<"$(cpu_busy "$PROXY_CPU") $(cpu_busy "$CLIENT_CPU")"
    [[ -n $alog ]] && l0=$(wc -l <"$alog")
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency -H "$(credential "$cfg")" \
        "http://127.0.0.1:$port$URL_PATH" >"$raw" 2>&1 || die "wrk failed on $t/$cfg: $(cat "$raw")"
    # shellcheck disable=SC2086
    c1=$(cpu_ticks ${PIDS[$t/$cfg]}); u1=$(cpu_ticks ${PIDS[upstream]})
    read -r -a b1 <<<"$(cpu_busy "$PROXY_CPU") $(cpu_busy "$CLIENT_CPU")"
    if [[ -n $alog ]]; then sleep 1.2; l1=$(wc -l <"$alog"); fi   # nginx flushes each second
    ((round == 0)) && return 0
    local reqs rps p50 p99 non2xx errors
    reqs=$(awk '/requests in/ {print $1}' "$raw")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$raw")
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$raw")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$raw")")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$raw"); non2xx=${non2xx:-0}
    errors=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$raw"); errors=${errors:-0}
    awk -v r="$round" -v cfg="$cfg" -v t="$t" -v reqs="$reqs" -v rps="$rps" -v p50="$p50" -v p99="$p99" \
        -v cpu=$((c1 - c0)) -v up=$((u1 - u0)) -v hz="$CLK_TCK" -v n2="$non2xx" -v err="$errors" \
        -v b0busy="${b0[0]}" -v b0idle="${b0[1]}" -v b1busy="${b1[0]}" -v b1idle="${b1[1]}" \
        -v c0busy="${b0[2]}" -v c0idle="${b0[3]}" -v c1busy="${b1[2]}" -v c1idle="${b1[3]}" \
        -v logged=$((l1 - l0)) -v haslog="${alog:+1}" 'BEGIN {
        us = cpu * 1e6 / hz
        pb = b1busy - b0busy; pt = pb + b1idle - b0idle
        cb = c1busy - c0busy; ct = cb + c1idle - c0idle
        printf "%d,%s,%s,%d,%.1f,%.1f,%.1f,%.0f,%.3f,%.3f,%s,%s,%.0f,%.0f,%s\n", r, cfg, t, reqs, rps, p50, p99,
            us, us / reqs, up * 1e6 / hz / reqs, n2, err,
            pt ? 100 * pb / pt : 0, ct ? 100 * cb / ct : 0, haslog ? logged : ""
    }' >>"$OUT/results.csv"
    log "  r$round $cfg/$t: $rps req/s, p99 $(awk '$1 == "99%" {print $2}' "$raw"), $(tail -1 "$OUT/results.csv" | cut -d, -f9) us CPU/req"
}

echo "round,config,target,requests,rps,p50_us,p99_us,proxy_cpu_us,cpu_us_per_req,upstream_cpu_us_per_req,non2xx,socket_errors,cpu${PROXY_CPU}_busy_pct,cpu${CLIENT_CPU}_busy_pct,access_log_lines" >"$OUT/results.csv"

log "warm-up: ${WARMUP}s per target and config"
for combo in "${COMBOS[@]}"; do read -r cfg t <<<"$combo"; run_one 0 "$cfg" "$t" "$WARMUP"; done

n=${#COMBOS[@]}
log "measuring: $ROUNDS rounds x $n runs x ${DURATION}s, order rotated per round"
for ((r = 1; r <= ROUNDS; r++)); do
    for ((i = 0; i < n; i++)); do
        # Rotate the start, and reverse every other round, so no target always follows another.
        if ((r % 2)); then j=$(((i + r - 1) % n)); else j=$(((n - 1 - i + r - 1) % n)); fi
        read -r cfg t <<<"${COMBOS[$j]}"
        run_one "$r" "$cfg" "$t" "$DURATION"
    done
done

# ---------------------------------------------------------------- report ---------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -F, -v cfg="$1" -v t="$2" -v c="$3" 'NR > 1 && $2 == cfg && $3 == t { print $c }' "$OUT/results.csv" | median; }

{
    echo "| config | target | req/s | p50 ms | p99 ms | CPU µs/req | req/s ÷ base | CPU/req ÷ base | p99 ÷ base | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for cfg in "${CONFIGS[@]}" "${RAMPART_ONLY[@]}"; do
        # The base is nginx in the same config; rampart-only configs compare to rampart secured.
        bcfg=$cfg; bt=nginx
        [[ -n ${PORT[nginx/$cfg]:-} ]] || { bcfg=secured; bt=rampart; }
        base_rps=$(col "$bcfg" "$bt" 5); base_cpu=$(col "$bcfg" "$bt" 9); base_p99=$(col "$bcfg" "$bt" 7)
        for t in "${TARGETS[@]}"; do
            [[ -n ${PORT[$t/$cfg]:-} ]] || continue
            rps=$(col "$cfg" "$t" 5); p50=$(col "$cfg" "$t" 6); p99=$(col "$cfg" "$t" 7); cpu=$(col "$cfg" "$t" 9)
            errs=$(awk -F, -v cfg="$cfg" -v t="$t" 'NR > 1 && $2 == cfg && $3 == t { s += $11 + $12 } END { print s + 0 }' "$OUT/results.csv")
            awk -v cfg="$cfg" -v t="$t" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v cpu="$cpu" -v br="$base_rps" \
                -v bc="$base_cpu" -v bp="$base_p99" -v e="$errs" 'BEGIN {
                printf "| %s | %s | %.0f | %.3f | %.3f | %.1f | %.2fx | %.2fx | %.2fx | %d |\n",
                    cfg, t, rps, p50 / 1000, p99 / 1000, cpu, rps / br, cpu / bc, p99 / bp, e }'
        done
    done
    echo
    echo "Medians of $ROUNDS interleaved rounds of ${DURATION}s (wrk -t1 -c$CONNECTIONS on CPU $CLIENT_CPU; proxy + upstream on CPU $PROXY_CPU)."
    echo "Base: nginx in the same config; for ${RAMPART_ONLY[*]:-(none)}: rampart secured."
    echo "Upstream CPU µs/req (median, all runs): $(awk -F, 'NR > 1 { print $10 }' "$OUT/results.csv" | median)."
    echo "Access-log lines written vs requests (all logged configs, all rounds):"
    for combo in "${COMBOS[@]}"; do
        read -r cfg t <<<"$combo"
        [[ $cfg == plain ]] && continue
        awk -F, -v t="$t" -v cfg="$cfg" 'NR > 1 && $2 == cfg && $3 == t { r += $4; l += $15 } END { printf "%s/%s %d/%d; ", t, cfg, l, r }' "$OUT/results.csv"
    done
    echo
} | tee "$OUT/summary.md"
{
    echo
    [[ -z ${RAMPART_B:-} ]] || echo "rampart-b: $RAMPART_B"
    echo "rampart: $("$RAMPART" --version 2>/dev/null || echo unknown) ($(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo no-git)$(cd "$REPO" && git diff --quiet 2>/dev/null || echo ', dirty tree'))"
    echo "$(nginx -v 2>&1); $(haproxy -v | head -1); $(wrk --version 2>&1 | head -1)"
    echo "$(uname -srm); $(nproc) CPUs; $(date -u +%FT%TZ)"
} | tee -a "$OUT/summary.md"
log "raw results: $OUT/results.csv, wrk output: $OUT/wrk/, summary: $OUT/summary.md"
