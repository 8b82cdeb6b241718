#!/usr/bin/env python3
"""Thins a cldiff training log (log.jsonl, one line per step) to one line per window of N steps:
{"step": the window's last step, "loss": the mean loss over the window, "elapsed": its last
elapsed time, "steps": N}. The last line always closes a window, so the final step survives.
Used for the loss curves kept in docs/results/metrics (the report plots curves, not steps).
   tools/thin_log.py IN.jsonl OUT.jsonl [N=20]"""
import json, sys
src, dst = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 20
rows = []
with open(src) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        if "loss" in r and "step" in r:
            rows.append(r)
out = []
for i in range(0, len(rows), n):
    w = rows[i:i + n]
    o = {"step": w[-1]["step"], "loss": float(f"{sum(r['loss'] for r in w) / len(w):.6g}"), "steps": len(w)}
    if "elapsed" in w[-1]:
        o["elapsed"] = w[-1]["elapsed"]
    out.append(o)
with open(dst + ".tmp", "w") as f:
    for o in out:
        f.write(json.dumps(o, separators=(",", ":")) + "\n")
import os
os.replace(dst + ".tmp", dst)
