"""The command line: usage, outputs, exit statuses, atomic and deterministic outputs,
headers usable from C and C++, vectorised code, cross targets."""
import glob
import os
import platform
import re
import shutil
import subprocess

MODEL = """
fn gelu(x: f32[...]) -> f32[...] { return 0.5 * x * (1.0 + tanh(0.7978845608 * (x + 0.044715 * x * x * x))); }
export fn gelu_f32(x: f32[N]) -> f32[N] { return gelu(x); }
export fn scale(x: f32[N], s: f32) -> f32[N] { return x * s; }
"""


def setup(ctx, text=MODEL, name="model.tri"):
    d = ctx.tmpdir()
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
    return d


def expect(r, status, what):
    if r.returncode != status:
        return "%s: expected exit %d, got %d\nstdout: %s\nstderr: %s" % (what, status, r.returncode, r.stdout, r.stderr)
    return None


def test_help_and_version(ctx):
    for argv, status in (([], 2), (["--help"], 0), (["--version"], 0), (["build"], 2), (["frobnicate", "x.tri"], 2),
                         (["build", "--emit=exe", "x.tri"], 2), (["build", "--bogus", "x.tri"], 2),
                         (["build", "-j", "0", "x.tri"], 2), (["build", "--dump=nothing", "x.tri"], 2)):
        r = ctx.run([ctx.tric] + argv)
        e = expect(r, status, " ".join(argv) or "no arguments")
        if e:
            return e
    if "usage" not in ctx.run([ctx.tric, "--help"]).stdout:
        return "--help prints no usage"


def test_outputs_in_current_folder(ctx):
    d = setup(ctx)
    r = ctx.run([ctx.tric, "build", "model.tri"], cwd=d)
    if r.returncode or sorted(os.listdir(d)) != ["model.h", "model.o", "model.tri"]:
        return "build wrote %s (exit %d): %s" % (sorted(os.listdir(d)), r.returncode, r.stderr)
    shutil.rmtree(d)


def test_o_and_emit(ctx):
    d = setup(ctx)
    os.mkdir(os.path.join(d, "out"))
    r = ctx.run([ctx.tric, "build", "model.tri", "-o", "out/m.o", "--emit=obj,header,llvm-ir,asm"], cwd=d)
    got = sorted(os.listdir(os.path.join(d, "out")))
    if r.returncode or got != ["m.h", "m.ll", "m.o", "m.s"]:
        return "wrote %s (exit %d) %s" % (got, r.returncode, r.stderr)
    r = ctx.run([ctx.tric, "build", "model.tri", "-o", "only.ll", "--emit=llvm-ir"], cwd=d)
    if r.returncode or not os.path.exists(os.path.join(d, "only.ll")) or os.path.exists(os.path.join(d, "only.o")):
        return "--emit=llvm-ir wrote %s" % sorted(os.listdir(d))
    if "define" not in open(os.path.join(d, "only.ll")).read():
        return "the .ll file holds no function"
    shutil.rmtree(d)


def test_errors_leave_no_outputs(ctx):
    d = setup(ctx)
    r = ctx.run([ctx.tric, "build", "model.tri"], cwd=d)
    if r.returncode:
        return r.stderr
    with open(os.path.join(d, "model.tri"), "a") as f:
        f.write("export fn broken(x: f32[N]) -> f32[N] { return x + y; }\n")
    r = ctx.run([ctx.tric, "build", "model.tri", "--color=never"], cwd=d)
    e = expect(r, 1, "build with an error")
    if e:
        return e
    if "model.tri:5:" not in r.stderr or "error: unknown name 'y'" not in r.stderr:
        return "diagnostic not in FILE:LINE:COL form: %s" % r.stderr
    left = sorted(os.listdir(d))
    if left != ["model.tri"]:
        return "a failed build left %s (stale or partial outputs)" % left
    shutil.rmtree(d)


