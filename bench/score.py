#!/usr/bin/env python3
"""Scoring injection detection: third-party attack and benign corpora sent through
nginx + ModSecurity v3 + OWASP CRS (paranoia level 1 and 2) and rampart (detector level 1
and 2), in one run, with the same requests and the same verdict rule for every target.

Requires: Python 3.11, PyYAML (`pip install pyyaml` or `apt-get install python3-yaml`),
and for the CRS targets the Debian packages
    apt-get install -y nginx libnginx-mod-http-modsecurity modsecurity-crs
(or run with --install, which also keeps the nginx package from starting the system nginx
on port 80 while it installs). rampart targets need target/release/rampart (or --rampart PATH);
without it they are skipped with a message and the exit status is 3.

Usage (from the repository root):
    python3 bench/score.py                                  # all four targets
    python3 bench/score.py --targets crs-pl1,crs-pl2        # CRS only
    python3 bench/score.py --targets rampart-l1 --only libinjection/sqli --limit 200
Flags: --targets LIST, --only CLASS-PREFIX[,PREFIX...] (e.g. gotestwaf/owasp/, crs/942, blns),
--limit N (a seeded sample of at most N requests per report row, for quick runs),
--concurrency N (16 client threads),
--rampart PATH, --corpora DIR (../shared/corpora), --out DIR (bench/out/score), --install,
--timeout SECONDS (10, per request).

Targets (loopback only; ports 19100-19113):
  upstream    nginx on 19100 answering 200 with a small fixed JSON body and `X-Upstream: 1`
              for any method and path (bodies up to 16 MB, big heads, underscores allowed).
  crs-pl1/2   nginx (19101/19102, 1 worker) + libnginx-mod-http-modsecurity (libmodsecurity
              3) + Debian's modsecurity-crs (3.3.x), proxying to the upstream. ModSecurity:
              libmodsecurity's recommended modsecurity.conf (/etc/modsecurity/
              modsecurity.conf-recommended where it exists; on Debian 12 the copy the nginx
              connector ships in /usr/share/nginx/docs/modsecurity/) with SecRuleEngine On (it keeps
              SecRequestBodyAccess On, its XML/JSON body-processor rules, its body limits and
              the 200002 "failed to parse body" deny); audit log and status engine off. CRS:
              Debian's crs-setup.conf plus tx.paranoia_level = tx.executing_paranoia_level =
              1 or 2, inbound anomaly threshold 5 (the default), anomaly scoring mode.
  rampart-l1/2  target/release/rampart `run` (19110/19112, admin +1) with a config that routes
              everything to the upstream with `auth = ["none"]` and
              `injection = { mode = "block", level = 1|2 }`; the master key comes from
              `rampart init`; `rampart check` must accept the config or the target is skipped.
Every config and log is written under the out dir; each process is started by this script in
its own session and stopped (SIGTERM, then SIGKILL to its group) on exit, Ctrl-C included.

Verdict: a request is BLOCKED when the response lacks `X-Upstream: 1`, i.e. it never reached
the upstream, whatever the status (no response at all counts too, labelled timeout/closed/
reset). The status histogram of blocked responses is reported per target, so a 403 from a
detector can be told from a 400 of a parser or a 413/414 of a size limit.

Corpora (../shared/corpora; see each folder's SOURCE.txt for commit and licence):
  gotestwaf-testcases  every payload x encoder x placeholder, built as GoTestWAF 0.5 builds it
      (bench/score/gotestwaf.py: encoders Base64, Base64Flat, JSUnicode, URL, Plain,
      XMLEntity; placeholders URLPath, URLParam, Header, UserAgent, HTMLForm,
      HTMLMultipartForm, JSONBody, JSONRequest, RequestBody, SOAPBody, XMLBody, GraphQL,
      RawRequest; config.yaml's browser headers on every request). Class = set/case, e.g.
      gotestwaf/owasp/sql-injection; set false-pos is benign. gRPC cases are skipped and
      counted. Approximations: GraphQL requests go to /graphql (GoTestWAF first probes for a
      GraphQL endpoint and skips the set if none answers); random parameter names and
      multipart boundaries come from a seeded generator; the Host is localhost:PORT, not
      127.0.0.1:PORT, so that CRS rule 920350 (numeric Host) does not add to every score.
  libinjection-data    data/sqli-*.txt, xss-*.txt (attacks) and false_positives.txt (benign),
      one URL-encoded input a line, decoded, then sent as a query value (GET /?q=...) and as a
      JSON value (POST / {"q": ...}); rows split by placement. tbd-* files are left out.
  crs-regression-tests REQUEST-930..944 only, classes 930 lfi, 931 rfi, 932 rce, 933 php,
      934 generic, 941 xss, 942 sqli, 943 session-fixation, 944 java. A stage expecting its
      rule to trigger (expect_ids / match_regex) is an attack; one expecting it not to
      (no_expect_ids) is a benign "no-trigger" case, reported as a false-positive candidate
      (it may legitimately trip another rule). Requests are built byte for byte as go-ftw
      builds them (bench/score/crs.py), sent over raw sockets; encoded_request is honoured;
      Host "localhost" becomes "localhost:PORT". Status-only stages are skipped and counted.
      The engine-specific go-ftw overrides (nginx-overrides.yaml) are not applied: they change
      what CRS is expected to log on nginx, not whether the input is an attack.
  blns                 every string as a JSON value, a query value and an X-Data header value
      (those with control characters are not legal in a header and are skipped there); benign.

Output (bench/out/score/): summary.md (also printed), results.json (all rows, status
histograms, skips, one outcome character per request per target), <target>-missed.txt
(attacks that got through) and <target>-fp.txt (benign requests blocked), one line each:
row, placement, status, a short repr of the request.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import random
import shutil
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ left in the work tree

try:
    import yaml  # noqa: F401
except ImportError:
    raise SystemExit("PyYAML is needed: pip install pyyaml (or apt-get install -y python3-yaml)")

from score import crs, gotestwaf, report, simple, targets  # noqa: E402
from score.common import REPO, default_corpora  # noqa: E402
from score.rawhttp import Client  # noqa: E402
from score.targets import TARGETS, UPSTREAM_PORT, log  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default=",".join(TARGETS),
                    help=f"comma-separated subset of {','.join(TARGETS)} (default all)")
    ap.add_argument("--only", default="", help="class prefix(es), comma-separated, e.g. crs/942,blns")
    ap.add_argument("--limit", type=int, default=0, help="at most N requests per report row (seeded sample)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rampart", default=os.path.join(REPO, "target", "release", "rampart"))
    ap.add_argument("--corpora", default=default_corpora())
    ap.add_argument("--out", default=os.path.join(HERE, "out", "score"))
    ap.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    ap.add_argument("--install", action="store_true", help="apt-get install the CRS packages if missing")
    args = ap.parse_args()
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in args.targets:
        if t not in TARGETS:
            ap.error(f"unknown target {t!r}; choose from {', '.join(TARGETS)}")
    args.only = [p.strip() for p in args.only.split(",") if p.strip()]
    return args


def load_cases(args):
    cases, skips = [], []
    for loader in (gotestwaf.load, simple.load_libinjection, crs.load, simple.load_blns):
        c, s = loader(args.corpora)
        cases += c
        skips += s
    if args.only:
        keep = lambda cls: any(cls.startswith(p) for p in args.only)  # noqa: E731
        cases = [c for c in cases if keep(c.cls)]
        skips = [s for s in skips if keep(s.cls)]
    if args.limit:
        by_class = collections.defaultdict(list)
        for i, c in enumerate(cases):
            by_class[report.row_of(c)].append(i)
        rng = random.Random(1234)
        keep_idx = set()
        for idx in by_class.values():
            keep_idx.update(idx if len(idx) <= args.limit else rng.sample(idx, args.limit))
        cases = [c for i, c in enumerate(cases) if i in keep_idx]
    return cases, skips


def sanity(client: Client, port: int) -> str | None:
    """A plain GET and a plain JSON POST must reach the upstream."""
    ok_get = b"GET /v1/items/42 HTTP/1.1\r\nHost: localhost:%d\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n" % port
    body = b'{"name":"widget","qty":3}'
    ok_post = (b"POST /v1/items HTTP/1.1\r\nHost: localhost:%d\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s") % (port, len(body), body)
    for req in (ok_get, ok_post):
        r = client.send(port, req)
        if not r.upstream:
            return f"a benign request did not reach the upstream (got {r.label()}): {req[:60]!r}"
    client.close_all()
    return None


def run_target(name: str, port: int, cases, args) -> list:
    client = Client(timeout=args.timeout)
    err = sanity(client, port)
    if err:
        raise RuntimeError(err)
    results = [None] * len(cases)
    done = [0]
    lock = threading.Lock()

    def work(i):
        results[i] = client.send(port, cases[i].request(port), fresh=cases[i].fresh)
        with lock:
            done[0] += 1

    # Interleave the corpora so that slow cases (big bodies, timeouts) spread over workers.
    order = list(range(len(cases)))
    random.Random(42).shuffle(order)
    start = time.time()
    last = start
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        futures = [pool.submit(work, i) for i in order]
        try:
            for _ in concurrent.futures.as_completed(futures):
                now = time.time()
                if now - last > 10:
                    last = now
                    log(f"  {name}: {done[0]}/{len(cases)} ({done[0] / (now - start):.0f} req/s)")
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    for f in futures:
        f.result()  # re-raise a worker's exception, if any
    return results


def _on_term(*_):
    raise KeyboardInterrupt  # cleaned up like Ctrl-C


def main() -> int:
    args = parse_args()
    t0 = time.time()
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)

    want_crs = [t for t in args.targets if TARGETS[t][0] == "crs"]
    want_rampart = [t for t in args.targets if TARGETS[t][0] == "rampart"]
    # nginx serves as the upstream for every target; the CRS targets need the rest too.
    def missing():
        m = targets.missing_crs_tools() if want_crs else []
        return m if m or shutil.which("nginx") else ["nginx"]
    if missing() and args.install:
        targets.apt_install(targets.APT_PACKAGES if want_crs else ["nginx"])
    if missing():
        raise SystemExit("missing packages: " + " ".join(missing()) + "\ninstall them: apt-get install -y "
                         + " ".join(targets.APT_PACKAGES if want_crs else ["nginx"]) + "  (or rerun with --install)")
    if want_rampart and not (os.path.isfile(args.rampart) and os.access(args.rampart, os.X_OK)):
        log(f"warning: no rampart binary at {args.rampart}: {', '.join(want_rampart)} will be skipped")

    log("building requests from the corpora")
    cases, skips = load_cases(args)
    if not cases:
        raise SystemExit("no requests selected (check --only)")
    log(f"{len(cases)} requests per target, {len(skips)} corpus items skipped")

    targets.clean_target_dirs(out)
    meta = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cases": len(cases),
            "limit": args.limit, "only": ",".join(args.only), "concurrency": args.concurrency,
            "targets": {}, "corpora": {}}
    if want_crs:
        meta["versions"] = targets.versions()
    for folder in ("gotestwaf-testcases", "libinjection-data", "crs-regression-tests", "blns"):
        try:
            with open(os.path.join(args.corpora, folder, "SOURCE.txt")) as f:
                meta["corpora"][folder] = next((ln.strip() for ln in f if ln.startswith("Commit")), "")
        except OSError:
            pass

    procs = targets.Procs()
    outcomes: dict[str, list | None] = {}
    exit_code = 0
    try:
        upstream_argv = targets.write_upstream(out)
        ok, msg = targets.nginx_check(upstream_argv)
        if not ok:
            raise SystemExit(f"upstream nginx config rejected: {msg}")
        try:
            procs.start("upstream", upstream_argv, UPSTREAM_PORT, os.path.join(out, "upstream"))
        except RuntimeError as e:
            raise SystemExit(f"upstream: {e}")

        master_key = None
        for name in args.targets:
            kind, level, port = TARGETS[name]
            info = meta["targets"].setdefault(name, {"port": port, "level": level})
            try:
                if kind == "crs":
                    argv = targets.write_crs(out, name, level, port)
                    ok, msg = targets.nginx_check(argv)
                    if not ok:
                        raise RuntimeError(f"nginx -t failed: {msg}")
                    info["describe"] = f"nginx + ModSecurity + CRS, paranoia level {level}"
                else:
                    if not (os.path.isfile(args.rampart) and os.access(args.rampart, os.X_OK)):
                        raise RuntimeError(f"rampart binary not found at {args.rampart} "
                                           "(build it: cargo build --release -p rampart, or pass --rampart PATH)")
                    if master_key is None:
                        master_key = targets.rampart_master_key(out, args.rampart)
                    conf = targets.write_rampart(out, name, level, port, master_key)
                    ok, msg = targets.rampart_check(args.rampart, conf)
                    if not ok:
                        raise RuntimeError(f"`rampart check --config {conf}` rejected the config:\n{msg}")
                    argv = targets.rampart_argv(args.rampart, conf)
                    info["describe"] = f"rampart, injection level {level}"
                log(f"starting {name} on 127.0.0.1:{port}")
                procs.start(name, argv, port, os.path.join(out, name))
                log(f"scoring {name}")
                t1 = time.time()
                outcomes[name] = run_target(name, port, cases, args)
                info["seconds"] = round(time.time() - t1, 1)
                hist = collections.Counter(r.label() for r in outcomes[name] if not r.upstream)
                log(f"{name} done in {info['seconds']} s; not forwarded, by status: "
                    + ", ".join(f"{k}: {v}" for k, v in hist.most_common()))
            except RuntimeError as e:
                log(f"{name}: SKIPPED: {e}")
                info["error"] = " ".join(str(e).split())[:400] or "error"
                info["error_detail"] = str(e)
                outcomes[name] = None
                exit_code = 3
            finally:
                procs.stop(name)
    except KeyboardInterrupt:
        log("interrupted: stopping every process started")
        procs.stop_all()
        return 130
    finally:
        procs.stop_all()

    meta["wall_seconds"] = round(time.time() - t0, 1)
    agg = report.aggregate(cases, outcomes)
    skips_by_row = collections.defaultdict(collections.Counter)
    for s in skips:
        skips_by_row[report.row_of(s)][s.reason] += 1
    md = report.markdown(agg, args.targets, meta, skips_by_row)
    with open(os.path.join(out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(md + "\n")
    for name, results in outcomes.items():
        if results is not None:
            report.write_lists(out, name, cases, results)
    report.write_json(os.path.join(out, "results.json"), meta, agg, cases, outcomes, skips)
    print(md)
    log(f"wrote {out}/summary.md, results.json and the per-target lists; {meta['wall_seconds']} s in all")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
