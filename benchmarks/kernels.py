"""kernels.py - the kernels section of `make bench` (run.py --only kernels): tric's matmul,
softmax, layer norm and transformer MLP block, each timed beside its baseline on the same
machine, and the figures written to a JSON file that compare.py reads (make bench-compare).

Machines differ from one session to the next, so every figure that is meant to be compared
across runs is a ratio against a baseline run side by side: OpenBLAS cblas_sgemm in the same
process as tric's matmul (kernels_bench.c), a copy loop moving the same bytes in the same
process as softmax and layer norm, PyTorch right after on the same data (torch_bench.py).
OpenBLAS runs twice: as it picks its kernel here, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
unset for its command only, and forced to the kernel of the CPU's vector width (SkylakeX for
AVX-512, Haswell for AVX2), because the OpenBLAS Debian ships falls back to an SSE3 kernel
on CPUs newer than it knows. Which kernel ran is recorded either way. docs/benchmarks.md
says what each figure is, its baseline and its goal.
"""
import json
import os
import shutil
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# samples after one warm-up, chosen so that the section stays near a minute on a 2-core
# machine (a sample of a small product is many calls: kernels_bench.c)
SQUARES = ((64, 30), (128, 30), (256, 20), (512, 10), (1024, 7), (2048, 5))
TRANSFORMER = (((128, 768, 3072), 15), ((128, 3072, 768), 15))
ROWS = (4096, 4096)
ROW_REPS = 15
MLP = (128, 768, 3072)
MLP_REPS = 15
# the compile-time figure: the 50-layer model of run.py's build section, samples per tric
COMPILE_LAYERS, COMPILE_REPS = 50, 9


def sh(argv, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit("benchmark step failed: %s\n%s%s" % (" ".join(argv), r.stdout, r.stderr))
    return r.stdout



def write_result(result, json_path, name, failures):
    """Writes a section's result to json_path (if given), then exits with the failed checks,
    if any: a wrong result makes every figure meaningless."""
    if json_path:
        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w") as fp:
            json.dump(result, fp, indent=1)
        print("figures written to %s" % json_path)
    if failures:
        sys.exit("%s: tric's results are wrong, the figures above measure nothing:\n  " % name + "\n  ".join(failures))

def machine():
    """The CPU (model, vector width, features that matter to kernels), cores and load."""
    info, flags = {}, set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k in ("model name", "cpu family", "model", "vendor_id") and k not in info:
                info[k] = v
            elif k == "flags" and not flags:
                flags = set(v.split())
    bits = 512 if "avx512f" in flags else 256 if "avx2" in flags else 128
    return {"cpu_model": info.get("model name", platform.processor()), "vendor": info.get("vendor_id"),
            "cpu_family": info.get("cpu family"), "cpu_model_number": info.get("model"),
            "vector_bits": bits,
            "features": sorted(flags & {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                                        "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile"}),
            "cpus_online": os.cpu_count(), "cpus_allowed": len(os.sched_getaffinity(0)),
            "kernel": platform.release(), "loadavg_start": list(os.getloadavg())}


def stats(samples):
    """Median and spread (interquartile range over the median) of a list of seconds."""
    a = np.array(samples, dtype=np.float64)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median": float(med), "min": float(a.min()), "spread": float((q3 - q1) / med) if med > 0 else 0.0,
            "n": len(samples)}


def parse(out):
    """kernels_bench / torch_bench output -> (times {fig: {impl: [s]}}, checks, openblas line)."""
    times, checks, core = {}, {}, None
    for line in out.splitlines():
        w = line.split()
        if w[0] == "time":
            times.setdefault(w[1], {})[w[2]] = [float(s) for s in w[3:]]
        elif w[0] == "check":
            checks[w[1]] = (float(w[2]), float(w[3]))
        elif w[0] == "openblas":
            core = line[len("openblas "):]
    return times, checks, core