def test_check_writes_nothing(ctx):
    d = setup(ctx)
    r = ctx.run([ctx.tric, "check", "model.tri"], cwd=d)
    if r.returncode or os.listdir(d) != ["model.tri"]:
        return "check: exit %d, files %s" % (r.returncode, os.listdir(d))
    shutil.rmtree(d)


def test_io_errors(ctx):
    d = setup(ctx)
    r = ctx.run([ctx.tric, "build", "missing.tri"], cwd=d)
    os.mkdir(os.path.join(d, "empty"))
    e = expect(r, 3, "missing input") or expect(ctx.run([ctx.tric, "build", "empty"], cwd=d), 3, "a folder without sources")
    if e:
        return e
    r = ctx.run([ctx.tric, "build", "model.tri", "-o", "model.tri/m.o"], cwd=d)  # a file where a folder must be
    e = expect(r, 3, "unwritable output")
    if e:
        return e
    if "cannot" not in r.stderr:
        return "no clear message for an unwritable output: %r" % r.stderr
    if glob.glob(os.path.join(d, "**", "*.tmp.*"), recursive=True):
        return "temporary files left behind"
    shutil.rmtree(d)


def test_color(ctx):
    d = setup(ctx, "export fn f(x: f32[N]) -> f32[N] { return x + z; }\n")
    on = ctx.run([ctx.tric, "check", "--color=always", "model.tri"], cwd=d).stderr
    off = ctx.run([ctx.tric, "check", "--color=never", "model.tri"], cwd=d).stderr
    auto = ctx.run([ctx.tric, "check", "model.tri"], cwd=d).stderr  # stderr is a pipe here
    if "\033[" not in on or "\033[" in off or "\033[" in auto:
        return "colour flags not honoured"
    shutil.rmtree(d)


def test_deterministic(ctx):
    d1, d2 = setup(ctx), setup(ctx)
    outs = []
    for d in (d1, d2):
        r = ctx.run([ctx.tric, "build", "model.tri", "--no-cache"], cwd=d)
        if r.returncode:
            return r.stderr
        outs.append((open(os.path.join(d, "model.o"), "rb").read(), open(os.path.join(d, "model.h"), "rb").read()))
    if outs[0] != outs[1]:
        return "two builds of the same source in different folders differ"
    shutil.rmtree(d1)
    shutil.rmtree(d2)


def test_header_in_c_and_cpp_and_two_objects(ctx):
    d = setup(ctx)
    other = "export fn twice(x: f64[N, M]) -> f64[N, M] { return x * 2.0 + exp(x); }\n"
    with open(os.path.join(d, "other.tri"), "w") as f:
        f.write(other)
    for m in ("model.tri", "other.tri"):
        r = ctx.run([ctx.tric, "build", m], cwd=d)
        if r.returncode:
            return r.stderr
    prog = ('#include "model.h"\n#include "other.h"\n#include "model.h"\n#include <stdio.h>\n'
            "int main(void) { float x[3] = {1, 2, 3}, y[3]; double a[2] = {0, 1}, b[2];\n"
            "  if (gelu_f32(x, y, 3) || twice(a, b, 1, 2) || scale(x, 2.0f, y, 3)) return 1;\n"
            '  printf("%g %g\\n", y[2], b[1]); return gelu_f32(x, y, -5) == TRIC_ERR_SIZE ? 0 : 2; }\n')
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(prog)
    with open(os.path.join(d, "main.cpp"), "w") as f:
        f.write(prog)
    r = ctx.run(["cc", "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "main.c", "model.o", "other.o"] + ctx.plain_libs + [
                 "-o", "c_prog"], cwd=d)
    if r.returncode:
        return "C: %s" % r.stderr
    r = ctx.run(["./c_prog"], cwd=d)
    if r.returncode or r.stdout.split() != ["6", "4.71828"]:
        return "C program: %d %r" % (r.returncode, r.stdout)
    if shutil.which("g++") or shutil.which("c++"):
        cxx = shutil.which("g++") or shutil.which("c++")
        r = ctx.run([cxx, "-Wall", "-Wextra", "-Werror", "main.cpp", "model.o", "other.o"] + ctx.plain_libs + ["-o", "cpp_prog"],
                    cwd=d)
        if r.returncode:
            return "C++: %s" % r.stderr
    shutil.rmtree(d)


