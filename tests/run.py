#!/usr/bin/python3
"""run.py - tric's one test runner. The last line it prints is "N passed, N failed".

Kinds of test, each picked by where the file lives:
  tests/diag/X.tri      + X.err       `tric check X.tri` must print exactly X.err and exit 1
  tests/dump/X.tri      + X.tokens/.ast/.types/.ir   `--dump=KIND` must print exactly that
  tests/e2e/X.tri       + X.py        compiled, linked into a generated C driver, run on
                                      random inputs; every output element compared with NumPy;
                                      every tensor beside a PROT_NONE page; MATRIX programs
                                      also at -O0..-O3 x TARGETS
  tests/cli/*.py        each function test_*(ctx) exercises the command line
  tests/math/           max ULP error of the vector math against libm (C program)

Usage: run.py [--tric build/tric] [--sanitized-tric build-asan/tric] [--update] [-k SUBSTRING] [--full-matrix]
With both binaries every test runs twice, the second time as "asan:NAME" with the
sanitized tric (and sanitized C drivers); the closing line counts both runs.
"""
import argparse
import atexit
import concurrent.futures
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")

CTYPE = {"float32": "float", "float64": "double", "int8": "int8_t", "uint8": "uint8_t",
         "int32": "int32_t", "int64": "int64_t", "bool": "uint8_t", "f16": "uint16_t", "bf16": "uint16_t"}


class Tagged:
    """An array of raw f16/bf16 bits (uint16) with its tri dtype, or a value to compare as such."""
    def __init__(self, bits, dtype):
        self.bits = np.array(bits, dtype=np.uint16, order="C")
        self.dtype = dtype


