#!/usr/bin/env python3
"""A results page (docs/RESULTS.md, docs/RESULTS_first.md) from the metrics directory that `tools/results.sh run` fills (standard library
only; the plots are drawn by `cldiff plot`).

  python3 tools/results_report.py METRICS_DIR OUT.md IMAGE_DIR CLDIFF_BINARY
"""
import csv
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

M, OUT_MD, IMG, B = sys.argv[1:5]
ALL_CONFIGS = ["baseline", "ip", "debias", "stf", "ep", "all", "ip+stf+ep", "ip05", "debias+stf+ep"]
NAMES = {"baseline": "baseline", "ip": "IP", "debias": "debias", "stf": "STF", "ep": "EP", "all": "all four",
         "ip+stf+ep": "IP+STF+EP", "ip05": "IP 0.05", "debias+stf+ep": "debias+STF+EP"}
FOLLOW_UPS = {"ip+stf+ep": "all but debias", "ip05": "`--ip-gamma 0.05`", "debias+stf+ep": "all but IP"}
TOYS = ["8gaussians", "25gaussians", "moons", "swissroll", "checkerboard"]
SAMPLERS = ["ddim10", "ddim20", "ddim50", "ddim100", "fpndm10", "dpm10"]
SAMPLER_NAMES = {"ddim10": "DDIM 10", "ddim20": "DDIM 20", "ddim50": "DDIM 50", "ddim100": "DDIM 100",
                 "fpndm10": "F-PNDM 10", "dpm10": "DPM-Solver-2 10",
                 "ddim10-clip": "DDIM 10, x0 clipped", "ddim50-clip": "DDIM 50, x0 clipped", "ddpm50": "DDPM 50", "ddpm100": "DDPM 100"}

setup = json.load(open(os.path.join(M, "setup.json"))) if os.path.exists(os.path.join(M, "setup.json")) else None
fm_setup_path = os.path.join(M, "setup.fmnist.json")
fm_setup = json.load(open(fm_setup_path)) if os.path.exists(fm_setup_path) else setup
setup = setup or fm_setup
# the Fashion-MNIST seed that draws the curves and grids and keeps its images (results.sh SEED0)
FM_SEED0 = int(fm_setup.get("seed0", str(fm_setup["seeds"]).split()[0])) if fm_setup else 0
rows = []
for f in sorted(glob.glob(os.path.join(M, "*.json"))):
    b = os.path.basename(f)
    if b.startswith(("toy.", "fm.")):
        try:
            rows.append(json.load(open(f)))
        except ValueError:  # an evaluation being written, or cut off: not a result
            print(f"results_report: skipping {f} (not complete JSON)", file=sys.stderr)
# the columns added since the first protocol, where results.sh ran them (DDPM 50/100, FM_CLIP)
SAMPLERS += ["ddpm50", "ddpm100", "ddim10-clip", "ddim50-clip"]
# a protocol that ran only some samplers (results.sh FM_ONLY) gets only their columns
SAMPLERS = [s for s in SAMPLERS if any(r.get("sampler") == s and r["part"] == "fmnist" for r in rows)]
CONFIGS = [c for c in ALL_CONFIGS if any(r["config"] == c for r in rows)]
TOY_CONFIGS = [c for c in CONFIGS if any(r["config"] == c and r["part"] == "toy" for r in rows)]  # toy tables' columns
os.makedirs(IMG, exist_ok=True)
# reporting from the committed copy (METRICS_DIR = IMAGE_DIR/metrics) rewrites the page from what
# is there and removes nothing
IN_PLACE = os.path.realpath(M) == os.path.realpath(os.path.join(IMG, "metrics"))
# what an earlier report wrote and this one may not (a configuration no longer in the metrics)
for f in [] if IN_PLACE else glob.glob(os.path.join(IMG, "fm_grid.*.png")) + glob.glob(os.path.join(IMG, "metrics", "*")):
    os.remove(f)
rel = os.path.relpath(IMG, os.path.dirname(OUT_MD))


def values(part, metric, **sel):
    out = []
    for r in rows:
        if r["part"] != part or any(r.get(k) != v for k, v in sel.items()):
            continue
        if metric in r and r[metric] is not None:
            out.append(float(r[metric]))
    return out