def has_avx512():
    try:
        return " avx512f " in open("/proc/cpuinfo").read().replace("\n", " ")
    except OSError:
        return False


def function_asm(asm, name):
    lines = asm.split("\n")
    start = lines.index(name + ":")
    out = []
    for l in lines[start + 1:]:
        if l.startswith(".Lfunc_end"):
            break
        out.append(l)
    return out


def kernels_called(ir, fn):
    """Names of the tric.kernel.N functions that the IR of exported function fn calls (in
    its body, tric.entry.fn, which its C entries call), directly or through the thread
    pool's task functions (tric.task.N) it passes."""
    start = ir_define(ir, "tric.entry." + fn)
    body = ir[start: ir.index("\n}\n", start)]
    words = body.replace(",", " ").split()
    names = set(w.split("(")[0][1:] for w in words if w.startswith("@tric.kernel."))
    for task in set(w.split("(")[0][1:] for w in words if w.startswith("@tric.task.")):
        tb = ir_function(ir, task)
        names |= set(w.split("(")[0][1:] for w in tb.replace(",", " ").split() if w.startswith("@tric.kernel."))
    return sorted(names)


def ir_define(ir, name):
    """Offset of the line defining function name in textual IR."""
    import re
    return re.search(r"^define [^\n]*@%s\(" % re.escape(name), ir, re.M).start()


def ir_function(ir, name):
    start = ir_define(ir, name)
    return ir[start: ir.index("\n}\n", start)]


def test_elementwise_chain_is_one_vector_loop(ctx):
    """A 10-operation GELU chain: one kernel with one vector loop at full SIMD width (on x86,
    plus its copy that writes large outputs with streaming stores), and no
    calls at all inside it (no libm, no temporaries)."""
    d = setup(ctx)
    r = ctx.run([ctx.tric, "build", "model.tri", "--emit=asm,llvm-ir"], cwd=d)
    if r.returncode:
        return r.stderr
    ir = open(os.path.join(d, "model.ll")).read()
    ks = kernels_called(ir, "gelu_f32")
    if len(ks) != 1:
        return "expected the GELU chain in one kernel, found %s" % ks
    body = function_asm(open(os.path.join(d, "model.s")).read(), ks[0])
    calls = [l for l in body if "call" in l]
    if calls:
        return "calls in the fused GELU kernel: %s" % calls
    reg = "zmm" if has_avx512() else "ymm"
    if not any(reg in l for l in body):
        return "no %s registers in the GELU kernel" % reg
    fn = ir_function(ir, ks[0])
    if "llvm.tanh" in fn or "@tanhf" in fn:
        return "tanh was not expanded inline"
    # on x86 a second copy of the loop writes outputs of 16 MiB and more with streaming stores
    x86 = platform.machine() == "x86_64"
    loops = vector_loops(fn)
    if len(loops) != 1 + x86:
        return "expected %d vectorised loops, found %d" % (1 + x86, len(loops))
    if x86:
        if "!nontemporal" in loops[0] or "!nontemporal" not in loops[1]:
            return "expected plain stores in the first vector loop and streaming stores in the second"
        if not any("vmovntps" in l for l in body) or not any("sfence" in l for l in body):
            return "no vmovntps/sfence in the GELU kernel"
    shutil.rmtree(d)


def vector_loops(fn):
    """The main vector loop bodies of an LLVM IR function, as text (label to next label)."""
    blocks = re.split(r"\n(?=[\w.]+:)", fn)
    return [b for b in blocks if re.match(r"vector\.body\d*:", b)]


