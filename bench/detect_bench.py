#!/usr/bin/env python3
"""Throughput of injection detection: rampart with the detector on and off, beside nginx +
ModSecurity v3 + OWASP CRS (paranoia level 1), on two benign workloads, in one run.

Workloads (both benign, so that every target forwards every request):
  get-query   GET /v1/items/42?q=blue+running+shoes&... with browser-like headers
  json-2k     POST /v1/orders with a 2 KB JSON order (nested objects, arrays, free text)
Targets (each ONE worker thread, pinned with the upstream to CPU 0; wrk on CPU 1):
  crs          nginx (1 worker) + libnginx-mod-http-modsecurity + Debian's CRS at PL1,
               blocking, request body access on (bench/score/targets.py writes the config)
  rampart-on   rampart, `injection = { mode = "block", level = 1 }` on the route,
               `worker_threads = 1`, access log off
  rampart-off  the same with `injection = "off"`
After a warm-up, ROUNDS rounds run every (workload, target) pair for DURATION seconds in a
rotated order. Per pair the medians of req/s, p50, p99 and server CPU microseconds per
request (utime+stime of the target's processes, from /proc, over requests completed) are
reported, with the ratios the issue sets targets for: rampart-on / crs (>= 5x) and
rampart-on / rampart-off (>= 0.8x).

Usage (root, repository root; needs wrk, nginx, the ModSecurity module and CRS: apt-get
install -y wrk nginx libnginx-mod-http-modsecurity modsecurity-crs; and target/release/
rampart):  python3 bench/detect_bench.py [--rounds 3] [--duration 10] [--connections 50]
Output: bench/out/detect/ (configs, logs, wrk output, summary.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ left in the work tree
from score import targets as T  # noqa: E402

PORTS = {"crs": 19121, "rampart-on": 19122, "rampart-off": 19124}
QUERY = "/v1/items/42?q=blue+running+shoes&page=2&sort=price_desc&lang=en-US&size=42&color=navy"
HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Accept": "application/json",
    "Accept-Language": "en-US,en;q=0.9",
    "Referer": "https://shop.example.com/search?q=shoes",
}


def order_json() -> str:
    """A benign order of about 2 KB."""
    items = [
        {
            "sku": f"SKU-{1000 + i}",
            "name": name,
            "quantity": i + 1,
            "unit_price": 19.99 + i,
            "options": {"size": "42", "color": "navy", "gift_wrap": i % 2 == 0},
        }
        for i, name in enumerate(
            ["Running shoes", "Trail socks (3 pack)", "Water bottle, 750 ml", "Cap", "Insoles"]
        )
    ]
    order = {
        "customer": {
            "id": "c-7731",
            "name": "Dana O'Neill",
            "email": "dana.oneill@example.com",
            "phone": "+1 555 0100",
        },
        "shipping": {
            "street": "42 Harbour Road, Apt. 7",
            "city": "Portland",
            "postcode": "97201",
            "country": "US",
            "instructions": "Leave it at the back door if nobody answers; thanks!",
        },
        "items": items,
        "coupon": "SPRING-10",
        "notes": "Please deliver before Friday. The shoes are a gift for my sister, so no invoice in the box.",
        "tags": ["web", "returning-customer", "newsletter"],
        "payment": {"method": "card", "last4": "4242", "currency": "USD"},
    }
    text = json.dumps(order)
    pad = 2048 - len(text) - len(',"comment":""')
    order["comment"] = ("Looking forward to it. " * 100)[: max(pad, 0)]
    return json.dumps(order)


def wrk_script(out: str, workload: str, body: str) -> str:
    path = os.path.join(out, f"{workload}.lua")
    lines = []
    if workload == "json-2k":
        lines += ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}",
                  'wrk.headers["Content-Type"] = "application/json"']
    for k, v in HEADERS.items():
        lines.append(f'wrk.headers["{k}"] = {json.dumps(v)}')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def tree(pid: int) -> list[int]:
    out = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    except OSError:
        children = []
    for c in children:
        out += tree(int(c))
    return out


def ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def parse_wrk(text: str) -> dict:
    def latency(pct: str) -> float:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)", text, re.M)
        if not m:
            return float("nan")
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    done = re.search(r"(\d+) requests in", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(done.group(1)) if done else 0,
        "non2xx": int(errors.group(1)) if errors else 0,
        "p50": latency("50"),
        "p99": latency("99"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--rampart", default="target/release/rampart")
    ap.add_argument("--out", default="bench/out/detect")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    binary = os.path.abspath(args.rampart)
    clk = os.sysconf("SC_CLK_TCK")
    procs = T.Procs()
    pin = ["taskset", "-c", "0"]
    try:
        procs.start("upstream", pin + T.write_upstream(out), T.UPSTREAM_PORT, out)
        procs.start("crs", pin + T.write_crs(out, "crs", 1, PORTS["crs"]), PORTS["crs"], out)
        key = T.rampart_master_key(out, binary)
        for name, mode in (("rampart-on", '"block"'), ("rampart-off", '"off"')):
            conf = T.write_rampart(out, name, 1, PORTS[name], key)
            text = open(conf).read()
            text = text.replace('injection = { mode = "block", level = 1 }', f"injection = {{ mode = {mode}, level = 1 }}")
            text = re.sub(r'(?m)^access = .*$', 'access = "off"', text)
            text = text.replace("max_body_bytes = 1048576", "max_body_bytes = 1048576\nworker_threads = 1")
            open(conf, "w").write(text)
            ok, msg = T.rampart_check(binary, conf)
            if not ok:
                raise RuntimeError(f"rampart check refused {conf}: {msg}")
            procs.start(name, pin + T.rampart_argv(binary, conf), PORTS[name], out)
        body = order_json()
        scripts = {w: wrk_script(out, w, body) for w in ("get-query", "json-2k")}
        paths = {"get-query": QUERY, "json-2k": "/v1/orders"}
        started = dict(procs.procs)
        pids = {name: tree(started[name].pid) for name in PORTS}
        # Every target must forward both workloads (benign) before anything is measured.
        for name, port in PORTS.items():
            for w in scripts:
                r = subprocess.run(
                    ["wrk", "-t1", "-c1", "-d1s", "-s", scripts[w], f"http://127.0.0.1:{port}{paths[w]}"],
                    capture_output=True, text=True)
                got = parse_wrk(r.stdout)
                if got["requests"] == 0 or got["non2xx"]:
                    raise RuntimeError(f"{name} does not pass the benign {w} workload: {r.stdout}")
        combos = [(w, t) for w in scripts for t in PORTS]
        for w, t in combos:
            subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}", f"-d{args.warmup}s",
                            "-s", scripts[w], f"http://127.0.0.1:{PORTS[t]}{paths[w]}"], capture_output=True)
        results: dict = {c: [] for c in combos}
        for rnd in range(args.rounds):
            order = combos[rnd % len(combos):] + combos[: rnd % len(combos)]
            for w, t in order:
                before = ticks(pids[t])
                r = subprocess.run(
                    ["taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                     "-s", scripts[w], f"http://127.0.0.1:{PORTS[t]}{paths[w]}"],
                    capture_output=True, text=True)
                after = ticks(pids[t])
                got = parse_wrk(r.stdout)
                got["cpu_us"] = (after - before) / clk * 1e6 / max(got["requests"], 1)
                with open(os.path.join(out, f"wrk-{rnd}-{w}-{t}.txt"), "w") as f:
                    f.write(r.stdout)
                results[(w, t)].append(got)
                T.log(f"round {rnd + 1}: {w} {t}: {got['rps']:.0f} req/s, {got['cpu_us']:.1f} µs CPU/req, non-2xx {got['non2xx']}")
        med = {c: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99", "cpu_us")}
               for c, rs in results.items()}
        lines = [
            f"# Injection detection throughput, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
            "",
            f"{args.rounds} rounds x {args.duration} s, {args.connections} connections, one worker thread each on CPU 0, wrk on CPU 1; medians.",
            "",
            "| workload | target | req/s | p50 ms | p99 ms | CPU µs/req | req/s vs crs | req/s vs rampart-off |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for w in scripts:
            for t in PORTS:
                m = med[(w, t)]
                lines.append(
                    f"| {w} | {t} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['cpu_us']:.1f} | "
                    f"{m['rps'] / med[(w, 'crs')]['rps']:.2f}x | {m['rps'] / med[(w, 'rampart-off')]['rps']:.2f}x |")
        text = "\n".join(lines) + "\n"
        with open(os.path.join(out, "summary.md"), "w") as f:
            f.write(text)
        print(text)
        return 0
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
