"""tric build --emit=plan: the kernel plan of each exported function (docs/plan.md)."""
import difflib
import json
import os
import shutil

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plan")
# the golden plans are for one named target: tiles follow the target's vector width
GOLDEN_TARGET = ["--target", "x86_64-linux-gnu", "--cpu", "skylake-avx512"]


def test_emit_plan_golden(ctx):
    # a matmul, a bias add, a gelu and a softmax: which ops fuse into which kernel
    d = ctx.tmpdir()
    shutil.copy(os.path.join(HERE, "model.tri"), d)
    r = ctx.run([ctx.tric, "build", "model.tri", "--emit=plan", "-o", "out/model.o"] + GOLDEN_TARGET, cwd=d)
    if r.returncode:
        return "exit status %d\n%s" % (r.returncode, r.stderr)
    if os.path.exists(os.path.join(d, "out/model.o")) or os.path.exists(os.path.join(d, "out/model.h")):
        return "--emit=plan alone wrote an object or a header"
    with open(os.path.join(d, "out/model.plan")) as f:
        text = f.read()
    path = os.path.join(HERE, "model.plan")
    if ctx.update:
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        want = f.read()
    if text != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True), "expected", "actual"))
        return "model.plan differs from the golden file:\n" + diff
    shutil.rmtree(d)


def test_emit_plan_with_object_and_cache(ctx):
    # beside the object, and written again on a second build (the plan is not cached)
    d = ctx.tmpdir()
    shutil.copy(os.path.join(HERE, "model.tri"), d)
    for i in range(2):
        r = ctx.run([ctx.tric, "build", "model.tri", "--emit=obj,plan", "--cache-dir", "cache"], cwd=d)
        if r.returncode:
            return "build %d: %s" % (i, r.stderr)
        for out in ("model.o", "model.plan"):
            if not os.path.exists(os.path.join(d, out)):
                return "build %d: no %s" % (i, out)
        if i == 0:
            os.unlink(os.path.join(d, "model.plan"))
    r = ctx.run([ctx.tric, "build", "model.tri", "--emit=plan,bogus"], cwd=d)
    if r.returncode != 2 or "obj,header,llvm-ir,asm,plan" not in r.stderr:
        return "a bad --emit list: %d %s" % (r.returncode, r.stderr)
    shutil.rmtree(d)


def test_emit_plan_json(ctx):
    # --emit=plan-json: valid JSON, the same kernels and summaries as the text plan
    d = ctx.tmpdir()
    shutil.copy(os.path.join(HERE, "model.tri"), d)
    r = ctx.run([ctx.tric, "build", "model.tri", "--emit=plan,plan-json"] + GOLDEN_TARGET, cwd=d)
    if r.returncode:
        return "exit status %d\n%s" % (r.returncode, r.stderr)
    with open(os.path.join(d, "model.plan.json")) as f:
        raw = f.read()
    with open(os.path.join(HERE, "model.plan.json")) as f:
        want = f.read()
    if ctx.update:
        with open(os.path.join(HERE, "model.plan.json"), "w") as f:
            f.write(raw)
        want = raw
    if raw != want:
        return "model.plan.json differs from the golden file:\n" + "".join(
            difflib.unified_diff(want.splitlines(True), raw.splitlines(True), "expected", "actual"))
    try:
        doc = json.loads(raw)
    except ValueError as e:
        return "not JSON: %s" % e
    with open(os.path.join(d, "model.plan")) as f:
        text = f.read()
    for fn in doc["functions"]:
        s = fn["summary"]
        line = "  summary: kernels %d, fused ops %d of %d fusible, bytes moved %s" % (
            s["kernels"], s["fused_ops"], s["fusible_ops"], s["bytes_moved"])
        if fn["signature"] + "\n" not in text or line not in text:
            return "%s: the JSON summary %r is not in the text plan" % (fn["name"], line)
        if len(fn["kernels"]) != s["kernels"]:
            return "%s: %d kernels listed, summary says %d" % (fn["name"], len(fn["kernels"]), s["kernels"])
        for k in fn["kernels"]:
            head = "  kernel %d: %s, root %%%d %s %s -> " % (k["kernel"], k["kind"], k["root"]["id"], k["root"]["op"], k["type"])
            if head not in text:
                return "%s: kernel %r is not in the text plan" % (fn["name"], head)
    shutil.rmtree(d)


