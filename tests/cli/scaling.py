"""Compile time stays proportional to the program: programs whose values are shared
many times over (calls of the same function with the same arguments, lets used twice,
slices of slices) check and build at sizes that a tree walk of the DAG could not finish
(2^40 paths), and a 5000-deep chain of calls is rejected at once with one located error.
Each command gets a generous timeout, so a regression shows as a timeout, not as a timing
assertion; each built function is linked into a C driver and compared with NumPy."""
import os
import shutil
import subprocess

import numpy as np

TIMEOUT = 60  # seconds per command; the fixed compiler takes well under one


def run(ctx, argv, cwd, what):
    """Runs a command under TIMEOUT; returns (result, None) or (None, message)."""
    try:
        return ctx.run(argv, cwd=cwd, timeout=TIMEOUT), None
    except subprocess.TimeoutExpired:
        return None, "%s did not finish in %d s (compile time grows with the sharing again)" % (what, TIMEOUT)


def check_and_build(ctx, d, name):
    """tric check, then tric build, of d/name.tri; None or an error message."""
    for cmd in (["check", name + ".tri"], ["build", name + ".tri", "-o", name + ".o"]):
        r, e = run(ctx, [ctx.tric] + cmd, d, "tric " + " ".join(cmd))
        if e:
            return e
        if r.returncode:
            return "tric %s failed (exit %d): %s" % (" ".join(cmd), r.returncode, r.stderr[-2000:])
    return None


DRIVER = r"""
#include <stdio.h>
#include <stdint.h>
#include "%(name)s.h"
int main(void) {
  static float x[%(n)d], y[%(m)d];
  FILE *in = fopen("x.bin", "rb");
  if (!in || fread(x, sizeof x, 1, in) != 1) return 2;
  fclose(in);
  int rc = %(fn)s(x, y%(size)s);
  if (rc) return 3;
  FILE *out = fopen("y.bin", "wb");
  if (!out || fwrite(y, sizeof y, 1, out) != 1) return 4;
  fclose(out);
  return 0;
}
"""


def run_built(ctx, d, name, x, m, sizes):
    """Links d/name.o into a driver calling f(x, y, *sizes) with m outputs; returns (y, None)
    or (None, message)."""
    src = DRIVER % {"name": name, "n": x.size, "m": m, "fn": "f", "size": "".join(", %d" % s for s in sizes)}
    with open(os.path.join(d, "driver.c"), "w") as f:
        f.write(src)
    x.astype(np.float32).tofile(os.path.join(d, "x.bin"))
    r = ctx.run([ctx.cc] + ctx.cflags + ["-o", "driver", "driver.c", name + ".o"] + ctx.libs, cwd=d)
    if r.returncode:
        return None, "linking the driver failed: %s" % r.stderr
    r = ctx.run(["./driver"], cwd=d)
    if r.returncode:
        return None, "the driver failed (exit %d): %s" % (r.returncode, r.stderr)
    return np.fromfile(os.path.join(d, "y.bin"), dtype=np.float32), None


def write(d, name, lines):
    with open(os.path.join(d, name + ".tri"), "w") as f:
        f.write("\n".join(lines) + "\n")


def build_and_compare(ctx, name, lines, x, expected, symbolic=True, rtol=0.0):
    d = ctx.tmpdir()
    write(d, name, lines)
    e = check_and_build(ctx, d, name)
    if e:
        return e
    y, e = run_built(ctx, d, name, x, expected.size, [x.size] if symbolic else [])
    if e:
        return e
    if not np.allclose(y, expected, rtol=rtol, atol=0):
        bad = int(np.argmax(np.abs(y - expected)))
        return "%s: element %d is %r, NumPy says %r" % (name, bad, float(y[bad]), float(expected[bad]))
    shutil.rmtree(d)


def inputs(n=37, seed=1):
    return np.random.default_rng(seed).uniform(-2, 2, n).astype(np.float32)


def test_calls_doubling(ctx):
    """g_i(x) = g_{i-1}(x) + g_{i-1}(x) up to g40: 2^40 calls if each were checked anew."""
    n = 40
    lines = ["fn g0(x: f32[N]) -> f32[N] { return x * 0.5; }"]
    lines += ["fn g%d(x: f32[N]) -> f32[N] { return g%d(x) + g%d(x); }" % (i, i - 1, i - 1) for i in range(1, n + 1)]
    lines.append("export fn f(x: f32[N]) -> f32[N] { return g%d(x); }" % n)
    x = inputs()
    return build_and_compare(ctx, "calls", lines, x, x * np.float32(2.0 ** (n - 1)))