def bf16_bits(x):
    """f32 values rounded to bf16 (nearest even), as raw bits."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    return r


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


class Skip:
    """Returned by a test that cannot run here; counted as skipped, never as passed."""
    def __init__(self, why):
        self.why = why


class Case:
    """One call of an exported function: inputs (arrays or scalars, in parameter order),
    sizes (the int64 size arguments), expected outputs (arrays; their dtype and shape size the
    output buffers), tolerances, and the expected return code. signed_zeros: where a float
    output is expected to be a zero, its sign bit must be the expected one too (tolerances
    cannot tell -0 from +0)."""
    def __init__(self, fn, inputs, sizes, expected, rtol=1e-6, atol=1e-6, rc=0, name="", out_offset=0,
                 signed_zeros=False):
        self.fn, self.inputs, self.sizes, self.expected = fn, inputs, sizes, expected
        self.rtol, self.atol, self.rc, self.name = rtol, atol, rc, name
        self.signed_zeros = signed_zeros
        self.out_offset = out_offset  # elements between the start of each output allocation and the pointer passed


def tag_dtype(v):
    if isinstance(v, Tagged):
        return v.dtype
    return str(np.asarray(v).dtype)


def raw(v):
    if isinstance(v, Tagged):
        return v.bits
    a = np.array(v, order="C")  # keeps 0-d scalars 0-d, unlike ascontiguousarray
    return a.astype(np.uint8) if a.dtype == np.bool_ else a


def is_scalar(v):
    return np.ndim(raw(v)) == 0


def c_scalar(v):
    t = tag_dtype(v)
    if t in ("f16", "bf16"):
        return "(uint16_t)%d" % int(v.bits)
    a = np.asarray(v)
    if t == "float32":
        return "%sf" % float(a).hex()
    if t == "float64":
        return float(a).hex()
    if t == "bool":
        return "1" if bool(a) else "0"
    return "(%s)%dLL" % (CTYPE[t], int(a))


class Ctx:
    def __init__(self, args, tric, sanitized):
        self.tric = os.path.abspath(tric)
        self.tsan_tric = os.path.abspath(args.tsan_tric) if args.tsan_tric else None
        self.sanitized = sanitized
        self.update = args.update
        self.cc = os.environ.get("CC", "cc")
        self.cache_dir = tempfile.mkdtemp(prefix="tric-test-cache-")
        self.driver_dir = tempfile.mkdtemp(prefix="tric-test-drivers-")  # see driver_object
        atexit.register(shutil.rmtree, self.driver_dir, True)
        self.lock, self.drivers = threading.Lock(), {}
        self.cflags = ["-O1", "-g", "-std=c17", "-Wall", "-Werror", "-I", os.path.join(ROOT, "runtime")]
        # what a program using tric objects links after them: the runtime library built
        # beside this tric (its thread pool), -lm and -lpthread (docs/abi.md)
        # (the sanitized one with a sanitized tric and ctx.cflags; plain_libs for a plain cc)
        self.libs = [os.path.join(os.path.dirname(self.tric), "libtricrt.a"), "-lm", "-lpthread"]
        plain = os.path.dirname(os.path.abspath(args.tric)) if args.tric else os.path.join(ROOT, "build")
        self.plain_libs = [os.path.join(plain, "libtricrt.a"), "-lm", "-lpthread"]
        if self.sanitized:
            self.cflags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]

    def run(self, argv, cwd=None, timeout=120, env=None):
        if env is None:  # a cache of the test run's own, never the user's
            env = dict(os.environ, TRIC_CACHE_DIR=self.cache_dir)
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)

    def tmpdir(self):
        return tempfile.mkdtemp(prefix="tric-test-")

    def e2e(self, name, flags):
        """Runs the end-to-end program tests/e2e/NAME with extra tric flags."""
        return test_e2e(self, os.path.join(TESTS, "e2e", name + ".tri"), flags)


# ---------------------------------------------------------------- golden tests

def golden(ctx, expected_path, actual):
    if ctx.update or not os.path.exists(expected_path):
        if not ctx.update:
            return "missing golden file %s (run with --update to create it, then review it)" % expected_path
        with open(expected_path, "w") as f:
            f.write(actual)
        return None
    with open(expected_path) as f:
        want = f.read()
    if want != actual:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), actual.splitlines(True),
                                            "expected", "actual"))
        return "output differs from %s:\n%s" % (os.path.relpath(expected_path, ROOT), diff)
    return None


def test_diag(ctx, path):
    d, name = os.path.split(path)
    r = ctx.run([ctx.tric, "check", "--color=never", name], cwd=d)
    if r.returncode != 1:
        return "expected exit status 1, got %d\nstderr:\n%s" % (r.returncode, r.stderr)
    return golden(ctx, path[:-4] + ".err", r.stderr)


def test_dump(ctx, path, kind):
    d, name = os.path.split(path)
    r = ctx.run([ctx.tric, "check", "--dump=" + kind, name], cwd=d)
    if r.returncode != 0:
        return "exit status %d\n%s" % (r.returncode, r.stderr)
    return golden(ctx, path[:-4] + "." + kind, r.stdout)


# ---------------------------------------------------------------- end-to-end tests

def load_spec(path):
    spec = importlib.util.spec_from_file_location("spec_" + os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    mod.Case, mod.Tagged, mod.bf16_bits, mod.bf16_to_f32 = Case, Tagged, bf16_bits, bf16_to_f32
    spec.loader.exec_module(mod)
    return mod


# Where the driver puts every tensor input and output: "end" right before a PROT_NONE page,
# "start" right after one, so that any read or write past either end faults. The driver
# runs once per placement.
PLACEMENTS = ("end", "start")


def tail_bytes(placement):
    """Bytes of 0xAB after an output: none when it ends at the guard page, which catches a
    write past the end by itself."""
    return 0 if placement == "end" else 64


def out_bytes(c, e, placement):
    """An output's allocation: out_offset elements before it (0xAB, so that a write before
    the pointer passed shows) and tail_bytes after it."""
    return c.out_offset * raw(e).itemsize + raw(e).nbytes + tail_bytes(placement)


DRIVER_HEAD = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
/* A mapping of n bytes between two PROT_NONE pages, its data ending right before the
   second one (at_end) or starting right after the first. */
typedef struct { char *map; size_t len; char *p; } Buf;
static Buf guarded(size_t n, int at_end) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE), data = (n + pg - 1) / pg * pg;
  Buf b = {NULL, data + 2 * pg, NULL};
  b.map = mmap(NULL, b.len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b.map == MAP_FAILED || (data && mprotect(b.map + pg, data, PROT_READ | PROT_WRITE))) {
    perror("guarded"); exit(97); }
  b.p = b.map + pg + (at_end ? data - n : 0);
  return b;
}
/* An input read from file p, then made read-only: the function must not write it. */
static Buf load(const char *p, size_t n, int at_end) {
  Buf b = guarded(n, at_end);
  FILE *f = fopen(p, "rb");
  if (!f || fread(b.p, 1, n, f) != n) { fprintf(stderr, "cannot load %s\n", p); exit(99); }
  fclose(f);
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  if (b.len > 2 * pg && mprotect(b.map + pg, b.len - 2 * pg, PROT_READ)) { perror("mprotect"); exit(97); }
  return b;
}
static void save(const char *p, const void *b, size_t n) {
  FILE *f = fopen(p, "wb"); if (!f || fwrite(b, 1, n, f) != n) exit(98); fclose(f); }
"""


