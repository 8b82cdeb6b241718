#!/usr/bin/env python3
"""File-level dependency graph of the built objects (who calls whom, from nm), and its cycles.
   tools/deps_graph.py BUILD_DIR [--edges]
Prints every cycle between files and between folders (src/<folder>, tools/cli); exit 1 if any
cycle exists that is not the dataset-reader registry's. Used to keep item 3 of the layout true."""
import subprocess, sys, os, re, collections
build = sys.argv[1]
objs = [os.path.join(r, f) for r, _, fs in os.walk(build) for f in fs
        if f.endswith('.c.o') and ('cldiff_obj.dir' in r or 'cldiff_cli.dir' in r or 'cldiff.dir' in r)]
defs, undefs = {}, collections.defaultdict(set)
def name(o):
    m = re.search(r'\.dir/(.*)\.o$', o); return m.group(1)
for o in objs:
    out = subprocess.run(['nm', o], capture_output=True, text=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in 'TDBR': defs.setdefault(p[2], name(o))
        elif len(p) == 2 and p[0] == 'U': undefs[name(o)].add(p[1])
edges = collections.defaultdict(set)
for f, us in undefs.items():
    for u in us:
        d = defs.get(u)
        if d and d != f: edges[f].add(d)
def folder(f):
    parts = f.split('/')
    return '/'.join(parts[:2]) if parts[0] in ('src', 'tools') else parts[0]
def sccs(nodes, E):
    idx, low, st, on, res, c = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def go(v):
        idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
        for w in E.get(v, ()):
            if w not in idx: go(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: res.append(sorted(comp))
    for v in nodes:
        if v not in idx: go(v)
    return res
if '--edges' in sys.argv:
    for f in sorted(edges): print(f, '->', ' '.join(sorted(edges[f])))
files = set(edges) | {d for s in edges.values() for d in s}
fe = collections.defaultdict(set)
for f, ds in edges.items():
    for d in ds:
        if folder(f) != folder(d): fe[folder(f)].add(folder(d))
bad = 0
allowed = lambda comp: all(x.startswith('src/io/') for x in comp) and any('dataset' in x for x in comp)
for comp in sccs(sorted(files), edges):
    ok = allowed(comp)
    print(('registry ' if ok else '') + 'file cycle:', ' '.join(comp)); bad += not ok
for comp in sccs(sorted(fe), fe):
    print('folder cycle:', ' '.join(comp)); bad += 1
    for a in comp:
        for b in sorted(fe[a]):
            if b in comp:
                print('   ', a, '->', b, ':', ' '.join(sorted(f'{x}->{y}' for x in edges if folder(x) == a for y in edges[x] if folder(y) == b)))
print('folders:', '; '.join(f'{a} -> {" ".join(sorted(fe[a]))}' for a in sorted(fe)))
sys.exit(1 if bad else 0)