class Section:
    """Collects the figures of one run; each one is printed as it is measured."""

    def __init__(self):
        self.figures = {}
        self.failures = []

    def add(self, name, value, spread, unit, better=None, goal=None, samples=None):
        met = None
        if goal is not None:
            met = bool(value >= goal) if better == "higher" else bool(value <= goal)
        self.figures[name] = {"value": value, "spread": spread, "unit": unit, "better": better,
                              "goal": goal, "met": met}
        if samples is not None:
            self.figures[name]["samples"] = samples
        return met

    def check(self, checks):
        for fig, (err, tol) in checks.items():
            if not err <= tol:
                self.failures.append("%s: tric's result is off by %.3g (relative), more than %.3g" % (fig, err, tol))


def goal_text(met, goal, better):
    if goal is None:
        return ""
    return "  goal %s %g: %s" % (">=" if better == "higher" else "<=", goal, "met" if met else "MISSED")


def compile_figure(sec, tric, ref_tric, gen_model):
    """The compile time of a generated model, which the kernel-engine work must keep within
    1.2x; with ref_tric (a tric from before that work) the two alternate, in turn first."""
    md = tempfile.mkdtemp(prefix="tric-bench-kernels-model-")
    gen_model(os.path.join(md, "model.tri"), COMPILE_LAYERS)

    def compile_once(binary):
        t0 = time.perf_counter()
        sh([binary, "build", "--no-cache", os.path.join(md, "model.tri"), "-o", os.path.join(md, "model.o")])
        return time.perf_counter() - t0
    compile_once(tric)  # warm-up: the binary and the model file into the page cache
    ct, cr = [], []
    for rep in range(COMPILE_REPS):
        if ref_tric and rep % 2:
            cr.append(compile_once(ref_tric))
        ct.append(compile_once(tric))
        if ref_tric and not rep % 2:
            cr.append(compile_once(ref_tric))
    st = stats(ct)
    sec.add("compile.model%d_ms" % COMPILE_LAYERS, st["median"] * 1e3, st["spread"], "ms", "lower", samples=ct)
    line = "compile of a generated %d-layer model (-O2, no cache, median of %d): %.1f ms" % (
        COMPILE_LAYERS, COMPILE_REPS, st["median"] * 1e3)
    if ref_tric:
        sr = stats(cr)
        ratio = st["median"] / sr["median"]
        met = sec.add("compile.model%d_vs_ref" % COMPILE_LAYERS, ratio, st["spread"] + sr["spread"], "ratio", "lower", 1.2)
        line += "; reference tric %.1f ms: %.2fx%s" % (sr["median"] * 1e3, ratio, goal_text(met, 1.2, "lower"))
    else:
        line += " (goal: within 1.2x of the tric before the kernel-engine work: --ref-tric, or bench-compare)"
    print(line)
    # The same cold compile as a build meets it once any module has compiled a matmul:
    # the shared microkernel (docs/plan.md, "Contraction tiles") from the cache, every
    # kernel of the model compiled. Each run has a cache folder of its own, primed by a
    # one-matmul module (untimed); the reference tric gets a fresh folder too.
    primer = os.path.join(md, "primer.tri")
    with open(primer, "w") as f:
        f.write("export fn p(a: f32[M, K], b: f32[K, N]) -> f32[M, N] { return a @ b; }\n")

    def cached_once(binary, prime):
        env = dict(os.environ, TRIC_CACHE_DIR=tempfile.mkdtemp(prefix="tric-bench-uk-cache-"))
        if prime:
            sh([binary, "build", primer, "-o", os.path.join(md, "primer.o")], env=env)
        t0 = time.perf_counter()
        sh([binary, "build", os.path.join(md, "model.tri"), "-o", os.path.join(md, "model.o")], env=env)
        dt = time.perf_counter() - t0
        shutil.rmtree(env["TRIC_CACHE_DIR"])
        return dt
    ct, cr = [], []
    for rep in range(COMPILE_REPS):
        if ref_tric and rep % 2:
            cr.append(cached_once(ref_tric, False))
        ct.append(cached_once(tric, True))
        if ref_tric and not rep % 2:
            cr.append(cached_once(ref_tric, False))
    st = stats(ct)
    sec.add("compile.model%d_uk_cached_ms" % COMPILE_LAYERS, st["median"] * 1e3, st["spread"], "ms", "lower", samples=ct)
    line = "  the same, its own kernels cold but the microkernel from the cache (cache folder per run): %.1f ms" % (
        st["median"] * 1e3)
    if ref_tric:
        sr = stats(cr)
        ratio = st["median"] / sr["median"]
        sec.add("compile.model%d_uk_cached_vs_ref" % COMPILE_LAYERS, ratio, st["spread"] + sr["spread"], "ratio", "lower")
        line += "; reference tric, empty cache, %.1f ms: %.2fx" % (sr["median"] * 1e3, ratio)
    print(line)


