"""resnet18.py - the resnet18 section of `make bench` (run.py --only resnet18): tric's
examples/resnet18.tri at batch 1 and 8, on 1 and 2 threads, against PyTorch on the same
weights and images, eager and as TorchScript (torch.jit.trace, torch.jit.freeze,
torch.jit.optimize_for_inference, which folds batch norm into the convolutions and picks
oneDNN's kernels), against ONNX Runtime's CPU provider on the same network exported with
torch.onnx.export, and the tric compile time of the network. The figures go to a JSON
file of kernels.py's format (compare.py reads it).

Weights and images are torchvision's resnet18() with a fixed seed and random batch-norm
statistics (as tests/cli/resnet18.py builds it), written once for the C driver
(resnet18_bench.c) and the PyTorch runner (this file run as a script: `resnet18.py torch
THREADS REPS B STATE X` prints `time FIGURE IMPL S S ...` lines). Each side runs in a
process of its own pinned with taskset; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset
for PyTorch's command only, so that its BLAS runs as it picks itself here. tric's logits
are checked against PyTorch's eager ones (1e-4 of max|logit|), else the figures measure
nothing.

ONNX Runtime is npm's onnxruntime-node (it ships its CPU library), which this file installs
with `npm install --ignore-scripts` into build/onnxruntime on first use (its install script
downloads the CUDA provider's libraries from NuGet, which these machines cannot reach; the
CPU binding is bundled) and reuses after; ort_resnet18.js runs it under node. When node,
npm or the registry is unavailable, or the binding does not load, its rows are reported
missing with the reason and the rest runs.
ORT's logits are checked against PyTorch's as tric's are, so that a wrong export cannot win.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
BATCHES = ((1, 10), (8, 4))  # batch, timed repetitions after one warm-up (a minute or so in all)
THREADS = (1, 2)
COMPILE_REPS = 5
TOL = 1e-4
ORT_DIR = os.path.join(ROOT, "build", "onnxruntime")  # npm's --prefix: package.json, node_modules
ORT_JS = os.path.join(HERE, "ort_resnet18.js")
ORT_WARMUP = 3  # the first calls grow ORT's memory arena (TorchScript gets three as well)
ONNX_OPSET = 13  # torch 1.13 exports 7..17; 13 has every op resnet18 needs


def model(torch, torchvision):
    """torchvision's resnet18, seeded random init, random batch-norm statistics, eval."""
    torch.manual_seed(0)
    m = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        for bn in m.modules():
            if isinstance(bn, torch.nn.BatchNorm2d):
                bn.running_mean.copy_(torch.randn(bn.num_features) * 0.2)
                bn.running_var.copy_(torch.rand(bn.num_features) * 1.5 + 0.5)
                bn.weight.copy_(torch.rand(bn.num_features) + 0.5)
                bn.bias.copy_(torch.randn(bn.num_features) * 0.2)
    return m.eval()


def timed(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def torch_main(argv):
    """The PyTorch runner: eager and TorchScript times of one batch, the eager logits dumped."""
    import torch
    threads, reps, b, state, xpath, dump = int(argv[0]), int(argv[1]), int(argv[2]), argv[3], argv[4], argv[5]
    torch.set_num_threads(threads)
    import torchvision
    m = torchvision.models.resnet18(weights=None)
    m.load_state_dict(torch.load(state))
    m.eval()
    x = torch.from_numpy(np.fromfile(xpath, dtype=np.float32)[:b * 3 * 224 * 224].reshape(b, 3, 224, 224))
    print("torch %s threads %d" % (torch.__version__, torch.get_num_threads()))
    fig = "resnet18.b%d.t%d" % (b, threads)
    with torch.no_grad():
        print("time %s torch_eager %s" % (fig, " ".join("%.6g" % t for t in timed(lambda: m(x), reps))))
        m(x).numpy().tofile(dump)
        jit = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(m, x)))
        # the profiling executor specialises on the first calls: three warm-ups
        print("time %s torch_jit %s" % (fig, " ".join("%.6g" % t for t in timed(lambda: jit(x), reps, 3))))