def test_small_outputs_use_plain_stores(ctx):
    """A fixed output far below 16 MiB gets one loop and no streaming stores."""
    d = setup(ctx, "export fn f(x: f32[4096]) -> f32[4096] { return tanh(x) * 2; }\n")
    r = ctx.run([ctx.tric, "build", "model.tri", "--emit=llvm-ir"], cwd=d)
    if r.returncode:
        return r.stderr
    ir = open(os.path.join(d, "model.ll")).read()
    if "!nontemporal" in ir or "sfence" in ir or len(vector_loops(ir)) != 1:
        return "a 16 KiB output got a streaming path"
    shutil.rmtree(d)


def test_rowwise_streaming_stores(ctx):
    """A row-wise kernel (softmax, layer norm) into an output of symbolic size has a path
    with streaming stores and an sfence at every x86 target (taken for outputs of 16 MiB
    and more: tests/e2e/rowwise_stream checks the values), its softmax divides once per row
    (a multiply by the reciprocal, vdivps nowhere in its vector loops) and its max folds
    with plain vmaxps (no llvm.maximum in the first loop); a fixed output of 16 KiB has no
    streaming path."""
    src = ("export fn sm(x: f32[R, C]) -> f32[R, C] { return softmax(x); }\n"
           "export fn norm(x: f32[R, C]) -> f32[R, C] {\n"
           "  let d = x - mean(x, axis=-1, keepdims=true);\n"
           "  return d * rsqrt(mean(d * d, axis=-1, keepdims=true) + 1e-5);\n}\n"
           "export fn small(x: f32[4, 1024]) -> f32[4, 1024] { return softmax(x); }\n")
    d = setup(ctx, src)
    for cpu in ("x86-64", "x86-64-v3", "skylake-avx512"):
        r = ctx.run([ctx.tric, "build", "model.tri", "--emit=asm,llvm-ir", "--target", "x86_64-linux-gnu", "--cpu", cpu],
                    cwd=d)
        if r.returncode:
            return r.stderr
        ir = open(os.path.join(d, "model.ll")).read()
        asm = open(os.path.join(d, "model.s")).read()
        for fn in ("sm", "norm", "small"):
            ks = kernels_called(ir, fn)
            if len(ks) != 1:
                return "%s: expected one row-wise kernel, found %s" % (fn, ks)
            body = function_asm(asm, ks[0])
            nt = any("movntp" in l for l in body) and any("sfence" in l for l in body)
            if nt != (fn != "small"):
                return "%s at %s: streaming stores %s" % (fn, cpu, "present" if nt else "missing")
            if fn == "sm":
                loops = vector_loops(ir_function(ir, ks[0]))
                if any("fdiv <" in l for l in loops):
                    return "sm at %s: a vector division in the row's loops" % cpu
                if "llvm.maximum" in loops[0]:
                    return "sm at %s: the max's vector loop folds with llvm.maximum" % cpu
    shutil.rmtree(d)


def test_identical_kernels_generated_once(ctx):
    """Ten structurally identical layers share their kernels: the matmul with its fused
    epilogue (bias, tanh, *2) is one kernel into a temporary called nine times, and one
    into the output called once."""
    body = "\n".join("  let h%d = tanh(h%d @ w + b) * 2;" % (i + 1, i) for i in range(10))
    src = ("export fn deep(x: f32[B, 16], w: f32[16, 16], b: f32[16]) -> f32[B, 16] {\n  let h0 = x;\n%s\n"
           "  return h10;\n}\n" % body)
    d = setup(ctx, src)
    r = ctx.run([ctx.tric, "build", "model.tri", "--emit=llvm-ir"], cwd=d)
    if r.returncode:
        return r.stderr
    ir = open(os.path.join(d, "model.ll")).read()
    defined = re.findall(r"^define [^\n]*@(tric\.kernel\.\d+)\(", ir, re.M)
    # a contraction kernel is called through its thread pool task (tric.task.N), which the
    # entry calls directly when it runs on one thread
    tasks = re.findall(r"call void @(tric\.task\.\d+)\(", ir_function(ir, "tric.entry.deep"))
    task_kernel = {t: re.findall(r"call [^\n]*@(tric\.kernel\.\d+)\(", ir_function(ir, t)) for t in set(tasks)}
    calls = [task_kernel[t][0] for t in tasks if len(task_kernel[t]) == 1]
    counts = sorted(calls.count(k) for k in set(calls))
    if len(defined) != 2 or sorted(set(calls)) != sorted(defined) or counts != [1, 9]:
        return "10 identical layers: kernels %s defined, called %s times (tasks %s)" % (defined, counts, task_kernel)
    shutil.rmtree(d)


