import numpy as np


def cases(rng):
    import torch
    F = torch.nn.functional
    f32 = np.float32

    def conv(x, w, **kw):
        x64, w64 = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64))
        return F.conv2d(x64, w64, **kw).numpy()

    def rn(*shape):
        return rng.standard_normal(shape).astype(f32)

    tol = dict(rtol=1e-4, atol=1e-4)
    for n, c, o, h, w in ((1, 1, 1, 1, 1), (2, 3, 5, 7, 13), (1, 8, 17, 5, 3), (3, 2, 4, 16, 17), (1, 19, 7, 11, 1)):
        x, w3, w1 = rn(n, c, h, w), rn(o, c, 3, 3) / 3, rn(o, c, 1, 1)
        yield Case("c3", [x, w3], [n, c, h, w, o], [conv(x, w3, padding=1).astype(f32)], **tol)
        yield Case("c1", [x, w1], [n, c, h, w, o], [conv(x, w1).astype(f32)], **tol)
        s, t = rn(o, 1, 1), rn(o, 1, 1)
        yield Case("bn_relu", [x, w3, s, t], [n, c, h, w, o], [np.maximum(conv(x, w3, padding=1) * s + t, 0).astype(f32)], **tol)
        wr, b = rn(c, c, 3, 3) / 3, rn(c, 1, 1)
        yield Case("residual", [x, wr, b], [n, c, h, w], [np.maximum(conv(x, wr, padding=1) + b + x, 0).astype(f32)], **tol)
        xd, wd = rn(n, 5, h, w), rn(5, 1, 3, 3)
        yield Case("depthwise", [xd, wd], [n, h, w], [conv(xd, wd, padding=1, groups=5).astype(f32)], **tol)
        yield Case("sym_s2", [x, w3], [n, c, h, w, o], [conv(x, w3, stride=2, padding=1).sum(axis=(2, 3)).astype(f32)], **tol)
        yield Case("down_sum", [x, w3, w1], [n, c, h, w, o],
                   [np.maximum(conv(x, w3, stride=2, padding=1) + conv(x, w1, stride=2), 0).sum(axis=(2, 3)).astype(f32)], **tol)
        yield Case("d3", [x.astype(np.float64), w3.astype(np.float64)], [n, c, h, w, o],
                   [conv(x, w3, padding=1)], rtol=1e-10, atol=1e-10)
        xh, wh = x.astype(np.float16), w3.astype(np.float16)  # f16 storage, computed in f32
        yh = conv(xh.astype(f32), wh.astype(f32), padding=1).astype(np.float16)
        yield Case("h3", [Tagged(xh.view(np.uint16), "f16"), Tagged(wh.view(np.uint16), "f16")], [n, c, h, w, o],
                   [Tagged(yh.view(np.uint16), "f16")], rtol=2e-3, atol=2e-3)
    for n in (1, 3):
        x, wd, sd = rn(n, 256, 5, 5), rn(256, 256, 3, 3) / 48, rn(256, 1, 1)
        yield Case("deep", [x, wd, sd], [n], [np.maximum(conv(x, wd, padding=1) * sd + x, 0).astype(f32)], **tol)
    for n, c, o in ((1, 1, 1), (2, 3, 5), (3, 4, 2)):
        x, w7 = rn(n, c, 13, 11), rn(o, c, 7, 7) / 7
        yield Case("c7s2", [x, w7], [n, c, o], [conv(x, w7, stride=2, padding=3).astype(f32)], **tol)
        xs, ws = rn(n, c, 5, 4), rn(o, c, 3, 2)
        yield Case("wide_pad", [xs, ws], [n, c, o], [conv(xs, ws, padding=(2, 3)).astype(f32)], **tol)
        wdl = rn(o, c, 3, 3) / 3
        yield Case("dil", [x, wdl], [n, c, o], [conv(x, wdl, stride=(2, 1), dilation=(2, 3), padding=(1, 0)).astype(f32)], **tol)
        xw, ww = rn(n, c, 9, 131), rn(o, c, 3, 3) / 3
        yield Case("s2wide", [xw, ww], [n, c, o], [conv(xw, ww, stride=2, padding=1).astype(f32)], **tol)
        xh, wh = xw.astype(np.float16), ww.astype(np.float16)
        yh = conv(xh.astype(f32), wh.astype(f32), stride=2, padding=1).astype(np.float16)
        yield Case("hs2wide", [Tagged(xh.view(np.uint16), "f16"), Tagged(wh.view(np.uint16), "f16")], [n, c, o],
                   [Tagged(yh.view(np.uint16), "f16")], rtol=2e-3, atol=2e-3)
        x7, w7w = rn(n, c, 20, 70), rn(o, c, 7, 7) / 7
        yield Case("s2w7", [x7, w7w], [n, c, o], [conv(x7, w7w, stride=2, padding=3).astype(f32)], **tol)
        xg, wg = rn(n, 6, 7, 9), rn(4, 3, 3, 3) / 3
        yield Case("grouped", [xg, wg], [n], [conv(xg, wg, stride=2, padding=1, groups=2).astype(f32)], **tol)
