"""Project builds: several modules and folders, diamonds and chains, cycles, a failing
module with and without --keep-going, identical outputs at any -j, progress lines on a
pipe, and the time report and trace."""
import json
import os
import shutil

LIB = "fn base(x: f32[...]) -> f32[...] { return x * 2; }\nexport fn lib(x: f32[N]) -> f32[N] { return base(x); }\n"


def write(d, files):
    for name, text in files.items():
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)


def diamond():
    return {
        "src/lib.tri": LIB,
        "src/left.tri": "import lib;\nfn l(x: f32[...]) -> f32[...] { return lib.base(x) + 1; }\nexport fn left(x: f32[N]) -> f32[N] { return l(x); }\n",
        "src/right.tri": "import lib;\nfn r(x: f32[...]) -> f32[...] { return lib.base(x) - 1; }\nexport fn right(x: f32[N]) -> f32[N] { return r(x); }\n",
        "src/top.tri": "import left;\nimport right;\nexport fn top(x: f32[N]) -> f32[N] { return left.l(x) * right.r(x); }\n",
        "src/deep/chain.tri": "import c1;\nexport fn chain(x: f32[N]) -> f32[N] { return c1.f1(x); }\n",
        "src/deep/c1.tri": "import c2;\nfn f1(x: f32[...]) -> f32[...] { return c2.f2(x) + 1; }\n",
        "src/deep/c2.tri": "import c3;\nfn f2(x: f32[...]) -> f32[...] { return c3.f3(x) + 1; }\n",
        "src/deep/c3.tri": "fn f3(x: f32[...]) -> f32[...] { return exp(x); }\n",
    }


def tree(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, d)] = open(p, "rb").read()
    return out


def test_folder_build_mirrors_the_tree(ctx):
    d = ctx.tmpdir()
    write(d, diamond())
    r = ctx.run([ctx.tric, "build", "src/", "-o", "out"], cwd=d)
    if r.returncode:
        return r.stderr
    got = sorted(tree(os.path.join(d, "out")))
    want = sorted(["%s.%s" % (m, e) for m in ("lib", "left", "right", "top", "deep/chain", "deep/c1", "deep/c2", "deep/c3")
                   for e in ("o", "h")])
    if got != want:
        return "outputs %s, expected %s" % (got, want)
    lines = [l for l in r.stderr.splitlines() if l.startswith("[")]
    if len(lines) != 8 or not lines[-1].startswith("[8/8] "):
        return "expected one progress line per module on a pipe:\n%s" % r.stderr
    if "tric: 8 modules: 8 built, 0 from cache, 0 failed" not in r.stderr:
        return "no summary line:\n%s" % r.stderr
    shutil.rmtree(d)


def test_same_outputs_for_any_jobs(ctx):
    results = []
    for j in ("-j1", "-j8"):
        d = ctx.tmpdir()
        write(d, diamond())
        r = ctx.run([ctx.tric, "build", j, "--no-cache", "src", "-o", "out"], cwd=d)
        if r.returncode:
            return r.stderr
        results.append(tree(os.path.join(d, "out")))
    if results[0] != results[1]:
        return "outputs differ between -j1 and -j8"


def test_cycle_reported_whole(ctx):
    d = ctx.tmpdir()
    write(d, {"a.tri": "import b;\nexport fn fa(x: f32[N]) -> f32[N] { return x; }\n",
              "b.tri": "import c;\nfn fb(x: f32[N]) -> f32[N] { return x; }\n",
              "c.tri": "import a;\nfn fc(x: f32[N]) -> f32[N] { return x; }\n"})
    r = ctx.run([ctx.tric, "build", "a.tri", "b.tri", "c.tri", "--color=never"], cwd=d)
    if r.returncode != 1 or "import cycle: a -> b -> c -> a" not in r.stderr:
        return "cycle: %d\n%s" % (r.returncode, r.stderr)
    if [f for f in os.listdir(d) if f.endswith(".o")]:
        return "objects written despite the cycle"


