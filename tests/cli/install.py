"""make install and the build systems that use the installed tree: the layout under
DESTDIR/PREFIX and make uninstall, an installed tric that runs from its prefix alone, a
pkg-config consumer, and a CMake project (find_package(tric), tric_add_library) under
Ninja and Makefile generators: first build, no-op rebuild, an import edit, a touch that
Ninja's restat keeps from recompiling consumers (tric's --keep-mtime, tested here too).

The tric installed is the one under test (its folder is make's BUILD, nothing rebuilt:
make -o), so the sanitized run installs and drives the ASan tric, with consumers compiled
under the same sanitizers as the libtricrt.a beside it."""
import os
import re
import shutil
import subprocess
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAN_FLAGS = "-fsanitize=address,undefined -fno-sanitize-recover=all"

LAYERS = "fn act(x: f32[...]) -> f32[...] { return x * 2.0; }\n" \
         "export fn layer(x: f32[N]) -> f32[N] { return act(x) + 1.0; }\n"
MODEL = "import layers;\nexport fn model(x: f32[N]) -> f32[N] { return layers.act(x) * 3.0 - 0.5; }\n"
OTHER = "export fn other(x: f64[N]) -> f64[N] { return x * x; }\n"

MAIN_C = r"""#include <stdio.h>
#include <tricrt.h>
#include "model.h"
#include "layers.h"
#include "other.h"
int main(void) {
  float x[8], y[8], z[8];
  double d[8], e[8];
  for (int i = 0; i < 8; i++) x[i] = 0.5f * (float)i - 1.0f, d[i] = (double)x[i];
  if (model(x, y, 8) != TRIC_OK || layer(x, z, 8) != TRIC_OK || other(d, e, 8) != TRIC_OK) return 1;
  for (int i = 0; i < 8; i++) printf("%.9g %.9g %.17g\n", (double)y[i], (double)z[i], e[i]);
  return 0;
}
"""
MAIN_CXX = r"""#include <cstdio>
#include <vector>
#include "model.h"
int main() {
  std::vector<float> x(8), y(8);
  for (int i = 0; i < 8; i++) x[i] = 0.5f * static_cast<float>(i) - 1.0f;
  if (model(x.data(), y.data(), 8) != TRIC_OK) return 1;
  for (float v : y) std::printf("%.9g\n", static_cast<double>(v));
  return 0;
}
"""
CMAKELISTS = """cmake_minimum_required(VERSION 3.20)
project(consumer C CXX)
find_package(tric 0.1 REQUIRED)
tric_add_library(models SOURCES src/model.tri src/lib/layers.tri src/other.tri INCLUDE_DIRS src/lib OPTIONS -O2)
foreach(app app_c app_cxx)
  if(app STREQUAL app_c)
    add_executable(${app} main.c)
  else()
    add_executable(${app} main.cpp)
  endif()
  target_compile_options(${app} PRIVATE -Wall -Wextra -Werror -pedantic)
  target_link_libraries(${app} PRIVATE models)
endforeach()
set_target_properties(app_c PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
set_target_properties(app_cxx PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
"""


def f32(v):
    return np.float32(v)


def expected_c(k):
    """What app_c prints with layers' act(x) = x * k: model, layer (f32) and other (f64)."""
    x = (np.float32(0.5) * np.arange(8, dtype=np.float32) - np.float32(1.0)).astype(np.float32)
    act = (x * f32(k)).astype(np.float32)
    model = (act * f32(3.0) - f32(0.5)).astype(np.float32)
    layer = (act + f32(1.0)).astype(np.float32)
    other = x.astype(np.float64) ** 2
    return [(float(model[i]), float(layer[i]), float(other[i])) for i in range(8)], \
           [float(v) for v in model]


def check_programs(ctx, bdir, k, env):
    """Runs app_c and app_cxx of build folder bdir; None, or what differs from NumPy."""
    want_c, want_cxx = expected_c(k)
    r = ctx.run([os.path.join(bdir, "app_c")], env=env)
    if r.returncode:
        return "app_c exited %d: %s%s" % (r.returncode, r.stdout, r.stderr)
    got = [tuple(float(v) for v in l.split()) for l in r.stdout.splitlines()]
    if got != want_c:
        return "app_c printed\n%s\nNumPy says (act = x * %g)\n%s" % (r.stdout, k, want_c)
    r = ctx.run([os.path.join(bdir, "app_cxx")], env=env)
    if r.returncode:
        return "app_cxx exited %d: %s%s" % (r.returncode, r.stdout, r.stderr)
    got = [float(v) for v in r.stdout.split()]
    if got != want_cxx:
        return "app_cxx printed %s, NumPy says %s" % (got, want_cxx)
    return None