def test_calls_doubling_on_expressions(ctx):
    """g_i(x) = g_{i-1}(x * 1.0) + g_{i-1}(x * 1.0): the two arguments are separate nodes
    computing the same value, so the second call is the first one's result too."""
    n = 40
    lines = ["fn g0(x: f32[N]) -> f32[N] { return x * 0.5; }"]
    lines += ["fn g%d(x: f32[N]) -> f32[N] { return g%d(x * 1.0) + g%d(x * 1.0); }" % (i, i - 1, i - 1)
              for i in range(1, n + 1)]
    lines.append("export fn f(x: f32[N]) -> f32[N] { return g%d(x); }" % n)
    x = inputs()
    return build_and_compare(ctx, "exprs", lines, x, x * np.float32(2.0 ** (n - 1)))


def test_calls_with_different_arguments_stay_apart(ctx):
    """Calls whose arguments differ (a literal, a slice start) are not taken for one
    another: each computes its own value."""
    lines = ["fn h(x: f32[N], s: f32) -> f32[N] { return x * s; }",
             "fn k(x: f32[N]) -> f32[4] { return x[0:4]; }",
             "export fn f(x: f32[N]) -> f32[4] {",
             "  let a = h(x, 2.0) + h(x, 3.0) + h(x, s=2.0);",
             "  return k(a) + k(a[1:]) + k(a[1:]) + k(x * 2.0) + k(x * 3.0) + k(a[1:5]) + k(a[2:6]);",
             "}"]
    x = inputs(9)
    a = x * np.float32(2) + x * np.float32(3) + x * np.float32(2)
    expected = a[0:4] + a[1:5] + a[1:5] + (x * np.float32(2))[0:4] + (x * np.float32(3))[0:4] + a[1:5] + a[2:6]
    return build_and_compare(ctx, "apart", lines, x, expected.astype(np.float32), rtol=1e-6)


def test_lets_doubling(ctx):
    """let a_i = a_{i-1} + a_{i-1} up to a40: 2^40 evaluations if the loop walked a tree."""
    n = 40
    lines = ["export fn f(x: f32[N]) -> f32[N] {", "  let a0 = x;"]
    lines += ["  let a%d = a%d + a%d;" % (i, i - 1, i - 1) for i in range(1, n + 1)]
    lines += ["  return a%d;" % n, "}"]
    x = inputs()
    return build_and_compare(ctx, "lets", lines, x, x * np.float32(2.0 ** n))


def test_lets_used_eight_times(ctx):
    """Each let used eight times, 40 deep: over a thousand shared nodes in one loop (more
    than a bounded memo holds), 8^40 evaluations as a tree."""
    n = 40
    lines = ["export fn f(x: f32[N]) -> f32[N] {", "  let a0 = x;"]
    for i in range(1, n + 1):
        t = ("a%d * 0.125" % (i - 1),) * 8
        lines.append("  let a%d = ((%s + %s) + (%s + %s)) + ((%s + %s) + (%s + %s));" % ((i,) + t))
    lines += ["  return a%d;" % n, "}"]
    x = inputs()
    return build_and_compare(ctx, "wide", lines, x, x)  # x/8 added eight times is x, exactly


def test_slices_of_shared_lets(ctx):
    """let a_i = a_{i-1}[1:] + a_{i-1}[:-1] up to a40: a_{40-k} is read at 2^k indices
    unless it gets a buffer."""
    n, m = 40, 8
    lines = ["export fn f(x: f32[%d]) -> f32[%d] {" % (n + m, m), "  let a0 = x;"]
    lines += ["  let a%d = a%d[1:] + a%d[:-1];" % (i, i - 1, i - 1) for i in range(1, n + 1)]
    lines += ["  return a%d;" % n, "}"]
    x = inputs(n + m)
    a = x.copy()
    for _ in range(n):
        a = (a[1:] + a[:-1]).astype(np.float32)
    return build_and_compare(ctx, "slices", lines, x, a, symbolic=False, rtol=1e-6)


def softmax_chain(n):
    lines = ["export fn f(x: f32[B, N]) -> f32[B, N] {", "  let a0 = x;"]
    lines += ["  let a%d = softmax(a%d) * a%d;" % (i, i - 1, i - 1) for i in range(1, n + 1)]
    return lines + ["  return a%d;" % n, "}"]


