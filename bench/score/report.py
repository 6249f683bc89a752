"""Aggregation and output: summary.md, results.json, <target>-missed.txt, <target>-fp.txt."""

from __future__ import annotations

import collections
import json
import os


def row_of(case_or_skip, placement: str | None = None) -> str:
    """Report row: the class, split by placement for the corpora sent in several places."""
    cls = case_or_skip.cls
    placement = placement if placement is not None else getattr(case_or_skip, "placement", None)
    if cls.startswith(("libinjection/", "blns")) and placement:
        return f"{cls} [{placement}]"
    if cls.startswith("crs/") and case_or_skip.benign:
        return f"{cls} (no-trigger cases)"
    return cls


GROUPS = [
    ("GoTestWAF owasp", lambda r, b: not b and r.startswith("gotestwaf/owasp/")),
    ("GoTestWAF owasp-api", lambda r, b: not b and r.startswith("gotestwaf/owasp-api/")),
    ("GoTestWAF community", lambda r, b: not b and r.startswith("gotestwaf/community/")),
    ("libinjection", lambda r, b: not b and r.startswith("libinjection/")),
    ("CRS regression tests (attacks)", lambda r, b: not b and r.startswith("crs/")),
    ("Benign: GoTestWAF false-pos, libinjection false positives, blns", lambda r, b: b and not r.startswith(("crs/", "blns/injection"))),
    ("blns strings from its injection sections (attacks by design: blocking them is expected, not counted above)",
     lambda r, b: r.startswith("blns/injection")),
    ("Benign: CRS no-trigger cases (false-positive candidates)", lambda r, b: b and r.startswith("crs/")),
]


def pct(a: int, n: int) -> str:
    return f"{a}/{n} ({100.0 * a / n:.1f}%)" if n else "-"


def aggregate(cases, outcomes: dict) -> dict:
    """outcomes: target -> list of rawhttp.Result (one per case, same order) or None."""
    out = {}
    for target, results in outcomes.items():
        if results is None:
            continue
        rows = collections.OrderedDict()
        blocked_status = {"attack": collections.Counter(), "benign": collections.Counter()}
        all_status = collections.Counter()
        for case, res in zip(cases, results):
            row = rows.setdefault(row_of(case), {"benign": case.benign, "total": 0, "blocked": 0,
                                                 "status": collections.Counter()})
            row["total"] += 1
            label = res.label()
            row["status"][label] += 1
            all_status[label] += 1
            if not res.upstream:
                row["blocked"] += 1
                blocked_status["benign" if case.benign else "attack"][label] += 1
        out[target] = {
            "rows": {k: dict(v, status=dict(v["status"])) for k, v in rows.items()},
            "blocked_status": {k: dict(v) for k, v in blocked_status.items()},
            "status": dict(all_status),
        }
    return out


def _ordered_rows(agg: dict):
    rows = {}
    for t in agg.values():
        for name, r in t["rows"].items():
            rows[name] = r["benign"]
    grouped = []
    for title, pred in GROUPS:
        names = sorted(n for n, b in rows.items() if pred(n, b))
        if names:
            grouped.append((title, names))
    return grouped


def markdown(agg: dict, targets: list[str], meta: dict, skips_by_row: dict) -> str:
    ts = [t for t in targets if t in agg]
    lines = []
    lines.append("# Injection detection scores")
    lines.append("")
    lines.append(f"Run {meta['started']}; {meta['cases']} requests per target; "
                 f"limit {meta['limit'] or 'none'}; only {meta['only'] or 'all'}.")
    for t in targets:
        info = meta["targets"].get(t, {})
        if t in agg:
            lines.append(f"- {t}: {info.get('seconds', 0):.1f} s ({info.get('describe', '')})")
        else:
            lines.append(f"- {t}: NOT RUN ({info.get('error', 'skipped')})")
    lines.append(f"- total wall time {meta.get('wall_seconds', 0):.1f} s")
    if meta.get("versions"):
        lines.append("- CRS stack: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    if meta.get("corpora"):
        lines.append("- corpora: " + "; ".join(f"{k} {v.replace('Commit: ', '')[:12]}"
                                                for k, v in meta["corpora"].items()))
    lines.append("")
    lines.append("Attack rows: blocked/total (recall). Benign rows: false positives/total. "
                 "Blocked = the response lacks `X-Upstream: 1` (never reached the upstream), any status.")
    lines.append("")
    header = "| class | " + " | ".join(ts) + " |"
    sep = "|---|" + "---|" * len(ts)
    for title, names in _ordered_rows(agg):
        lines.append(f"### {title}")
        lines.append("")
        lines.append(header)
        lines.append(sep)
        tot = {t: [0, 0] for t in ts}
        for name in names:
            cells = []
            for t in ts:
                r = agg[t]["rows"].get(name)
                if r:
                    cells.append(pct(r["blocked"], r["total"]))
                    tot[t][0] += r["blocked"]
                    tot[t][1] += r["total"]
                else:
                    cells.append("-")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if len(names) > 1:
            lines.append("| **all** | " + " | ".join(f"**{pct(*tot[t])}**" for t in ts) + " |")
        lines.append("")
    lines.append("### Responses that did not reach the upstream, by status")
    lines.append("")
    lines.append("| target | attacks | benign |")
    lines.append("|---|---|---|")
    for t in ts:
        bs = agg[t]["blocked_status"]
        fmt = lambda c: ", ".join(f"{k}: {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])) or "-"  # noqa: E731
        lines.append(f"| {t} | {fmt(bs['attack'])} | {fmt(bs['benign'])} |")
    lines.append("")
    if skips_by_row:
        lines.append("### Not sent (skipped when building requests; same for every target)")
        lines.append("")
        lines.append("| class | skipped | reasons |")
        lines.append("|---|---|---|")
        for row in sorted(skips_by_row):
            reasons = skips_by_row[row]
            lines.append(f"| {row} | {sum(reasons.values())} | "
                         + "; ".join(f"{r} ({n})" for r, n in sorted(reasons.items())) + " |")
        lines.append("")
    return "\n".join(lines)


def write_lists(out_dir: str, target: str, cases, results):
    missed = os.path.join(out_dir, f"{target}-missed.txt")
    fps = os.path.join(out_dir, f"{target}-fp.txt")
    with open(missed, "w", encoding="utf-8") as m, open(fps, "w", encoding="utf-8") as f:
        m.write(f"# {target}: attacks that reached the upstream\n# row\tplacement\tstatus\trequest\n")
        f.write(f"# {target}: benign requests that did not reach the upstream\n# row\tplacement\tstatus\trequest\n")
        for case, res in zip(cases, results):
            if case.benign and not res.upstream:
                f.write(f"{row_of(case)}\t{case.placement}\t{res.label()}\t{case.desc}\n")
            elif not case.benign and res.upstream:
                m.write(f"{row_of(case)}\t{case.placement}\t{res.label()}\t{case.desc}\n")


def write_json(path: str, meta: dict, agg: dict, cases, outcomes: dict, skips):
    doc = {
        "meta": meta,
        "targets": agg,
        "skipped": [{"row": row_of(s), "ident": s.ident, "reason": s.reason, "benign": s.benign}
                    for s in skips],
        # Per case: its row, id and placement; per target one character per case:
        # 'B' blocked, '.' reached the upstream.
        "cases": [{"row": row_of(c), "ident": c.ident, "placement": c.placement, "benign": c.benign}
                  for c in cases],
        "outcomes": {t: "".join("." if r.upstream else "B" for r in res)
                     for t, res in outcomes.items() if res is not None},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
