"""Accuracy of the vector math: tests/math/ulp.c measures the largest ULP error of each
function against libm over about a million inputs each (ranges, magnitude sweeps and the
special values). The bounds are the ones docs/language.md states."""
import os
import shutil

BOUNDS = {"exp32": 1, "log32": 1, "tanh32": 2, "sigmoid32": 2, "erf32": 1, "sin32": 1, "cos32": 1,
          "exp64": 1, "log64": 1, "tanh64": 3, "sigmoid64": 2, "erf64": 2, "sin64": 1, "cos64": 1}


def test_ulp_bounds(ctx):
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "math")
    d = ctx.tmpdir()
    r = ctx.run([ctx.tric, "build", os.path.join(here, "ulp.tri"), "-o", os.path.join(d, "ulp.o")])
    if r.returncode:
        return r.stderr
    r = ctx.run([ctx.cc, "-O2", "-I", d, os.path.join(here, "ulp.c"), os.path.join(d, "ulp.o")] + ctx.plain_libs + ["-o",
                 os.path.join(d, "ulp")] + (["-fsanitize=address,undefined"] if ctx.sanitized else []))
    if r.returncode:
        return r.stderr
    r = ctx.run([os.path.join(d, "ulp")], timeout=300)
    if r.returncode:
        return "ulp exited with %d: %s" % (r.returncode, r.stderr)
    seen, errors = set(), []
    for line in r.stdout.splitlines():
        name, ulp, worst = line.split()
        seen.add(name)
        if ulp == "FAILED-CALL" or float(ulp) > BOUNDS[name]:
            errors.append("%s: %s ULP (bound %d) at x = %s" % (name, ulp, BOUNDS[name], worst))
    if seen != set(BOUNDS):
        errors.append("measured %s, expected %s" % (sorted(seen), sorted(BOUNDS)))
    shutil.rmtree(d)
    return "\n".join(errors) or None
