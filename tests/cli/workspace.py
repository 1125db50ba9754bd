"""The workspace (docs/abi.md, "Workspace"; docs/plan.md, "Memory"): NAME_ws computes
exactly what NAME does in a workspace of the caller's, of NAME_workspace_size bytes at
any alignment, with fewer threads when it only has room for fewer workers' scratch, and
refuses one that is too small, NULL or negative without writing its outputs; temporaries
share slices by lifetime, so a residual network's workspace does not grow with its depth,
and the network still matches PyTorch."""
import json
import os

import numpy as np

MODEL = """
fn block(x: f32[B, D], w: f32[D, D], b: f32[D]) -> f32[B, D] { return relu(x @ w + b) + x; }
export fn net(x: f32[B, D], w1: f32[D, D], w2: f32[D, D], b: f32[D]) -> f32[B, D] {
  let h1 = block(x, w1, b);
  let h2 = block(h1, w2, b);
  let h3 = block(h2, w1, b);
  return softmax(h3 * 0.25 + h1, axis=-1);
}
export fn tiny(x: f32[N]) -> f32[N] { return x * 2.0 + 1.0; }
"""

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "m.h"

static unsigned long long seed = 88172645463325252ull;
static float rnd(void) { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return (float)((double)(seed % 2000001) / 1e6 - 1); }
static float *fr(size_t n, float scale) { float *p = malloc(n * sizeof *p + 1); for (size_t i = 0; i < n; i++) p[i] = rnd() * scale; return p; }
static int untouched(const float *p, size_t n) {
  const unsigned char *c = (const unsigned char *)p;
  for (size_t i = 0; i < n * sizeof *p; i++) if (c[i] != 0xff) return 0;
  return 1;
}
#define FAIL(...) do { printf(__VA_ARGS__); printf("\n"); return 1; } while (0)