def make_install(ctx, prefix, destdir=None, target="install"):
    """make install (or uninstall) of the tric under test, building nothing: its folder is
    BUILD and make takes tric and libtricrt.a as they are (-o)."""
    build = os.path.dirname(ctx.tric)
    argv = ["make", "--no-print-directory", "-C", ROOT, target, "BUILD=" + build, "PREFIX=" + prefix,
            "-o", os.path.join(build, "tric"), "-o", os.path.join(build, "libtricrt.a")]
    argv.append("DESTDIR=" + (destdir or ""))  # never one from the environment
    r = ctx.run(argv, timeout=300, env=env_with(ctx))
    if r.returncode:
        return "make %s failed (%d):\n%s%s" % (target, r.returncode, r.stdout, r.stderr)
    return None


def files_under(d):
    out = set()
    for dirpath, _, names in os.walk(d):
        for n in names:
            out.add(os.path.relpath(os.path.join(dirpath, n), d))
    return out


def env_with(ctx, **kw):
    """The test's environment without the make that may run the tests (its MAKEFLAGS would
    pass its variables, DESTDIR among them, and a jobserver whose pipe is not open here)."""
    env = dict(os.environ, TRIC_CACHE_DIR=ctx.cache_dir)
    for v in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PREFIX", "DESTDIR"):
        env.pop(v, None)
    env.update(kw)
    return env


def test_install_layout_and_uninstall(ctx):
    """make install DESTDIR=D PREFIX=P writes exactly tric, the runtime headers, libtricrt.a,
    tric.pc (naming P, not D), the CMake package and the docs under D/P, nothing elsewhere;
    the installed tric runs from there with the build tree out of reach; make uninstall
    with the same D and P removes every file it wrote."""
    if not shutil.which("make"):
        return Skip("make is not installed")
    stage = ctx.tmpdir()
    prefix = "/opt/tric-install-test"
    e = make_install(ctx, prefix, stage)
    if e:
        return e
    if os.listdir(stage) != ["opt"]:
        return "install wrote outside DESTDIR/PREFIX: %s" % os.listdir(stage)
    root = stage + prefix
    docs = {"share/doc/tric/README.md"} | {"share/doc/tric/" + f for f in os.listdir(os.path.join(ROOT, "docs"))
                                           if f.endswith(".md")}
    want = {"bin/tric", "include/tric/tricrt.h", "include/tric/tricrt_pool.h", "lib/libtricrt.a",
            "lib/pkgconfig/tric.pc", "lib/cmake/tric/tricConfig.cmake",
            "lib/cmake/tric/tricConfigVersion.cmake"} | docs
    got = files_under(root)
    if got != want:
        return "installed files differ: missing %s, unexpected %s" % (sorted(want - got), sorted(got - want))
    for f in got:
        mode = os.stat(os.path.join(root, f)).st_mode & 0o777
        if mode != (0o755 if f == "bin/tric" else 0o644):
            return "%s has mode %o" % (f, mode)
    for src, dst in (("runtime/tricrt.h", "include/tric/tricrt.h"), ("runtime/tricrt_pool.h", "include/tric/tricrt_pool.h"),
                     (os.path.join(os.path.dirname(ctx.tric), "libtricrt.a"), "lib/libtricrt.a"), (ctx.tric, "bin/tric")):
        with open(os.path.join(ROOT, src), "rb") as a, open(os.path.join(root, dst), "rb") as b:
            if a.read() != b.read():
                return "%s is not a copy of %s" % (dst, src)
    pc = open(os.path.join(root, "lib/pkgconfig/tric.pc")).read()
    version = ctx.run([ctx.tric, "--version"]).stdout.split()[1]
    for line in ("prefix=%s" % prefix, "tric=${bindir}/tric", "Version: %s" % version,
                 "Cflags: -I${includedir}/tric", "Libs: -L${libdir} -ltricrt -lm -lpthread"):
        if line not in pc.splitlines():
            return "tric.pc lacks the line %r:\n%s" % (line, pc)
    cv = open(os.path.join(root, "lib/cmake/tric/tricConfigVersion.cmake")).read()
    if 'set(PACKAGE_VERSION "%s")' % version not in cv:
        return "tricConfigVersion.cmake does not say version %s" % version
    # the installed tric needs nothing of the build tree: no shared library it cannot find,
    # none from the source or build folders, and it compiles from anywhere
    tric = os.path.join(root, "bin/tric")
    r = subprocess.run(["ldd", tric], capture_output=True, text=True)
    if "not found" in r.stdout or ROOT in r.stdout:
        return "ldd %s:\n%s" % (tric, r.stdout)
    work = ctx.tmpdir()
    with open(os.path.join(work, "m.tri"), "w") as f:
        f.write(OTHER)
    r = ctx.run([tric, "build", "m.tri", "-MD"], cwd=work, env=env_with(ctx, PATH="/usr/bin:/bin"))
    if r.returncode or sorted(os.listdir(work)) != ["m.d", "m.h", "m.o", "m.tri"]:
        return "the installed tric did not build (%d): %s %s" % (r.returncode, os.listdir(work), r.stderr)
    e = make_install(ctx, prefix, stage, "uninstall")
    if e:
        return e
    left = files_under(stage)
    if left:
        return "make uninstall left %s" % sorted(left)
    for d in ("include/tric", "lib/cmake/tric", "share/doc/tric"):
        if os.path.exists(os.path.join(root, d)):
            return "make uninstall left the folder %s" % d
    shutil.rmtree(stage)
    shutil.rmtree(work)