def test_cross_target(ctx):
    d = setup(ctx)
    r = ctx.run([ctx.tric, "build", "model.tri", "--target", "aarch64-linux-gnu", "--emit=obj,asm"], cwd=d)
    if r.returncode:
        return r.stderr
    asm = open(os.path.join(d, "model.s")).read()
    if "fmla" not in asm and "fmul\tv" not in asm:
        return "no NEON vector code for aarch64"
    with open(os.path.join(d, "model.o"), "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != 183:  # EM_AARCH64
        return "the object is not an AArch64 ELF file"
    r = ctx.run([ctx.tric, "build", "model.tri", "--target", "no-such-target"], cwd=d)
    e = expect(r, 2, "unknown target")
    if e:
        return e
    shutil.rmtree(d)


def test_opt_levels_agree(ctx):
    """gelu_f32 at -O0..-O3: each program exits 0 and prints all 37 results, each within
    1e-5 of a float64 NumPy reference, and the levels agree with each other."""
    import numpy as np
    d = setup(ctx)
    prog = ('#include "m.h"\n#include <stdio.h>\nint main(void) { float x[37], y[37];\n'
            "  for (int i = 0; i < 37; i++) x[i] = (i - 18) * 0.37f;\n"
            '  if (gelu_f32(x, y, 37)) return 1; for (int i = 0; i < 37; i++) printf("%.9g\\n", y[i]); return 0; }\n')
    with open(os.path.join(d, "p.c"), "w") as f:
        f.write(prog)
    x = (np.arange(37, dtype=np.float32) - 18) * np.float32(0.37)
    x = x.astype(np.float64)
    want = 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))
    results = []
    for o in ("-O0", "-O1", "-O2", "-O3"):
        r = ctx.run([ctx.tric, "build", "model.tri", o, "-o", "m.o"], cwd=d)
        if r.returncode:
            return r.stderr
        r = ctx.run([ctx.cc, "p.c", "m.o"] + ctx.plain_libs + ["-o", "p"], cwd=d)
        if r.returncode:
            return r.stderr
        r = ctx.run(["./p"], cwd=d)
        if r.returncode:
            return "%s: the program exited with %d: %s" % (o, r.returncode, r.stderr)
        got = np.array([float(v) for v in r.stdout.split()])
        if got.shape != want.shape:
            return "%s: %d results, expected %d" % (o, got.size, want.size)
        bad = ~np.isclose(got, want, rtol=1e-5, atol=1e-6)
        if bad.any():
            i = int(np.argmax(bad))
            return "%s: gelu(%r) = %r, NumPy says %r" % (o, x[i], got[i], want[i])
        results.append(got)
    for o, res in zip(("-O1", "-O2", "-O3"), results[1:]):
        if not np.allclose(res, results[0], rtol=1e-6, atol=1e-7):
            return "-O0 and %s disagree" % o
    shutil.rmtree(d)