def failing_project(d):
    files = diamond()
    files["src/right.tri"] = "import lib;\nfn r(x: f32[...]) -> f32[...] { return lib.base(x) - undefined; }\n"
    files["src/zzz.tri"] = "export fn zzz(x: f32[N]) -> f32[N] { return x + 1; }\n"  # independent, checked last
    write(d, files)


def test_failure_stops_the_build(ctx):
    """Modules are checked dependencies first and compiled as soon as they are checked;
    after a failure nothing more is started (modules checked before it complete)."""
    d = ctx.tmpdir()
    failing_project(d)
    r = ctx.run([ctx.tric, "build", "--no-cache", "src", "-o", "out", "--color=never"], cwd=d)
    if r.returncode != 1 or "right.tri:2:" not in r.stderr or r.stderr.count("error:") != 1:
        return "expected one located error and exit 1:\n%s" % r.stderr
    for later in ("top.o", "zzz.o"):
        if os.path.exists(os.path.join(d, "out", later)):
            return "%s was built after a failure without --keep-going" % later


def test_keep_going_builds_the_rest(ctx):
    d = ctx.tmpdir()
    failing_project(d)
    r = ctx.run([ctx.tric, "build", "--no-cache", "--keep-going", "src", "-o", "out", "--color=never"], cwd=d)
    got = sorted(f for f in tree(os.path.join(d, "out")) if f.endswith(".o"))
    want = ["deep/c1.o", "deep/c2.o", "deep/c3.o", "deep/chain.o", "left.o", "lib.o", "zzz.o"]
    if r.returncode != 1 or got != want:
        return "--keep-going: exit %d, built %s, expected %s\n%s" % (r.returncode, got, want, r.stderr)
    if "2 failed" not in r.stderr:
        return "summary should count right and top as failed:\n%s" % r.stderr


def test_time_report_and_trace(ctx):
    d = ctx.tmpdir()
    write(d, diamond())
    r = ctx.run([ctx.tric, "build", "--no-cache", "src", "-o", "out", "--time-report=json", "--time-trace=trace.json",
                 "-j2"], cwd=d)
    if r.returncode:
        return r.stderr
    rep = json.loads(r.stderr.strip().splitlines()[-1])
    for key in ("wall_s", "stages", "peak_rss_kb", "cache_hits", "cache_misses", "kernels", "kernels_compiled"):
        if key not in rep:
            return "time report lacks %s: %s" % (key, rep)
    if not 1 <= rep["kernels_compiled"] <= rep["kernels"] or rep["stages"]["LLVM optimize"] <= 0:
        return "time report: %s" % rep
    trace = json.load(open(os.path.join(d, "trace.json")))
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    names = {e["name"] for e in events}
    if not {"src/top.tri", "LLVM optimize", "code generation"} <= names:
        return "trace lacks module or stage events: %s" % sorted(names)
    if any(e["dur"] < 0 or e["ts"] < 0 for e in events):
        return "negative times in the trace"
    r = ctx.run([ctx.tric, "build", "--no-cache", "src", "-o", "out", "--time-report"], cwd=d)
    if "time report" not in r.stderr or "peak RSS" not in r.stderr:
        return "text time report: %s" % r.stderr
    r = ctx.run([ctx.tric, "build", "src", "-o", "out", "-v"], cwd=d)
    if "cache hit" not in r.stderr and "cache miss" not in r.stderr:
        return "-v lacks per-module cache status: %s" % r.stderr


