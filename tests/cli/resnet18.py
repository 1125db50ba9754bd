"""examples/resnet18.tri against torchvision: resnet18() with a fixed seed (random init, no
download), non-trivial batch-norm statistics, in eval mode; its state_dict (without the
num_batches_tracked counters) is passed in order to the tric function through a C driver,
at batch 1 and 3, for the host CPU and for the baseline x86-64 and AVX2 targets. Every
logit must be within 1e-4 * max|logit| (of its image) of PyTorch's, computed in float64
from the same float32 weights and image."""
import os
import threading

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRI = os.path.join(ROOT, "examples", "resnet18.tri")
BATCHES = (1, 3)
TOL = 1e-4
IMAGE = (3, 224, 224)

_lock = threading.Lock()  # one reference per test run, shared by the target tests
_reference = {}


def reference():
    """(the parameters in state_dict order, {batch: (image, logits)}) as float32 inputs and
    float64 logits."""
    with _lock:
        if not _reference:
            import torch
            import torchvision
            torch.manual_seed(0)
            model = torchvision.models.resnet18(weights=None)
            with torch.no_grad():
                for m in model.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):  # the default stats are 0 and 1
                        m.running_mean.copy_(torch.randn(m.num_features) * 0.2)
                        m.running_var.copy_(torch.rand(m.num_features) * 1.5 + 0.5)  # [0.5, 2]
                        m.weight.copy_(torch.rand(m.num_features) + 0.5)
                        m.bias.copy_(torch.randn(m.num_features) * 0.2)
            model.eval()
            params = [v.numpy().astype(np.float32) for k, v in model.state_dict().items()
                      if not k.endswith("num_batches_tracked")]
            model64 = model.double()
            out = {}
            for b in BATCHES:
                x = torch.randn(b, *IMAGE)
                with torch.no_grad():
                    out[b] = (x.numpy(), model64(x.double()).numpy())
            _reference["params"], _reference["out"] = params, out
        return _reference["params"], _reference["out"]


def driver_source(counts):
    """A C program: resnet18.h's function on B images (argv[1]) read from argv[2] (the image,
    then every parameter, float32), its return code on stdout, its logits to argv[3]."""
    args = "".join("p[%d], " % j for j in range(len(counts)))
    return """\
#include <stdio.h>
#include <stdlib.h>
#include "resnet18.h"
static const long counts[%d] = {%s};
static float *readn(FILE *f, long n) {
  float *p = malloc(n * sizeof *p);
  if (!p || fread(p, sizeof *p, n, f) != (size_t)n) { fprintf(stderr, "short input\\n"); exit(2); }
  return p;
}
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  long b = atol(argv[1]);
  FILE *f = fopen(argv[2], "rb");
  if (!f) return 2;
  float *x = readn(f, b * %d), *p[%d], *out = malloc(b * 1000 * sizeof *out);
  for (int j = 0; j < %d; j++) p[j] = readn(f, counts[j]);
  fclose(f);
  int rc = resnet18(x, %sout, b);
  printf("%%d\\n", rc);
  f = fopen(argv[3], "wb");
  if (!f || fwrite(out, sizeof *out, b * 1000, f) != (size_t)(b * 1000)) return 2;
  fclose(f);
  for (int j = 0; j < %d; j++) free(p[j]);
  free(x);
  free(out);
  return 0;
}
""" % (len(counts), ", ".join(map(str, counts)), int(np.prod(IMAGE)), len(counts), len(counts), args, len(counts))


def check(ctx, flags, batches=BATCHES):
    """Builds resnet18.tri with flags, runs it on batches and compares with PyTorch."""
    params, out = reference()
    d = ctx.tmpdir()
    r = ctx.run([ctx.tric, "build", TRI, "-o", os.path.join(d, "resnet18.o")] + flags, cwd=d)
    if r.returncode:
        return "tric build %s failed:\n%s" % (" ".join(flags), r.stderr)
    with open(os.path.join(d, "driver.c"), "w") as f:
        f.write(driver_source([p.size for p in params]))
    r = ctx.run([ctx.cc] + ctx.cflags + ["-o", "driver", "driver.c", "resnet18.o"] + ctx.libs, cwd=d)
    if r.returncode:
        return "driver did not build:\n%s" % r.stderr
    errors = []
    for b in batches:
        x, want = out[b]
        inp, res = os.path.join(d, "in%d.bin" % b), os.path.join(d, "out%d.bin" % b)
        with open(inp, "wb") as f:
            for a in [x] + params:
                np.ascontiguousarray(a, dtype=np.float32).tofile(f)
        # a generous timeout, only to catch a hang (a call takes well under a second here)
        r = ctx.run([os.path.join(d, "driver"), str(b), inp, res], cwd=d, timeout=600)
        if r.returncode or r.stdout.strip() != "0":
            errors.append("batch %d: driver exited %d, printed %r\n%s" % (b, r.returncode, r.stdout, r.stderr))
            continue
        got = np.fromfile(res, dtype=np.float32).reshape(b, 1000).astype(np.float64)
        scale = np.abs(want).max(axis=1, keepdims=True)
        rel = np.abs(got - want) / scale
        if not (rel <= TOL).all():  # NaN fails too
            i, c = np.unravel_index(np.nanargmax(np.where(np.isnan(rel), np.inf, rel)), rel.shape)
            errors.append("batch %d: image %d logit %d is %r, PyTorch %r (error %.3g of max|logit| %.4g, "
                          "tolerance %g)" % (b, i, c, got[i, c], want[i, c], rel[i, c], scale[i, 0], TOL))
        if scale.min() < 1e-3 or np.ptp(want, axis=1).min() < 1e-3:
            errors.append("batch %d: PyTorch's logits are degenerate (all about equal), the check means nothing" % b)
    return "\n".join(errors) or None


def test_resnet18_host(ctx):
    """For this machine's CPU (AVX-512 here), batch 1 and 3."""
    return check(ctx, [])


def host_lacks(needs):
    """Why this machine cannot run x86-64 code using the /proc/cpuinfo flags needs (None: it can)."""
    import platform
    if platform.machine() != "x86_64":
        return "the host is %s, not x86_64" % platform.machine()
    with open("/proc/cpuinfo") as f:
        have = set(next(l for l in f if l.startswith("flags")).split(":", 1)[1].split())
    missing = [n for n in needs if n not in have]
    return "the host lacks %s" % " ".join(missing) if missing else None


def test_resnet18_x86_64(ctx):
    """The baseline x86-64 (SSE2, no FMA), batch 1 and 3."""
    why = host_lacks([])
    return Skip(why) if why else check(ctx, ["--target", "x86_64-linux-gnu", "--cpu", "x86-64"])


def test_resnet18_avx2(ctx):
    """AVX2 and FMA without AVX-512 (x86-64-v3), batch 1 and 3."""
    why = host_lacks(["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe"])
    return Skip(why) if why else check(ctx, ["--target", "x86_64-linux-gnu", "--cpu", "x86-64-v3"])
