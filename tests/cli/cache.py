"""The compilation cache: hits, invalidation through imports, options, relocation,
corruption, killed writers, concurrent writers, unusable folders, commands, depfiles."""
import ctypes
import ctypes.util
import json
import os
import pwd
import random
import shutil
import signal
import struct
import subprocess
import time

LEAF = "const K = 2;\nfn scale(x: f32[...]) -> f32[...] { return x * K; }\nexport fn leaf(x: f32[N]) -> f32[N] { return scale(x); }\n"
MID = "import leaf;\nfn twice(x: f32[...]) -> f32[...] { return leaf.scale(leaf.scale(x)); }\nexport fn mid(x: f32[N]) -> f32[N] { return twice(x) + 1; }\n"
TOP = "import mid;\nexport fn top(x: f32[N, M]) -> f32[N] { return sum(mid.twice(x), axis=1); }\n"
OTHER = "export fn other(x: f64[N]) -> f64[N] { return exp(x); }\n"
FILES = ["leaf.tri", "mid.tri", "top.tri", "other.tri"]


def project(ctx):
    d = ctx.tmpdir()
    for name, text in zip(FILES, (LEAF, MID, TOP, OTHER)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return d


def build(ctx, d, cache, *extra):
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    return ctx.run([ctx.tric, "build", "--explain"] + list(extra) + FILES, cwd=d, env=env)


def explained(r, which=0):
    """{file: 'reused' | 'rebuilt: REASON'} from the first --explain line of each file
    (which=1: the second, where there is one)."""
    out, seen = {}, {}
    for line in r.stderr.splitlines():
        if line.startswith("tric: explain: ") and ".tri:" in line:
            name, what = line[len("tric: explain: "):].split(": ", 1)
            seen[name] = seen.get(name, -1) + 1
            if seen[name] == which:
                out[name] = "reused" if what.startswith("reused") else what
    return out


def outputs(d):
    return {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d)) if f.endswith((".o", ".h"))}


def fresh_entries(ctx, d):
    """How many entries a build of the project stores in an empty cache: per module its
    outputs and its code's outputs, and per distinct kernel its code."""
    cache = ctx.tmpdir()
    build(ctx, d, cache, "-o", ctx.tmpdir())
    return stats(ctx, cache)["entries"]


def stats(ctx, cache):
    r = ctx.run([ctx.tric, "cache", "stats", "--json"], env=dict(os.environ, TRIC_CACHE_DIR=cache))
    return json.loads(r.stdout)


