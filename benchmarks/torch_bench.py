#!/usr/bin/python3
"""torch_bench.py - the PyTorch baselines of the kernels section (benchmarks/run.py), on the
data kernels_bench.c gives tric: the same formulas (fill below and in the C driver), the same
shapes, in a process of its own so that run.py can pin it (taskset) and set its environment
(OpenBLAS's core) as it does the C driver's.

  torch_bench.py THREADS REPS TASK...   TASK: softmax:R:C  layernorm:R:C  mlp:T:D:F[:DUMP]

Prints lines in kernels_bench's format: `time FIGURE torch S S ...` (every repetition's
seconds, after one warm-up call) and, for an mlp task given DUMP (tric's result as raw
float32, written by kernels_bench), `check FIGURE ERR TOL`: tric's result against PyTorch's.
"""
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def fill(n, seed, scale):
    """kernels_bench.c's fill(): element i of tensor `seed`, in float32 as C computes it."""
    i = np.arange(n, dtype=np.int64)
    v = ((i * 7 + seed * 131) % 2001 - 1000).astype(np.float32)
    return torch.from_numpy(v / np.float32(1000) * np.float32(scale))


def timed(fn, reps):
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main():
    threads, reps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    print("torch %s threads %d" % (torch.__version__, torch.get_num_threads()))
    with torch.no_grad():
        for task in sys.argv[3:]:
            kind, *args = task.split(":")
            if kind in ("softmax", "layernorm"):
                r, c = int(args[0]), int(args[1])
                x = fill(r * c, 3, 4.0).reshape(r, c)
                fn = (lambda: torch.softmax(x, dim=-1)) if kind == "softmax" else (lambda: F.layer_norm(x, (c,), eps=1e-5))
                print("time %s.%dx%d torch %s" % (kind, r, c, " ".join("%.6g" % t for t in timed(fn, reps))))
            elif kind == "mlp":
                t, d, f = int(args[0]), int(args[1]), int(args[2])
                x = fill(t * d, 4, 1.0).reshape(t, d)
                w1 = fill(d * f, 5, np.float32(1) / np.sqrt(np.float32(d))).reshape(d, f)
                b1 = fill(f, 6, 0.1)
                w2 = fill(f * d, 7, np.float32(1) / np.sqrt(np.float32(f))).reshape(f, d)
                b2 = fill(d, 8, 0.1)

                def block():
                    return F.layer_norm(x + F.gelu(x @ w1 + b1, approximate="tanh") @ w2 + b2, (d,), eps=1e-5)
                fig = "mlp.T%d.D%d.F%d" % (t, d, f)
                print("time %s torch %s" % (fig, " ".join("%.6g" % s for s in timed(block, reps))))
                if len(args) > 3:
                    got = np.fromfile(args[3], dtype=np.float32).reshape(t, d)
                    want = block().numpy()
                    err = float(np.max(np.abs(got.astype(np.float64) - want)) / np.max(np.abs(want)))
                    if np.isnan(got).any():
                        err = float("inf")
                    print("check %s.torch %.3g %.3g" % (fig, err, 1e-4))
            else:
                sys.exit("torch_bench: unknown task %r" % task)


if __name__ == "__main__":
    main()
