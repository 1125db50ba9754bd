"""Warnings (issue 9, item 8): gcc-style with the source line and a caret, exit 0; -Werror
makes them errors (exit 1, no outputs); -w silences them."""
import os
import shutil

MODEL = """import lib;
import unused_lib;
export fn f(x: f32[N], h: f16[N]) -> f32[N] {
  let y = x * 2.0;
  let _quiet = x;
  let z = x + 1e40;
  return z + lib.g(x) + cast(h * 1e5, f32) + cast(cast(x, f64) * 1e300, f32);
}
"""
LIB = "fn g(x: f32[N]) -> f32[N] { return x * 3.0; }\n"

WANT = [
    ("2:1", "warning: module 'unused_lib' is imported but never used", "^~~~~~~~~~~~~~~~~~"),
    ("4:7", "warning: 'y' is bound but never used (remove the let, or name it _y)", "^"),
    ("6:15", "warning: float literal 1e+40 does not fit in f32 (its largest value is 3.40282e+38): it becomes inf", "^~~~"),
    ("7:34", "warning: float literal 100000 does not fit in f16 (its largest value is 65504): it becomes inf", "^~~"),
]


def setup(ctx):
    d = ctx.tmpdir()
    for name, text in (("m.tri", MODEL), ("lib.tri", LIB), ("unused_lib.tri", LIB)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return d


def warnings_of(stderr):
    """(LINE:COL, message, caret line) of each warning or error of a tric run."""
    lines = stderr.split("\n")
    out = []
    for i, l in enumerate(lines):
        if l.startswith("m.tri:") and (": warning: " in l or ": error: " in l):
            loc = ":".join(l.split(":")[1:3])
            msg = l.split(": ", 1)[1]
            caret = lines[i + 2].split("| ", 1)[1].strip() if i + 2 < len(lines) else ""
            out.append((loc, msg, caret))
    return out


def test_warnings_gcc_style_exit_0(ctx):
    d = setup(ctx)
    for cmd in (["check"], ["build", "--no-cache"]):  # a module from the cache is not checked again
        r = ctx.run([ctx.tric] + cmd + ["m.tri"], cwd=d)
        if r.returncode:
            return "%s: exit %d: %s" % (cmd, r.returncode, r.stderr)
        if warnings_of(r.stderr) != WANT:
            return "%s: warnings %r\n%s" % (cmd, warnings_of(r.stderr), r.stderr)
        if "    6 |   let z = x + 1e40;" not in r.stderr:
            return "no source line: %s" % r.stderr
    if not os.path.exists(os.path.join(d, "m.o")) or not os.path.exists(os.path.join(d, "m.h")):
        return "a build with warnings wrote no outputs"
    shutil.rmtree(d)


def test_werror_fails_and_writes_nothing(ctx):
    d = setup(ctx)
    r = ctx.run([ctx.tric, "build", "--no-cache", "m.tri"], cwd=d)
    if r.returncode or not os.path.exists(os.path.join(d, "m.o")):
        return "plain build: %s" % r.stderr
    for cmd in ("check", "build"):
        r = ctx.run([ctx.tric, cmd, "-Werror", "m.tri"], cwd=d)
        if r.returncode != 1:
            return "%s -Werror: exit %d" % (cmd, r.returncode)
        want = [(loc, msg.replace("warning: ", "error: ") + " [-Werror]", c) for loc, msg, c in WANT]
        if warnings_of(r.stderr) != want:
            return "%s -Werror: %r" % (cmd, warnings_of(r.stderr))
    left = [f for f in ("m.o", "m.h") if os.path.exists(os.path.join(d, f))]
    if left:
        return "-Werror left outputs behind: %r" % left
    # the cache holds the plain build's entry: -Werror must not take it
    r = ctx.run([ctx.tric, "build", "m.tri"], cwd=d)
    r = ctx.run([ctx.tric, "build", "-Werror", "m.tri"], cwd=d)
    if r.returncode != 1 or os.path.exists(os.path.join(d, "m.o")):
        return "-Werror after a cached plain build: exit %d" % r.returncode
    shutil.rmtree(d)


def test_w_silences(ctx):
    d = setup(ctx)
    for cmd in ("check", "build"):
        r = ctx.run([ctx.tric, cmd, "-w", "m.tri"], cwd=d)
        if r.returncode or r.stderr:
            return "%s -w: exit %d, stderr %r" % (cmd, r.returncode, r.stderr)
    if not os.path.exists(os.path.join(d, "m.o")):
        return "-w build wrote no object"
    shutil.rmtree(d)


def test_no_export_warning(ctx):
    d = ctx.tmpdir()
    with open(os.path.join(d, "forgot.tri"), "w") as f:
        f.write("// the user forgot export\nfn layer(x: f32[N]) -> f32[N] { return x * 2.0; }\n")
    with open(os.path.join(d, "app.tri"), "w") as f:
        f.write("import forgot;\nexport fn run(x: f32[N]) -> f32[N] { return forgot.layer(x); }\n")
    want = ("forgot.tri:2:4: warning: module 'forgot' exports no function, so its object file would be empty; "
            "mark the functions C calls with 'export' (a module that is only imported needs none)\n"
            "    2 | fn layer(x: f32[N]) -> f32[N] { return x * 2.0; }\n"
            "      |    ^~~~~\n")
    for cmd in ("check", "build"):
        r = ctx.run([ctx.tric, cmd, "forgot.tri"], cwd=d)
        if r.returncode or r.stderr != want:
            return "%s: exit %d, stderr %r" % (cmd, r.returncode, r.stderr)
        r = ctx.run([ctx.tric, cmd, "-Werror", "forgot.tri"], cwd=d)
        if r.returncode != 1:
            return "%s -Werror: exit %d" % (cmd, r.returncode)
    # imported by a module of the run: a library, no warning; nor for the exporting module
    for args in (["app.tri"], ["app.tri", "forgot.tri"], ["."]):
        r = ctx.run([ctx.tric, "check"] + args, cwd=d)
        if r.returncode or r.stderr:
            return "check %s: exit %d, stderr %r" % (args, r.returncode, r.stderr)
    shutil.rmtree(d)


def test_float_literals_out_of_range(ctx):
    d = ctx.tmpdir()
    src = ("export fn f(x: f64[N], y: f32[N], h: bf16[N]) -> f64[N] {\n"
           "  return x * 1e400 + x * 1e300 + cast(y * 1e-46, f64) + cast(y * 1e-44, f64) + cast(h * 1e39, f64);\n}\n")
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write(src)
    r = ctx.run([ctx.tric, "check", "m.tri"], cwd=d)
    got = [(loc, msg) for loc, msg, _ in warnings_of(r.stderr)]
    want = [("2:14", "warning: float literal is too large for any float type (f64's largest is 1.79769e+308): it is inf"),
            ("2:43", "warning: float literal 1e-46 is too small for f32: it becomes 0"),
            ("2:89", "warning: float literal 1e+39 does not fit in bf16 (its largest value is 3.38953e+38): it becomes inf")]
    if r.returncode or got != want:  # 1e300 fits f64, 1e-44 is an f32 subnormal: no warning
        return "exit %d, %r" % (r.returncode, got)
    shutil.rmtree(d)


def test_warnings_shown_again_from_the_cache(ctx):
    """A module's warnings are shown whenever it is built, compiled or taken from the cache
    (as ccache replays them), each once, and never while -w is in force: the same text on a
    no-change rebuild, after an edit of another module (which has every module checked)
    and after -w. The no-export warning follows the run, not the entry."""
    d = setup(ctx)
    with open(os.path.join(d, "other.tri"), "w") as f:
        f.write("export fn o(x: f32[N]) -> f32[N] { return x + 1.0; }\n")
    with open(os.path.join(d, "forgot.tri"), "w") as f:
        f.write("fn layer(x: f32[N]) -> f32[N] { return x * 2.0; }\n")
    files = ["m.tri", "other.tri", "forgot.tri"]
    cold = ctx.run([ctx.tric, "build", "--explain"] + files, cwd=d)
    if cold.returncode or warnings_of(cold.stderr) != WANT or cold.stderr.count("module 'forgot' exports no") != 1:
        return "cold build: %s" % cold.stderr
    start = cold.stderr.index("m.tri:2:1:")
    end = cold.stderr.index("\n", cold.stderr.index("\n      | ", cold.stderr.index("m.tri:7:34")) + 1) + 1
    text = cold.stderr[start:end]  # m.tri's warnings, whole
    steps = [("no change", None, [], "reused"),
             ("edit of other.tri", ("other.tri", "export fn o(x: f32[N]) -> f32[N] { return x + 2.0; }\n"), [], "reused"),
             ("-w", None, ["-w"], None),
             ("after -w", None, [], "reused")]
    for what, edit, flags, how in steps:
        if edit:
            with open(os.path.join(d, edit[0]), "w") as f:
                f.write(edit[1])
        r = ctx.run([ctx.tric, "build", "--explain"] + flags + files, cwd=d)
        if r.returncode:
            return "%s: exit %d\n%s" % (what, r.returncode, r.stderr)
        if "-w" in flags:
            if "warning" in r.stderr:
                return "-w showed warnings:\n%s" % r.stderr
            continue
        if "tric: explain: m.tri: %s" % how not in r.stderr:
            return "%s: m.tri was not %s:\n%s" % (what, how, r.stderr)
        if warnings_of(r.stderr) != WANT or r.stderr.count(text) != 1:
            return "%s: warnings %r, expected the cold build's once:\n%s" % (what, warnings_of(r.stderr), r.stderr)
        if r.stderr.count("module 'forgot' exports no") != 1:
            return "%s: the no-export warning of forgot.tri (from the cache) is not shown once:\n%s" % (what, r.stderr)
    with open(os.path.join(d, "app.tri"), "w") as f:
        f.write("import forgot;\nexport fn run(x: f32[N]) -> f32[N] { return forgot.layer(x); }\n")
    r = ctx.run([ctx.tric, "build", "--explain", "app.tri", "forgot.tri"], cwd=d)
    if r.returncode or "exports no" in r.stderr or "tric: explain: forgot.tri: reused" not in r.stderr:
        return "forgot.tri from the cache, imported by app.tri: no warning expected:\n%s" % r.stderr
    shutil.rmtree(d)