def test_large_module_compiles_in_units(ctx):
    """A module's kernels compile as units of their own on several threads (their numerics
    are checked by e2e/models and the other large e2e programs, which take this path): the
    object is the same at -j1 and -j4, the trace has an event per kernel compiled, and the
    object exports only the module's functions (the kernels stay local, so two modules
    never clash)."""
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e", "models.tri")
    d = ctx.tmpdir()
    objs = []
    for j in ("1", "4"):
        r = ctx.run([ctx.tric, "build", "--no-cache", "-j" + j, "--time-report=json", src, "-o",
                     os.path.join(d, "m%s.o" % j), "--time-trace=" + os.path.join(d, "t%s.json" % j)])
        if r.returncode:
            return r.stderr
        with open(os.path.join(d, "m%s.o" % j), "rb") as f:
            objs.append(f.read())
        rep = json.loads(r.stderr.strip().splitlines()[-1])
        if rep["kernels_compiled"] < 2:
            return "models.tri compiled %d kernel(s); this test needs several" % rep["kernels_compiled"]
        events = [e for e in json.load(open(os.path.join(d, "t%s.json" % j)))["traceEvents"] if e["ph"] == "X"]
        kernels = [e for e in events if " kernel " in e["name"]]
        if len(kernels) != rep["kernels_compiled"] or not any(e["name"].endswith(" finish") for e in events):
            return "the trace shows %d kernel events for %d kernels compiled" % (len(kernels), rep["kernels_compiled"])
    if objs[0] != objs[1]:
        return "the object differs between -j1 and -j4"
    r = ctx.run(["nm", "--defined-only", "-g", os.path.join(d, "m1.o")])
    if r.returncode:
        return "nm failed: %s" % r.stderr
    exported = sorted(l.split()[-1] for l in r.stdout.splitlines() if l.strip())
    names = [l.split("export fn ")[1].split("(")[0] for l in open(src) if l.startswith("export fn ")]
    want = sorted(n + s for n in names for s in ("", "_ws", "_workspace_size"))
    if exported != want:
        return "global symbols %s, expected the exported functions and their workspace entries %s" % (exported, want)
    r = ctx.run(["nm", os.path.join(d, "m1.o")])
    if r.stdout.count("tric.kernel.") < 2:
        return "expected several local kernels:\n%s" % r.stdout
    # two copies of the module linked together clash on the exported functions only
    r = ctx.run(["ld", "-r", "-o", os.path.join(d, "both.o"), os.path.join(d, "m1.o"), os.path.join(d, "m4.o")])
    if r.returncode == 0:
        return "linking two copies should clash only on the exported functions, yet ld -r accepted them"
    if "tric.kernel" in r.stderr:
        return "kernel symbols clash between objects:\n%s" % r.stderr
    shutil.rmtree(d)


SHARED = {
    # fa and fb fuse into the same kernel; sa and gb are each their own
    "a.tri": "export fn fa(x: f32[N]) -> f32[N] { return tanh(x) * 2 + x; }\n"
             "export fn sa(x: f32[N]) -> f32 { return sum(exp(x)); }\n",
    "b.tri": "export fn fb(y: f32[M]) -> f32[M] { return tanh(y) * 2 + y; }\n"
             "export fn gb(y: f32[M]) -> f32[M] { return y * y - 1; }\n",
}


