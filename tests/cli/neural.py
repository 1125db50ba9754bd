"""conv2d, maxpool2d, avgpool2d and global_avgpool in the checker: the TIR --dump=ir prints
for constant and symbolic shapes (output sizes as size expressions, floor-division symbols
and their runtime rules); conv2d's plan (a contraction kernel with its epilogue)."""
import os

SRC = """\
export fn pc(x: f32[2, 3, 13, 7]) -> f32[2, 3, 7, 4] { return maxpool2d(x, kernel=3, stride=2, padding=1); }
export fn ps(x: f32[N, C, H, W]) -> (f32[N, C], f32[N, C, H - 1, W + 1]) {
  let a = avgpool2d(x, kernel=[3, 2], stride=[2, 3], padding=[1, 1]);
  let b = maxpool2d(x, kernel=[2, 2], stride=1, padding=[0, 1]);
  return (sum(a, axis=[2, 3]), b);
}
export fn pd(x: f32[N, 3, H, 5]) -> f32[N, 3] { return sum(maxpool2d(x, kernel=2), axis=[2, 3]); }
export fn g(x: f16[N, C, H, W]) -> f16[N, C, 1, 1] { return global_avgpool(x); }
"""

CONV = """\
export fn cc(x: f32[1, 4, 9, 8], w: f32[6, 2, 3, 2]) -> f32[1, 6, 4, 7] {
  return conv2d(x, w, stride=[2, 1], padding=[0, 1], dilation=[1, 3], groups=2);
}
export fn cs(x: f32[N, C, H, W], w: f32[O, I, KH, KW]) -> f32[N, O] { return sum(conv2d(x, w, stride=2, groups=2), axis=[2, 3]); }
"""


def _dump(ctx, src, env_extra=None, kind="ir", cmd="check"):
    d = ctx.tmpdir()
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write(src)
    env = dict(os.environ, TRIC_CACHE_DIR=ctx.cache_dir)
    env.update(env_extra or {})
    argv = [ctx.tric, cmd, "m.tri"] + (["--dump=" + kind] if kind else ["-o", "m.o"])
    return ctx.run(argv, cwd=d, env=env)


def _missing(out, want):
    lines = out.splitlines()
    return [w for w in want if w not in lines]


def test_dump_ir_pool_shapes(ctx):
    """Pooling nodes print their attributes and output sizes: constants, polynomials for
    stride 1, floor-division symbols for a symbolic size and stride > 1 (one symbol for a
    repeated quotient), with the rule that the window fits; global_avgpool is a mean."""
    r = _dump(ctx, SRC)
    if r.returncode != 0:
        return "exit %d: %s" % (r.returncode, r.stderr)
    want = [
        "  %1 = maxpool2d f32[2, 3, 7, 4] %0 kernel=[3,3] stride=[2,2] padding=[1,1]",
        "  derived floor((H - 1)/2)",
        "  derived floor(W/3)",
        "  check H - 1 >= 0 (avgpool2d: the window must fit the padded input in dimension H)",
        "  check H - 2 >= 0 (maxpool2d: the window must fit the padded input in dimension H)",
        "  %1 = avgpool2d f32[N, C, floor((H - 1)/2) + 1, floor(W/3) + 1] %0 kernel=[3,2] stride=[2,3] padding=[1,1]",
        "  %2 = maxpool2d f32[N, C, H - 1, W + 1] %0 kernel=[2,2] stride=[1,1] padding=[0,1]",
        "  derived floor((H - 2)/2)",
        "  %1 = maxpool2d f32[N, 3, floor((H - 2)/2) + 1, 2] %0 kernel=[2,2] stride=[2,2] padding=[0,0]",
        "  %1 = cast f32[N, C, H, W] %0",  # f16 sums and divides in f32, rounded once
        "  %2 = reduce_sum f32[N, C, 1, 1] %1 axes=0xc keepdims=1",
        "  %3 = dimval i64 H*W",
        "  %5 = div f32[N, C, 1, 1] %2, %4",
        "  %6 = cast f16[N, C, 1, 1] %5",
    ]
    miss = _missing(r.stdout, want)
    if miss:
        return "missing lines %s in:\n%s" % (miss, r.stdout)
    if "check W >= 0" in r.stdout:
        return "a rule that always holds (W >= 0) was recorded:\n" + r.stdout


