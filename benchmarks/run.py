#!/usr/bin/python3
"""run.py - tric's benchmarks (make bench). Every figure is a ratio against a baseline run
side by side in the same process or the same script, never an absolute target.

  gelu: the GELU tanh chain on 16M floats, one thread, against a plain copy loop moving the
        same bytes (goal: at least 0.90), and for scale C with libm tanhf and NumPy.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit("benchmark step failed: %s\n%s%s" % (" ".join(argv), r.stdout, r.stderr))
    return r.stdout


def bench_gelu(tric):
    d = tempfile.mkdtemp(prefix="tric-bench-")
    sh([tric, "build", os.path.join(HERE, "gelu.tri"), "-o", os.path.join(d, "gelu.o")])
    exe = os.path.join(d, "gelu_bench")
    sh(["cc", "-O3", "-march=native", "-fno-tree-loop-distribute-patterns", "-I", d, os.path.join(HERE, "gelu_bench.c"),
        os.path.join(d, "gelu.o"), "-lm", "-o", exe])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = sh(["taskset", "-c", "0", exe], env=env)
    rate = {l.split()[0]: float(l.split()[3]) for l in out.splitlines()}
    # NumPy, same data, same machine, right after
    x = ((np.arange(16 << 20) % 2001) - 1000).astype(np.float32) / np.float32(250)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        y = np.float32(0.5) * x * (np.float32(1) + np.tanh(np.float32(0.7978845608) * (x + np.float32(0.044715) * x * x * x)))
        times.append(time.perf_counter() - t0)
    numpy_rate = 2 * x.nbytes / sorted(times)[2] / 1e9
    print("gelu, 16M f32, 1 thread (GB/s of bytes read + written):")
    print("  copy loop (baseline)   %6.2f" % rate["copy"])
    print("  tric                   %6.2f   ratio to copy %.2f   (goal >= 0.90)" % (rate["tric"], rate["tric"] / rate["copy"]))
    print("  C + libm tanhf         %6.2f   ratio to copy %.2f" % (rate["libm"], rate["libm"] / rate["copy"]))
    print("  NumPy                  %6.2f   ratio to copy %.2f" % (numpy_rate, numpy_rate / rate["copy"]))
    del y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tric", required=True)
    args = ap.parse_args()
    bench_gelu(os.path.abspath(args.tric))


if __name__ == "__main__":
    main()
