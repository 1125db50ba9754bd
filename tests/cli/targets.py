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


def test_bad_cpu_features_and_target_are_usage_errors(ctx):
    """An unknown --cpu, a CPU of another target, an unknown or unsigned --features item and
    an unknown --target each give one message naming the value, exit 2, in build and in
    check, with no LLVM warning and no output written."""
    import os
    d = ctx.tmpdir()
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write("export fn f(x: f32[N]) -> f32[N] { return tanh(x) * 2; }\n")
    cases = [(["--cpu", "nonsense"], "'nonsense'"),
             (["--cpu", "haswel"], "did you mean haswell?"),
             (["--target", "aarch64-linux-gnu", "--cpu", "haswell"], "'haswell'"),
             (["--features", "+nonsense"], "'nonsense'"),
             (["--features", "+avx2,-avx512fx"], "did you mean avx512f?"),
             (["--features", "avx2"], "'avx2'"),
             (["--target", "no-such-target"], "'no-such-target'")]
    for flags, named in cases:
        for cmd in ("build", "check"):
            r = ctx.run([ctx.tric, cmd, "m.tri", "--no-cache"] + flags, cwd=d)
            what = "tric %s %s" % (cmd, " ".join(flags))
            if r.returncode != 2:
                return "%s: exit %d, expected 2\n%s" % (what, r.returncode, r.stderr)
            if r.stderr.count("error:") != 1 or named not in r.stderr or "recognized" in r.stderr:
                return "%s: expected one message naming %s, got:\n%s" % (what, named, r.stderr)
            if sorted(os.listdir(d)) != ["m.tri"]:
                return "%s wrote %s" % (what, sorted(os.listdir(d)))
    for flags in (["--target", "aarch64-linux-gnu", "--cpu", "cortex-a72", "--features", "+sve"],
                  ["--cpu", "x86-64-v3", "--features", "-avx2,+fma"]):
        r = ctx.run([ctx.tric, "build", "m.tri", "--no-cache"] + flags, cwd=d)
        if r.returncode or r.stderr:
            return "valid %s: exit %d\n%s" % (" ".join(flags), r.returncode, r.stderr)
    r = ctx.run([ctx.tric, "build", "--cpu", "help"])
    if r.returncode or "  haswell\n" not in r.stdout or "  avx512f\n" not in r.stdout:
        return "--cpu help: exit %d, no haswell/avx512f in\n%s" % (r.returncode, r.stdout[:500])
    r = ctx.run([ctx.tric, "build", "--cpu", "help", "--target", "aarch64-linux-gnu"])
    if r.returncode or "  cortex-a72\n" not in r.stdout or "  haswell\n" in r.stdout:
        return "--cpu help --target aarch64: exit %d\n%s" % (r.returncode, r.stdout[:500])