int main(void) {
  static const int64_t sizes[][2] = {{0, 5}, {1, 1}, {7, 13}, {61, 67}, {700, 300}};
  for (int k = 0; k < 5; k++) {
    int64_t B = sizes[k][0], D = sizes[k][1];
    size_t nx = (size_t)(B * D), nw = (size_t)(D * D);
    float *x = fr(nx, 1), *w1 = fr(nw, 0.3f), *w2 = fr(nw, 0.3f), *b = fr((size_t)D, 1);
    float *want = malloc(nx * 4 + 1), *got = malloc(nx * 4 + 1);
    tricrt_set_num_threads(2);
    if (net(x, w1, w2, b, want, B, D)) FAIL("net(%lld, %lld) failed", (long long)B, (long long)D);
    int64_t n2 = net_workspace_size(B, D);
    tricrt_set_num_threads(1);
    int64_t n1 = net_workspace_size(B, D);
    if (n1 <= 0 || n2 < n1) FAIL("workspace sizes %lld (1 thread), %lld (2 threads)", (long long)n1, (long long)n2);
    if (B * D > 10000 && n2 == n1) FAIL("a contraction's scratch is per thread, yet 2 threads need no more bytes than 1 (%lld)", (long long)n1);
    unsigned char *buf = malloc((size_t)n2 + 4097);
    /* a workspace at an odd address, with room for 2 workers or for 1, on a pool of 1 and of
       2 threads; the 4 KiB after it must stay as they were */
    for (int t = 1; t <= 2; t++)
      for (int room = 1; room <= 2; room++) {
        int64_t bytes = room == 2 ? n2 : n1;
        tricrt_set_num_threads(t);
        memset(got, 0xff, nx * 4);
        memset(buf + 1 + bytes, 0x5a, 4096);
        int rc = net_ws(x, w1, w2, b, got, B, D, buf + 1, bytes);
        if (rc) FAIL("net_ws(%lld, %lld) on %d threads with %lld bytes: %d", (long long)B, (long long)D, t, (long long)bytes, rc);
        if (memcmp(got, want, nx * 4)) FAIL("net_ws(%lld, %lld) on %d threads differs from net", (long long)B, (long long)D, t);
        for (int i = 0; i < 4096; i++)
          if (buf[1 + bytes + i] != 0x5a) FAIL("net_ws(%lld, %lld) on %d threads wrote past its %lld bytes of workspace", (long long)B, (long long)D, t, (long long)bytes);
      }
    tricrt_set_num_threads(2);
    const struct { void *ws; int64_t bytes; const char *what; } bad[] = {
        {buf, n1 - 65, "too small"}, {NULL, n2, "NULL"}, {buf, -5, "negative"}, {buf, 0, "empty"}};
    for (int i = 0; i < 4; i++) {
      memset(got, 0xff, nx * 4);
      int rc = net_ws(x, w1, w2, b, got, B, D, bad[i].ws, bad[i].bytes);
      if (rc != TRIC_ERR_SIZE) FAIL("net_ws with a %s workspace returned %d, not TRIC_ERR_SIZE", bad[i].what, rc);
      if (!untouched(got, nx)) FAIL("net_ws with a %s workspace wrote its output", bad[i].what);
    }
    if (k == 3) { /* this case's inputs and result, for NumPy */
      FILE *f = fopen("case.bin", "wb");
      fwrite(x, 4, nx, f), fwrite(w1, 4, nw, f), fwrite(w2, 4, nw, f), fwrite(b, 4, (size_t)D, f), fwrite(want, 4, nx, f);
      fclose(f);
    }
    free(x), free(w1), free(w2), free(b), free(want), free(got), free(buf);
  }
  if (net_workspace_size(-1, 3) != TRIC_ERR_SIZE || net_workspace_size(3, -1) != TRIC_ERR_SIZE)
    FAIL("net_workspace_size accepts a negative size");
  /* a function without temporaries needs no workspace */
  float v[10], out[10];
  for (int i = 0; i < 10; i++) v[i] = (float)i;
  if (tiny_workspace_size(10) != 0) FAIL("tiny needs %lld bytes of workspace", (long long)tiny_workspace_size(10));
  if (tiny_ws(v, out, 10, NULL, 0)) FAIL("tiny_ws without a workspace failed");
  for (int i = 0; i < 10; i++) if (out[i] != 2 * (float)i + 1) FAIL("tiny_ws computed %g at %d", out[i], i);
  printf("ok\n");
  return 0;
}
"""


def _build(ctx, d, src, driver):
    with open(os.path.join(d, "m.tri"), "w") as f:
        f.write(src)
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(driver)
    r = ctx.run([ctx.tric, "build", "m.tri", "--emit=obj,header,plan-json"], cwd=d, timeout=600)
    if r.returncode:
        return "tric: %s" % r.stderr
    r = ctx.run([ctx.cc] + ctx.cflags + ["-I", d, "main.c", "m.o"] + ctx.libs + ["-o", "prog"], cwd=d)
    if r.returncode:
        return "cc: %s" % r.stderr
    return None


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_workspace_entries(ctx):
    d = ctx.tmpdir()
    err = _build(ctx, d, MODEL, DRIVER)
    if err:
        return err
    r = ctx.run([os.path.join(d, "prog")], cwd=d, timeout=300)
    if r.returncode or r.stdout.strip() != "ok":
        return "driver: %s%s" % (r.stdout, r.stderr)
    B, D = 61, 67
    a = np.fromfile(os.path.join(d, "case.bin"), dtype=np.float32)
    parts, o = [], 0
    for n in (B * D, D * D, D * D, D, B * D):
        parts.append(a[o:o + n].astype(np.float64))
        o += n
    x, w1, w2, b, got = parts[0].reshape(B, D), parts[1].reshape(D, D), parts[2].reshape(D, D), parts[3], parts[4].reshape(B, D)
    blk = lambda h, w: np.maximum(h @ w + b, 0) + h
    h1 = blk(x, w1)
    want = _softmax(blk(blk(h1, w2), w1) * 0.25 + h1)
    if not np.allclose(got, want, rtol=1e-4, atol=1e-6):
        return "net differs from NumPy by %g" % np.abs(got - want).max()


def _resnet(depth):
    """A residual network of `depth` conv blocks (3x3 convs, batch-norm folded into a
    per-channel scale and shift, relu, the residual add) over symbolic B, H, W."""
    ws = ", ".join("w%d: f32[8, 8, 3, 3], v%d: f32[8, 8, 3, 3]" % (i, i) for i in range(depth))
    body = "\n".join("  let h%d = block(h%d, w%d, v%d, s, t);" % (i + 1, i, i, i) for i in range(depth))
    return ("export fn net%d(x: f32[B, 8, H, W], %s, s: f32[8, 1, 1], t: f32[8, 1, 1]) -> f32[B, 8, H, W] {\n"
            "  let h0 = x;\n%s\n  return h%d;\n}\n" % (depth, ws, body, depth))


DEPTH_SRC = """
fn block(x: f32[B, 8, H, W], w: f32[8, 8, 3, 3], v: f32[8, 8, 3, 3], s: f32[8, 1, 1], t: f32[8, 1, 1]) -> f32[B, 8, H, W] {
  let y = relu(conv2d(x, w, padding=1) * s + t);
  return relu(conv2d(y, v, padding=1) * s + t + x);
}
""" + _resnet(5) + _resnet(20)

DEPTH_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "m.h"

int main(void) {
  enum { B = 2, H = 9, W = 11, DEPTH = 20 };
  printf("%lld %lld\n", (long long)net5_workspace_size(B, H, W), (long long)net20_workspace_size(B, H, W));
  /* in.bin: x, then w0, v0, ..., s, t; out.bin: net20's result */
  size_t nx = B * 8 * H * W, nw = 8 * 8 * 9, total = nx + 2 * DEPTH * nw + 16;
  float *in = malloc(total * 4), *out = malloc(nx * 4), *w[2 * DEPTH];
  FILE *f = fopen("in.bin", "rb");
  if (!f || fread(in, 4, total, f) != total) { printf("cannot read in.bin\n"); return 1; }
  fclose(f);
  for (int i = 0; i < 2 * DEPTH; i++) w[i] = in + nx + (size_t)i * nw;
  const float *s = in + nx + 2 * DEPTH * nw, *t = s + 8;
  int rc = net20(in, w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15],
                 w[16], w[17], w[18], w[19], w[20], w[21], w[22], w[23], w[24], w[25], w[26], w[27], w[28], w[29], w[30],
                 w[31], w[32], w[33], w[34], w[35], w[36], w[37], w[38], w[39], s, t, out, B, H, W);
  if (rc) { printf("net20 failed: %d\n", rc); return 1; }
  f = fopen("out.bin", "wb");
  fwrite(out, 4, nx, f);
  fclose(f);
  free(in), free(out);
  return 0;
}
"""