def test_second_build_hits_without_llvm(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    r1 = build(ctx, d, cache)
    first = outputs(d)
    r2 = build(ctx, d, cache)
    if r1.returncode or r2.returncode:
        return r1.stderr + r2.stderr
    if set(explained(r1).values()) != {"rebuilt: no entry"} or set(explained(r2).values()) != {"reused"}:
        return "explain: %s / %s" % (explained(r1), explained(r2))
    if "LLVM was not started" not in r2.stderr:
        return "a build served entirely from the cache started LLVM"
    if outputs(d) != first:
        return "cached outputs differ from fresh ones"
    s = stats(ctx, cache)
    n = fresh_entries(ctx, d)
    if (s["hits"], s["misses"], s["entries"]) != (4, 4, n) or n < 4 + 4 + 3:
        return "stats (a fresh build stores %d entries): %s" % (n, s)


def test_leaf_edit_rebuilds_exactly_its_importers(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    with open(os.path.join(d, "leaf.tri"), "a") as f:
        f.write("// an edit\n")
    got = explained(build(ctx, d, cache))
    want = {"leaf.tri": "rebuilt: source changed", "mid.tri": "rebuilt: import leaf changed",
            "top.tri": "rebuilt: import mid changed", "other.tri": "reused"}
    if got != want:
        return "after editing leaf.tri: %s" % got


def test_option_change_rebuilds_everything(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    got = explained(build(ctx, d, cache, "-O3"))
    if set(got.values()) != {"rebuilt: options changed"} or len(got) != 4:
        return "after -O3: %s" % got
    got = explained(build(ctx, d, cache, "-O2"))
    if set(got.values()) != {"reused"}:
        return "back at -O2 nothing should rebuild: %s" % got


def test_copy_in_another_folder_hits(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    e = ctx.tmpdir()
    for f in FILES:
        shutil.copy(os.path.join(d, f), e)
    got = explained(build(ctx, e, cache))
    if set(got.values()) != {"reused"}:
        return "a copy of the project elsewhere did not hit: %s" % got
    if outputs(d) != outputs(e):
        return "outputs differ between folders"


def entry_files(cache):
    out = []
    for root, _, files in os.walk(os.path.join(cache, "v1", "entries")):
        out += [os.path.join(root, f) for f in files if f.endswith(".tce")]
    return sorted(out)


def test_corrupt_entries_are_rebuilt(ctx):
    """Every module entry and every kernel entry corrupted: each is reported once, removed
    and rebuilt, and the outputs are the same as before."""
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    fresh = outputs(d)
    n = fresh_entries(ctx, d)
    for how in ("truncate", "bitflip", "garbage", "empty"):
        for p in entry_files(cache):
            data = bytearray(open(p, "rb").read())
            if how == "truncate":
                data = data[: len(data) // 2]
            elif how == "bitflip":
                data[len(data) // 2] ^= 0x10
            elif how == "garbage":
                data = bytearray(random.Random(1).randbytes(len(data)))
            else:
                data = b""
            open(p, "wb").write(data)
        r = build(ctx, d, cache)
        if r.returncode:
            return "%s: build failed: %s" % (how, r.stderr)
        if r.stderr.count("is corrupt") != n or set(explained(r).values()) != {"rebuilt: entry corrupt"}:
            return "%s: expected one warning and a rebuild per entry:\n%s" % (how, r.stderr)
        if outputs(d) != fresh:
            return "%s: rebuilt outputs differ" % how
        r = build(ctx, d, cache)
        if set(explained(r).values()) != {"reused"}:
            return "%s: the rebuilt entries were not stored again" % how


def test_killed_builds_leave_a_usable_cache(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    rng = random.Random(7)
    for i in range(12):
        p = subprocess.Popen([ctx.tric, "build", "--recache"] + FILES, cwd=d, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 0.15))
        p.send_signal(signal.SIGKILL)
        p.wait()
    r = build(ctx, d, cache)
    if r.returncode or "corrupt" in r.stderr:
        return "after killed builds: %s" % r.stderr
    v = ctx.run([ctx.tric, "cache", "verify"], env=env)
    if v.returncode or "0 corrupt" not in v.stdout:
        return "verify after killed builds: %s" % v.stdout


def test_eight_concurrent_builds(ctx):
    cache = ctx.tmpdir()
    dirs = [project(ctx) for _ in range(8)]
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    procs = [subprocess.Popen([ctx.tric, "build"] + FILES, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for d in dirs]
    for p in procs:
        out, err = p.communicate(timeout=300)
        if p.returncode or "warning" in err.decode() or "error" in err.decode():
            return "a concurrent build failed or warned (%d): %s" % (p.returncode, err.decode())
    first = outputs(dirs[0])
    if any(outputs(d) != first for d in dirs[1:]):
        return "concurrent builds produced different outputs"
    s = stats(ctx, cache)
    if s["hits"] + s["misses"] != 32 or s["entries"] != fresh_entries(ctx, dirs[0]):
        return "statistics lost or entries duplicated: %s" % s


def can_mount():
    return os.geteuid() == 0 and shutil.which("mount")


def test_read_only_and_full_cache_folders(ctx):
    if not can_mount():
        return Skip("needs root to mount a read-only and a full tmpfs")
    d = project(ctx)
    for opts, what in (("ro,size=1m", "read-only"), ("size=12k", "full")):
        m = ctx.tmpdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", m]).returncode:
            return Skip("mount -t tmpfs is not permitted here")
        try:
            if what == "full":  # fill it but for a little room
                with open(os.path.join(m, "filler"), "wb") as f:
                    try:
                        f.write(b"\0" * 11 * 1024)
                    except OSError:
                        pass
            r = build(ctx, d, os.path.join(m, "cache"))
            if r.returncode:
                return "%s cache: build failed: %s" % (what, r.stderr)
            warnings = [l for l in r.stderr.splitlines() if "warning" in l]
            if len(warnings) != 1:
                return "%s cache: expected exactly one warning, got:\n%s" % (what, r.stderr)
            if sorted(outputs(d)) != ["leaf.h", "leaf.o", "mid.h", "mid.o", "other.h", "other.o", "top.h", "top.o"]:
                return "%s cache: outputs missing" % what
        finally:
            subprocess.run(["umount", m])


def test_cache_commands(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    build(ctx, d, cache)
    n = fresh_entries(ctx, d)
    r = ctx.run([ctx.tric, "cache", "dir"], env=env)
    if r.stdout.strip() != cache:
        return "cache dir: %r" % r.stdout
    r = ctx.run([ctx.tric, "cache", "list"], env=env)
    if len(r.stdout.splitlines()) != n:
        return "cache list: %r" % r.stdout
    r = ctx.run([ctx.tric, "cache", "stats"], env=env)
    if "entries:    %d" % n not in r.stdout or "hit rate" not in r.stdout:
        return "cache stats: %r" % r.stdout
    # --cache-dir names the folder, over $TRIC_CACHE_DIR (here an empty one)
    r = ctx.run([ctx.tric, "cache", "stats", "--cache-dir", cache], env=dict(env, TRIC_CACHE_DIR=ctx.tmpdir()))
    if r.returncode or "entries:    %d" % n not in r.stdout:
        return "cache stats --cache-dir: exit %d: %r %r" % (r.returncode, r.stdout, r.stderr)
    r = ctx.run([ctx.tric, "cache", "prune", "--max-size", "6k"], env=env)
    left = stats(ctx, cache)
    if r.returncode or left["bytes"] > 6 * 1024 or left["evictions"] < 1 or left["entries"] >= n:
        return "prune --max-size: %s %s" % (r.stdout, left)
    build(ctx, d, cache)
    before = stats(ctx, cache)["entries"]  # the evicted modules' entries are back (not all kernels')
    r = ctx.run([ctx.tric, "cache", "prune", "--max-age", "1h"], env=env)
    if r.returncode or r.stdout != "removed 0 entries\n" or stats(ctx, cache)["entries"] != before or before < 4:
        return "prune --max-age 1h removed recently used entries: exit %d: %r %r" % (r.returncode, r.stdout, r.stderr)
    time.sleep(1.1)
    r = ctx.run([ctx.tric, "cache", "prune", "--max-age", "1s"], env=env)
    if r.returncode or r.stdout != "removed %d entries\n" % before or stats(ctx, cache)["entries"] != 0:
        return "prune --max-age 1s left entries: exit %d: %r %r" % (r.returncode, r.stdout, r.stderr)
    build(ctx, d, cache)
    r = ctx.run([ctx.tric, "cache", "clear"], env=env)
    s = stats(ctx, cache)
    if r.returncode or s["entries"] or s["hits"] or s["misses"]:
        return "clear: %s" % s
    r = ctx.run([ctx.tric, "cache", "prune", "--max-size", "lots"], env=env)
    if r.returncode != 2:
        return "a bad size should be a usage error"
    r = ctx.run([ctx.tric, "cache", "frob"], env=env)
    if r.returncode != 2:
        return "an unknown subcommand should be a usage error"


def test_size_limit_enforced_after_builds(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache, TRIC_CACHE_MAX_SIZE="10k")
    r = ctx.run([ctx.tric, "build"] + FILES, cwd=d, env=env)
    if r.returncode:
        return r.stderr
    s = stats(ctx, cache)
    if s["bytes"] > 10 * 1024:
        return "cache over its 10k limit after a build: %s" % s


def test_no_cache_and_recache(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    r = build(ctx, d, cache, "--no-cache")
    if r.returncode or os.path.exists(os.path.join(cache, "v1")):
        return "--no-cache touched the cache"
    build(ctx, d, cache)
    r = build(ctx, d, cache, "--recache")
    if set(explained(r).values()) != {"rebuilt: --recache"}:
        return "--recache: %s" % explained(r)


def test_depfile(ctx):
    d, cache = project(ctx), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    for extra, dfile in ((["-MD"], "top.d"), (["-MF", "deps/top.dep"], "deps/top.dep")):
        os.makedirs(os.path.join(d, "deps"), exist_ok=True)
        for _ in range(2):  # fresh, then from the cache
            r = ctx.run([ctx.tric, "build", "top.tri"] + extra, cwd=d, env=env)
            if r.returncode:
                return r.stderr
            text = open(os.path.join(d, dfile)).read()
            if text.splitlines()[0] != "top.o: top.tri mid.tri leaf.tri" or "\nleaf.tri:\n" not in text:
                return "depfile %s:\n%s" % (dfile, text)
    # make reads it: touching the leaf makes top.o out of date
    with open(os.path.join(d, "Makefile"), "w") as f:
        f.write("top.o: top.tri\n\t%s build top.tri -MD\n-include top.d\n" % ctx.tric)
    if shutil.which("make"):
        q = subprocess.run(["make", "-q", "top.o"], cwd=d, env=env, capture_output=True)
        past = time.time() - 100  # everything else into the past, so the touched leaf is newer
        for f in os.listdir(d):
            if f != "leaf.tri":
                os.utime(os.path.join(d, f), (past, past))
        q2 = subprocess.run(["make", "-q", "top.o"], cwd=d, env=env, capture_output=True)
        if q.returncode != 0 or q2.returncode != 1:
            return "make does not see leaf.tri through the depfile (%d, %d)" % (q.returncode, q2.returncode)


def test_unchanged_outputs_and_make_times(ctx):
    """A rebuild that produces the same bytes leaves an output alone while it is newer than
    its sources (a no-change rebuild writes nothing), but touches it when a source is newer
    (a comment edited in an import), so that make does not see it out of date forever."""
    d, cache = project(ctx), ctx.tmpdir()
    r = build(ctx, d, cache)
    if r.returncode:
        return r.stderr
    now = time.time()
    for f in os.listdir(d):
        t = now - (200 if f.endswith(".tri") else 100)
        os.utime(os.path.join(d, f), (t, t))
    before = {f: os.stat(os.path.join(d, f)).st_mtime_ns for f in os.listdir(d) if f.endswith((".o", ".h"))}
    r = build(ctx, d, cache)
    if r.returncode:
        return r.stderr
    after = {f: os.stat(os.path.join(d, f)).st_mtime_ns for f in before}
    if after != before:
        return "a no-change rebuild touched %s" % sorted(f for f in before if before[f] != after[f])
    with open(os.path.join(d, "leaf.tri"), "a") as f:
        f.write("// a comment: same code\n")
    r = build(ctx, d, cache)
    if r.returncode:
        return r.stderr
    leaf = os.stat(os.path.join(d, "leaf.tri")).st_mtime_ns
    for f in ("leaf.o", "mid.o", "top.o", "top.h"):
        if os.stat(os.path.join(d, f)).st_mtime_ns < leaf:
            return "%s is older than the edited leaf.tri it depends on" % f
    if os.stat(os.path.join(d, "other.o")).st_mtime_ns != before["other.o"]:
        return "other.o, which does not import leaf, was touched"
    shutil.rmtree(d)


def test_rebuilt_modules_reuse_cached_code(ctx):
    """A module rebuilt because its source or an import changed reuses what did not change:
    after a comment or an unused constant in leaf.tri, leaf, mid and top emit the same code
    as before and take their outputs from the cache (early cutoff, said by --explain);
    after a new export in leaf.tri, leaf compiles only the new kernel and takes the other
    from the cache. Either way the outputs are the bytes a build without the cache makes."""
    d, cache = project(ctx), ctx.tmpdir()
    r = build(ctx, d, cache, "--time-report=json")
    first = json.loads(r.stderr.strip().splitlines()[-1])
    if r.returncode or first["kernels_cached"] != 0 or first["kernels_compiled"] < 3 or first["same_code"] != 0:
        return "first build: %s" % r.stderr
    for edit, same, compiled in (("// a comment\n", 3, 0), ("const J = 5;\n", 3, 0),
                                 ("export fn leaf2(x: f32[N]) -> f32[N] { return x - 3; }\n", 2, 1)):
        with open(os.path.join(d, "leaf.tri"), "a") as f:
            f.write(edit)
        r = build(ctx, d, cache, "--time-report=json")
        rep = json.loads(r.stderr.strip().splitlines()[-1])
        if r.returncode or rep["cache_misses"] != 3:
            return "after the edit: %s" % r.stderr
        if rep["same_code"] != same or rep["kernels_compiled"] != compiled:
            return "after adding %r: %d modules with the same code (expected %d), %d kernels compiled (expected %d)\n%s" % (
                edit, rep["same_code"], same, rep["kernels_compiled"], compiled, r.stderr)
        if compiled and rep["kernels_cached"] != 1:
            return "after adding %r: leaf's unchanged kernel did not come from the cache: %s" % (edit, rep)
        said = explained(r, 1)
        if sum(1 for v in said.values() if v.startswith("same code as an earlier build")) != same:
            return "--explain does not say which modules emitted the same code:\n%s" % r.stderr
        cached = outputs(d)
        r = build(ctx, d, cache, "--no-cache")
        if r.returncode or outputs(d) != cached:
            return "outputs taken from the cache differ from a build without the cache"


# ---------------------------------------------------------------- entries bound to their keys

KINDS = {1: "module", 2: "kernel", 3: "code"}


def header(data):
    """The fields of an entry's header (docs/cache.md, "Layout and format")."""
    magic, version, kind, key, plen, nsec, zero, digest = struct.unpack_from("<8sII16sQII16s", data)
    return {"magic": magic, "version": version, "kind": kind, "key": key.hex(), "plen": plen, "nsec": nsec,
            "zero": zero, "sum": digest}


def xxh3_128(data):
    """XXH3-128 as its canonical (big-endian) 16 bytes, from the libxxhash tric links with."""
    lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")

    class Hash(ctypes.Structure):
        _fields_ = [("low", ctypes.c_uint64), ("high", ctypes.c_uint64)]
    lib.XXH3_128bits.restype = Hash
    lib.XXH3_128bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    h = lib.XXH3_128bits(bytes(data), len(data))
    return struct.pack(">QQ", h.high, h.low)


def entries_by_kind(cache):
    out = {}
    for p in entry_files(cache):
        out.setdefault(KINDS[header(open(p, "rb").read())["kind"]], []).append(p)
    return out


def test_entry_header_holds_its_kind_and_key(ctx):
    """Every entry a build stores has the documented header: version 2, its kind, the key
    its file is named after, and a checksum over the header and the payload."""
    d, cache = project(ctx), ctx.tmpdir()
    if build(ctx, d, cache).returncode:
        return "build failed"
    kinds = entries_by_kind(cache)
    if len(kinds.get("module", [])) != 4 or not kinds.get("kernel") or not kinds.get("code"):
        return "expected 4 module entries and some kernel and code entries: %s" % {k: len(v) for k, v in kinds.items()}
    for p in entry_files(cache):
        data = open(p, "rb").read()
        h = header(data)
        if (h["magic"], h["version"], h["zero"], h["plen"]) != (b"TRICACHE", 2, 0, len(data) - 64):
            return "%s: header %s" % (p, h)
        if h["key"] != os.path.basename(p)[:-4]:
            return "%s: the header's key is %s" % (p, h["key"])
        if xxh3_128(data[:48] + data[64:]) != h["sum"]:
            return "%s: the checksum is not XXH3-128 of the header's first 48 bytes and the payload" % p


def test_entry_copied_over_another_key_is_not_served(ctx):
    """A whole, valid entry copied over another key's file (a module's over another module's,
    a kernel's over a module's) is a miss: said once, rebuilt, and the outputs are those of
    a fresh build, never the other module's object."""
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    fresh = outputs(d)
    kinds = entries_by_kind(cache)
    mods, kernel = kinds["module"], kinds["kernel"][0]
    shutil.copy(mods[0], mods[1])
    shutil.copy(kernel, mods[2])
    r = build(ctx, d, cache)
    if r.returncode:
        return r.stderr
    if r.stderr.count("belongs to another key") != 2:
        return "expected a warning for each of the 2 misplaced entries:\n%s" % r.stderr
    got = sorted(explained(r).values())
    if got != ["rebuilt: entry misplaced"] * 2 + ["reused"] * 2:
        return "explain: %s" % explained(r)
    if outputs(d) != fresh:
        return "a module was built with another key's entry"
    r = build(ctx, d, cache)
    if set(explained(r).values()) != {"reused"} or "warning" in r.stderr:
        return "the misplaced entries were not replaced by the right ones:\n%s" % r.stderr


def test_entry_of_another_kind_is_not_served(ctx):
    """An entry with this very key but of another kind (made by hand: kind and checksum
    rewritten) is a miss too."""
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    p = entries_by_kind(cache)["module"][0]
    data = bytearray(open(p, "rb").read())
    struct.pack_into("<I", data, 12, 3)  # a module-code entry
    data[48:64] = xxh3_128(data[:48] + data[64:])
    open(p, "wb").write(data)
    r = build(ctx, d, cache)
    if r.returncode or "is a module code entry, not a module entry" not in r.stderr:
        return "a module entry's file holding a code entry was not reported:\n%s" % r.stderr
    if sorted(explained(r).values()) != ["rebuilt: entry misplaced"] + ["reused"] * 3:
        return "explain: %s" % explained(r)


def test_verify_reports_misplaced_entries(ctx):
    """tric cache verify finds entries under another key's name, or in another fan-out
    folder than their name's, removes them and exits 1; a second verify finds nothing."""
    d, cache = project(ctx), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    build(ctx, d, cache)
    kinds = entries_by_kind(cache)
    mods = kinds["module"]
    shutil.copy(mods[0], mods[1])
    k = kinds["kernel"][0]
    name = os.path.basename(k)
    other = "00" if name[:2] != "00" else "01"
    os.makedirs(os.path.join(cache, "v1", "entries", other), exist_ok=True)
    moved = os.path.join(cache, "v1", "entries", other, name)
    os.rename(k, moved)
    n = len(entry_files(cache))
    r = ctx.run([ctx.tric, "cache", "verify"], env=env)
    lines = [l for l in r.stdout.splitlines() if l.startswith("misplaced: ")]
    if r.returncode != 1 or len(lines) != 2 or "%d entries checked, 0 corrupt, 2 misplaced" % n not in r.stdout:
        return "verify: exit %d\n%s" % (r.returncode, r.stdout)
    if os.path.exists(mods[1]) or os.path.exists(moved) or not os.path.exists(mods[0]):
        return "verify did not remove exactly the misplaced entries"
    r = ctx.run([ctx.tric, "cache", "verify"], env=env)
    if r.returncode or "0 corrupt, 0 misplaced" not in r.stdout:
        return "a second verify: %d\n%s" % (r.returncode, r.stdout)


# ---------------------------------------------------------------- read-only caches

def tree_state(folder):
    """Every path under folder with its size and modification time."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for f in dirs + files:
            p = os.path.join(root, f)
            st = os.lstat(p)
            out[os.path.relpath(p, folder)] = (st.st_size, st.st_mtime_ns)
    return out


class ReadOnly:
    """A populated cache made read-only for tric, as a CI cache restored without write
    access: by permissions (chmod -R a-w; as root, which ignores them, tric runs as
    nobody) or by a read-only bind mount. .skip says why it cannot be done here."""

    def __init__(self, ctx, cache, how, project_dir):
        self.ctx, self.prefix, self.mount, self.skip = ctx, [], None, None
        self.cache = cache
        if how == "permissions":
            subprocess.run(["chmod", "-R", "a+rX,a-w", cache], check=True)
            if os.geteuid() == 0:
                try:
                    pw = pwd.getpwnam("nobody")
                except KeyError:
                    self.skip = Skip("no user nobody to run tric as (root ignores permission bits)")
                    return
                if not shutil.which("setpriv"):
                    self.skip = Skip("no setpriv to run tric as nobody (root ignores permission bits)")
                    return
                self.prefix = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups"]
                os.chmod(project_dir, 0o777)  # nobody writes the outputs there
        else:
            if os.geteuid() != 0 or not shutil.which("mount"):
                self.skip = Skip("needs root and mount for a read-only bind mount")
                return
            m = ctx.tmpdir()
            if subprocess.run(["mount", "--bind", cache, m]).returncode:
                self.skip = Skip("mount --bind is not permitted here")
                return
            self.mount = self.cache = m
            if subprocess.run(["mount", "-o", "remount,ro,bind", m]).returncode:
                self.skip = Skip("a read-only remount is not permitted here")

    def run(self, argv, cwd=None):
        return self.ctx.run(self.prefix + argv, cwd=cwd, env=dict(os.environ, TRIC_CACHE_DIR=self.cache))

    def close(self):
        if self.mount:
            subprocess.run(["umount", self.mount])
        else:
            subprocess.run(["chmod", "-R", "u+w", self.cache])


def read_only_cache_is_read(ctx, how):
    """A populated read-only cache is read: one warning says nothing will be stored, every
    module comes from the cache without LLVM; after an edit the rest still does, the edited
    module is compiled (the same bytes as without the cache) and the cache is untouched."""
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    fresh = outputs(d)
    for f in fresh:
        os.unlink(os.path.join(d, f))
    ro = ReadOnly(ctx, cache, how, d)
    try:
        if ro.skip:
            return ro.skip
        before = tree_state(cache)
        r = ro.run([ctx.tric, "build", "--explain"] + FILES, cwd=d)
        warnings = [l for l in r.stderr.splitlines() if "warning" in l]
        if r.returncode or len(warnings) != 1 or "read-only" not in warnings[0] or "storing nothing" not in warnings[0]:
            return "%s: expected exactly one read-only warning:\n%s" % (how, r.stderr)
        if set(explained(r).values()) != {"reused"} or "LLVM was not started" not in r.stderr:
            return "%s: the read-only cache was not read:\n%s" % (how, r.stderr)
        if outputs(d) != fresh:
            return "%s: outputs from the read-only cache differ" % how
        with open(os.path.join(d, "other.tri"), "a") as f:
            f.write("export fn more(x: f64[N]) -> f64[N] { return x * 3; }\n")
        r = ro.run([ctx.tric, "build", "--explain"] + FILES, cwd=d)
        if r.returncode or sum("warning" in l for l in r.stderr.splitlines()) != 1:
            return "%s: after an edit:\n%s" % (how, r.stderr)
        if sorted(explained(r).values()) != ["rebuilt: source changed"] + ["reused"] * 3:
            return "%s: after an edit: %s" % (how, explained(r))
        edited = outputs(d)
        if tree_state(cache) != before:
            return "%s: a build changed the read-only cache" % how
    finally:
        ro.close()
    r = ctx.run([ctx.tric, "build", "--no-cache"] + FILES, cwd=d)
    if r.returncode or outputs(d) != edited:
        return "%s: outputs differ from a build without the cache" % how


def test_read_only_cache_by_permissions_is_read(ctx):
    return read_only_cache_is_read(ctx, "permissions")


def test_read_only_cache_by_mount_is_read(ctx):
    return read_only_cache_is_read(ctx, "mount")


def commands_on_read_only_cache(ctx, how):
    """verify, prune and clear on a read-only cache say, in their own words, what they
    could not remove and leave the cache as it is; stats and list work."""
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    p = entry_files(cache)[0]
    with open(p, "r+b") as f:
        f.truncate(30)  # a corrupt entry, for verify
    ro = ReadOnly(ctx, cache, how, d)
    try:
        if ro.skip:
            return ro.skip
        before = tree_state(cache)
        n = len(entry_files(cache))
        for argv, rc, said in ((["verify"], 1, "1 bad entry could not be removed"),
                               (["prune", "--max-size", "0"], 3, "%d entries to prune could not be removed" % n),
                               (["clear"], 3, "cannot clear cache")):
            r = ro.run([ctx.tric, "cache"] + argv)
            if r.returncode != rc or said not in r.stderr or "without the cache" in r.stderr:
                return "%s: tric cache %s: exit %d (expected %d)\n%s%s" % (how, " ".join(argv), r.returncode, rc, r.stdout,
                                                                          r.stderr)
        if "corrupt: %s (not removed: " % os.path.join(ro.cache, os.path.relpath(p, cache)) not in \
                ro.run([ctx.tric, "cache", "verify"]).stdout:
            return "%s: verify does not say the corrupt entry was not removed" % how
        for argv in (["stats"], ["list"]):
            r = ro.run([ctx.tric, "cache"] + argv)
            if r.returncode or r.stderr:
                return "%s: tric cache %s on a read-only cache: %d\n%s" % (how, argv[0], r.returncode, r.stderr)
        if tree_state(cache) != before:
            return "%s: a command changed the read-only cache" % how
    finally:
        ro.close()


def test_cache_commands_on_read_only_cache_by_permissions(ctx):
    return commands_on_read_only_cache(ctx, "permissions")


def test_cache_commands_on_read_only_cache_by_mount(ctx):
    return commands_on_read_only_cache(ctx, "mount")


def test_clear_removes_manifests_and_stray_files(ctx):
    """clear leaves only the empty layout (and the lock): no entry, manifest, temporary or
    stray file; the next build has no manifest to explain from."""
    d, cache = project(ctx), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    build(ctx, d, cache)
    v1 = os.path.join(cache, "v1")
    if not os.listdir(os.path.join(v1, "manifests")):
        return "the build stored no manifest"
    for rel in ("entries/zz/stray.txt", "entries/README", "tmp/left-by-a-killed-build", "stray.log", "odd/deep/file"):
        os.makedirs(os.path.dirname(os.path.join(v1, rel)), exist_ok=True)
        open(os.path.join(v1, rel), "w").write("x")
    os.makedirs(os.path.join(v1, "entries", "ab", "empty"), exist_ok=True)
    r = ctx.run([ctx.tric, "cache", "clear"], env=env)
    if r.returncode:
        return "clear: %d %s" % (r.returncode, r.stderr)
    left = sorted(tree_state(v1))
    if left != ["created", "entries", "lock", "manifests", "tmp"]:
        return "clear left %s" % left
    got = explained(build(ctx, d, cache))
    if set(got.values()) != {"rebuilt: no entry"}:
        return "after clear, the build still found manifests: %s" % got


def test_entries_not_a_folder(ctx):
    """A cache whose entries is not a folder: verify reports it and exits non-zero, a build
    warns once and builds without the cache, and clear makes the layout anew."""
    d, cache = project(ctx), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    build(ctx, d, cache)
    entries = os.path.join(cache, "v1", "entries")
    shutil.rmtree(entries)
    open(entries, "w").write("not a folder")
    r = ctx.run([ctx.tric, "cache", "verify"], env=env)
    if r.returncode == 0 or "entries is not a folder" not in r.stderr:
        return "verify: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr)
    r = build(ctx, d, cache)
    warnings = [l for l in r.stderr.splitlines() if "warning" in l]
    if r.returncode or len(warnings) != 1 or "not a folder" not in warnings[0]:
        return "build: %s" % r.stderr
    r = ctx.run([ctx.tric, "cache", "clear"], env=env)
    v = ctx.run([ctx.tric, "cache", "verify"], env=env)
    if r.returncode or v.returncode or not os.path.isdir(entries):
        return "clear did not make the layout anew: %s %s" % (r.stderr, v.stdout)


def test_unreadable_entries_are_said_once(ctx):
    """Entries tric may not read (another user's, mode 000) are misses, said once per build
    rather than silently rebuilt."""
    d, cache = project(ctx), ctx.tmpdir()
    build(ctx, d, cache)
    ro = ReadOnly(ctx, cache, "permissions", d)
    try:
        if ro.skip:
            return ro.skip
        for p in entries_by_kind(cache)["module"][:2]:
            os.chmod(p, 0)
        r = ro.run([ctx.tric, "build", "--explain"] + FILES, cwd=d)
        if r.returncode or r.stderr.count("cannot be read (Permission denied)") != 1:
            return "expected one warning for the unreadable entries:\n%s" % r.stderr
        if sorted(explained(r).values()) != ["rebuilt: no entry (evicted or never stored)"] * 2 + ["reused"] * 2:
            return "explain: %s" % explained(r)
    finally:
        ro.close()


def test_entries_follow_the_umask(ctx):
    """Cache files are made as any file the user makes (0666 less the umask, not mkstemp's
    0600), so a cache filled by one user (a CI job, root) is read by another as it is: as
    nobody, every module comes from it, with the one read-only warning."""
    d, cache = project(ctx), ctx.tmpdir()
    os.chmod(cache, 0o755)  # mkdtemp makes 0700
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    r = ctx.run(["sh", "-c", 'umask 022 && exec "$0" "$@"', ctx.tric, "build"] + FILES, cwd=d, env=env)
    if r.returncode:
        return "build: %d\n%s" % (r.returncode, r.stderr)
    files = [os.path.join(root, f) for root, _, fs in os.walk(cache) for f in fs]
    modes = {oct(os.stat(p).st_mode & 0o777) for p in files if not p.endswith("lock")}
    if not entry_files(cache) or modes != {"0o644"}:
        return "cache files under umask 022 have modes %s, expected 0o644" % sorted(modes)
    if os.geteuid() != 0:
        return Skip("needs root to run tric as another user")
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return Skip("no user nobody")
    if not shutil.which("setpriv"):
        return Skip("no setpriv")
    os.chmod(d, 0o777)  # nobody writes the outputs there
    for f in outputs(d):
        os.unlink(os.path.join(d, f))
    as_nobody = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups"]
    r = ctx.run(as_nobody + [ctx.tric, "build", "--explain"] + FILES, cwd=d, env=env)
    warnings = [l for l in r.stderr.splitlines() if "warning" in l]
    if r.returncode or len(warnings) != 1 or "read-only" not in warnings[0]:
        return "as nobody: exit %d, expected one read-only warning:\n%s" % (r.returncode, r.stderr)
    if set(explained(r).values()) != {"reused"}:
        return "as nobody, not every module came from root's cache: %s\n%s" % (explained(r), r.stderr)


def test_explain_names_any_import(ctx):
    """--explain names the changed import whatever the number and length of a module's
    imports (manifests held 64 names of 127 characters, so the 70th import's edit was
    explained as 'no entry')."""
    d, cache = ctx.tmpdir(), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    names = ["lib_%03d_%s" % (i, "x" * 140) for i in range(70)]
    for n in names:
        with open(os.path.join(d, n + ".tri"), "w") as f:
            f.write("fn g(x: f32[N]) -> f32[N] { return x + 1.0; }\n")
    with open(os.path.join(d, "top.tri"), "w") as f:
        f.write("".join("import %s;\n" % n for n in names))
        f.write("export fn f(x: f32[N]) -> f32[N] { return %s; }\n" % " + ".join("%s.g(x)" % n for n in names))
    r = ctx.run([ctx.tric, "build", "top.tri"], cwd=d, env=env)
    if r.returncode:
        return "cold build: %s" % r.stderr[-2000:]
    with open(os.path.join(d, names[-1] + ".tri"), "w") as f:
        f.write("fn g(x: f32[N]) -> f32[N] { return x + 2.0; }\n")
    r = ctx.run([ctx.tric, "build", "--explain", "top.tri"], cwd=d, env=env)
    want = "tric: explain: top.tri: rebuilt: import %s changed" % names[-1]
    if r.returncode or want not in r.stderr:
        return "expected %r:\n%s" % (want, r.stderr[-2000:])


def test_explain_names_a_long_dotted_import(ctx):
    """--explain names the changed import in full when its dotted name is longer than any
    fixed line buffer (the reason was formatted into 256 bytes, so a 400-character name
    came out cut short), among 100 such imports."""
    d, cache = ctx.tmpdir(), ctx.tmpdir()
    env = dict(os.environ, TRIC_CACHE_DIR=cache)
    pkg = "pkg_" + "p" * 200
    os.mkdir(os.path.join(d, pkg))
    leaves = ["lib_%03d_%s" % (i, "x" * 200) for i in range(100)]
    for n in leaves:
        with open(os.path.join(d, pkg, n + ".tri"), "w") as f:
            f.write("fn g(x: f32[N]) -> f32[N] { return x + 1.0; }\n")
    with open(os.path.join(d, "top.tri"), "w") as f:
        f.write("".join("import %s.%s;\n" % (pkg, n) for n in leaves))
        f.write("export fn f(x: f32[N]) -> f32[N] { return %s; }\n" % " + ".join("%s.g(x)" % n for n in leaves))
    r = ctx.run([ctx.tric, "build", "top.tri"], cwd=d, env=env)
    if r.returncode:
        return "cold build: %s" % r.stderr[-2000:]
    changed = leaves[len(leaves) // 2]
    with open(os.path.join(d, pkg, changed + ".tri"), "w") as f:
        f.write("fn g(x: f32[N]) -> f32[N] { return x + 2.0; }\n")
    r = ctx.run([ctx.tric, "build", "--explain", "top.tri"], cwd=d, env=env)
    want = "tric: explain: top.tri: rebuilt: import %s.%s changed\n" % (pkg, changed)
    if r.returncode or want not in r.stderr:
        return "expected %r:\n%s" % (want, r.stderr[-2000:])