def test_identical_kernels_compiled_once_per_build(ctx):
    """A kernel that two modules emit is compiled once in a build; each object still holds
    it and computes the right values (checked against NumPy on random inputs of sizes 1,
    7 and 1031), and each object is the same bytes whether built alone or with the module
    it shares with, at -j1 or -j4."""
    import numpy as np
    d = ctx.tmpdir()
    write(d, SHARED)
    objs = {}
    for j in ("1", "4"):
        r = ctx.run([ctx.tric, "build", "--no-cache", "-j" + j, "--time-report=json", "a.tri", "b.tri", "-o",
                     "out" + j], cwd=d)
        if r.returncode:
            return r.stderr
        rep = json.loads(r.stderr.strip().splitlines()[-1])
        if (rep["kernels"], rep["kernels_compiled"]) != (4, 3):
            return "expected 4 kernels emitted and 3 compiled, got %s" % rep
        objs[j] = tree(os.path.join(d, "out" + j))
    if objs["1"] != objs["4"]:
        return "outputs differ between -j1 and -j4"
    r = ctx.run([ctx.tric, "build", "--no-cache", "b.tri", "-o", "alone/b.o"], cwd=d)
    if r.returncode:
        return r.stderr
    if open(os.path.join(d, "alone", "b.o"), "rb").read() != objs["1"]["b.o"]:
        return "b.o built alone differs from b.o built with a.tri"
    rng = np.random.default_rng(11)
    for n in (1, 7, 1031):
        x = rng.uniform(-4, 4, n).astype(np.float32)
        arr = ", ".join("%.9g" % v for v in x)
        prog = ('#include <stdio.h>\n#include "a.h"\n#include "b.h"\n'
                "static const float x[%d] = {%s};\n"
                "int main(void) { static float ya[%d], yb[%d], yg[%d]; float s;\n"
                "  if (fa(x, ya, %d) || fb(x, yb, %d) || gb(x, yg, %d) || sa(x, &s, %d)) return 1;\n"
                '  for (int i = 0; i < %d; i++) printf("%%.9g %%.9g %%.9g\\n", ya[i], yb[i], yg[i]);\n'
                '  printf("%%.9g\\n", s); return 0; }\n' % ((n, arr) + (n,) * 8))
        with open(os.path.join(d, "p.c"), "w") as f:
            f.write(prog)
        r = ctx.run(["cc", "-Iout1", "p.c", "out1/a.o", "out1/b.o"] + ctx.plain_libs + ["-o", "p"], cwd=d)
        if r.returncode:
            return r.stderr
        r = ctx.run(["./p"], cwd=d)
        if r.returncode:
            return "the program failed: %d" % r.returncode
        lines = r.stdout.split("\n")
        got = np.array([[float(v) for v in l.split()] for l in lines[:n]], dtype=np.float64)
        s = float(lines[n])
        x64 = x.astype(np.float64)
        want = np.tanh(x64) * 2 + x64
        for col, name in ((0, "fa"), (1, "fb")):
            if not np.allclose(got[:, col], want, rtol=1e-5, atol=1e-6):
                return "%s wrong at n=%d: max error %g" % (name, n, np.abs(got[:, col] - want).max())
        if not np.allclose(got[:, 2], x64 * x64 - 1, rtol=1e-6, atol=1e-6):
            return "gb wrong at n=%d" % n
        if not np.isclose(s, np.exp(x64).sum(), rtol=1e-5):
            return "sa wrong at n=%d: %g vs %g" % (n, s, np.exp(x64).sum())
    shutil.rmtree(d)


MATMULS = {
    "a.tri": "export fn f(a: f32[M, K], b: f32[K, N]) -> f32[M, N] { return a @ b; }\n",
    "b.tri": "export fn g(a: f32[M, K], b: f32[K, N], c: f32[N]) -> f32[M, N] { return relu(a @ b + c); }\n"
             "export fn g3(a: f32[M, K], b: f32[K, N]) -> f32[M, N] { return (a @ b) * 3.0; }\n",
    "c.tri": "export fn h(a: f64[M, K], b: f64[K, N]) -> f64[M, N] { return a @ b; }\n",
}