def fmt(v, scale=1.0, digits=3):
    if not v:
        return "–"
    v = [x * scale for x in v]
    m = statistics.mean(v)
    if len(v) == 1:
        return f"{m:.{digits}f} (1 seed)"
    return f"{m:.{digits}f} ± {statistics.stdev(v):.{digits}f}"


def mean(v):
    return statistics.mean(v) if v else None


def table(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def best_marks(cells_vals, lower_better=True):
    """bold the best mean of a row"""
    ms = [mean(v) for v in cells_vals]
    ok = [m for m in ms if m is not None]
    if not ok:
        return [False] * len(ms)
    b = min(ok) if lower_better else max(ok)
    return [m is not None and m == b for m in ms]


def row_cells(vals, scale=1.0, digits=3, lower_better=True):
    marks = best_marks(vals, lower_better)
    return [("**" + fmt(v, scale, digits) + "**") if mk else fmt(v, scale, digits) for v, mk in zip(vals, marks)]


def plot(args, out):
    try:
        subprocess.run([B, "plot", *args, "--out", out], check=True, capture_output=True, text=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"results_report: cldiff plot failed for {out}: {getattr(e, 'stderr', e)}", file=sys.stderr)
        return False


def image(name):
    """copies the run's image NAME into the image directory; whether the page can show it (a report
    from the committed metrics shows the committed image)"""
    src, dst = os.path.join(M, name), os.path.join(IMG, name)
    if os.path.exists(src):
        shutil.copy(src, dst)
        return True
    return IN_PLACE and os.path.exists(dst)


PARTS_PREFIX = os.path.splitext(os.path.basename(OUT_MD))[0].lower() + "_"  # RESULTS.md: results_*.md


def include(name):
    """a hand-written part of the page, kept beside it (docs/NAME with the page's own prefix:
    results_preface.md for RESULTS.md, results_first_preface.md for RESULTS_first.md), if there is one"""
    p = os.path.join(os.path.dirname(OUT_MD), PARTS_PREFIX + name)
    if os.path.exists(p):
        md.append(open(p).read().rstrip("\n") + "\n")


def ts_reading(coeffs):
    """how the "+ts" rows read Time-Shift (setups written before results.sh recorded it: shifted)"""
    if coeffs == "shifted":
        return (" read as `--ts-coeffs shifted` (cldiff's default reading until 2026-12-03; the default is now "
                "`released`, the sweep's \"target\" rows on DDIM/PNDM, and `tools/results.sh` passes "
                "`TS_COEFFS=shifted` so that these rows keep their meaning)")
    return f" read as `--ts-coeffs {coeffs}`"


md = []
md.append("# cldiff results: the five methods against the baseline\n")
has_studies = os.path.exists(os.path.join(os.path.dirname(OUT_MD), PARTS_PREFIX + "studies.md"))
md.append("Generated by `tools/results.sh` (train, sample, evaluate) and `tools/results_report.py` (this "
          f"page); do not edit by hand — the discussion at the end comes from `docs/{PARTS_PREFIX}discussion.md`"
          + (f", the studies run by their own scripts from `docs/{PARTS_PREFIX}studies.md`" if has_studies else "") + ".\n")
has_toy = any(r["part"] == "toy" for r in rows)
has_fm = any(r["part"] == "fmnist" for r in rows)
if has_toy:
    md.append(f"- Toys: run on **{setup.get('device', '?')}**, {setup.get('date', '?')}; seeds `{setup['seeds']}`; "
              f"`toy-mlp`, {setup['toy_steps']} steps at batch {setup['toy_batch']}, lr 1e-3, EMA weights, "
              "DDIM 50 steps, 5000 samples per run, `cldiff eval toy`. Every configuration trains and samples "
              "with the same seeds, data and step count.")
if has_fm:
    f = fm_setup
    ref = f"the first {f['fid_ref_n']}" if f.get("fid_ref_n") else "the 10000"
    fm_seeds = " ".join(str(x) for x in sorted({r["seed"] for r in rows if r["part"] == "fmnist"}))
    fm_devices = " and ".join(f.get("devices") or [f.get("device", "?")])
    md.append(f"- Fashion-MNIST: run on **{fm_devices}**, {f.get('date', '?')}; seeds with results `{fm_seeds}` "
              "(per configuration in the Fashion-MNIST section); "
              f"`{f['fm_model']}`, {f['fm_steps']} steps at batch {f['fm_batch']}, lr {f.get('fm_lr', '2e-4')} after "
              f"{f.get('fm_warmup', 100)} warm-up steps, EMA weights, {f['fm_n']} "
              f"samples per evaluation against {ref} test images, `cldiff eval fid` (classifier features).")
    if f.get("note"):
        md.append(f"- {f['note']}")
ep = f"`--ep-lambda 1 --ep-k {setup['ep_k']}`"
if fm_setup and fm_setup["ep_k"] != setup["ep_k"]:
    ep += f" (toys), `--ep-k {fm_setup['ep_k']}` (Fashion-MNIST)"
md.append(f"- Methods: IP `--ip-gamma 0.1`; debias `--weighting debias`; STF `--stf-ref` 4 x batch; EP "
          f"{ep}; \"all four\" = all of them in one run."
          + (f" Time-Shift: `{(fm_setup or setup)['ts']}` (TS-DPM's CIFAR-10 example)"
             + ts_reading((fm_setup or setup).get("ts_coeffs", "shifted")) + ", and the data-aware variant `--ts-data-aware`."
             if any("+ts" in str(r.get("sampler", "")) for r in rows) else "")  # a protocol with Time-Shift rows
          + "".join(f" \"{NAMES[c]}\" ({what}) is a follow-up configuration." for c, what in FOLLOW_UPS.items() if c in CONFIGS))
if has_toy and setup.get("note"):
    md.append(f"- {setup['note']}")
cost_path = os.path.join(M, "cost.json")  # tools/protocol_cost.py, where the protocol recorded it
if os.path.exists(cost_path):
    cost = json.load(open(cost_path))
    ch = cost["core_hours"]
    on = "the machines above" if fm_setup and len(fm_setup.get("devices") or []) > 1 else "the machine above"
    # finished trainings (the protocol's full step count) apart from those running or cut off with a machine
    full = max((t["steps"] for t in cost["trainings"].values()), default=0)
    finished = sum(1 for t in cost["trainings"].values() if t["steps"] == full)
    earlier = cost.get("earlier", {})
    done = finished + earlier.get("trainings", 0)
    short = len(cost["trainings"]) - finished + earlier.get("cut_off", 0)
    md.append(f"- Cost so far on {on}: **{ch['total']:.1f} core-hours** (training {ch['training']:.1f} over "
              f"{done} finished runs" + (f" and {short} unfinished or cut off" if short else "") + f", sampling {ch['sampling']:.1f} over {cost['sampling_runs']} runs, FID "
              f"{ch['fid']:.2f}; {cost['threads_per_job']} PoCL thread(s) per job; `tools/protocol_cost.py`).")
md.append("")
include("preface.md")  # what a reader must know before the tables

# ---------------------------------------------------------------- toys
if any(r["part"] == "toy" for r in rows):
    md.append("## 2-D toys\n")
    for key, digits, text in [("sw2", 4, "Sliced Wasserstein-2 distance to fresh target samples (lower is better; "
                                          "mean ± std over seeds; the best mean of each row in bold):"),
                              ("mmd", 5, "RBF MMD² (median bandwidth, lower is better):")]:
        md.append(text + "\n")
        body = []
        for toy in TOYS:
            vals = [values("toy", key, toy=toy, config=c) for c in TOY_CONFIGS]
            if any(vals):
                body.append([toy] + row_cells(vals, 1.0, digits))
        md.append(table(["toy"] + [NAMES[c] for c in TOY_CONFIGS], body) + "\n")
    body = []
    for toy, key, lower, label in [("8gaussians", "nll", True, "NLL under the true density (lower is better)"),
                                   ("25gaussians", "nll", True, "NLL under the true density (lower is better)"),
                                   ("checkerboard", "support", False, "fraction of samples on the board's "
                                                                      "support (higher is better)")]:
        vals = [values("toy", key, toy=toy, config=c) for c in TOY_CONFIGS]
        if any(vals):
            body.append([f"{toy}: {label}"] + row_cells(vals, 1.0, 3, lower))
    if body:
        md.append(table(["toy, metric"] + [NAMES[c] for c in TOY_CONFIGS], body) + "\n")
    # scatter plots of the first seed
    body = []
    for toy in TOYS:
        cells = []
        for c in TOY_CONFIGS:
            if image(f"toy_{toy}.{c}.png"):
                cells.append(f"![{toy} {c}]({rel}/toy_{toy}.{c}.png)")
            else:
                cells.append("–")
        if any(x != "–" for x in cells):
            body.append([toy] + cells)
    if body:
        md.append("Samples of the first seed (5000 points on [-4, 4]²):\n")
        md.append(table(["toy"] + [NAMES[c] for c in TOY_CONFIGS], body) + "\n")

# ---------------------------------------------------------------- Fashion-MNIST
fm = [r for r in rows if r["part"] == "fmnist"]
if fm:
    md.append("## Fashion-MNIST\n")
    cls = os.path.join(M, "classifier.json")
    if os.path.exists(cls):
        try:
            acc = json.load(open(cls)).get("test_accuracy")
            if acc is not None:
                md.append(f"Feature network: test accuracy {100 * float(acc):.2f}%.\n")
        except (ValueError, OSError):
            pass
    refp = os.path.join(M, "fm_reference.json")
    if os.path.exists(refp):
        r = json.load(open(refp))
        md.append(f"The floor at this sample size: {r['n_samples']} real training images against the same "
                  f"{r['n_ref']} test images give FID {r['fid']:.2f}, KID {r['kid']:.2f}, precision "
                  f"{r['precision']:.3f}, recall {r['recall']:.3f}.\n")
    done = []
    for c in CONFIGS:
        seeds = sorted({r["seed"] for r in fm if r["config"] == c})
        if seeds:
            done.append(f"{NAMES[c]} {len(seeds)} ({', '.join(map(str, seeds))})")
    md.append("Training seeds evaluated per configuration: " + "; ".join(done) + ".\n")
    md.append("FID (classifier features; lower is better) by sampler, mean ± std over seeds:\n")
    body = []
    fid_by = {}
    for c in CONFIGS:
        vals = [values("fmnist", "fid", config=c, sampler=s) for s in SAMPLERS]
        fid_by[c] = vals
        if any(vals):
            body.append([NAMES[c]] + [fmt(v, 1.0, 2) for v in vals])
    # bold the best per column, among the configurations with the most seeds (a mean over fewer
    # seeds is over a different set of training seeds, which moves FID far more than a method)
    for j in range(len(SAMPLERS)):
        col = [fid_by[c][j] for c in CONFIGS if any(fid_by[c])]
        most = max(len(v or []) for v in col)
        marks = best_marks([v if len(v or []) == most else [] for v in col])
        for i, mk in enumerate(marks):
            if mk:
                body[i][j + 1] = "**" + body[i][j + 1] + "**"
    md.append(table(["training"] + [SAMPLER_NAMES[s] for s in SAMPLERS], body) + "\n")
    # paired against the baseline of the same seed (same data order, same sampling noise): the seed
    # to seed spread that both share drops out
    body = []
    for c in CONFIGS:
        if c == "baseline":
            continue
        cells = []
        for s in SAMPLERS:
            d = []
            for seed in sorted({r["seed"] for r in fm if r["config"] == c}):
                m, b = values("fmnist", "fid", config=c, sampler=s, seed=seed), values("fmnist", "fid", config="baseline", sampler=s, seed=seed)
                if m and b:
                    d.append(100.0 * (m[0] - b[0]) / b[0])
            if not d:
                cells.append("–")
            elif len(d) == 1:
                cells.append(f"{d[0]:+.1f}% (1 seed)")
            else:
                cells.append(f"{statistics.mean(d):+.1f}% ± {statistics.stdev(d):.1f} ({sum(x < 0 for x in d)}/{len(d)} better)")
        if any(x != "–" for x in cells):
            body.append([NAMES[c]] + cells)
    if body:
        md.append("The same FIDs paired with the baseline of the same training seed (same data order and sampling "
                  "noise): the change in percent, mean ± std over seeds, and on how many seeds the configuration "
                  "beat the baseline:\n")
        md.append(table(["training"] + [SAMPLER_NAMES[s] for s in SAMPLERS], body) + "\n")
    for s in ["ddim10", "ddim50", "fpndm10", "dpm10"]:
        body = []
        for c in CONFIGS:
            v = {k: values("fmnist", k, config=c, sampler=s) for k in ["fid", "kid", "precision", "recall"]}
            if v["fid"]:
                body.append([NAMES[c], fmt(v["fid"], 1, 2), fmt(v["kid"], 1, 2), fmt(v["precision"], 1, 3),
                             fmt(v["recall"], 1, 3)])
        if body:
            md.append(f"{SAMPLER_NAMES[s]}: FID, KID, precision and recall (k = 3)" +
                      ("; KID is on the classifier's features, whose scale makes it large next to "
                       "Inception-feature KIDs" if s == "ddim10" else "") + ":\n")
            md.append(table(["training", "FID", "KID", "precision", "recall"], body) + "\n")
    # FID against sampling steps (DDIM), as a plot
    ddim = [(s, n) for s, n in [("ddim10", 10), ("ddim20", 20), ("ddim50", 50), ("ddim100", 100)] if s in SAMPLERS]
    csvp = os.path.join(M, "fid_ddim.csv")
    with open(csvp, "w", newline="") as f:
        w = csv.writer(f)
        present = [c for c in CONFIGS if any(fid_by.get(c, []))]
        w.writerow(["steps"] + present + [c + "_std" for c in present])
        for s, n in ddim:
            j = SAMPLERS.index(s)  # the column of this sampler among those the protocol ran
            w.writerow([n] + [f"{mean(fid_by[c][j]):.4f}" if fid_by[c][j] else "nan" for c in present]
                       + [f"{statistics.stdev(fid_by[c][j]):.4f}" if len(fid_by[c][j]) > 1 else "nan" for c in present])
    if present and plot(["--csv", csvp, "--x", "steps", "--y", ",".join(present), "--err", ",".join(c + "_std" for c in present),
                         "--title", "FID against DDIM steps (mean, bars: std over seeds)",
                         "--xlabel", "DDIM steps", "--ylabel", "FID", "--logy"], os.path.join(IMG, "fid_ddim.png")):
        md.append(f"![FID against DDIM steps]({rel}/fid_ddim.png)\n")
    # FID over training (first seed): the "NAME@STEP" rows, and the NAME row at the last step
    curve = {}
    for r in rows:
        name = r.get("sampler", "")
        if r["part"] == "fmnist" and "@" in name and name.split("@")[1].isdigit():
            sm, step = name.split("@")
            curve.setdefault((r["config"], sm), {})[int(step)] = r["fid"]
    if curve:
        s0 = FM_SEED0
        args, body, steps = {}, [], set()  # args: the plot's curves, one plot per sampler
        for (c, sm), pts in sorted(curve.items(), key=lambda kv: (CONFIGS.index(kv[0][0]) if kv[0][0] in CONFIGS else 99, kv[0][1])):
            last = values("fmnist", "fid", config=c, sampler=sm, seed=s0)
            if last:
                pts[int(fm_setup["fm_steps"])] = last[0]
            steps |= set(pts)
            p = os.path.join(M, f"fid_train.{c}.{sm}.csv")
            with open(p, "w") as f:
                f.write("step,fid\n" + "".join(f"{k},{v:.4f}\n" for k, v in sorted(pts.items())))
            args.setdefault(sm, []).extend(["--csv", p, "--label", NAMES.get(c, c)])
            body.append((c, sm, pts))
        cols = sorted(steps)
        md.append(f"FID against training steps (seed {s0}; {fm_setup['fm_n']} samples, the same noise at every checkpoint):\n")
        md.append(table(["training", "sampler"] + [str(k) for k in cols],
                        [[NAMES.get(c, c), SAMPLER_NAMES.get(sm, sm)] + [f"{pts[k]:.2f}" if k in pts else "–" for k in cols]
                         for c, sm, pts in body]) + "\n")
        for sm, a in args.items():  # cldiff plot draws up to 8 curves: one plot per sampler
            sname = SAMPLER_NAMES.get(sm, sm)
            if plot(a + ["--x", "step", "--y", "fid", "--title", f"FID against training steps, {sname} (first seed)",
                         "--xlabel", "training step", "--ylabel", "FID", "--logy"], os.path.join(IMG, f"fid_train.{sm}.png")):
                md.append(f"![FID against training steps, {sname}]({rel}/fid_train.{sm}.png)\n")
    # Time-Shift
    ts_rows = []
    for c in ["baseline", "ip"]:
        for s, label in [("ddim10", "DDIM 10"), ("ddim20", "DDIM 20"), ("fpndm10", "F-PNDM 10"), ("dpm10", "DPM-Solver-2 10")]:
            plain = values("fmnist", "fid", config=c, sampler=s)
            ts = values("fmnist", "fid", config=c, sampler=s + "+ts")
            da = values("fmnist", "fid", config=c, sampler=s + "+tsda")
            if ts or da:
                ts_rows.append([NAMES[c], label, fmt(plain, 1, 2), fmt(ts, 1, 2), fmt(da, 1, 2)])
    if ts_rows:
        md.append("### Time-Shift sampler\n")
        md.append(f"FID without and with Time-Shift (`{(fm_setup or setup)['ts']}`; data-aware: `--ts-data-aware`), same models "
                  "and noise seeds:\n")
        md.append(table(["training", "sampler", "plain", "+ TS", "+ TS data-aware"], ts_rows) + "\n")
    # Time-Shift settings tried on the first seed's baseline (PARTS=ts-sweep)
    main = (fm_setup or setup)["ts"].split()
    main_key = f"w{main[1]}c{main[3]}"
    def window_cutoff(key):  # "w20c300" -> (20, 300)
        w, c = key[1:].split("c")
        return int(w), int(c)
    sweep = sorted({r["sampler"].split("@", 1)[1] for r in fm if "@w" in r["sampler"]} | {main_key}, key=window_cutoff)
    if len(sweep) > 1:
        s0 = FM_SEED0
        cols = [("ddim10", "+ts"), ("ddim10", "+tsda"), ("ddim10", "+tsnom"), ("ddim10", "+tstgt"),
                ("fpndm10", "+ts"), ("fpndm10", "+tsda"), ("fpndm10", "+tstgt"), ("ddim10r", "+tstgt"), ("fpndm10r", "+tstgt")]

        def one(*names):
            for name in names:
                v = values("fmnist", "fid", config="baseline", seed=s0, sampler=name)
                if v:
                    return f"{v[0]:.2f}"
            return "–"
        body = [["no Time-Shift"] + [one(sm) for sm, _ in cols]]
        for k in sweep:
            w, c = window_cutoff(k)
            label = f"window {w}, cutoff {c}" + (" (the setting above)" if k == main_key else "")
            body.append([label] + [one(f"{sm}{v}@{k}", *([sm + v] if k == main_key else [])) for sm, v in cols])
        md.append("Time-Shift settings on the baseline model (first seed, FID; the same noise for every row; "
                  "\"nominal\": `--ts-coeffs nominal`, the network at t_s and the step's coefficients at t; "
                  "\"target\": `--ts-coeffs target`, the released DDIM/PNDM code's reading, the network at t and the "
                  "step ending at the time matched around the next grid time; \"released grid\": the same on the released "
                  "code's own grid, `--respacing tsdpm10`, 9 steps from 801 ending at abar_0, F-PNDM 18 evaluations):\n")
        md.append(table(["setting", "DDIM 10 + TS", "DDIM 10 + TS data-aware", "DDIM 10 + TS nominal", "DDIM 10 + TS target",
                         "F-PNDM 10 + TS", "F-PNDM 10 + TS data-aware", "F-PNDM 10 + TS target",
                         "DDIM 10 released grid + TS target", "F-PNDM 10 released grid + TS target"], body) + "\n")
    # studies run by their own scripts on one model (tools/ts_released.sh ...), so that regenerating
    # this page keeps them
    include("studies.md")
    # exposure bias
    exp = [(os.path.join(M, f"fm_exposure.{n}.csv"), lab) for n, lab in
           [("baseline", "baseline"), ("baseline+ts", "baseline+TS"), ("ip", "IP"), ("ip+ts", "IP+TS")]]
    exp = [(p, lab) for p, lab in exp if os.path.exists(p)]
    if exp:
        md.append("### Exposure bias\n")
        md.append("`cldiff eval exposure` (DDIM 20 steps, 64 images, first seed): at every network evaluation "
                  "the variance of the sampled x_t against forward-process x_t from real images at the same t, "
                  "and the x0-prediction error on both. The gap between the sampled and forward curves is the "
                  "exposure bias that IP and TS address.\n")
        args = []
        for p, lab in exp:
            args += ["--csv", p, "--label", lab]
        # the forward process's variance, drawn once (from the first run's real images), as a
        # temporary CSV whose column has the sampled curves' name so that one --y serves all
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as tf:
            with open(exp[0][0]) as f:
                tf.write("t,var_sampled\n" + "".join(f"{x['t']},{x['var_forward']}\n" for x in csv.DictReader(f)))
        ok = plot(args + ["--csv", tf.name, "--label", "forward process", "--x", "t", "--y", "var_sampled",
                          "--title", "per-image variance of x_t: sampled runs and the forward process",
                          "--xlabel", "t", "--ylabel", "var", "--logy"], os.path.join(IMG, "exposure_var.png"))
        os.remove(tf.name)
        if ok:
            md.append(f"![variance of sampled x_t]({rel}/exposure_var.png)\n")
        if plot(args + ["--x", "t", "--y", "x0err_sampled", "--title", "x0-prediction error on sampled x_t",
                        "--xlabel", "t", "--ylabel", "MSE", "--logy"], os.path.join(IMG, "exposure_x0err.png")):
            md.append(f"![x0 error on sampled x_t]({rel}/exposure_x0err.png)\n")
        # numbers: mean |var_sampled - var_forward| and mean x0err ratio
        body = []
        for p, lab in exp:
            with open(p) as f:
                r = list(csv.DictReader(f))
            gap = statistics.mean(abs(float(x["var_sampled"]) - float(x["var_forward"])) for x in r)
            ratio = statistics.mean(float(x["x0err_sampled"]) / max(float(x["x0err_forward"]), 1e-12) for x in r)
            body.append([lab, f"{gap:.4f}", f"{ratio:.3f}"])
        md.append(table(["run", "mean abs(var sampled - var forward)", "mean x0err sampled / forward"], body) + "\n")
    # loss curves and grids
    logs = [(os.path.join(M, f"fm_log.{c}.s{FM_SEED0}.jsonl"), NAMES[c]) for c in CONFIGS]
    logs = [(p, lab) for p, lab in logs if os.path.exists(p)]
    if logs:
        args = []
        for p, lab in logs:
            args += ["--log", p, "--label", lab]
        if plot(args + ["--smooth", "5", "--logy", "--title", "training loss (first seed; weighted methods "
                                                               "report their weighted loss)"],
                os.path.join(IMG, "fm_loss.png")):
            md.append(f"![training loss]({rel}/fm_loss.png)\n")
    cells = []
    for c in CONFIGS:
        if image(f"fm_grid.{c}.png"):
            cells.append((NAMES[c], f"![{c}]({rel}/fm_grid.{c}.png)"))
    if cells:
        md.append("Samples (DDIM 50 steps, noise seed 0, first training seed; the same noise for every model):\n")
        md.append(table([c[0] for c in cells], [[c[1] for c in cells]]) + "\n")

# the raw numbers behind the tables travel with the report
raw = os.path.join(IMG, "metrics")
os.makedirs(raw, exist_ok=True)
for f in [] if IN_PLACE else glob.glob(os.path.join(M, "*")):
    if f.endswith((".json", ".csv", ".jsonl")):
        shutil.copy(f, raw)
md.append(f"The raw metrics behind these tables (one JSON per evaluation) are in `{rel}/metrics/`.\n")
# the first seed's evaluated images (results.sh FM_KEEP_SAMPLES), for re-scoring with another evaluator
kept = os.path.join(IMG, "samples")
if not IN_PLACE and os.path.isdir(os.path.join(M, "samples")):
    os.makedirs(kept, exist_ok=True)
    for f in glob.glob(os.path.join(M, "samples", "*.npz")):
        shutil.copy(f, kept)
if glob.glob(os.path.join(kept, "*.npz")):
    md.append(f"The images behind the first seed's FIDs are in `{rel}/samples/` (CONFIG.SAMPLER.npz; `images`, uint8 "
              "(N, 1, 28, 28), as cldiff writes PNGs: floor((x + 1) 127.5 + 0.5) clamped to 0..255).\n")

include("discussion.md")
with open(OUT_MD, "w") as f:
    f.write("\n".join(md))
print(f"wrote {OUT_MD} ({len(rows)} evaluations)")
