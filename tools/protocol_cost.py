#!/usr/bin/env python3
"""What a tools/results.sh protocol has cost so far, from the run directory it fills, as JSON for
the report (tools/results_report.py shows it at the top of the page).

  python3 tools/protocol_cost.py RUN_DIR THREADS [METRICS_DIR/cost.json]   (default: stdout)
  python3 tools/protocol_cost.py --carry OLD_COST_JSON RUN_DIR THREADS METRICS_DIR/cost.json

RUN_DIR is results.sh's $W/runs; THREADS the PoCL threads each of its parallel jobs had
(POCL_MAX_PTHREAD_COUNT: cores / JOBS, 1 on the 2-core VMs with JOBS=2), so that wall seconds become
core seconds. Training: the sum of the per-step seconds in each run's log.jsonl, each step capped at
five times the run's median (a run paused with SIGSTOP, or its first steps compiling kernels, would
otherwise count the pause); a resumed run's steps are counted once. Sampling: the "sampled N images
... in T s" lines `cldiff sample` leaves in each run's .train.txt. FID: the "seconds" of each
evaluation's JSON in the metrics directory next to RUN_DIR. The file is replaced in one rename
(two parallel jobs may write it at once). On a GPU the figures are that device's hours, not cores'.

A protocol that outlives its machine (a later session gets a fresh one, RUN_DIR's logs are gone,
the metrics are restored from git) keeps what it spent: `--carry` moves an earlier cost.json's
training and sampling core-seconds into "earlier", which every later write of the same file keeps
and adds to the totals; a training shorter than the longest of that file was cut off with its
machine, so its seconds count but it is counted under "cut_off", not "trainings". FID seconds are not carried: they are read from the restored metrics.
Standard library only.
"""
import glob
import json
import os
import re
import statistics
import sys
import tempfile


def training_seconds(log):
    """(steps, capped seconds, median step seconds) of one run's log.jsonl"""
    per_step = {}
    with open(log) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:  # the line being written
                continue
            if "seconds" in r:
                per_step[r["step"]] = r["seconds"]  # a resumed run rewrites its steps: the last write counts
    if not per_step:
        return 0, 0.0, 0.0
    med = statistics.median(per_step.values())
    return len(per_step), sum(min(s, 5 * med) for s in per_step.values()), med


def earlier_work(carry, dest):
    """the "earlier" record: from --carry's file (its own earlier plus its logs' work), else the one
    the destination file already holds"""
    src = carry or dest
    if not src or not os.path.exists(src):
        return {"training_s": 0.0, "trainings": 0, "sampling_s": 0.0, "sampling_runs": 0}
    old = json.load(open(src))
    e = dict(old.get("earlier", {"training_s": 0.0, "trainings": 0, "sampling_s": 0.0, "sampling_runs": 0}))
    if carry:
        e["training_s"] = round(e["training_s"] + sum(t["seconds"] for t in old["trainings"].values()), 1)
        # a training its machine cut off is time spent but no training: it starts again from step 0
        full = max((t["steps"] for t in old["trainings"].values()), default=0)
        done = sum(1 for t in old["trainings"].values() if t["steps"] == full)
        e["trainings"] += done
        e["cut_off"] = e.get("cut_off", 0) + len(old["trainings"]) - done
        e["sampling_s"] = old["sampling_s"]  # its totals include its own earlier
        e["sampling_runs"] = old["sampling_runs"]
    return e


def main():
    args = sys.argv[1:]
    carry = None
    if args and args[0] == "--carry":
        carry, args = args[1], args[2:]
    runs, threads = args[0], int(args[1])
    dest = args[2] if len(args) > 2 else None
    metrics = os.path.join(os.path.dirname(os.path.normpath(runs)), "metrics")
    earlier = earlier_work(carry, dest)
    out = {"threads_per_job": threads, "trainings": {}, "sampling_s": 0.0, "sampling_runs": 0, "fid_s": 0.0,
           "earlier": earlier}
    for log in sorted(glob.glob(os.path.join(runs, "*", "*", "s*", "log.jsonl"))):
        part, cfg, seed = log.split(os.sep)[-4:-1]
        steps, secs, med = training_seconds(log)
        out["trainings"][f"{part}.{cfg}.{seed}"] = {"steps": steps, "seconds": round(secs, 1), "median_step_s": round(med, 4)}
    pat = re.compile(r"sampled \d+ images with \S+, \d+ steps in ([0-9.]+) s")
    for txt in glob.glob(os.path.join(runs, "*", "*", "s*.train.txt")):
        with open(txt, errors="replace") as f:
            for m in pat.finditer(f.read()):
                out["sampling_s"] += float(m.group(1))
                out["sampling_runs"] += 1
    for js in glob.glob(os.path.join(metrics, "*.json")):
        try:
            out["fid_s"] += float(json.load(open(js)).get("seconds", 0.0))
        except (ValueError, AttributeError):
            continue
    train_s = sum(t["seconds"] for t in out["trainings"].values()) + earlier["training_s"]
    out["sampling_s"] += earlier["sampling_s"]
    out["sampling_runs"] += earlier["sampling_runs"]
    out["core_hours"] = {k: round(v * threads / 3600.0, 2) for k, v in
                         {"training": train_s, "sampling": out["sampling_s"], "fid": out["fid_s"],
                          "total": train_s + out["sampling_s"] + out["fid_s"]}.items()}
    out["sampling_s"] = round(out["sampling_s"], 1)
    out["fid_s"] = round(out["fid_s"], 1)
    text = json.dumps(out, indent=1) + "\n"
    if dest:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(dest)), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, dest)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