def bench_kernels(tric, json_path, gen_model, ref_tric=None):
    t_start = time.time()
    d = tempfile.mkdtemp(prefix="tric-bench-kernels-")
    sh([tric, "build", os.path.join(HERE, "kernels.tri"), "-o", os.path.join(d, "kernels.o")])
    try:
        blas = sh(["pkg-config", "--cflags", "--libs", "openblas"]).split()
    except (OSError, SystemExit):
        blas = ["-I/usr/include/x86_64-linux-gnu/openblas-pthread", "-lopenblas"]
    exe = os.path.join(d, "kernels_bench")
    sh(["cc", "-O3", "-march=native", "-fno-tree-loop-distribute-patterns", "-I", d, os.path.join(HERE, "kernels_bench.c"),
        os.path.join(d, "kernels.o"), os.path.join(os.path.dirname(os.path.abspath(tric)), "libtricrt.a")] + blas +
       ["-lm", "-lpthread", "-o", exe])

    m = machine()
    # the environment may pin OpenBLAS's kernel or cache size; the baselines run as OpenBLAS
    # picks them here, so both are unset for the benchmark commands (and only for them)
    was_set = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    base_env = {k: v for k, v in os.environ.items() if k not in was_set}
    base_env["OMP_NUM_THREADS"] = "1"
    # OpenBLAS's idle threads spin for about 2^28 cycles after each call (THREAD_TIMEOUT),
    # on the core tric's second worker needs: in one process with OpenBLAS, tric's 1024^3
    # matmul at 2 threads took 11.5 ms instead of 5.8. 2^4 cycles makes them sleep at once;
    # OpenBLAS's own calls pay a wake-up of some microseconds
    base_env["OPENBLAS_THREAD_TIMEOUT"] = "4"
    want_core = {512: "SkylakeX", 256: "Haswell"}.get(m["vector_bits"])
    tuned_env = dict(base_env, OPENBLAS_CORETYPE=want_core) if want_core else None
    cores = {1: "0", 2: "0,1"} if m["cpus_allowed"] >= 2 else {1: "0", 2: "0"}
    sec = Section()

    def driver(threads, reps, *args, env=base_env, baseline_only=False):
        argv = ["taskset", "-c", cores[threads], exe] + (["--baseline-only"] if baseline_only else [])
        times, checks, core = parse(sh(argv + [str(threads), str(reps)] + [str(a) for a in args], env=env))
        sec.check(checks)
        return times, core

    def torch(threads, reps, *tasks, env=base_env):
        out = sh(["taskset", "-c", cores[threads], PYTHON, os.path.join(HERE, "torch_bench.py"), str(threads), str(reps)]
                 + list(tasks), env=dict(env, OMP_NUM_THREADS=str(threads)))
        times, checks, _ = parse(out)
        sec.check(checks)
        return times, out.splitlines()[0].split()[1]

    # which kernel each OpenBLAS run uses: one tiny call, to print it before the figures
    _, core_default = driver(1, 1, "matmul", 8, 8, 8, baseline_only=True)
    core_tuned = None
    if tuned_env:
        _, core_tuned = driver(1, 1, "matmul", 8, 8, 8, env=tuned_env, baseline_only=True)
        if core_tuned.split()[0].lower() == core_default.split()[0].lower():
            tuned_env, core_tuned = None, None  # OpenBLAS picked that kernel itself
    tuned_name = "openblas_" + want_core.lower() if tuned_env else None

    print("kernels: %s (family %s model %s), %d-bit vectors (%s), %d cpus, load %.2f %.2f %.2f" % (
        m["cpu_model"], m["cpu_family"], m["cpu_model_number"], m["vector_bits"], " ".join(m["features"]),
        m["cpus_allowed"], *m["loadavg_start"]))
    print("  OpenBLAS as it runs here (%s): core %s" % (
        ", ".join("%s was %r, unset" % (k, v) if v is not None else "%s not set" % k for k, v in was_set.items()),
        core_default))
    if core_tuned:
        print("  OpenBLAS with OPENBLAS_CORETYPE=%s (the kernel of this CPU's vector width): core %s" % (
            want_core, core_tuned.split(" |")[0]))
        print("  note: OpenBLAS's own pick, %s, is not its %d-bit kernel: figures against it overstate tric;" % (
            core_default.split(" |")[0], m["vector_bits"]))
        print("        the %s column is the baseline that measures what this CPU can do" % tuned_name)

    # ---- matmul, 1 thread
    print("matmul f32 [M,K]@[K,N], 1 thread (median ms; ratio = baseline time / tric time, higher is better):")
    hdr = "  %-16s %9s %10s %6s" % ("MxKxN", "tric", "OpenBLAS", "ratio")
    if tuned_name:
        hdr += " %10s %6s" % (want_core, "ratio")
    print(hdr + "   GFLOP/s tric")
    shapes = [((s, s, s), r) for s, r in SQUARES] + list(TRANSFORMER)
    t1_tric = {}
    for (mm, kk, nn), reps in shapes:
        times, _ = driver(1, reps, "matmul", mm, kk, nn)
        fig = "matmul.%dx%dx%d" % (mm, kk, nn)
        tt, tb = stats(times[fig]["tric"]), stats(times[fig]["openblas"])
        t1_tric[fig] = tt
        goal = 1.0 if mm == 64 else 0.9 if (mm >= 256 or mm != kk) else None
        sec.add(fig + ".t1.tric_ms", tt["median"] * 1e3, tt["spread"], "ms", "lower", samples=times[fig]["tric"])
        sec.add(fig + ".t1.openblas_ms", tb["median"] * 1e3, tb["spread"], "ms")
        ratio = tb["median"] / tt["median"]
        met = sec.add(fig + ".t1.ratio_openblas", ratio, tt["spread"] + tb["spread"], "ratio", "higher", goal)
        line = "  %-16s %9.3f %10.3f %6.2f" % ("%dx%dx%d" % (mm, kk, nn), tt["median"] * 1e3, tb["median"] * 1e3, ratio)
        gtext = goal_text(met, goal, "higher")
        if tuned_name:
            tu = stats(driver(1, reps, "matmul", mm, kk, nn, env=tuned_env, baseline_only=True)[0][fig]["openblas"])
            r2 = tu["median"] / tt["median"]
            sec.add(fig + ".t1.%s_ms" % tuned_name, tu["median"] * 1e3, tu["spread"], "ms")
            met2 = sec.add(fig + ".t1.ratio_" + tuned_name, r2, tt["spread"] + tu["spread"], "ratio", "higher", goal)
            line += " %10.3f %6.2f" % (tu["median"] * 1e3, r2)
            if goal is not None:
                gtext = "  goal >= %g: %s / %s" % (goal, "met" if met else "MISSED", "met" if met2 else "MISSED")
        print(line + "   %7.1f" % (2.0 * mm * kk * nn / tt["median"] / 1e9) + gtext)

    # ---- matmul 1024, 2 threads
    fig = "matmul.1024x1024x1024"
    times, _ = driver(2, 7, "matmul", 1024, 1024, 1024)
    tt, tb = stats(times[fig]["tric"]), stats(times[fig]["openblas"])
    sec.add(fig + ".t2.tric_ms", tt["median"] * 1e3, tt["spread"], "ms", "lower", samples=times[fig]["tric"])
    sec.add(fig + ".t2.openblas_ms", tb["median"] * 1e3, tb["spread"], "ms")
    sec.add(fig + ".t2.ratio_openblas", tb["median"] / tt["median"], tt["spread"] + tb["spread"], "ratio", "higher")
    t1 = t1_tric[fig]
    speedup = t1["median"] / tt["median"]
    met = sec.add(fig + ".tric_speedup_2t", speedup, t1["spread"] + tt["spread"], "ratio", "higher", 1.8)
    ob1 = sec.figures[fig + ".t1.openblas_ms"]["value"]
    print("matmul 1024^3 on 2 threads (cores %s; tric and OpenBLAS both set to 2 threads):" % cores[2])
    print("  tric %.3f ms: %.2fx its 1-thread time%s" % (tt["median"] * 1e3, speedup, goal_text(met, 1.8, "higher")))
    print("  OpenBLAS %.3f ms: %.2fx its 1-thread time; ratio to tric %.2f" % (
        tb["median"] * 1e3, ob1 / (tb["median"] * 1e3), tb["median"] / tt["median"]))
    if tuned_name:
        tu = stats(driver(2, 7, "matmul", 1024, 1024, 1024, env=tuned_env, baseline_only=True)[0][fig]["openblas"])
        sec.add(fig + ".t2.%s_ms" % tuned_name, tu["median"] * 1e3, tu["spread"], "ms")
        sec.add(fig + ".t2.ratio_" + tuned_name, tu["median"] / tt["median"], tt["spread"] + tu["spread"], "ratio", "higher")
        ob1 = sec.figures[fig + ".t1.%s_ms" % tuned_name]["value"]
        print("  OpenBLAS %s %.3f ms: %.2fx its 1-thread time; ratio to tric %.2f" % (
            want_core, tu["median"] * 1e3, ob1 / (tu["median"] * 1e3), tu["median"] / tt["median"]))

    # ---- softmax and layer norm over rows, 1 thread
    r, c = ROWS
    nbytes = 2.0 * r * c * 4
    torch_rows, torch_version = torch(1, ROW_REPS, "softmax:%d:%d" % ROWS, "layernorm:%d:%d" % ROWS)
    print("softmax / layer norm over %dx%d f32 rows, 1 thread (GB/s of bytes read + written; ratio = baseline time / tric time):" % ROWS)
    for kind in ("softmax", "layernorm"):
        fig = "%s.%dx%d" % (kind, r, c)
        times, _ = driver(1, ROW_REPS, kind, r, c)
        tt, tc, tp = stats(times[fig]["tric"]), stats(times[fig]["copy"]), stats(torch_rows[fig]["torch"])
        sec.add(fig + ".tric_gbs", nbytes / tt["median"] / 1e9, tt["spread"], "GB/s", "higher", samples=times[fig]["tric"])
        sec.add(fig + ".copy_gbs", nbytes / tc["median"] / 1e9, tc["spread"], "GB/s")
        sec.add(fig + ".torch_gbs", nbytes / tp["median"] / 1e9, tp["spread"], "GB/s")
        rc = tc["median"] / tt["median"]
        met = sec.add(fig + ".ratio_copy", rc, tt["spread"] + tc["spread"], "ratio", "higher", 0.9)
        rp = tp["median"] / tt["median"]
        sec.add(fig + ".ratio_torch", rp, tt["spread"] + tp["spread"], "ratio", "higher")
        print("  %-9s tric %6.2f  copy loop %6.2f  PyTorch %6.2f   ratio to copy %.2f%s   ratio to PyTorch %.2f" % (
            kind, nbytes / tt["median"] / 1e9, nbytes / tc["median"] / 1e9, nbytes / tp["median"] / 1e9, rc,
            goal_text(met, 0.9, "higher"), rp))

    # ---- the MLP block at 1 and 2 threads
    t, dd, f = MLP
    fig = "mlp.T%d.D%d.F%d" % MLP
    print("MLP block layernorm(x + gelu(x @ w1 + b1) @ w2 + b2), T=%d D=%d F=%d (median ms; ratio = baseline / tric):" % MLP)
    for threads in (1, 2):
        dump = os.path.join(d, "mlp-%d.bin" % threads)
        times, _ = driver(threads, MLP_REPS, "mlp", t, dd, f, dump)
        pt, _ = torch(threads, MLP_REPS, "mlp:%d:%d:%d:%s" % (t, dd, f, dump))
        tt, tb, tp = stats(times[fig]["tric"]), stats(times[fig]["c_openblas"]), stats(pt[fig]["torch"])
        key = "%s.t%d" % (fig, threads)
        sec.add(key + ".tric_ms", tt["median"] * 1e3, tt["spread"], "ms", "lower", samples=times[fig]["tric"])
        sec.add(key + ".torch_ms", tp["median"] * 1e3, tp["spread"], "ms")
        sec.add(key + ".c_openblas_ms", tb["median"] * 1e3, tb["spread"], "ms")
        rp, rb = tp["median"] / tt["median"], tb["median"] / tt["median"]
        met = sec.add(key + ".ratio_torch", rp, tt["spread"] + tp["spread"], "ratio", "higher", 1.0)
        sec.add(key + ".ratio_c_openblas", rb, tt["spread"] + tb["spread"], "ratio", "higher")
        line = "  %d thread%s: tric %.3f  PyTorch %.3f (ratio %.2f)%s  C+OpenBLAS %.3f (ratio %.2f)" % (
            threads, "s" if threads > 1 else " ", tt["median"] * 1e3, tp["median"] * 1e3, rp,
            goal_text(met, 1.0, "higher"), tb["median"] * 1e3, rb)
        if tuned_name:
            tpu = stats(torch(threads, MLP_REPS, "mlp:%d:%d:%d" % (t, dd, f), env=tuned_env)[0][fig]["torch"])
            tbu = stats(driver(threads, MLP_REPS, "mlp", t, dd, f, dump, env=tuned_env, baseline_only=True)[0][fig]["c_openblas"])
            sec.add(key + ".torch_%s_ms" % want_core.lower(), tpu["median"] * 1e3, tpu["spread"], "ms")
            met2 = sec.add(key + ".ratio_torch_" + want_core.lower(), tpu["median"] / tt["median"],
                           tt["spread"] + tpu["spread"], "ratio", "higher", 1.0)
            sec.add(key + ".c_%s_ms" % tuned_name, tbu["median"] * 1e3, tbu["spread"], "ms")
            line += "\n             with OpenBLAS %s: PyTorch %.3f (ratio %.2f)%s  C+OpenBLAS %.3f (ratio %.2f)" % (
                want_core, tpu["median"] * 1e3, tpu["median"] / tt["median"],
                goal_text(met2, 1.0, "higher"), tbu["median"] * 1e3,
                tbu["median"] / tt["median"])
        print(line)

    compile_figure(sec, tric, ref_tric, gen_model)

    goals = [(k, v) for k, v in sec.figures.items() if v["goal"] is not None]
    print("goals met: %d of %d; section took %.0f s, load %.2f at the end" % (
        sum(1 for _, v in goals if v["met"]), len(goals), time.time() - t_start, os.getloadavg()[0]))
    m["loadavg_end"] = list(os.getloadavg())
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"schema": "tric-bench-kernels/1", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "tric": tric, "tric_commit": commit or None, "machine": m,
              "openblas": {"env_unset": was_set, "default": core_default, "forced_core": want_core if core_tuned else None,
                           "forced": core_tuned},
              "torch": torch_version, "seconds": time.time() - t_start, "checks_failed": sec.failures,
              "figures": sec.figures}
    write_result(result, json_path, "kernels", sec.failures)