def test_usage_error_touches_no_output(ctx):
    """A bad option value (here an unknown target, checked before anything is read) is a
    usage error: exit 2, and the outputs of an earlier build stay as they were, as with
    any other usage error (a compile error removes them: test_errors_leave_no_outputs)."""
    d = setup(ctx)
    r = ctx.run([ctx.tric, "build", "model.tri"], cwd=d)
    if r.returncode or not os.path.exists(os.path.join(d, "model.o")):
        return "first build failed: %s" % r.stderr
    before = {f: open(os.path.join(d, f), "rb").read() for f in ("model.o", "model.h")}
    r = ctx.run([ctx.tric, "build", "model.tri", "--target", "no-such-target"], cwd=d)
    e = expect(r, 2, "unknown target")
    if e:
        return e
    after = {f: open(os.path.join(d, f), "rb").read() for f in before if os.path.exists(os.path.join(d, f))}
    if after != before:
        return "a usage error changed the earlier outputs: %s left" % sorted(after)
    shutil.rmtree(d)


def test_folder_depfiles_and_make(ctx):
    """`tric build src/ -o out/ -MD` (trailing slashes, as the README writes it) names
    every file one way in the depfiles (no `//`, no `./`), so make rebuilds an object after
    an edit to a module it imports (the Makefile names no source: only the depfiles do)."""
    d = ctx.tmpdir()
    os.makedirs(os.path.join(d, "src", "sub"))
    files = {"src/a.tri": "import lib;\nexport fn f(x: f32[N]) -> f32[N] { return lib.g(x); }\n",
             "src/lib.tri": "fn g(x: f32[...]) -> f32[...] { return x * 2; }\n",
             "src/sub/c.tri": "export fn h(x: f32[N]) -> f32[N] { return x + 1; }\n"}
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    objs = "out/a.o out/lib.o out/sub/c.o"
    with open(os.path.join(d, "Makefile"), "w") as f:
        # what each object depends on comes from the depfiles alone
        f.write("all: %s\n%s:\n\t%s build src/ -o out/ -MD --no-cache\n"
                "-include $(wildcard out/*.d out/sub/*.d)\n" % (objs, objs, ctx.tric))
    r = ctx.run(["make", "-s"], cwd=d)
    if r.returncode:
        return "first make: %s%s" % (r.stdout, r.stderr)
    for dep in ("out/a.d", "out/lib.d", "out/sub/c.d"):
        text = open(os.path.join(d, dep)).read()
        if "//" in text or "./" in text:
            return "%s names paths two ways:\n%s" % (dep, text)
    if not open(os.path.join(d, "out/a.d")).read().startswith("out/a.o: src/a.tri src/lib.tri\n"):
        return "out/a.d: %r" % open(os.path.join(d, "out/a.d")).read()
    r = ctx.run(["make", "-q"], cwd=d)
    if r.returncode != 0:
        return "make finds work to do right after a build"
    # an import edit, dated after every output (the outputs are dated back: no sleep)
    import time
    now = time.time()
    for root, _, names in os.walk(d):
        for n in names:
            os.utime(os.path.join(root, n), (now - 20, now - 20))
    with open(os.path.join(d, "src/lib.tri"), "a") as f:
        f.write("// edited\n")
    os.utime(os.path.join(d, "src/lib.tri"), (now - 10, now - 10))
    r = ctx.run(["make", "-q", "out/a.o"], cwd=d)
    if r.returncode != 1:
        return "make does not see out/a.o out of date after an edit to the module it imports (make -q: %d)" % r.returncode
    r = ctx.run(["make", "-s"], cwd=d)
    if r.returncode or ctx.run(["make", "-q"], cwd=d).returncode != 0:
        return "the rebuild did not bring everything up to date: %s" % r.stderr
    shutil.rmtree(d)


