#!/usr/bin/env python3
"""Same-machine reference figures for the README: OpenBLAS SGEMM through numpy (2 threads) at
the shapes `cldiff bench gemm` uses, and a memory triad. Run: python3 tools/bench_reference.py
(needs numpy from PyPI; set OPENBLAS_NUM_THREADS to match the OpenCL device's cores)."""
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np  # noqa: E402

SHAPES = [  # m, n, k, batch, trans_a, trans_b (as cldiff's default list)
    (64, 25088, 576, 1, 0, 0), (128, 6272, 1152, 1, 0, 0), (256, 1024, 2304, 1, 0, 0),
    (64, 576, 25088, 1, 0, 1), (128, 1152, 6272, 1, 0, 1), (256, 2304, 1024, 1, 0, 1),
    (576, 25088, 64, 1, 1, 0), (1152, 6272, 128, 1, 1, 0), (2304, 1024, 256, 1, 1, 0),
    (196, 196, 64, 32, 0, 1), (196, 64, 196, 32, 0, 0),
]


def best_time(fn, reps=7):
    """fastest repetition, as cldiff's gflops_best"""
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main():
    rng = np.random.default_rng(0)
    for m, n, k, b, ta, tb in SHAPES:
        a = rng.random((b, k, m) if ta else (b, m, k), dtype=np.float32)
        bb = rng.random((b, n, k) if tb else (b, k, n), dtype=np.float32)
        opa = a.transpose(0, 2, 1) if ta else a
        opb = bb.transpose(0, 2, 1) if tb else bb
        f = (lambda: opa[0] @ opb[0]) if b == 1 else (lambda: np.matmul(opa, opb))
        t = best_time(f)
        print(f'{{"m":{m},"n":{n},"k":{k},"batch":{b},"trans_a":{bool(ta)},"trans_b":{bool(tb)},'
              f'"provider":"openblas-numpy","gflops":{2.0 * m * n * k * b / t * 1e-9:.1f}}}'.lower())
    n = 16758784
    x, y = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    out = np.empty_like(x)
    t = best_time(lambda: np.add(x, y, out=out))
    print(f'{{"op":"numpy_add_1thread","gbps":{12.0 * n / t * 1e-9:.1f}}}')


if __name__ == "__main__":
    main()