def driver_source(header, cases):
    """A C program that calls every case with its tensors placed as argv[1] says (one of
    PLACEMENTS), prints each return code and saves each output's allocation to
    c<K>_out<J>.<placement>.bin. It reads and writes its files in the current folder, so
    one compiled driver serves every build of the program."""
    lines = ["#define _DEFAULT_SOURCE", '#include "%s"' % header, DRIVER_HEAD,
             "int main(int argc, char **argv) {",
             '  if (argc != 2 || (strcmp(argv[1], "end") && strcmp(argv[1], "start"))) return 96;',
             '  int at_end = !strcmp(argv[1], "end"), rc;',
             "  char path[64];"]
    for k, c in enumerate(cases):
        args = []
        for j, v in enumerate(c.inputs):
            if is_scalar(v):
                args.append(c_scalar(v))
            else:
                nb = raw(v).nbytes
                lines.append('  Buf c%d_in%d = load("c%d_in%d.bin", %d, at_end);' % (k, j, k, j, nb))
                args.append("(%s *)c%d_in%d.p" % (CTYPE[tag_dtype(v)], k, j))
        for j, e in enumerate(c.expected):
            pre = c.out_offset * raw(e).itemsize
            lines.append("  size_t c%d_n%d = at_end ? %d : %d;" % (k, j, out_bytes(c, e, "end"), out_bytes(c, e, "start")))
            lines.append("  Buf c%d_out%d = guarded(c%d_n%d, at_end); memset(c%d_out%d.p, 0xAB, c%d_n%d);" % (
                k, j, k, j, k, j, k, j))
            args.append("(%s *)(c%d_out%d.p + %d)" % (CTYPE[tag_dtype(e)], k, j, pre))
        args += ["(int64_t)%dLL" % s for s in c.sizes]
        lines.append("  rc = %s(%s);" % (c.fn, ", ".join(args)))
        lines.append('  printf("%d\\n", rc);')
        for j, e in enumerate(c.expected):
            lines.append('  snprintf(path, sizeof path, "c%d_out%d.%%s.bin", argv[1]);' % (k, j))
            lines.append("  save(path, c%d_out%d.p, c%d_n%d);" % (k, j, k, j))
            lines.append("  munmap(c%d_out%d.map, c%d_out%d.len);" % (k, j, k, j))
        for j, v in enumerate(c.inputs):
            if not is_scalar(v):
                lines.append("  munmap(c%d_in%d.map, c%d_in%d.len);" % (k, j, k, j))
    lines += ["  return 0;", "}"]
    return "\n".join(lines) + "\n"