def test_workspace_does_not_grow_with_depth(ctx):
    import torch
    d = ctx.tmpdir()
    err = _build(ctx, d, DEPTH_SRC, DEPTH_DRIVER)
    if err:
        return err
    plan = {f["name"]: f["workspace"] for f in json.load(open(os.path.join(d, "m.plan.json")))["functions"]}
    p5, p20 = plan["net5"], plan["net20"]
    if p20["temporaries"] <= p5["temporaries"]:
        return "20 blocks have %d temporaries, 5 blocks %d" % (p20["temporaries"], p5["temporaries"])
    if (p20["slices"], p20["bytes"], p20["peak_live_bytes"]) != (p5["slices"], p5["bytes"], p5["peak_live_bytes"]):
        return "the workspace grows with depth: 5 blocks %s, 20 blocks %s" % (p5, p20)
    if p20["slices"] >= p20["temporaries"] // 4:
        return "20 blocks: %d temporaries in %d slices" % (p20["temporaries"], p20["slices"])
    rng = np.random.default_rng(11)
    B, H, W, depth = 2, 9, 11, 20
    x = rng.standard_normal((B, 8, H, W)).astype(np.float32)
    ws = [(rng.standard_normal((8, 8, 3, 3)) / 9).astype(np.float32) for _ in range(2 * depth)]
    s = rng.uniform(0.5, 1.0, (8, 1, 1)).astype(np.float32)
    t = (rng.standard_normal((8, 1, 1)) * 0.1).astype(np.float32)
    np.concatenate([x.ravel()] + [w.ravel() for w in ws] + [s.ravel(), t.ravel()]).tofile(os.path.join(d, "in.bin"))
    r = ctx.run([os.path.join(d, "prog")], cwd=d, timeout=300)
    if r.returncode:
        return "driver: %s%s" % (r.stdout, r.stderr)
    n5, n20 = (int(v) for v in r.stdout.split())
    if n5 <= 0 or n5 != n20:
        return "workspace bytes at B=2, H=9, W=11: %d for 5 blocks, %d for 20" % (n5, n20)
    F = torch.nn.functional
    h = torch.from_numpy(x.astype(np.float64))
    st, tt = torch.from_numpy(s.astype(np.float64)), torch.from_numpy(t.astype(np.float64))
    for i in range(depth):
        w, v = (torch.from_numpy(a.astype(np.float64)) for a in ws[2 * i: 2 * i + 2])
        y = torch.relu(F.conv2d(h, w, padding=1) * st + tt)
        h = torch.relu(F.conv2d(y, v, padding=1) * st + tt + h)
    want = h.numpy()
    got = np.fromfile(os.path.join(d, "out.bin"), dtype=np.float32).reshape(want.shape)
    err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
    if not err < 1e-4:
        return "net20 differs from PyTorch by %g of its largest value" % err