def test_mf_with_several_modules_is_refused(ctx):
    """-MF names one depfile; for a folder (or several files) holding more than one module it
    is a usage error (exit 2), and nothing is written; with one module it is written (-o DIR/
    names a folder even for one file; paths are named one way)."""
    d = setup(ctx)
    os.mkdir(os.path.join(d, "src"))
    for n in ("a", "b"):
        with open(os.path.join(d, "src", n + ".tri"), "w") as f:
            f.write("export fn %s(x: f32[N]) -> f32[N] { return x; }\n" % n)
    for argv in (["src/", "-MF", "deps.d"], ["src/a.tri", "src/b.tri", "-MF", "deps.d"]):
        r = ctx.run([ctx.tric, "build", "--no-cache"] + argv, cwd=d)
        e = expect(r, 2, "-MF with two modules")
        if e:
            return e
        if "-MF" not in r.stderr or "2 modules" not in r.stderr:
            return "unclear message: %s" % r.stderr
        if sorted(os.listdir(os.path.join(d, "src"))) != ["a.tri", "b.tri"] or os.path.exists(os.path.join(d, "deps.d")):
            return "a refused -MF build wrote files"
    r = ctx.run([ctx.tric, "build", "--no-cache", "./src//a.tri", "-o", "out/", "-MF", "deps.d"], cwd=d)
    if r.returncode or open(os.path.join(d, "deps.d")).read() != "out/a.o: src/a.tri\n":
        return "-MF with one module: %d %s" % (r.returncode, r.stderr)
    shutil.rmtree(d)


def test_two_modules_one_object_is_refused(ctx):
    """Two inputs whose outputs have one name (a/m.tri and b/m.tri into the current folder,
    or two folders mirrored into one -o) would overwrite each other: exit 2, naming both,
    and nothing written."""
    d = ctx.tmpdir()
    for sub in ("a", "b"):
        os.mkdir(os.path.join(d, sub))
        with open(os.path.join(d, sub, "m.tri"), "w") as f:
            f.write("export fn f_%s(x: f32[N]) -> f32[N] { return x; }\n" % sub)
    for argv, obj in ((["a/m.tri", "b/m.tri"], "'m.o'"), (["a", "b", "-o", "out"], "'out/m.o'")):
        r = ctx.run([ctx.tric, "build", "--no-cache"] + argv, cwd=d)
        e = expect(r, 2, "tric build " + " ".join(argv))
        if e:
            return e
        if "'a/m.tri' and 'b/m.tri'" not in r.stderr or obj not in r.stderr:
            return "unclear message: %s" % r.stderr
        if sorted(os.listdir(d)) != ["a", "b"] or os.listdir(os.path.join(d, "a")) != ["m.tri"]:
            return "a refused build wrote %s" % sorted(os.listdir(d))
    shutil.rmtree(d)


def test_every_include_folder_is_searched(ctx):
    """Imports are looked up in every -I folder, in order, however many are given (the
    command line kept the first 64 and dropped the rest without a word)."""
    d = ctx.tmpdir()
    dirs = [os.path.join(d, "inc%03d" % i) for i in range(100)]
    for p in dirs:
        os.mkdir(p)
    with open(os.path.join(dirs[-1], "far.tri"), "w") as f:
        f.write("fn g(x: f32[N]) -> f32[N] { return x * 3.0; }\n")
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write("import far;\nexport fn f(x: f32[N]) -> f32[N] { return far.g(x); }\n")
    flags = [a for i, p in enumerate(dirs) for a in (("-I", p) if i % 2 else ("-I" + p,))]
    r = ctx.run([ctx.tric, "check", "m.tri"] + flags, cwd=d)
    if r.returncode or r.stderr:
        return "import from the 100th -I folder: exit %d\n%s" % (r.returncode, r.stderr[-2000:])
    os.remove(os.path.join(dirs[-1], "far.tri"))
    r = ctx.run([ctx.tric, "check", "m.tri"] + flags, cwd=d)
    if r.returncode != 1 or "far" not in r.stderr:
        return "a missing import: exit %d\n%s" % (r.returncode, r.stderr[-2000:])