def compare(c, j, got_bytes, e, placement):
    """Compares one output: every element within tolerance, nothing outside it touched."""
    nb, pre, post = raw(e).nbytes, c.out_offset * raw(e).itemsize, tail_bytes(placement)
    if got_bytes[:pre] != b"\xab" * pre:
        return "output %d: bytes before the start of the buffer were written" % j
    got_bytes = got_bytes[pre:]
    if got_bytes[nb:] != b"\xab" * post:
        return "output %d: bytes past the end of the buffer were written" % j
    if c.rc != 0:
        if got_bytes[:nb] != b"\xab" * nb:
            return "output %d was written although the call failed" % j
        return None
    t = tag_dtype(e)
    if t in ("f16", "bf16"):
        bits = np.frombuffer(got_bytes[:nb], dtype=np.uint16).reshape(np.shape(e.bits))
        got = bits.view(np.float16).astype(np.float64) if t == "f16" else bf16_to_f32(bits).astype(np.float64)
        want = e.bits.view(np.float16).astype(np.float64) if t == "f16" else bf16_to_f32(e.bits).astype(np.float64)
    else:
        arr = np.asarray(e)
        dt = np.dtype(np.uint8) if arr.dtype == np.bool_ else arr.dtype
        got = np.frombuffer(got_bytes[:nb], dtype=dt).reshape(arr.shape)
        want = arr.astype(dt)
        if dt.kind in "iub":
            bad = np.nonzero(got != want)
            if len(bad[0]):
                i = tuple(x[0] for x in bad)
                return "output %d: %d of %d elements differ; first at %s: got %s, want %s" % (
                    j, len(bad[0]), got.size, i, got[i], want[i])
            return None
        got, want = got.astype(np.float64), want.astype(np.float64)
    got, want = np.atleast_1d(got), np.atleast_1d(want)  # a scalar result's mismatch is reported at index 0
    nan = np.isnan(got) != np.isnan(want)
    if nan.any():
        i = tuple(x[0] for x in np.nonzero(nan))
        return "output %d: %d of %d elements NaN where not expected or not NaN where expected; first at %s: " \
               "got %r, want %r" % (j, np.count_nonzero(nan), got.size, i, got[i], want[i])
    if c.signed_zeros:
        sign = (want == 0) & (np.signbit(got) != np.signbit(want))
        if sign.any():
            i = tuple(x[0] for x in np.nonzero(sign))
            return "output %d: %d of %d zeros have the wrong sign; first at %s: got %r, want %r" % (
                j, np.count_nonzero(sign), got.size, i, got[i], want[i])
    close = np.isclose(got, want, rtol=c.rtol, atol=c.atol, equal_nan=True)
    if not close.all():
        bad = np.nonzero(~close)
        i = tuple(x[0] for x in bad)
        err = np.abs(got - want)
        return "output %d: %d of %d elements outside rtol=%g atol=%g; first at %s: got %r, want %r (max abs err %g)" % (
            j, len(bad[0]), got.size, c.rtol, c.atol, i, got[i], want[i], np.nanmax(np.where(close, 0, err)))
    return None


def driver_object(ctx, path, name, cases, work):
    """The C driver of e2e program path compiled to an object (its path), or why it did
    not compile. Compiled once per run, with the header the first build of the program
    wrote in work: the header and the driver are the same at every -O and target."""
    with ctx.lock:
        slot = ctx.drivers.setdefault(path, [threading.Lock(), None])
    with slot[0]:
        if slot[1] is None:
            d = os.path.join(ctx.driver_dir, name)
            os.makedirs(d)
            shutil.copy(os.path.join(work, name + ".h"), d)
            with open(os.path.join(d, "driver.c"), "w") as f:
                f.write(driver_source(name + ".h", cases))
            r = ctx.run([ctx.cc] + ctx.cflags + ["-c", "-o", "driver.o", "driver.c"], cwd=d)
            slot[1] = os.path.join(d, "driver.o") if r.returncode == 0 else "driver did not compile:\n%s" % r.stderr
        return slot[1]