def test_keep_mtime(ctx):
    """--keep-mtime leaves an output whose bytes did not change exactly as it was, even when
    its source is newer (without it tric touches it, for make); an output whose bytes
    change is still written."""
    d = ctx.tmpdir()
    for name, text in (("layers.tri", LAYERS), ("model.tri", MODEL)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    outs = ("model.o", "model.h", "model.d")
    r = ctx.run([ctx.tric, "build", "model.tri", "-MD", "--keep-mtime"], cwd=d)
    if r.returncode:
        return r.stderr
    old = time.time() - 100
    for f in outs:
        os.utime(os.path.join(d, f), (old, old))
    before = {f: os.stat(os.path.join(d, f)).st_mtime_ns for f in outs}
    with open(os.path.join(d, "layers.tri"), "a") as f:
        f.write("// a comment: the same code\n")
    r = ctx.run([ctx.tric, "build", "model.tri", "-MD", "--keep-mtime"], cwd=d)
    if r.returncode:
        return r.stderr
    after = {f: os.stat(os.path.join(d, f)).st_mtime_ns for f in outs}
    if after != before:
        return "--keep-mtime touched %s" % sorted(f for f in outs if after[f] != before[f])
    r = ctx.run([ctx.tric, "build", "model.tri", "-MD"], cwd=d)
    src = os.stat(os.path.join(d, "layers.tri")).st_mtime_ns
    if r.returncode or any(os.stat(os.path.join(d, f)).st_mtime_ns < src for f in outs):
        return "without --keep-mtime the unchanged outputs were not touched (make would see them stale)"
    for f in outs:
        os.utime(os.path.join(d, f), (old, old))
    obj = open(os.path.join(d, "model.o"), "rb").read()
    with open(os.path.join(d, "layers.tri"), "w") as f:
        f.write(LAYERS.replace("x * 2.0", "x * 7.0"))
    r = ctx.run([ctx.tric, "build", "model.tri", "-MD", "--keep-mtime"], cwd=d)
    if r.returncode:
        return r.stderr
    if open(os.path.join(d, "model.o"), "rb").read() == obj or os.stat(os.path.join(d, "model.o")).st_mtime_ns == before["model.o"]:
        return "--keep-mtime did not write an object whose code changed"
    if os.stat(os.path.join(d, "model.h")).st_mtime_ns != before["model.h"]:
        return "--keep-mtime touched model.h, whose bytes did not change"
    shutil.rmtree(d)


def consumer_flags(ctx):
    return SAN_FLAGS if ctx.sanitized else ""


def test_pkg_config_consumer(ctx):
    """A program built with cc $(pkg-config --cflags --libs tric) and the tric that
    pkg-config --variable=tric names, from an installed prefix: it compiles with -Wall
    -Wextra -Werror -pedantic, links and computes what NumPy does."""
    for tool in ("make", "pkg-config"):
        if not shutil.which(tool):
            return Skip("%s is not installed" % tool)
    prefix = ctx.tmpdir()
    e = make_install(ctx, prefix)
    if e:
        return e
    d = ctx.tmpdir()
    for name, text in (("layers.tri", LAYERS), ("model.tri", MODEL), ("other.tri", OTHER), ("main.c", MAIN_C)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    env = env_with(ctx, PKG_CONFIG_PATH=os.path.join(prefix, "lib/pkgconfig"), CC=ctx.cc, SAN=consumer_flags(ctx))
    script = ('set -e; TRIC=$(pkg-config --variable=tric tric); "$TRIC" build model.tri layers.tri other.tri; '
              '$CC -std=c11 -Wall -Wextra -Werror -pedantic $SAN -o app main.c model.o layers.o other.o '
              '$(pkg-config --cflags --libs tric)')
    r = subprocess.run(["sh", "-c", script], cwd=d, env=env, capture_output=True, text=True, timeout=300)
    if r.returncode:
        return "the pkg-config build failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "tric"], env=env, capture_output=True, text=True).stdout
    if flags.split() != ["-I%s/include/tric" % prefix, "-L%s/lib" % prefix, "-ltricrt", "-lm", "-lpthread"]:
        return "pkg-config --cflags --libs tric says %r" % flags
    want, _ = expected_c(2.0)
    r = ctx.run([os.path.join(d, "app")], env=env)
    got = [tuple(float(v) for v in l.split()) for l in r.stdout.splitlines()]
    if r.returncode or got != want:
        return "app (%d) printed\n%s%s\nNumPy says %s" % (r.returncode, r.stdout, r.stderr, want)
    shutil.rmtree(d)
    shutil.rmtree(prefix)


def cmake_project(ctx):
    """An installed prefix and a CMake project beside it (two source folders: model.tri
    imports layers.tri through INCLUDE_DIRS; other.tri imports nothing)."""
    prefix = ctx.tmpdir()
    e = make_install(ctx, prefix)
    if e:
        return None, None, e
    d = os.path.join(ctx.tmpdir(), "a project")  # a space in every path: the depfiles escape it
    os.makedirs(os.path.join(d, "src", "lib"))
    for name, text in (("src/lib/layers.tri", LAYERS), ("src/model.tri", MODEL), ("src/other.tri", OTHER),
                       ("main.c", MAIN_C), ("main.cpp", MAIN_CXX), ("CMakeLists.txt", CMAKELISTS)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return prefix, d, None


def cmake_missing(generator):
    need = ["cmake", "make", "g++"] + (["ninja"] if generator == "Ninja" else [])
    missing = [t for t in need if not shutil.which(t)]
    return Skip("not installed: %s (make test-deps installs them)" % " ".join(missing)) if missing else None


def configure(ctx, d, prefix, generator, env):
    b = os.path.join(d, "build")
    argv = ["cmake", "-G", generator, "-S", d, "-B", b, "-DCMAKE_PREFIX_PATH=" + prefix,
            "-DCMAKE_C_COMPILER=" + (shutil.which(ctx.cc) or ctx.cc)]
    if ctx.sanitized:
        argv += ["-DCMAKE_C_FLAGS=" + SAN_FLAGS, "-DCMAKE_CXX_FLAGS=" + SAN_FLAGS,
                 "-DCMAKE_EXE_LINKER_FLAGS=" + SAN_FLAGS]
    r = ctx.run(argv, env=env, timeout=300)
    if r.returncode:
        return None, "cmake -G %s failed (%d):\n%s%s" % (generator, r.returncode, r.stdout, r.stderr)
    return b, None


def edit(path, old, new):
    time.sleep(0.05)  # past the file system's time granularity, so the edit is newer
    text = open(path).read()
    if old not in text:
        raise AssertionError("%r not in %s" % (old, path))
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def ran(r):
    """The commands ninja -v ran (its '[i/n] ' lines)."""
    return [l.split("] ", 1)[1] for l in r.stdout.splitlines() if re.match(r"\[\d+/\d+\] ", l)]


def test_cmake_ninja(ctx):
    """find_package(tric) and tric_add_library under Ninja: a C and a C++ consumer (-Wall
    -Wextra -Werror -pedantic) build and compute what NumPy does; a second build has no work;
    an edit of the imported module's body reruns tric for it and its importer only and
    relinks, recompiling no consumer (the headers' bytes did not change, --keep-mtime and
    Ninja's restat); an edit that changes a header recompiles the consumers; a touch of a
    module reruns tric and nothing downstream, and leaves no work behind; a compile error
    fails the build with its located message, and the build after the fix is right. The
    project's folder has a space in its name, which the depfiles escape."""
    why = cmake_missing("Ninja")
    if why:
        return why
    prefix, d, e = cmake_project(ctx)
    if e:
        return e
    # a project whose policies predate CMP0116: the package's function keeps its own (NEW),
    # without which Ninja would see the depfiles' targets as other files and never be done
    with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
        f.write(CMAKELISTS.replace("cmake_minimum_required(VERSION 3.20)", "cmake_minimum_required(VERSION 3.13)"))
    env = env_with(ctx)
    b, e = configure(ctx, d, prefix, "Ninja", env)
    if e:
        return e
    bn = open(os.path.join(b, "build.ninja")).read()
    if "--keep-mtime" not in bn or "restat = 1" not in bn:
        return "build.ninja runs tric without --keep-mtime or without restat"
    ninja = ["ninja", "-C", b, "-v"]
    r = ctx.run(ninja, env=env, timeout=600)
    if r.returncode:
        return "first build failed:\n%s%s" % (r.stdout, r.stderr)
    e = check_programs(ctx, b, 2.0, env)
    if e:
        return e
    r = ctx.run(["ninja", "-C", b, "-n", "-d", "explain"], env=env)
    if r.returncode or "ninja: no work to do." not in r.stdout or ran(r):
        return "the second build is not a no-op:\n%s%s" % (r.stdout, r.stderr)

    lib = os.path.join(d, "src", "lib", "layers.tri")
    edit(lib, "x * 2.0", "x * 4.0")  # the body only: layers.h and model.h stay the same bytes
    r = ctx.run(ninja, env=env, timeout=600)
    cmds = ran(r)
    tric_for = sorted(m.group(1) + ".o" for m in (re.search(r" build .* -o .*models\.tric/(\w+)\.o", c) for c in cmds) if m)
    if r.returncode or tric_for != ["layers.o", "model.o"]:
        return "after an edit of layers.tri, tric ran for %s (expected layers.o, model.o):\n%s%s" % (
            tric_for, r.stdout, r.stderr)
    if any("main.c" in c and " -c " in c for c in cmds):
        return "an edit that changed no header recompiled a consumer:\n%s" % "\n".join(cmds)
    if not any("libmodels.a" in c and " -o app_c" in c for c in cmds):
        return "app_c was not relinked after the edit:\n%s" % "\n".join(cmds)
    e = check_programs(ctx, b, 4.0, env)
    if e:
        return "after the edit: " + e

    edit(lib, "export fn layer", "export fn layer2(x: f32[N]) -> f32[N] { return x; }\nexport fn layer")
    r = ctx.run(ninja, env=env, timeout=600)
    cmds = ran(r)
    if r.returncode or not any("main.c.o" in c and " -c " in c for c in cmds):
        return "a new export (layers.h changed) did not recompile main.c:\n%s%s" % (r.stdout, r.stderr)
    if any("main.cpp.o" in c and " -c " in c for c in cmds):
        return "main.cpp, which includes only model.h (unchanged), was recompiled:\n%s" % "\n".join(cmds)

    time.sleep(0.05)
    os.utime(lib)
    r = ctx.run(ninja, env=env, timeout=600)
    cmds = ran(r)
    if r.returncode or len(cmds) != 2 or not all(" build " in c and "--keep-mtime" in c for c in cmds):
        return "a touch of layers.tri ran more than tric for layers and model:\n%s%s" % (r.stdout, r.stderr)
    r = ctx.run(["ninja", "-C", b, "-n"], env=env)
    if "ninja: no work to do." not in r.stdout:
        return "after the touch a build still has work:\n%s" % r.stdout
    e = check_programs(ctx, b, 4.0, env)
    if e:
        return "after the touch: " + e

    edit(lib, "act(x) + 1.0", "act(x) + y")  # a compile error (line 3, after layer2): the build fails, located
    r = ctx.run(ninja, env=env, timeout=600)
    if r.returncode == 0 or "layers.tri:3:56: error: unknown name 'y'" not in r.stdout:
        return "a compile error in layers.tri: ninja exited %d\n%s%s" % (r.returncode, r.stdout, r.stderr)
    edit(lib, "act(x) + y", "act(x) + 1.0")
    r = ctx.run(ninja, env=env, timeout=600)
    if r.returncode:
        return "the build after the fix failed:\n%s%s" % (r.stdout, r.stderr)
    e = check_programs(ctx, b, 4.0, env)
    if e:
        return "after the fix: " + e
    shutil.rmtree(os.path.dirname(d))
    shutil.rmtree(prefix)


def test_cmake_makefiles(ctx):
    """The same project under the Makefile generator: it builds and computes what NumPy
    does, a second make runs no command, and an edit of the imported module rebuilds
    its importer's object (the depfile) and the programs."""
    why = cmake_missing("Unix Makefiles")
    if why:
        return why
    prefix, d, e = cmake_project(ctx)
    if e:
        return e
    env = env_with(ctx)
    b, e = configure(ctx, d, prefix, "Unix Makefiles", env)
    if e:
        return e
    make = ["make", "-C", b, "--no-print-directory"]
    r = ctx.run(make, env=env, timeout=600)
    if r.returncode:
        return "first build failed:\n%s%s" % (r.stdout, r.stderr)
    e = check_programs(ctx, b, 2.0, env)
    if e:
        return e
    r = ctx.run(make, env=env, timeout=600)
    if r.returncode or "tric: building" in r.stdout or "Building" in r.stdout or "Linking" in r.stdout:
        return "the second make did work:\n%s" % r.stdout
    model_o = os.path.join(b, "models.tric", "model.o")
    before = open(model_o, "rb").read()
    edit(os.path.join(d, "src", "lib", "layers.tri"), "x * 2.0", "x * 4.0")
    r = ctx.run(make, env=env, timeout=600)
    if r.returncode or "tric: building model.o" not in r.stdout or "tric: building other.o" in r.stdout:
        return "after an edit of layers.tri make did not rebuild exactly layers.o and model.o:\n%s%s" % (r.stdout, r.stderr)
    if open(model_o, "rb").read() == before:
        return "model.o did not change after an edit of the layers.tri it imports"
    e = check_programs(ctx, b, 4.0, env)
    if e:
        return "after the edit: " + e
    r = ctx.run(make, env=env, timeout=600)
    if "tric: building" in r.stdout:
        return "make reruns tric after the edit was built:\n%s" % r.stdout
    shutil.rmtree(os.path.dirname(d))
    shutil.rmtree(prefix)


def test_cmake_rejects_bad_calls(ctx):
    """tric_add_library refuses, at configure time and naming the problem, two modules with
    one name, an option it owns, a source that is not a .tri module and a call without
    SOURCES; find_package(tric 9) finds no compatible version."""
    why = cmake_missing("Unix Makefiles")
    if why:
        return why
    prefix, d, e = cmake_project(ctx)
    if e:
        return e
    os.makedirs(os.path.join(d, "src", "b"))
    with open(os.path.join(d, "src", "b", "layers.tri"), "w") as f:
        f.write(LAYERS)
    env = env_with(ctx)
    head = "cmake_minimum_required(VERSION 3.20)\nproject(bad C)\nfind_package(tric REQUIRED)\n"
    for call, said in (
            ("tric_add_library(m SOURCES src/lib/layers.tri src/b/layers.tri)", "two modules named 'layers.tri'"),
            ("tric_add_library(m SOURCES src/model.tri OPTIONS -O3 -MD)", "OPTIONS must not hold '-MD'"),
            ("tric_add_library(m SOURCES main.c)", "main.c' is not a .tri module"),
            ("tric_add_library(m INCLUDE_DIRS src)", "no SOURCES"),
            ("tric_add_library(m FROB SOURCES src/model.tri)", "unexpected arguments: FROB"),
            ("", None)):
        text = head.replace("find_package(tric REQUIRED)", "find_package(tric 9 REQUIRED)") if said is None else head + call + "\n"
        with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
            f.write(text)
        shutil.rmtree(os.path.join(d, "build"), ignore_errors=True)
        b, e = configure(ctx, d, prefix, "Unix Makefiles", env)
        if not e:
            return "cmake accepted %r" % (call or "find_package(tric 9)")
        want, where = (said, "CMakeLists.txt:4 (tric_add_library)") if said else ("version: 0.1", "CMakeLists.txt:3")
        if want not in " ".join(e.split()) or where not in e:  # cmake wraps its messages
            return "cmake on %r did not say %r at %s:\n%s" % (call or "find_package(tric 9)", want, where, e)
    shutil.rmtree(os.path.dirname(d))
    shutil.rmtree(prefix)
