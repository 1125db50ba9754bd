"""Deeply nested expressions (issue 9, item 9): 1000 nested parentheses and 256 nested
calls compile and compute the right values; deeper nesting is a located "nested too
deeply" error, never a crash (the sanitized run checks the stacks of the checker and of
the builder's threads)."""
import os
import shutil


def module(body, params="x: f32[N]"):
    return "export fn f(%s) -> f32[N] {\n  return %s;\n}\n" % (params, body)


def build_run(ctx, d, src, expect):
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write(src)
    r = ctx.run([ctx.tric, "build", "--no-cache", "m.tri"], cwd=d)
    if r.returncode:
        return "build: %s" % r.stderr[:2000]
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write('#include <stdio.h>\n#include "m.h"\n'
                "int main(void) { float x[3] = {0.5f, -1, 2}, y[3];\n"
                '  if (f(x, y, 3)) return 1;\n  printf("%.6g %.6g %.6g\\n", y[0], y[1], y[2]); return 0; }\n')
    r = ctx.run([ctx.cc] + ctx.cflags + ["main.c", "m.o"] + ctx.libs + ["-o", "prog"], cwd=d)
    if r.returncode:
        return "cc: %s" % r.stderr
    r = ctx.run(["./prog"], cwd=d)
    got = [float(v) for v in r.stdout.split()]
    if r.returncode or len(got) != 3 or any(abs(g - e) > 1e-5 * max(1, abs(e)) for g, e in zip(got, expect)):
        return "program: %d %r, expected %r" % (r.returncode, r.stdout, expect)
    return None


def test_deep_nesting_within_limits_compiles(ctx):
    d = ctx.tmpdir()
    xs = [0.5, -1.0, 2.0]
    cases = [
        ("(" * 1000 + "x" + ")" * 1000, xs),                            # 1000 parentheses
        ("abs(" * 256 + "x" + ")" * 256, [abs(v) for v in xs]),          # 256 nested calls
        ("(x + " * 500 + "x" + ")" * 500, [501 * v for v in xs]),       # 500 nested operations in parentheses
        ("-" * 999 + "x", [-v for v in xs]),                             # 999 unary minus
        ("abs(" * 999 + "x" + ")" * 999, [abs(v) for v in xs]),          # the deepest allowed: 1000 with the return
    ]
    for body, expect in cases:
        e = build_run(ctx, d, module(body), expect)
        if e:
            return "%s...: %s" % (body[:20], e)
    shutil.rmtree(d)


def test_too_deep_is_a_located_error(ctx):
    d = ctx.tmpdir()
    cases = [
        ("abs(" * 1001 + "x" + ")" * 1001, "m.tri:2:10: error: expression nested too deeply: more than 1000 nested operations and calls"),
        ("-" * 5000 + "x", "m.tri:2:4009: error: expression nested too deeply: more than 1000 nested operations and calls"),
        ("(" * 5000 + "x" + ")" * 5000, "m.tri:2:4105: error: expression nested too deeply: more than 4096 brackets open"),
        ("x" + " + x" * 1001, "m.tri:2:10: error: expression nested too deeply: more than 1000 nested operations and calls"),
    ]
    for body, want in cases:
        with open(os.path.join(d, "m.tri"), "w") as f:
            f.write(module(body))
        for cmd in ("check", "build"):
            r = ctx.run([ctx.tric, cmd, "m.tri"], cwd=d)
            first = r.stderr.split("\n")[0]
            if r.returncode != 1 or not first.startswith(want) or r.stderr.count("error:") != 1:
                return "%s %s...: exit %d, %r" % (cmd, body[:12], r.returncode, r.stderr[:300])
        if os.path.exists(os.path.join(d, "m.o")):
            return "an object was written"
    shutil.rmtree(d)


def test_chain_of_256_internal_calls(ctx):
    d = ctx.tmpdir()
    n = 256
    lines = ["fn g0(x: f32[N]) -> f32[N] { return x * 2.0; }"]
    lines += ["fn g%d(x: f32[N]) -> f32[N] { return g%d(x) + 1.0; }" % (i, i - 1) for i in range(1, n)]
    lines.append("export fn f(x: f32[N]) -> f32[N] { return g%d(x); }" % (n - 1))
    e = build_run(ctx, d, "\n".join(lines) + "\n", [2 * v + (n - 1) for v in (0.5, -1.0, 2.0)])
    if e:
        return e
    shutil.rmtree(d)


def test_deepest_expressions_in_a_2mib_stack(ctx):
    """The checker and the builder's threads (libuv gives them the stack limit, or 2 MiB when
    it is unlimited) handle the deepest expressions allowed in 2 MiB, sanitized too."""
    import resource
    import subprocess
    d = ctx.tmpdir()
    xs = [0.5, -1.0, 2.0]
    cases = [("abs(" * 999 + "x" + ")" * 999, [abs(v) for v in xs]),
             ("(x + " * 998 + "x" + ")" * 998, [999 * v for v in xs])]
    limit = lambda: resource.setrlimit(resource.RLIMIT_STACK, (2 << 20, 2 << 20))
    for body, expect in cases:
        with open(os.path.join(d, "m.tri"), "w") as f:
            f.write(module(body))
        r = subprocess.run([ctx.tric, "build", "--no-cache", "m.tri"], cwd=d, capture_output=True, text=True,
                           timeout=120, preexec_fn=limit, env=dict(os.environ, TRIC_CACHE_DIR=ctx.cache_dir))
        if r.returncode:
            return "%s...: exit %d %s" % (body[:12], r.returncode, r.stderr[-600:])
        e = build_run(ctx, d, module(body), expect)
        if e:
            return e
    shutil.rmtree(d)