def test_dump_ir_conv2d_shapes(ctx):
    """conv2d's TIR prints: attributes, output sizes (dilation, padding, stride), and over
    symbolic channels and kernels the runtime rules (groups divide, the kernel fits)."""
    r = _dump(ctx, CONV)
    if r.returncode != 0:
        return "exit %d: %s" % (r.returncode, r.stderr)
    want = [
        "  %2 = conv2d f32[1, 6, 4, 7] %0, %1 stride=[2,1] padding=[0,1] dilation=[1,3] groups=2",
        "  derived O/2",
        "  derived floor((-KH + H)/2)",
        "  check C == 2*I (conv2d: x's channels must be groups * w's input channels)",
        "  check O == 2*O/2 (sizes must divide evenly)",
        "  check KH - 1 >= 0 (conv2d: the kernel must be at least 1)",
        "  check -KW + W >= 0 (conv2d: the window must fit the padded input in dimension W)",
        "  %2 = conv2d f32[N, O, floor((-KH + H)/2) + 1, floor((-KW + W)/2) + 1] %0, %1 stride=[2,2] padding=[0,0] "
        "dilation=[1,1] groups=2",
    ]
    miss = _missing(r.stdout, want)
    if miss:
        return "missing lines %s in:\n%s" % (miss, r.stdout)


def _plans(ctx, src):
    """Builds src as m.tri with --emit=plan,plan-json: (error or None, folder, the plan's
    text, its kernel lines, its epilogue lines)."""
    d = ctx.tmpdir()
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write(src)
    r = ctx.run([ctx.tric, "build", "m.tri", "--emit=plan,plan-json"], cwd=d)
    if r.returncode:
        return r.stderr, d, "", [], []
    text = open(os.path.join(d, "m.plan")).read()
    lines = text.splitlines()
    return None, d, text, [l for l in lines if l.startswith("  kernel ")], [l for l in lines if l.startswith("    epilogue:")]


def _ops(epilogue_line):
    """The op names of a plan's "    epilogue: %5 mul, %6 add" line."""
    return [o.split()[1] for o in epilogue_line.split(":", 1)[1].strip().split(", ")]


def test_emit_plan_conv2d_epilogue(ctx):
    """A conv2d is a contraction kernel: its batch-norm scale and shift, residual add and
    relu are its epilogue (one kernel), with tiles; --emit=plan-json says the same."""
    import json
    src = """\
export fn block(x: f32[N, 8, H, W], w: f32[8, 8, 3, 3], s: f32[8, 1, 1], t: f32[8, 1, 1]) -> f32[N, 8, H, W] {
  return relu(conv2d(x, w, padding=1) * s + t + x);
}
"""
    err, d, text, kernels, epi = _plans(ctx, src)
    if err:
        return err
    if len(kernels) != 1 or "contraction" not in kernels[0] or not epi or \
            _ops(epi[0]) != ["mul", "add", "add", "maximum"]:
        return "want one contraction kernel with epilogue mul, add, add, maximum:\n%s" % text
    if "tiles: " not in text:
        return "no tiles for the conv2d kernel:\n%s" % text
    doc = json.load(open(os.path.join(d, "m.plan.json")))
    k = doc["functions"][0]["kernels"]
    if len(k) != 1 or k[0]["kind"] != "contraction" or k[0]["root"]["op"] != "maximum" or len(k[0]["epilogue"]) != 4:
        return "plan-json: %s" % k


def test_emit_plan_depthwise(ctx):
    """A depthwise conv2d (groups = input channels, at most 4 outputs each) is a kernel of
    kind "depthwise", not an implicit GEMM, with its batch-norm scale and shift and relu6
    as its epilogue (one kernel); 5 outputs per input channel stays a contraction."""
    import json
    src = """\
export fn dw(x: f32[N, 8, H, W], w: f32[16, 1, 3, 3], s: f32[16, 1, 1], t: f32[16, 1, 1]) -> f32[N, 16, H, W] {
  return minimum(maximum(conv2d(x, w, padding=1, groups=8) * s + t, 0.0), 6.0);
}
export fn wide(x: f32[N, 8, H, W], w: f32[40, 1, 3, 3]) -> f32[N, 40, H, W] { return conv2d(x, w, padding=1, groups=8); }
"""
    err, d, text, kernels, epi = _plans(ctx, src)
    if err:
        return err
    if len(kernels) != 2 or "depthwise" not in kernels[0] or "contraction" not in kernels[1] or not epi or \
            _ops(epi[0]) != ["mul", "add", "maximum", "minimum"]:
        return "want a depthwise kernel with epilogue mul, add, maximum, minimum, then a contraction:\n%s" % text
    doc = json.load(open(os.path.join(d, "m.plan.json")))
    k = doc["functions"][0]["kernels"]
    if len(k) != 1 or k[0]["kind"] != "depthwise" or k[0]["root"]["op"] != "minimum" or len(k[0]["epilogue"]) != 4 or \
            k[0]["parallel"]["axis"] != "planes":
        return "plan-json: %s" % k