def why(text):
    """The telling line of a failed npm or node's output: its first `...Error: ...` line
    (npm's FetchError, node's `Cannot find module`), else its first line."""
    lines = [ln.replace("npm error ", "", 1).strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("at ")]
    return next((ln for ln in lines if "Error:" in ln), lines[0] if lines else "no output")


def ort_setup():
    """(node, version, None) when ONNX Runtime can run, else (None, None, why not): installs
    onnxruntime-node into ORT_DIR unless it is there, then loads its binding once."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        return None, None, "no node command (Debian's nodejs package, make bench-deps)"
    if not os.path.exists(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node", "package.json")):
        npm = shutil.which("npm")
        if not npm:
            return None, None, "onnxruntime-node is not in %s and there is no npm command to install it" % ORT_DIR
        os.makedirs(ORT_DIR, exist_ok=True)
        argv = [npm, "install", "--prefix", ORT_DIR, "--ignore-scripts", "--no-audit", "--no-fund",
                "--fetch-retries=1", "--fetch-timeout=60000", "onnxruntime-node"]
        print("  installing ONNX Runtime: %s" % " ".join(argv[1:]))
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return None, None, "npm install onnxruntime-node took over 600 s"
        if r.returncode:
            return None, None, "npm install onnxruntime-node failed (%d): %s" % (r.returncode, why(r.stderr + r.stdout))
    try:
        r = subprocess.run([node, ORT_JS, ORT_DIR, "version"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, None, "loading onnxruntime-node took over 120 s"
    if r.returncode:
        return None, None, "onnxruntime-node in %s does not load (remove the folder to reinstall): %s" % (
            ORT_DIR, why(r.stderr))
    return node, json.loads(r.stdout.strip().splitlines()[-1])["onnxruntime"], None


def bench_resnet18(tric, json_path):
    import torch
    import torchvision
    import kernels  # machine(), stats(), Section, the figures' JSON format
    t_start = time.time()
    d = tempfile.mkdtemp(prefix="tric-bench-resnet18-")
    tri = os.path.join(ROOT, "examples", "resnet18.tri")
    sh = kernels.sh
    sh([tric, "build", tri, "-o", os.path.join(d, "resnet18.o")])
    exe = os.path.join(d, "resnet18_bench")
    sh(["cc", "-O2", "-I", d, os.path.join(HERE, "resnet18_bench.c"), os.path.join(d, "resnet18.o"),
        os.path.join(os.path.dirname(os.path.abspath(tric)), "libtricrt.a"), "-lm", "-lpthread", "-o", exe])

    m = model(torch, torchvision)
    state = os.path.join(d, "state.pt")
    torch.save(m.state_dict(), state)
    node, ort_version, ort_missing = ort_setup()
    onnx_path = os.path.join(d, "resnet18.onnx")
    if node:
        # one model for both batches: the batch axis is left symbolic
        torch.onnx.export(m, torch.zeros(1, 3, 224, 224), onnx_path, opset_version=ONNX_OPSET,
                          input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    params = [v.numpy() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")]
    torch.manual_seed(1)
    x = torch.randn(max(b for b, _ in BATCHES), 3, 224, 224).numpy()
    xpath = os.path.join(d, "x.bin")
    x.tofile(xpath)
    data = {}
    for b, _ in BATCHES:
        data[b] = os.path.join(d, "data%d.bin" % b)
        with open(data[b], "wb") as f:
            for a in [x[:b]] + params:
                np.ascontiguousarray(a, dtype=np.float32).tofile(f)

    mach = kernels.machine()
    cores = {1: "0", 2: "0,1"} if mach["cpus_allowed"] >= 2 else {1: "0", 2: "0"}
    was_set = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    torch_env = {k: v for k, v in os.environ.items() if k not in was_set}
    sec = kernels.Section()
    print("resnet18: %s (family %s model %s), %d-bit vectors (%s), %d cpus, load %.2f %.2f %.2f" % (
        mach["cpu_model"], mach["cpu_family"], mach["cpu_model_number"], mach["vector_bits"],
        " ".join(mach["features"]), mach["cpus_allowed"], *mach["loadavg_start"]))
    print("  PyTorch %s (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset for its command: %s)" % (
        torch.__version__, ", ".join("%s was %r" % kv for kv in was_set.items())))
    if node:
        print("  ONNX Runtime %s (npm onnxruntime-node in %s, CPU provider, ONNX opset %d, %d warm-ups)" % (
            ort_version, os.path.relpath(ORT_DIR, ROOT), ONNX_OPSET, ORT_WARMUP))
    else:
        print("  ONNX Runtime: missing, %s" % ort_missing)
    print("torchvision resnet18, 224x224 f32 images (median ms per call; ratio = baseline time / tric time, higher is better):")
    print("  %-8s %7s %9s %9s %6s %9s %6s %9s %6s %10s" % ("batch", "threads", "tric", "eager", "ratio", "jit", "ratio",
                                                         "ort", "ratio", "img/s tric"))
    for b, reps in BATCHES:
        for threads in THREADS:
            fig = "resnet18.b%d.t%d" % (b, threads)
            tdump, pdump = os.path.join(d, "tric-%s.bin" % fig), os.path.join(d, "torch-%s.bin" % fig)
            tt, _, _ = kernels.parse(sh(["taskset", "-c", cores[threads], exe, str(threads), str(reps), str(b),
                                         data[b], tdump], env=dict(os.environ, TRIC_NUM_THREADS=str(threads))))
            out = sh(["taskset", "-c", cores[threads], PYTHON, os.path.abspath(__file__), "torch", str(threads),
                      str(reps), str(b), state, xpath, pdump], env=dict(torch_env, OMP_NUM_THREADS=str(threads)))
            pt, _, _ = kernels.parse(out)
            got, want = np.fromfile(tdump, dtype=np.float32), np.fromfile(pdump, dtype=np.float32)
            err = float(np.abs(got.astype(np.float64) - want).max() / np.abs(want).max())
            sec.check({fig: (err, TOL)})
            st, se, sj = (kernels.stats(s) for s in (tt[fig]["tric"], pt[fig]["torch_eager"], pt[fig]["torch_jit"]))
            sec.add(fig + ".tric_ms", st["median"] * 1e3, st["spread"], "ms", "lower", samples=tt[fig]["tric"])
            sec.add(fig + ".torch_eager_ms", se["median"] * 1e3, se["spread"], "ms")
            sec.add(fig + ".torch_jit_ms", sj["median"] * 1e3, sj["spread"], "ms")
            re, rj = se["median"] / st["median"], sj["median"] / st["median"]
            sec.add(fig + ".ratio_torch_eager", re, st["spread"] + se["spread"], "ratio", "higher")
            sec.add(fig + ".ratio_torch_jit", rj, st["spread"] + sj["spread"], "ratio", "higher")
            sec.add(fig + ".max_rel_err", err, 0.0, "ratio")
            ort_text, ort_note = "%9s %6s" % ("missing", "-"), ""
            if node:
                odump = os.path.join(d, "ort-%s.bin" % fig)
                out = sh(["taskset", "-c", cores[threads], node, ORT_JS, ORT_DIR, "run", onnx_path, str(threads),
                          str(reps), str(ORT_WARMUP), str(b), xpath, odump])
                samples = json.loads(out.strip().splitlines()[-1])["samples_s"]
                oerr = float(np.abs(np.fromfile(odump, dtype=np.float32).astype(np.float64) - want).max()
                             / np.abs(want).max())
                ort_note = ", ONNX Runtime's %.2g" % oerr
                if not oerr <= TOL:
                    # a wrong export is no baseline: no figures, and the run fails
                    sec.failures.append("%s: ONNX Runtime's result is off by %.3g (relative), more than %.3g"
                                        % (fig, oerr, TOL))
                    ort_text = "%9s %6s" % ("WRONG", "-")
                else:
                    so = kernels.stats(samples)
                    ro = so["median"] / st["median"]
                    sec.add(fig + ".onnxruntime_ms", so["median"] * 1e3, so["spread"], "ms")
                    sec.add(fig + ".ratio_onnxruntime", ro, st["spread"] + so["spread"], "ratio", "higher")
                    sec.add(fig + ".onnxruntime_max_rel_err", oerr, 0.0, "ratio")
                    ort_text = "%9.2f %6.2f" % (so["median"] * 1e3, ro)
            print("  %-8d %7d %9.2f %9.2f %6.2f %9.2f %6.2f %s %10.1f   (error %.2g of max|logit|%s)" % (
                b, threads, st["median"] * 1e3, se["median"] * 1e3, re, sj["median"] * 1e3, rj, ort_text,
                b / st["median"], err, ort_note))

    # the compile (issue 11): cold at -O2 without the cache, with tric's peak RSS, and a
    # rebuild with everything in a warm cache (the outputs already there)
    def timed_build(extra, env=None):
        t0 = time.perf_counter()
        r = subprocess.run([tric, "build", "--time-report=json", tri, "-o", os.path.join(d, "resnet18.o")] + extra,
                           capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        if r.returncode:
            sys.exit("tric build failed:\n%s" % r.stderr)
        return dt, json.loads(r.stderr.strip().splitlines()[-1])["peak_rss_kb"] / 1024.0
    cold = [timed_build(["--no-cache"]) for _ in range(COMPILE_REPS)]
    ct = [t for t, _ in cold]
    sc, rss = kernels.stats(ct), max(m for _, m in cold)
    sec.add("resnet18.compile_ms", sc["median"] * 1e3, sc["spread"], "ms", "lower", goal=250, samples=ct)
    sec.add("resnet18.compile_peak_rss_mb", rss, 0.0, "MB", "lower", goal=60)
    cache_env = dict(os.environ, TRIC_CACHE_DIR=os.path.join(d, "cache"))
    timed_build([], cache_env)  # fills the cache
    warm = [timed_build([], cache_env)[0] for _ in range(COMPILE_REPS)]
    sw = kernels.stats(warm)
    sec.add("resnet18.cached_rebuild_ms", sw["median"] * 1e3, sw["spread"], "ms", "lower", goal=10, samples=warm)
    print("compile of examples/resnet18.tri (-O2, no cache, median of %d): %.1f ms (goal 250), peak RSS %.1f MB (goal 60); "
          "all-cached rebuild %.1f ms (goal 10)" % (COMPILE_REPS, sc["median"] * 1e3, rss, sw["median"] * 1e3))
    print("section took %.0f s, load %.2f at the end" % (time.time() - t_start, os.getloadavg()[0]))

    mach["loadavg_end"] = list(os.getloadavg())
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"schema": "tric-bench-kernels/1", "section": "resnet18",
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "tric": tric, "tric_commit": commit or None,
              "machine": mach, "openblas": {"env_unset_for_torch": was_set}, "torch": torch.__version__,
              "onnxruntime": ({"version": ort_version, "package": "onnxruntime-node", "provider": "cpu",
                               "onnx_opset": ONNX_OPSET, "warmup": ORT_WARMUP} if node else {"missing": ort_missing}),
              "seconds": time.time() - t_start, "checks_failed": sec.failures, "figures": sec.figures}
    kernels.write_result(result, json_path, "resnet18", sec.failures)


if __name__ == "__main__":
    if len(sys.argv) != 8 or sys.argv[1] != "torch":
        sys.exit("usage: resnet18.py torch THREADS REPS B STATE X DUMP (the PyTorch side of run.py --only resnet18)")
    torch_main(sys.argv[2:])
