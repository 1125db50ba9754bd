import numpy as np


def cases(rng):
    import torch
    F = torch.nn.functional
    f32 = np.float32

    def conv(x, w, **kw):
        return F.conv2d(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64)), **kw).numpy()

    def rn(*shape):
        return rng.standard_normal(shape).astype(f32)

    tol = dict(rtol=1e-4, atol=1e-4)
    for n, c, o in ((1, 1, 1), (2, 3, 5), (1, 7, 17)):
        x, w = rn(n, c, 5, 41), rn(o, c, 3, 3) / 3
        yield Case("valid_wide", [x, w], [n, c, o], [conv(x, w).astype(f32)], **tol)
        x = rn(n, c, 6, 37)
        yield Case("pad_wide", [x, w], [n, c, o], [conv(x, w, padding=(2, 4)).astype(f32)], **tol)
        x, w1 = rn(n, c, 9, 4), rn(o, c, 1, 1)
        yield Case("rows_follow", [x, w1], [n, c, o], [conv(x, w1, stride=(2, 1), padding=(0, 2)).astype(f32)], **tol)
        x = rn(n, c, 7, 71)
        yield Case("s2_wide", [x, w], [n, c, o], [conv(x, w, stride=2, padding=1).astype(f32)], **tol)
    for n, c, o, h, wd in ((1, 1, 1, 1, 1), (2, 3, 5, 7, 13), (1, 5, 3, 11, 37), (3, 2, 4, 16, 17)):
        x, w = rn(n, c, h, wd), rn(o, c, 3, 3) / 3
        yield Case("dil_same", [x, w], [n, c, h, wd, o], [conv(x, w, padding=2, dilation=2).astype(f32)], **tol)
        xg, wg = rn(n, 6, h, wd), rn(4, 3, 1, 1)
        yield Case("p1x1_groups", [xg, wg], [n, h, wd], [conv(xg, wg, groups=2).astype(f32)], **tol)
        w9 = rn(o, c, 9, 9) / 9
        yield Case("k9", [x, w9], [n, c, h, wd, o], [conv(x, w9, padding=4).astype(f32)], **tol)
        yield Case("fused_in", [x, w], [n, c, h, wd, o], [conv(np.maximum(x, 0) * 2, w, padding=1).astype(f32)], **tol)
        xb, wb = bf16_bits(x), bf16_bits(w)  # bf16 storage, computed in f32, rounded once
        yb = bf16_bits(conv(bf16_to_f32(xb), bf16_to_f32(wb), padding=1).astype(f32))
        yield Case("bf3", [Tagged(xb, "bf16"), Tagged(wb, "bf16")], [n, c, h, wd, o], [Tagged(yb, "bf16")],
                   rtol=1e-2, atol=1e-2)
        xh, wh = x.astype(np.float16), w.astype(np.float16)
        # the convolution is rounded to f16 before the sum, which is rounded again
        yc = conv(xh.astype(f32), wh.astype(f32), stride=2, padding=1).astype(np.float16).astype(np.float64)
        yh = yc.sum(axis=(2, 3)).astype(np.float16)
        yield Case("h3s2", [Tagged(xh.view(np.uint16), "f16"), Tagged(wh.view(np.uint16), "f16")], [n, c, h, wd, o],
                   [Tagged(yh.view(np.uint16), "f16")], rtol=3e-3, atol=3e-3)
    for n in (1, 2):
        x, w, b = rn(n, 320, 5, 7), rn(47, 320, 3, 3) / 50, rn(47, 1, 1)
        yield Case("big_w", [x, w, b], [n], [np.maximum(conv(x, w, padding=1) + b, 0).astype(f32)], **tol)
