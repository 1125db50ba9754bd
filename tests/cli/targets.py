"""Code for other CPUs: the baseline x86-64 (SSE2 only: no FMA, no F16C, no AVX) and
AVX2 without AVX-512 must compute the same results as the host code; their objects run
here, so the end-to-end programs are run on them."""

PROGRAMS = ["unary_f32", "binary_f32", "half", "casts", "matmul", "reductions", "special_values", "models"]


def run_all(ctx, flags):
    errors = []
    for name in PROGRAMS:
        err = ctx.e2e(name, flags)
        if err:
            errors.append("%s with %s:\n%s" % (name, " ".join(flags), err))
    return "\n".join(errors) or None


def test_baseline_x86_64(ctx):
    return run_all(ctx, ["--target", "x86_64-linux-gnu", "--cpu", "x86-64"])


def test_avx2_without_avx512(ctx):
    return run_all(ctx, ["--cpu", "haswell"])


def test_named_cpu_gets_its_own_features(ctx):
    """--cpu haswell must not inherit this machine's AVX-512: no zmm register anywhere."""
    import os
    d = ctx.tmpdir()
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write("export fn f(x: f32[N]) -> f32[N] { return tanh(x) * 2; }\n")
    r = ctx.run([ctx.tric, "build", "m.tri", "--cpu", "haswell", "--emit=asm"], cwd=d)
    if r.returncode:
        return r.stderr
    asm = open(os.path.join(d, "m.s")).read()
    if "zmm" in asm or "ymm" not in asm:
        return "haswell code should use ymm and never zmm"