def plan_blocks(text):
    """{function name: [(kind, root op, [epilogue ops] or None), ...]} from --emit=plan text."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("export fn "):
            cur = out.setdefault(line.split()[2].split("(")[0], [])
        elif line.startswith("  kernel "):
            head = line.split(": ", 1)[1]
            kind, rest = head.split(", root ", 1)
            cur.append([kind, rest.split()[1], None])
        elif line.startswith("    epilogue:"):
            ops = line.split(":", 1)[1].strip()
            cur[-1][2] = [] if ops == "none" else [o.split()[1] for o in ops.split(", ")]
    return out


def test_emit_plan_epilogues(ctx):
    # every epilogue of tests/e2e/matmul_epilogue.tri is fused into its contraction kernel
    # (one kernel, the ops listed as its epilogue), and the non-epilogues are not
    d = ctx.tmpdir()
    src = os.path.join(os.path.dirname(HERE), "..", "e2e", "matmul_epilogue.tri")
    shutil.copy(src, os.path.join(d, "m.tri"))
    r = ctx.run([ctx.tric, "build", "m.tri", "--emit=plan"], cwd=d)
    if r.returncode:
        return "exit status %d\n%s" % (r.returncode, r.stderr)
    with open(os.path.join(d, "m.plan")) as f:
        got = plan_blocks(f.read())
    single = {"bias": ["add"], "row_affine": ["mul", "add"], "col_affine": ["mul", "add"], "residual": ["add"],
              "relu_bias": ["add", "maximum"], "tanh_e": ["tanh"], "sigmoid_e": ["sigmoid"],
              "clamp_e": ["maximum", "minimum"], "to_f16": ["add", "cast"], "to_i32": ["mul", "cast"],
              "to_f64": ["cast", "mul"], "batched": ["add", "maximum"], "int_bias": ["add"]}
    bad = []
    for name, ops in single.items():
        if got.get(name) != [["contraction", ops[-1], ops]]:
            bad.append("%s: want one contraction kernel with epilogue %s, got %s" % (name, ops, got.get(name)))
    for name, op in (("gelu_e", "erf"), ("gelu_t", "tanh")):
        k = got.get(name)
        if not k or len(k) != 1 or k[0][0] != "contraction" or op not in (k[0][2] or []) or k[0][2][-1] != "mul":
            bad.append("%s: want one contraction kernel with the whole gelu as epilogue, got %s" % (name, k))
    for name in ("two_users", "also_raw"):
        k = got.get(name, [])
        if not k or k[0] != ["contraction", "matmul", []]:
            bad.append("%s: the product is read as it is, so no epilogue; got %s" % (name, k))
    k = got.get("into_softmax", [])
    if not k or k[0][0] != "contraction" or "erf" not in (k[0][2] or []) or any(x[0] == "contraction" for x in k[1:]):
        bad.append("into_softmax: the gelu should end the contraction's epilogue, got %s" % k)
    k = got.get("into_layernorm", [])
    if [x[0] for x in k] != ["contraction", "row-wise"] or "tanh" not in (k[0][2] or []) or k[0][2][-1] != "mul":
        bad.append("into_layernorm: the gelu should end the contraction's epilogue, the residual add join the "
                   "row-wise kernel; got %s" % k)
    k = got.get("two_products", [])
    if [x[0] for x in k] != ["contraction", "contraction"] or k[0][2] != [] or k[1][2] != ["add", "maximum"]:
        bad.append("two_products: one raw product and one with the add and relu, got %s" % k)
    if bad:
        return "\n".join(bad)
    shutil.rmtree(d)


def test_plan_keys_share_loop_nests(ctx):
    """Kernels with one plan key are one loop nest (docs/plan.md, "Kernel keys"): the
    repeated blocks of a residual MLP say so in --emit=plan, the object holds one kernel
    function per distinct key, and kernels that differ only in a constant, a dtype or a
    shape keep their own."""
    d = ctx.tmpdir()
    blocks = 4
    lines = ["fn gelu(x: f32[...]) -> f32[...] { return 0.5 * x * (1.0 + tanh(0.7978845608 * (x + 0.044715 * x * x * x))); }",
             "fn ln(x: f32[B, D]) -> f32[B, D] {",
             "  let d = x - mean(x, axis=-1, keepdims=true);",
             "  return d * rsqrt(mean(d * d, axis=-1, keepdims=true) + 1e-5);",
             "}",
             "export fn mlp(x: f32[B, 64], %s) -> f32[B, 64] {" % ", ".join("w%d: f32[64, 64], b%d: f32[64]" % (i, i) for i in range(blocks)),
             "  let h0 = x;"]
    lines += ["  let h%d = ln(h%d + gelu(h%d @ w%d + b%d));" % (i + 1, i, i, i, i) for i in range(blocks)]
    lines += ["  return h%d;" % blocks, "}",
              "export fn two(x: f32[N]) -> f32[N] { return x * 2.0; }",
              "export fn three(x: f32[N]) -> f32[N] { return x * 3.0; }",
              "export fn two64(x: f64[N]) -> f64[N] { return x * 2.0; }",
              "export fn two8(x: f32[8]) -> f32[8] { return x * 2.0; }",
              "export fn two_again(y: f32[M]) -> f32[M] { return y * 2.0; }"]
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write("\n".join(lines) + "\n")
    r = ctx.run([ctx.tric, "build", "m.tri", "--emit=plan"], cwd=d)
    if r.returncode:
        return r.stderr
    text = open(os.path.join(d, "m.plan")).read()
    kernels = [l for l in text.splitlines() if l.startswith("  kernel ")]
    same = [l for l in text.splitlines() if "same loop nest as kernel" in l]
    # mlp: 4 contractions, 3 row-wise kernels into temporaries and 1 into the result, three
    # loop nests; the maps: two, three, two64 and two8 each their own, two_again the same
    # as two (in another function, so the object shows it)
    if len(kernels) != 2 * blocks + 5 or len(same) != 2 * blocks - 3:
        return "want %d kernels of which %d repeat an earlier one in their function:\n%s" % (2 * blocks + 5, 2 * blocks - 3, text)
    r = ctx.run([ctx.tric, "build", "--no-cache", "m.tri"], cwd=d)
    if r.returncode:
        return r.stderr
    syms = set(l.split()[-1] for l in ctx.run(["nm", os.path.join(d, "m.o")]).stdout.splitlines()
               if l.split()[-1].startswith("tric.kernel."))
    if len(syms) != 3 + 4:  # mlp's three, then two (= two_again), three, two64, two8
        return "the object has %d kernel functions, want 7: %s" % (len(syms), sorted(syms))
    shutil.rmtree(d)


def test_emit_plan_tiles_follow_the_target(ctx):
    # the cost model's register tile and blocks for each class of target (docs/plan.md)
    d = ctx.tmpdir()
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write("export fn f(a: f32[M, K], b: f32[K, N]) -> f32[M, N] { return a @ b; }\n"
                "export fn g(a: f64[M, K], b: f64[K, N]) -> f64[M, N] { return a @ b; }\n"
                "export fn h(a: f16[M, K], b: f16[K, N]) -> f16[M, N] { return a @ b; }\n")
    want = {("x86_64-linux-gnu", "x86-64"): ["6x8 registers, kc 512,", "6x4 registers, kc 512,", "6x8 registers, kc 512 (K not split),"],
            ("x86_64-linux-gnu", "x86-64-v3"): ["6x16 registers, kc 256,", "6x8 registers, kc 256,", "6x16 registers, kc 256 (K not split),"],
            ("x86_64-linux-gnu", "skylake-avx512"): ["14x32 registers, kc 192,", "14x16 registers, kc 192,",
                                                     "14x32 registers, kc 192 (K not split),"],
            ("aarch64-linux-gnu", "generic"): ["14x8 registers, kc 512,", "14x4 registers, kc 512,", "14x8 registers, kc 512 (K not split),"]}
    bad = []
    for (triple, cpu), tiles in want.items():
        r = ctx.run([ctx.tric, "build", "m.tri", "--emit=plan", "--target", triple, "--cpu", cpu], cwd=d)
        if r.returncode:
            return "%s %s: %s" % (triple, cpu, r.stderr)
        with open(os.path.join(d, "m.plan")) as f:
            got = [l.split("tiles: ")[1] for l in f.read().splitlines() if "tiles: " in l]
        if len(got) != 3 or any(not g.startswith(w) for g, w in zip(got, tiles)):
            bad.append("%s %s: tiles %s, want %s" % (triple, cpu, got, tiles))
    if bad:
        return "\n".join(bad)
def test_rowwise_groups(ctx):
    # which functions of tests/e2e/rowwise.tri (run against NumPy there) get a row-wise
    # kernel, and that the others keep a kernel per reduction
    d = ctx.tmpdir()
    src = os.path.join(os.path.dirname(HERE), "..", "e2e", "rowwise.tri")
    shutil.copy(src, d)
    r = ctx.run([ctx.tric, "build", "rowwise.tri", "--emit=plan-json"], cwd=d)
    if r.returncode:
        return "exit status %d\n%s" % (r.returncode, r.stderr)
    with open(os.path.join(d, "rowwise.plan.json")) as f:
        doc = json.load(f)
    kinds = {fn["name"]: [k["kind"] for k in fn["kernels"]] for fn in doc["functions"]}
    grouped = {"sm", "sm1", "imax", "lsm", "norm", "norm_affine", "sm3", "norm64", "sm_h", "norm_bf", "chain", "chain2", "sm_fit",
               "dv", "dv64", "mx", "mn"}
    for name, ks in sorted(kinds.items()):
        if name in grouped and ks != ["row-wise"]:
            return "%s: kernels %s, want one row-wise kernel" % (name, ks)
        if name not in grouped and name != "chain_shared" and "row-wise" in ks:
            return "%s: kernels %s, want no row-wise kernel" % (name, ks)
    if kinds["chain_shared"] != ["row-wise", "row-wise"]:
        return "chain_shared: kernels %s, want two row-wise kernels (the second reads the first's result)" % kinds["chain_shared"]
    fn = next(f for f in doc["functions"] if f["name"] == "sm")
    ops = [n["op"] for n in fn["kernels"][0]["fused"]]
    if ops.count("reduce_max") != 1 or ops.count("reduce_sum") != 1:
        return "sm: the row-wise kernel's fused ops %s do not list its two reductions" % ops
    shutil.rmtree(d)
