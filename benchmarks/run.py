#!/usr/bin/python3
"""run.py - tric's benchmarks (make bench). Every figure is a ratio against a baseline run
side by side in the same process or the same script, never an absolute target.

  gelu:  the GELU tanh chain on 16M floats, one thread, against a plain copy loop moving the
         same bytes (goal: at least 0.90), and for scale C with libm tanhf and NumPy.
  cache: a generated 200-module project: the time of a no-change rebuild (everything from
         the cache) against the time of the cold build, and of two edits of m0.tri, which
         most modules import: a comment (same code) and a constant (new kernels).
  build: generated projects of 1, 64 and 1000 modules (cold, no change, one edit; -j2
         against -j1 on 64) and generated models of 8, 50 and 160 layers (cold compile
         at -O2, time per stage and peak RSS from --time-report=json).
  kernels: matmul (64..2048 square, the transformer shapes) against OpenBLAS, softmax and
         layer norm over 4096x4096 against a copy loop and PyTorch, the transformer MLP block
         against PyTorch at 1 and 2 threads, the compile time of a 50-layer model
         (kernels.py; figures also to --json FILE, which compare.py compares).
  conv:  every distinct conv layer of ResNet-18 at batch 1, alone and with its batch-norm
         (and relu) epilogue, against torch.nn.functional.conv2d at 1 thread (conv.py;
         figures to --conv-json FILE, default build/bench-conv.json).
  resnet18: examples/resnet18.tri at batch 1 and 8, 1 and 2 threads, against PyTorch eager
         and TorchScript (trace, freeze, optimize_for_inference) and ONNX Runtime's CPU
         provider (npm's onnxruntime-node) on the same weights, and its compile time
         (resnet18.py; figures also to --resnet18-json FILE).
  remote: the remote build cache against a throw-away nginx on a generated 200-module project:
         machine B from a warm remote into an empty local cache against its cold compile
         (goal <= 0.05) and its no-change rebuild, and a cold build writing through to the
         server against the same build without one (goal <= 1.1) (remote.py; figures also
         to --remote-json FILE, default build/bench-remote.json).

Targets (issue 4): a 50-layer model under 250 ms with peak RSS under 60 MB; -j2 at least
1.8x faster than -j1 on 64 modules; a no-change rebuild of 1000 modules under 50 ms.
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
        os.path.join(d, "gelu.o"), os.path.join(os.path.dirname(os.path.abspath(tric)), "libtricrt.a"), "-lm",
        "-lpthread", "-o", exe])
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


def gen_project(d, n):
    """n modules; module k imports up to two earlier ones and defines a small layer."""
    rng = np.random.default_rng(5)
    for k in range(n):
        deps = sorted(set(int(j) for j in rng.integers(0, k, 2))) if k else []
        lines = ["import m%d;" % j for j in deps]
        lines.append("fn g%d(x: f32[...]) -> f32[...] { return tanh(x * %d.5) + x; }" % (k, k % 7))
        body = "g%d(x)" % k
        for j in deps:
            body = "m%d.g%d(%s)" % (j, j, body)
        lines.append("export fn layer%d(x: f32[B, 64], w: f32[64, 64]) -> f32[B, 64] { return softmax(%s @ w); }" % (k, body))
        with open(os.path.join(d, "m%d.tri" % k), "w") as f:
            f.write("\n".join(lines) + "\n")


def timed(argv, cwd, env):
    t0 = time.perf_counter()
    sh(argv, cwd=cwd, env=env)
    return time.perf_counter() - t0


def bench_cache(tric, n=200):
    d = tempfile.mkdtemp(prefix="tric-bench-project-")
    gen_project(d, n)
    files = ["m%d.tri" % k for k in range(n)]
    cold, warm, edit, code = [], [], [], []
    m0 = os.path.join(d, "m0.tri")
    for rep in range(3):
        env = dict(os.environ, TRIC_CACHE_DIR=tempfile.mkdtemp(prefix="tric-bench-cache-"))
        cold.append(timed([tric, "build"] + files, d, env))
        warm.append(timed([tric, "build"] + files, d, env))
        with open(m0, "a") as f:
            f.write("// edit %d\n" % rep)
        edit.append(timed([tric, "build"] + files, d, env))
        text = open(m0).read()  # a new constant in g0, which every importer inlines
        with open(m0, "w") as f:
            f.write(text.replace("(x * 0.5)", "(x * 0.25)") if rep % 2 == 0 else text.replace("(x * 0.25)", "(x * 0.5)"))
        code.append(timed([tric, "build"] + files, d, env))
    c, w, e, k = sorted(cold)[1], sorted(warm)[1], sorted(edit)[1], sorted(code)[1]
    print("cache, %d-module project (median of 3; one tric process building every module):" % n)
    print("  cold build             %7.1f ms" % (c * 1e3))
    print("  no-change rebuild      %7.1f ms   ratio to cold %.3f" % (w * 1e3, w / c))
    print("  comment in m0.tri      %7.1f ms   ratio to cold %.3f (m0 and every module importing it rebuild; same code)" % (
        e * 1e3, e / c))
    print("  constant in m0.tri     %7.1f ms   ratio to cold %.3f (m0 and every importer calling it get new kernels)" % (
        k * 1e3, k / c))


def gen_model(path, layers):
    """One module: a residual MLP of `layers` blocks (matmul, GELU, layer norm)."""
    params = ", ".join("w%d: f32[64, 64], b%d: f32[64]" % (i, i) for i in range(layers))
    lines = ["fn gelu(x: f32[...]) -> f32[...] { return 0.5 * x * (1.0 + tanh(0.7978845608 * (x + 0.044715 * x * x * x))); }",
             "fn ln(x: f32[B, D]) -> f32[B, D] {",
             "  let mu = mean(x, axis=-1, keepdims=true);",
             "  let d = x - mu;",
             "  return d * rsqrt(mean(d * d, axis=-1, keepdims=true) + 1e-5);",
             "}",
             "export fn model(x: f32[B, 64], %s) -> f32[B, 64] {" % params, "  let h0 = x;"]
    for i in range(layers):
        lines.append("  let h%d = ln(h%d + gelu(h%d @ w%d + b%d));" % (i + 1, i, i, i, i))
    lines += ["  return softmax(h%d);" % layers, "}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def report(tric, argv, cwd, env):
    """Runs a build with --time-report=json; returns (wall seconds, report dict)."""
    t0 = time.perf_counter()
    r = subprocess.run([tric, "build", "--time-report=json"] + argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode:
        sys.exit("build failed: %s" % r.stderr)
    import json
    return wall, json.loads(r.stderr.strip().splitlines()[-1])


def bench_build(tric):
    print("build, generated projects (process wall time, cache in a fresh folder; no-change: median of 5):")
    for n in (1, 64, 1000):
        d = tempfile.mkdtemp(prefix="tric-bench-p%d-" % n)
        gen_project(d, n)
        files = ["m%d.tri" % k for k in range(n)]
        env = dict(os.environ, TRIC_CACHE_DIR=tempfile.mkdtemp(prefix="tric-bench-cache-"))
        cold, rc = report(tric, files, d, env)
        warm = sorted(report(tric, files, d, env)[0] for _ in range(5))[2]  # median of 5: one run is noise here
        with open(os.path.join(d, "m%d.tri" % (n - 1)), "a") as f:
            f.write("// edit\n")
        edit, _ = report(tric, files, d, env)
        print("  %4d modules: cold %8.1f ms (peak RSS %5.1f MB; %d kernels emitted, %d compiled)  no-change %6.1f ms%s  "
              "edit of a module nothing imports %7.1f ms" % (
                  n, cold * 1e3, rc["peak_rss_kb"] / 1024, rc["kernels"], rc["kernels_compiled"], warm * 1e3,
                  "  (goal < 50 ms)" if n == 1000 else "", edit * 1e3))
        if n == 64:
            times = {"1": [], "2": []}
            for _ in range(3):  # alternating, so that a slow spell of the machine hits both
                for j in ("1", "2"):
                    env = dict(os.environ, TRIC_CACHE_DIR=tempfile.mkdtemp(prefix="tric-bench-cache-"))
                    times[j].append(report(tric, ["-j" + j] + files, d, env)[0])
            t1, t2 = sorted(times["1"])[1], sorted(times["2"])[1]
            print("        64 modules cold (median of 3): -j1 %.1f ms, -j2 %.1f ms: speed-up %.2fx (goal >= 1.8x)" % (
                t1 * 1e3, t2 * 1e3, t1 / t2))
    print("build, generated models (one module, cold, -O2, no cache):")
    for layers in (8, 50, 160):
        d = tempfile.mkdtemp(prefix="tric-bench-model-")
        gen_model(os.path.join(d, "model.tri"), layers)
        best = None
        for _ in range(3):
            wall, rep = report(tric, ["--no-cache", "model.tri"], d, dict(os.environ))
            if best is None or wall < best[0]:
                best = (wall, rep)
        wall, rep = best
        st = rep["stages"]
        goal = "  (goal: < 250 ms, < 60 MB)" if layers == 50 else ""
        print("  %3d layers: %7.1f ms, peak RSS %5.1f MB%s" % (layers, wall * 1e3, rep["peak_rss_kb"] / 1024, goal))
        print("             " + ", ".join("%s %.1f ms" % (k, v * 1e3) for k, v in st.items() if v > 0.0005))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tric", required=True)
    ap.add_argument("--only", choices=("gelu", "cache", "build", "kernels", "conv", "resnet18", "remote"), help="run one benchmark")
    ap.add_argument("--json", default=os.path.join(os.path.dirname(HERE), "build", "bench-kernels.json"),
                    help="where the kernels section writes its figures (default build/bench-kernels.json)")
    ap.add_argument("--conv-json", default=os.path.join(os.path.dirname(HERE), "build", "bench-conv.json"),
                    help="where the conv section writes its figures (default build/bench-conv.json)")
    ap.add_argument("--resnet18-json", default=os.path.join(os.path.dirname(HERE), "build", "bench-resnet18.json"),
                    help="where the resnet18 section writes its figures (default build/bench-resnet18.json)")
    ap.add_argument("--remote-json", default=os.path.join(os.path.dirname(HERE), "build", "bench-remote.json"),
                    help="where the remote section writes its figures (default build/bench-remote.json)")
    ap.add_argument("--ref-tric", help="kernels: a tric from before the kernel-engine work, to time the model compile against")
    args = ap.parse_args()
    tric = os.path.abspath(args.tric)
    import conv
    import kernels
    import remote
    import resnet18

    def bench_kernels(t):
        kernels.bench_kernels(t, args.json, gen_model, args.ref_tric and os.path.abspath(args.ref_tric))
    def bench_conv(t):
        conv.bench_conv(t, args.conv_json)
    sections = (("gelu", bench_gelu), ("cache", bench_cache), ("build", bench_build), ("kernels", bench_kernels),
                ("conv", bench_conv), ("resnet18", lambda t: resnet18.bench_resnet18(t, args.resnet18_json)),
                ("remote", lambda t: remote.bench_remote(t, args.remote_json, gen_project)))
    for name, fn in sections:
        if args.only in (None, name):
            fn(tric)


if __name__ == "__main__":
    main()
