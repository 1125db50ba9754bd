"""Generated headers that go together: include guards of same-named modules, parameter and
size names that C headers reserve (issue 9, item 6)."""
import os
import shutil


def write(d, rel, text):
    path = os.path.join(d, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def build_and_run(ctx, d, prog, objs):
    write(d, "main.c", prog)
    r = ctx.run([ctx.cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I", d, "main.c"] + objs +
                ctx.plain_libs + ["-o", "prog"], cwd=d)
    if r.returncode:
        return None, "cc: %s" % r.stderr
    r = ctx.run(["./prog"], cwd=d)
    return r, None


def test_same_named_modules_headers_in_one_c_file(ctx):
    # src/a/layer.tri and src/b/layer.tri: one build of the folder, both headers in one C file
    d = ctx.tmpdir()
    write(d, "src/a/layer.tri", "export fn a_twice(x: f32[N]) -> f32[N] { return x * 2.0; }\n")
    write(d, "src/b/layer.tri", "export fn b_thrice(x: f32[N]) -> f32[N] { return x * 3.0; }\n")
    r = ctx.run([ctx.tric, "build", "src", "-o", "out"], cwd=d)
    if r.returncode:
        return r.stderr
    ga = open(os.path.join(d, "out/a/layer.h")).read().split("\n")[1]
    gb = open(os.path.join(d, "out/b/layer.h")).read().split("\n")[1]
    if not ga.startswith("#ifndef TRIC_") or ga == gb:
        return "include guards: %r %r" % (ga, gb)
    prog = ('#include "out/a/layer.h"\n#include "out/b/layer.h"\n#include "out/a/layer.h"\n#include <stdio.h>\n'
            "int main(void) { float x[2] = {1, 2}, y[2], z[2];\n"
            "  if (a_twice(x, y, 2) || b_thrice(x, z, 2)) return 1;\n"
            '  printf("%g %g\\n", y[1], z[1]); return 0; }\n')
    r, e = build_and_run(ctx, d, prog, ["out/a/layer.o", "out/b/layer.o"])
    if e:
        return e
    if r.returncode or r.stdout.split() != ["4", "6"]:
        return "program: %d %r" % (r.returncode, r.stdout)
    # one module built to two output names: two guards, both headers in one C file; to
    # the same name in another folder: the same header bytes
    for o in ("one/m.o", "two/n.o", "three/m.o"):
        r = ctx.run([ctx.tric, "build", "src/a/layer.tri", "-o", o], cwd=d)
        if r.returncode:
            return r.stderr
    write(d, "two.c", '#include "one/m.h"\n#include "two/n.h"\nint main(void) { return 0; }\n')
    r = ctx.run([ctx.cc, "-std=c99", "-Wall", "-Werror", "-fsyntax-only", "two.c"], cwd=d)
    if r.returncode:
        return "two outputs of one module: %s" % r.stderr
    h1, h2, h3 = (open(os.path.join(d, p)).read() for p in ("one/m.h", "two/n.h", "three/m.h"))
    if h1.split("\n")[1] == h2.split("\n")[1]:
        return "one module, two output names, one guard: %s" % h1.split("\n")[1]
    if h1 != h3:
        return "the header differs between output folders"
    shutil.rmtree(d)


RESERVED = """
export fn scale(int64_t: f32[INT64_MAX, size_t], uint8_t: f32[size_t], TRIC_OK: f32, and: f32)
    -> f32[INT64_MAX, size_t] {
  return int64_t * uint8_t * TRIC_OK + and;
}
"""


def test_reserved_parameter_and_size_names(ctx):
    d = ctx.tmpdir()
    write(d, "m.tri", RESERVED)
    r = ctx.run([ctx.tric, "build", "m.tri"], cwd=d)
    if r.returncode:
        return r.stderr
    hdr = open(os.path.join(d, "m.h")).read()
    proto = [l for l in hdr.split("\n") if l.startswith("int scale(")]
    want = ("int scale(const float *int64_t_, const float *uint8_t_, float TRIC_OK_, float and_, float *out, "
            "int64_t INT64_MAX_, int64_t size_t_);")
    if proto != [want]:
        return "prototype: %r" % proto
    prog = ('#include <stdint.h>\n#include <stdio.h>\n#include "m.h"\n'
            "int main(void) { float x[6] = {1, 2, 3, 4, 5, 6}, w[3] = {1, 10, 100}, y[6];\n"
            "  if (scale(x, w, 2.0f, 0.5f, y, INT64_C(2), (int64_t)3)) return 1;\n"
            '  for (int i = 0; i < 6; i++) printf("%g ", y[i]);\n  printf("\\n"); return 0; }\n')
    r, e = build_and_run(ctx, d, prog, ["m.o"])
    if e:
        return e
    if r.returncode or r.stdout.split() != ["2.5", "40.5", "600.5", "8.5", "100.5", "1200.5"]:
        return "program: %d %r" % (r.returncode, r.stdout)
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx:  # C++ keywords and alternative tokens (`and`) are renamed too
        write(d, "main.cpp", '#include "m.h"\nint main() { return 0; }\n')
        r = ctx.run([cxx, "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "main.cpp"], cwd=d)
        if r.returncode:
            return "C++: %s" % r.stderr
    shutil.rmtree(d)
