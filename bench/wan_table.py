#!/usr/bin/env python3
"""Markdown tables from the JSON files bench/wan_matrix.sh writes.

    python3 bench/wan_table.py OUT_DIR

One table per file: each scenario a row, each tool its efficiency against the
ideal and against the payload ceiling (curl alone on each link), then braid's
time to first byte and duplicate bytes, and the lead of braid over the best
of aria2 and axel (points of efficiency).
"""
import glob
import json
import os
import sys


def pct(v):
    return f"{v * 100:.1f}" if v is not None else "-"


def table(path: str) -> str:
    with open(path) as f:
        d = json.load(f)
    env, rows = d["environment"], d["rows"]
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    scen = list(dict.fromkeys(r["scenario"] for r in rows))
    wan = ", ".join(f"{w['rtt_ms']:g} ms" + (f" {w['loss_pct']:g} % loss" if w["loss_pct"] else "")
                    for w in env.get("wan", [])) or "none added"
    calib = env.get("calibration") or []
    faithful = all(c["faithful"] for c in calib) if calib else None
    lines = [f"**{env['size_mib']} MiB, {'/'.join(f'{r:g}' for r in env['rates_mbit'])} Mbit/s, "
             f"round trips {wan}** (curl alone per link: "
             + ", ".join(f"{c['of_payload_ceiling'] * 100:.1f} %" for c in calib)
             + (" of its payload ceiling" if calib else "not calibrated")
             + ("; not all faithful" if faithful is False else "")
             + ")", ""]
    head = "| scenario | " + " | ".join(f"{t} eff / ceil %" for t in tools) + \
        " | braid ttfb ms | braid dup % | braid lead (points) |"
    lines += [head, "|" + "---|" * (len(tools) + 4)]
    for sc in scen:
        cells, best_other, braid = [], None, None
        for t in tools:
            rs = [r for r in rows if r["scenario"] == sc and r["tool"] == t]
            if not rs:
                cells.append("-")
                continue
            r = rs[0]
            if r["intact"] != "intact":
                cells.append(r["intact"])
                continue
            cells.append(f"{pct(r['efficiency'])} / {pct(r.get('ceiling_efficiency'))}")
            if t == "braid":
                braid = r
            elif t.startswith(("aria2", "axel")):
                if best_other is None or r["efficiency"] > best_other:
                    best_other = r["efficiency"]
        ttfb = f"{braid['ttfb_s'] * 1000:.0f}" if braid and braid.get("ttfb_s") is not None else "-"
        dup = f"{braid['duplicate_pct']:.2f}" if braid and braid.get("duplicate_pct") is not None else "-"
        lead = f"{(braid['efficiency'] - best_other) * 100:+.1f}" if braid and best_other is not None else "-"
        lines.append(f"| {sc} | " + " | ".join(cells) + f" | {ttfb} | {dup} | {lead} |")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
        print(table(path))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
