"""tric build --emit=plan: the kernel plan of each exported function (docs/plan.md)."""
import difflib
import json
import os
import shutil

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plan")


def test_emit_plan_golden(ctx):
    # a matmul, a bias add, a gelu and a softmax: which ops fuse into which kernel
    d = ctx.tmpdir()
    shutil.copy(os.path.join(HERE, "model.tri"), d)
    r = ctx.run([ctx.tric, "build", "model.tri", "--emit=plan", "-o", "out/model.o"], cwd=d)
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
    r = ctx.run([ctx.tric, "build", "model.tri", "--emit=plan,plan-json"], cwd=d)
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
    grouped = {"sm", "sm1", "imax", "lsm", "norm", "norm_affine", "sm3", "norm64", "sm_h", "norm_bf", "chain", "chain2", "sm_fit"}
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