def test_residual_of_a_later_block_fuses(ctx):
    """Two residual blocks: the second block's residual is the first block's output, made
    by earlier convolutions; it still fuses into the last conv's epilogue (four kernels,
    every one a contraction, no separate add)."""
    src = """\
fn block(x: f32[B, 8, H, W], w: f32[8, 8, 3, 3], v: f32[8, 8, 3, 3], s: f32[8, 1, 1], t: f32[8, 1, 1]) -> f32[B, 8, H, W] {
  let y = relu(conv2d(x, w, padding=1) * s + t);
  return relu(conv2d(y, v, padding=1) * s + t + x);
}
export fn two(x: f32[B, 8, H, W], w0: f32[8, 8, 3, 3], v0: f32[8, 8, 3, 3], w1: f32[8, 8, 3, 3], v1: f32[8, 8, 3, 3],
              s: f32[8, 1, 1], t: f32[8, 1, 1]) -> f32[B, 8, H, W] {
  return block(block(x, w0, v0, s, t), w1, v1, s, t);
}
"""
    d = ctx.tmpdir()
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write(src)
    r = ctx.run([ctx.tric, "build", "m.tri", "--emit=plan"], cwd=d)
    if r.returncode:
        return r.stderr
    text = open(os.path.join(d, "m.plan")).read()
    kernels = [l for l in text.splitlines() if l.startswith("  kernel ")]
    if len(kernels) != 4 or any("contraction" not in k for k in kernels):
        return "want four contraction kernels:\n%s" % text


def test_emit_plan_pooling(ctx):
    """--emit=plan shows each pooling as a kernel of kind "pooling" whose window reads its
    elementwise producer fused (relu(x + b): no buffer of its own), read by the next
    kernel from its buffer; --emit=plan-json names the kind too."""
    import json
    src = """\
export fn f(x: f32[N, 8, 16, 16], b: f32[8, 1, 1]) -> f32[N, 8, 1, 1] {
  let p = maxpool2d(relu(x + b), kernel=2);
  return global_avgpool(avgpool2d(p, kernel=3, stride=1, padding=1) * 2.0);
}
"""
    d = ctx.tmpdir()
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write(src)
    r = ctx.run([ctx.tric, "build", "m.tri", "--emit=plan,plan-json", "-o", "m.o"], cwd=d)
    if r.returncode:
        return "exit %d: %s" % (r.returncode, r.stderr)
    with open(os.path.join(d, "m.plan")) as f:
        text = f.read()
    want = [
        "  kernel 0: pooling, root %5 maxpool2d f32[N, 8, 8, 8] -> temporary",
        "    fused: %2 add, %4 maximum",
        "    reads: %0 x, %1 b",
        "    bytes read 8192*N + 32, written 2048*N, flops 6144*N",
        "  kernel 1: pooling, root %6 avgpool2d f32[N, 8, 8, 8] -> temporary",
        "    reads: %5 maxpool2d",
        "    bytes read 2048*N, written 2048*N, flops 5120*N",
        "  kernel 2: reduction, root %9 reduce_sum f32[N, 8, 1, 1] -> temporary",
        "    fused: %8 mul",
    ]
    miss = _missing(text, want)
    if miss:
        return "missing lines %s in:\n%s" % (miss, text)
    with open(os.path.join(d, "m.plan.json")) as f:
        kinds = [k["kind"] for k in json.load(f)["functions"][0]["kernels"]]
    if kinds[:2] != ["pooling", "pooling"]:
        return "plan-json kinds %s" % kinds