def test_softmax_chain_kernels(ctx):
    """let a_i = softmax(a_{i-1}) * a_{i-1}: each a_i is read by three loops (two
    reductions and the next level); fused into each of them, every loop would carry the
    chain below it (up to 200 levels: 105 distinct kernels and 34 s for 2000 levels).
    With a buffer per level the kernels repeat: 2000 levels build with few kernels, and
    a short chain matches NumPy."""
    import json
    d = ctx.tmpdir()
    write(d, "smax", softmax_chain(2000))
    r, e = run(ctx, [ctx.tric, "build", "smax.tri", "--no-cache", "--time-report=json"], d, "tric build")
    if e:
        return e
    if r.returncode:
        return r.stderr[-2000:]
    report = json.loads(r.stderr[r.stderr.index("{"):])
    if report["kernels"] > 20:
        return "2000 softmax levels emitted %d kernels: the chain is recomputed in each loop" % report["kernels"]
    shutil.rmtree(d)
    rows, cols, n = 3, 8, 12
    x = inputs(rows * cols).reshape(rows, cols)
    a = x.astype(np.float64)
    for _ in range(n):
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        a = e / e.sum(axis=-1, keepdims=True) * a
    src = softmax_chain(n)
    d = ctx.tmpdir()
    write(d, "small", src)
    e = check_and_build(ctx, d, "small")
    if e:
        return e
    y, e = run_built(ctx, d, "small", x, x.size, [rows, cols])
    if e:
        return e
    if not np.allclose(y, a.reshape(-1), rtol=1e-4, atol=1e-30):
        return "softmax chain: %s, NumPy says %s" % (y[:4], a.reshape(-1)[:4])
    shutil.rmtree(d)


def test_call_chain_5000(ctx):
    """5000 internal functions each calling the previous one: rejected at once, with one
    located error that shows both ends of the chain, not one per function. And 50000:
    a lookup per call that scanned the module (quadratic) took 100 s there."""
    for n in (5000, 50000):
        e = call_chain(ctx, n)
        if e:
            return "%d-deep chain: %s" % (n, e)


def call_chain(ctx, n):
    d = ctx.tmpdir()
    lines = ["fn g0(x: f32[N]) -> f32[N] { return x + 1.0; }"]
    lines += ["fn g%d(x: f32[N]) -> f32[N] { return g%d(x); }" % (i, i - 1) for i in range(1, n + 1)]
    lines.append("export fn f(x: f32[N]) -> f32[N] { return g%d(x); }" % n)
    write(d, "chain", lines)
    for cmd in ("check", "build"):
        r, e = run(ctx, [ctx.tric, cmd, "--color=never", "chain.tri"], d, "tric " + cmd)
        if e:
            return e
        if r.returncode != 1:
            return "tric %s: expected exit 1, got %d: %s" % (cmd, r.returncode, r.stderr[-2000:])
        errors = [l for l in r.stderr.splitlines() if ": error: " in l]
        if len(errors) != 1 or not errors[0].startswith("chain.tri:2:37: error: calls nested too deeply"):
            return "tric %s: expected one located 'calls nested too deeply' error, got %d: %s" % (
                cmd, len(errors), "\n".join(errors[:5]))
        if len(r.stderr.splitlines()) > 40 or "more calls, not shown" not in r.stderr:
            return "tric %s: the error should show the ends of the chain only:\n%s" % (cmd, r.stderr)
        if os.path.exists(os.path.join(d, "chain.o")):
            return "a rejected build wrote an object"
    shutil.rmtree(d)


def test_call_chain_at_the_limit(ctx):
    """511 nested calls are accepted and compute x + 1; 512 are one error."""
    for n, ok in ((510, True), (511, False)):
        lines = ["fn g0(x: f32[N]) -> f32[N] { return x + 1.0; }"]
        lines += ["fn g%d(x: f32[N]) -> f32[N] { return g%d(x); }" % (i, i - 1) for i in range(1, n + 1)]
        lines.append("export fn f(x: f32[N]) -> f32[N] { return g%d(x); }" % n)
        if ok:
            x = inputs()
            e = build_and_compare(ctx, "limit", lines, x, x + np.float32(1))
            if e:
                return e
            continue
        d = ctx.tmpdir()
        write(d, "limit", lines)
        r, e = run(ctx, [ctx.tric, "check", "--color=never", "limit.tri"], d, "tric check")
        if e:
            return e
        if r.returncode != 1 or "this call of 'g0' is 512 calls deep, and at most 511 may nest" not in r.stderr:
            return "512 nested calls: expected the depth error, got exit %d: %s" % (r.returncode, r.stderr)
        shutil.rmtree(d)