def test_e2e(ctx, path, extra_flags=()):
    spec = load_spec(path[:-4] + ".py")
    rng = np.random.default_rng(zlib.crc32(os.path.basename(path).encode()))
    cases = list(spec.cases(rng))
    work = ctx.tmpdir()
    try:
        name = os.path.basename(path)[:-4]
        flags = getattr(spec, "FLAGS", []) + list(extra_flags)
        r = ctx.run([ctx.tric, "build", path, "-o", os.path.join(work, name + ".o")] + flags, cwd=work)
        if r.returncode != 0:
            return "tric build failed (%d):\n%s" % (r.returncode, r.stderr)
        for k, c in enumerate(cases):
            for j, v in enumerate(c.inputs):
                if not is_scalar(v):
                    raw(v).tofile(os.path.join(work, "c%d_in%d.bin" % (k, j)))
        drv = driver_object(ctx, path, name, cases, work)
        if not drv.endswith(".o"):
            return drv
        exe = os.path.join(work, "driver")
        r = ctx.run([ctx.cc] + ctx.cflags + ["-o", exe, drv, os.path.join(work, name + ".o")] + ctx.libs,
                    cwd=work)
        if r.returncode != 0:
            return "driver did not link:\n%s" % r.stderr
        errors = []
        for placement in PLACEMENTS:
            where = "tensors at the %s of a page" % placement
            r = ctx.run([exe, placement], cwd=work)
            if r.returncode != 0:
                how = ("killed by signal %s" % signal.Signals(-r.returncode).name if r.returncode < 0
                       else "exited with %d" % r.returncode)
                errors.append("driver %s (%s):\n%s%s" % (how, where, r.stdout, r.stderr))
                continue
            rcs = [int(x) for x in r.stdout.split()]
            for k, c in enumerate(cases):
                label = "case %d%s (%s, %s)" % (k, " " + c.name if c.name else "", c.fn, where)
                if rcs[k] != c.rc:
                    errors.append("%s: returned %d, expected %d" % (label, rcs[k], c.rc))
                    continue
                for j, e in enumerate(c.expected):
                    with open(os.path.join(work, "c%d_out%d.%s.bin" % (k, j, placement)), "rb") as f:
                        msg = compare(c, j, f.read(), e, placement)
                    if msg:
                        errors.append("%s: %s" % (label, msg))
        return "\n".join(errors) or None
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- the -O x target matrix

# Every e2e program runs at the default -O and target; these run at every -O level for
# every x86 target below too (each cell a test of its own).
MATRIX = ["select_tail", "select_chain", "binary_f32", "unary_f64", "half", "casts", "int_small", "edge_sizes",
          "reductions", "matmul", "matmul_blocks", "matmul_epilogue", "matmul_edges", "matmul_in_place", "models", "sum_accuracy",
          "rowwise", "pooling", "conv2d", "conv2d_windows", "depthwise"]
OPT_LEVELS = ["-O0", "-O1", "-O2", "-O3"]
# name, tric flags, the /proc/cpuinfo flags the code may use
TARGETS = [
    ("x86-64", ["--target", "x86_64-linux-gnu", "--cpu", "x86-64"], []),
    ("avx2", ["--target", "x86_64-linux-gnu", "--cpu", "x86-64-v3"],
     ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe"]),
    ("avx512", ["--target", "x86_64-linux-gnu", "--cpu", "skylake-avx512"],
     ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "avx512f", "avx512bw", "avx512cd", "avx512dq",
      "avx512vl"]),
]