def test_microkernel_compiled_once_per_build_and_cached(ctx):
    """Every contraction kernel calls the shared microkernel (and A packing) of its compute
    type and tile (docs/plan.md): a build of three modules with four different contraction
    kernels compiles the f32 ones once and the f64 ones once; each object holds its copy as a local
    symbol, so two of them link into one program, which computes what NumPy does; and a
    later build of another f32 product takes the microkernel from the cache."""
    import numpy as np
    d = ctx.tmpdir()
    write(d, MATMULS)
    r = ctx.run([ctx.tric, "build", "--no-cache", "--time-report=json", "a.tri", "b.tri", "c.tri", "-o", "out"], cwd=d)
    if r.returncode:
        return r.stderr
    rep = json.loads(r.stderr.strip().splitlines()[-1])
    # per module, its contraction kernels, a microkernel and an A packing function
    if (rep["kernels"], rep["kernels_compiled"]) != (10, 8):
        return "expected 10 kernels emitted (4 contraction kernels, 3 microkernels, 3 A packings) and 8 compiled, got %s" % rep
    for m in ("a", "b", "c"):
        syms = [l.split() for l in ctx.run(["nm", os.path.join(d, "out", m + ".o")]).stdout.splitlines()]
        uk = [s for s in syms if len(s) == 3 and s[2].startswith("tric.uk.")]
        if len(uk) != 2 or any(u[1] != "t" for u in uk):
            return "%s.o: want a local microkernel and A packing, got %s" % (m, uk)
    M, K, N = 7, 13, 37
    rng = np.random.default_rng(5)
    a, w = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(np.float32)
    c = rng.standard_normal(N).astype(np.float32)
    fmt = lambda x: ", ".join("%.9g" % v for v in x.ravel())
    prog = ('#include <stdio.h>\n#include "a.h"\n#include "b.h"\n'
            "static const float a[] = {%s}, w[] = {%s}, c[] = {%s};\n"
            "int main(void) { static float y[%d], z[%d];\n"
            "  if (f(a, w, y, %d, %d, %d) || g(a, w, c, z, %d, %d, %d)) return 1;\n"
            '  for (int i = 0; i < %d; i++) printf("%%.9g %%.9g\\n", y[i], z[i]);\n'
            "  return 0; }\n" % (fmt(a), fmt(w), fmt(c), M * N, M * N, M, K, N, M, K, N, M * N))
    with open(os.path.join(d, "p.c"), "w") as f:
        f.write(prog)
    r = ctx.run(["cc", "-Iout", "p.c", "out/a.o", "out/b.o"] + ctx.plain_libs + ["-o", "p"], cwd=d)
    if r.returncode:
        return r.stderr
    r = ctx.run(["./p"], cwd=d)
    if r.returncode:
        return "the program failed: %d" % r.returncode
    got = np.array([[float(v) for v in l.split()] for l in r.stdout.splitlines()])
    y = a.astype(np.float64) @ w.astype(np.float64)
    if not np.allclose(got[:, 0], y.ravel(), rtol=1e-5, atol=1e-5):
        return "f wrong: max error %g" % np.abs(got[:, 0] - y.ravel()).max()
    if not np.allclose(got[:, 1], np.maximum(y + c, 0).ravel(), rtol=1e-5, atol=1e-5):
        return "g wrong: max error %g" % np.abs(got[:, 1] - np.maximum(y + c, 0).ravel()).max()
    env = dict(os.environ, TRIC_CACHE_DIR=os.path.join(d, "cache"))
    r = ctx.run([ctx.tric, "build", "a.tri", "-o", "c1"], cwd=d, env=env)
    if r.returncode:
        return r.stderr
    with open(os.path.join(d, "e.tri"), "w") as f:
        f.write("export fn e(a: f32[M, K], b: f32[K, N]) -> f32[M, N] { return (a @ b) * 2.0; }\n")
    r = ctx.run([ctx.tric, "build", "--time-report=json", "e.tri", "-o", "c2"], cwd=d, env=env)
    if r.returncode:
        return r.stderr
    rep = json.loads(r.stderr.strip().splitlines()[-1])
    if (rep["kernels"], rep["kernels_compiled"], rep["kernels_cached"]) != (3, 1, 2):
        return ("a new f32 product after a.tri should compile its kernel and take the microkernel and A packing "
                "from the cache: %s" % rep)
    shutil.rmtree(d)


def test_assembly_output_is_what_the_object_holds(ctx):
    """--emit=asm writes the text the object is made of: the system assembler turns it into
    an object with the same symbols (the kernels local, the exported functions global)."""
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e", "models.tri")
    d = ctx.tmpdir()
    r = ctx.run([ctx.tric, "build", "--no-cache", "--emit=obj,asm", src, "-o", os.path.join(d, "m.o")])
    if r.returncode:
        return r.stderr
    r = ctx.run(["cc", "-c", os.path.join(d, "m.s"), "-o", os.path.join(d, "again.o")])
    if r.returncode:
        return "the assembly output does not assemble:\n%s" % r.stderr[:2000]

    def symbols(obj):
        out = ctx.run(["nm", obj]).stdout.splitlines()
        return sorted((l.split()[-2], l.split()[-1]) for l in out if "CPI" not in l)
    a, b = symbols(os.path.join(d, "m.o")), symbols(os.path.join(d, "again.o"))
    if a != b or sum(1 for t, n in a if t == "t" and n.startswith("tric.kernel.")) < 2:
        return "symbols differ or kernels missing:\n%s\n%s" % (a, b)
    shutil.rmtree(d)


def explain_lines(r):
    """{file: what} from --explain lines naming a module (the last line for each)."""
    out = {}
    for line in r.stderr.splitlines():
        if line.startswith("tric: explain: src/"):
            name, what = line[len("tric: explain: "):].split(": ", 1)
            out[name] = what
    return out


def report(r):
    return json.loads(r.stderr.strip().splitlines()[-1])


BREAKS = {"a syntax error": "import lib;\nfn r(x: f32[...]) -> f32[...] { return lib.base(x) - ; }\n",
          "a missing import": "import lib;\nimport nosuch;\nfn r(x: f32[...]) -> f32[...] { return lib.base(x) - 1; }\n"}