def host_lacks(needs):
    """Why this machine cannot run x86 code that uses the cpuinfo flags needs (None: it can)."""
    import platform
    if platform.machine() != "x86_64":
        return "the host is %s, not x86_64" % platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            have = set(next(l for l in f if l.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return "cannot read the CPU's flags from /proc/cpuinfo"
    missing = [n for n in needs if n not in have]
    return "the host lacks %s" % " ".join(missing) if missing else None


def test_e2e_cell(ctx, path, opt, needs, flags):
    why = host_lacks(needs)
    if why:
        return Skip(why)
    return test_e2e(ctx, path, [opt] + flags)


# ---------------------------------------------------------------- collection

def collect(ctx, only, full_matrix=False):
    tests = []
    ddir = os.path.join(TESTS, "diag")  # its subfolders hold modules the tests import
    for f in sorted(os.listdir(ddir)):
        p = os.path.join(ddir, f)
        if f.endswith(".tri"):
            tests.append(("diag/" + f[:-4], lambda p=p: test_diag(ctx, p)))
    ddir = os.path.join(TESTS, "dump")
    for f in sorted(os.listdir(ddir)) if os.path.isdir(ddir) else []:
        if f.endswith(".tri"):
            p = os.path.join(ddir, f)
            for kind in ("tokens", "ast", "types", "ir"):
                if os.path.exists(p[:-4] + "." + kind):
                    tests.append(("dump/%s.%s" % (f[:-4], kind), lambda p=p, k=kind: test_dump(ctx, p, k)))
    edir = os.path.join(TESTS, "e2e")
    for f in sorted(os.listdir(edir)):
        if f.endswith(".tri") and os.path.exists(os.path.join(edir, f[:-4] + ".py")):
            p = os.path.join(edir, f)
            tests.append(("e2e/" + f[:-4], lambda p=p: test_e2e(ctx, p)))
            if f[:-4] in MATRIX or full_matrix:
                for opt in OPT_LEVELS:
                    for tname, flags, needs in TARGETS:
                        tests.append(("e2e/%s:%s:%s" % (f[:-4], opt[1:], tname),
                                      lambda p=p, o=opt, fl=flags, n=needs: test_e2e_cell(ctx, p, o, n, fl)))
    for f in sorted(os.listdir(os.path.join(TESTS, "cli"))):
        if f.endswith(".py"):
            spec = importlib.util.spec_from_file_location("cli_" + f[:-3], os.path.join(TESTS, "cli", f))
            mod = importlib.util.module_from_spec(spec)
            mod.Skip = Skip
            spec.loader.exec_module(mod)
            for name in sorted(dir(mod)):
                if name.startswith("test_"):
                    fn = getattr(mod, name)
                    tests.append(("cli/%s:%s" % (f[:-3], name), lambda fn=fn: fn(ctx)))
    if only:
        tests = [t for t in tests if only in t[0]]
    return tests


def run_one(t):
    name, fn = t
    try:
        err = fn()
    except Exception:
        err = traceback.format_exc()
    return name, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tric")
    ap.add_argument("--sanitized-tric")
    ap.add_argument("--tsan-tric", help="tric built with ThreadSanitizer, for the data-race tests")
    ap.add_argument("--update", action="store_true")
    ap.add_argument("-k", default="")
    ap.add_argument("--full-matrix", action="store_true", help="every e2e program at every -O level and target")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    # every tric the tests run verifies the TIR of each function it checks (an internal
    # error naming the broken node when a pass builds a bad one)
    os.environ["TRIC_VERIFY"] = "1"
    tests = []
    if args.tric:
        tests += collect(Ctx(args, args.tric, False), args.k, args.full_matrix)
    if args.sanitized_tric:
        tests += [("asan:" + n, f) for n, f in collect(Ctx(args, args.sanitized_tric, True), args.k, args.full_matrix)]
    if not tests:
        ap.error("give --tric, --sanitized-tric or both")
    passed = failed = skipped = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.j) as ex:
        for name, err in ex.map(run_one, tests):
            if isinstance(err, Skip):
                skipped += 1
                print("skip %s: %s" % (name, err.why), flush=True)
            elif err:
                failed += 1
                print("FAIL %s\n%s\n" % (name, "\n".join("    " + l for l in err.splitlines())), flush=True)
            else:
                passed += 1
                print("ok   %s" % name, flush=True)
    print("%d passed, %d failed" % (passed, failed) + (", %d skipped" % skipped if skipped else ""))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