def test_broken_module_keeps_the_others_cache(ctx):
    """A syntax error or a missing import in one module of a folder build fails that module
    and its importer only: the seven others come from the cache (no LLVM), with or without
    -k. After an edit to an independent module, without -k the build stops (it is not
    compiled, --explain says why); with -k it is compiled and the rest still hit."""
    for how, text in BREAKS.items():
        d, cache = ctx.tmpdir(), ctx.tmpdir()
        files = diamond()
        files["src/zzz.tri"] = "export fn zzz(x: f32[N]) -> f32[N] { return x + 1; }\n"
        write(d, files)
        env = dict(os.environ, TRIC_CACHE_DIR=cache)
        r = ctx.run([ctx.tric, "build", "src", "-o", "out"], cwd=d, env=env)
        if r.returncode:
            return r.stderr
        before = tree(os.path.join(d, "out"))
        write(d, {"src/right.tri": text})
        ok = {"src/lib.tri", "src/left.tri", "src/zzz.tri", "src/deep/chain.tri", "src/deep/c1.tri", "src/deep/c2.tri",
              "src/deep/c3.tri"}
        for k in ([], ["-k"]):
            r = ctx.run([ctx.tric, "build", "src", "-o", "out", "--explain", "--color=never", "--time-report=json"] + k,
                        cwd=d, env=env)
            said = explain_lines(r)
            if r.returncode != 1 or r.stderr.count("error:") != 1 or "src/right.tri:" not in r.stderr:
                return "%s %s: expected one located error and exit 1 (got %d):\n%s" % (how, k, r.returncode, r.stderr)
            if {f for f, w in said.items() if w == "reused from the cache"} != ok:
                return "%s %s: the modules that do not import right.tri should come from the cache:\n%s" % (how, k, r.stderr)
            if said.get("src/right.tri", "").find("has errors") < 0 or said.get("src/top.tri", "").find("has errors") < 0:
                return "%s %s: --explain does not say why right and top are not built:\n%s" % (how, k, r.stderr)
            rep = report(r)
            if (rep["cache_hits"], rep["cache_misses"], rep["kernels_compiled"]) != (7, 0, 0) or \
                    "LLVM was not started" not in r.stderr:
                return "%s %s: time report %s" % (how, k, rep)
            now = tree(os.path.join(d, "out"))
            if {f: v for f, v in before.items() if not f.startswith(("right.", "top."))} != now:
                return "%s %s: the outputs of the modules that hit changed, or right's and top's were not removed" % (how, k)
        write(d, {"src/zzz.tri": "export fn zzz(x: f32[N]) -> f32[N] { return x * 3; }\n"})
        r = ctx.run([ctx.tric, "build", "src", "-o", "out", "--explain", "--time-report=json"], cwd=d, env=env)
        rep = report(r)
        if r.returncode != 1 or (rep["cache_hits"], rep["cache_misses"], rep["kernels_compiled"]) != (6, 1, 0):
            return "%s: without -k an edited module was compiled after a failure: %s\n%s" % (how, rep, r.stderr)
        if not explain_lines(r).get("src/zzz.tri", "").startswith("not built (a module failed and -k was not given)") or \
                "1 not built" not in r.stderr:
            return "%s: without -k, --explain and the summary do not say zzz was not built:\n%s" % (how, r.stderr)
        if tree(os.path.join(d, "out"))["zzz.o"] != before["zzz.o"]:
            return "%s: zzz.o changed though zzz was not built" % how
        r = ctx.run([ctx.tric, "build", "src", "-o", "out", "--explain", "--time-report=json", "-k"], cwd=d, env=env)
        rep = report(r)
        if r.returncode != 1 or (rep["cache_hits"], rep["cache_misses"]) != (6, 1) or rep["kernels_compiled"] < 1:
            return "%s: with -k the edited module should compile and the rest hit: %s\n%s" % (how, rep, r.stderr)
        if explain_lines(r).get("src/zzz.tri") != "rebuilt: source changed":
            return "%s: with -k: %s" % (how, explain_lines(r))
        r2 = ctx.run([ctx.tric, "build", "--no-cache", "src/zzz.tri", "-o", "alone/zzz.o"], cwd=d)
        if r2.returncode or open(os.path.join(d, "alone", "zzz.o"), "rb").read() != \
                open(os.path.join(d, "out", "zzz.o"), "rb").read():
            return "%s: zzz.o built with -k differs from a build of it alone" % how
        shutil.rmtree(d)


def test_broken_module_stops_the_build(ctx):
    """A module broken when loading (checked last: src/zzz.tri) is a failure known before
    anything is compiled: without -k nothing is compiled at all, the summary counts the
    modules not built; with -k every other module is."""
    for how, text in BREAKS.items():
        d = ctx.tmpdir()
        files = diamond()
        files["src/zzz.tri"] = text
        write(d, files)
        r = ctx.run([ctx.tric, "build", "--no-cache", "src", "-o", "out", "--color=never"], cwd=d)
        built = sorted(f for f in tree(os.path.join(d, "out")) if f.endswith(".o")) if os.path.isdir(
            os.path.join(d, "out")) else []
        if r.returncode != 1 or built or "zzz.tri:" not in r.stderr:
            return "%s: without -k: exit %d, built %s\n%s" % (how, r.returncode, built, r.stderr)
        if "9 modules: 0 built, 0 from cache, 1 failed, 8 not built" not in r.stderr:
            return "%s: summary:\n%s" % (how, r.stderr)
        r = ctx.run([ctx.tric, "build", "--no-cache", "-k", "src", "-o", "out", "--color=never"], cwd=d)
        built = sorted(f for f in tree(os.path.join(d, "out")) if f.endswith(".o"))
        if r.returncode != 1 or len(built) != 8 or "zzz.o" in built:
            return "%s: with -k: exit %d, built %s\n%s" % (how, r.returncode, built, r.stderr)
        shutil.rmtree(d)
