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

    tol = dict(rtol=1e-5, atol=1e-5)
    for n, h, w in ((1, 1, 1), (2, 7, 13), (1, 5, 3), (3, 16, 17), (1, 11, 1), (2, 1, 29), (1, 31, 64), (1, 56, 56)):
        for name, c in (("dw3", 7), ("dw3w", 32)):
            x, w3 = rn(n, c, h, w), rn(c, 1, 3, 3)
            yield Case(name, [x, w3], [n, h, w], [conv(x, w3, padding=1, groups=c).astype(f32)], **tol)
    for n, h, w in ((1, 1, 1), (2, 7, 13), (3, 16, 17), (1, 5, 97)):
        x5 = rn(n, 5, h, w)
        w1 = rn(5, 1, 1, 1)
        yield Case("dw1", [x5, w1], [n, h, w], [conv(x5, w1, groups=5).astype(f32)], **tol)
        x3, wm2 = rn(n, 3, h, w), rn(6, 1, 3, 3)
        yield Case("mult2", [x3, wm2], [n, h, w], [conv(x3, wm2, padding=1, groups=3).astype(f32)], **tol)
        x2, wm5 = rn(n, 2, h, w), rn(10, 1, 3, 3)
        yield Case("mult5", [x2, wm5], [n, h, w], [conv(x2, wm5, padding=1, groups=2).astype(f32)], **tol)
        x8, w8, s, t, b = rn(n, 8, h, w), rn(8, 1, 3, 3), rn(8, 1, 1), rn(8, 1, 1) * 3, rn(8, 1, 1)
        y = conv(x8, w8, padding=1, groups=8)
        yield Case("bn_relu6", [x8, w8, s, t], [n, h, w], [np.clip(y * s + t, 0, 6).astype(f32)], **tol)
        yield Case("bias_res", [x8, w8, b], [n, h, w], [np.maximum(y + b + x8, 0).astype(f32)], **tol)
        x4, w4 = rn(n, 4, h, w), rn(4, 1, 3, 3)
        y4 = conv(x4, w4, padding=1, groups=4)
        yield Case("to_f16", [x4, w4], [n, h, w], [Tagged(y4.astype(np.float16).view(np.uint16), "f16")],
                   rtol=1e-3, atol=1e-3)
        xh, wh = x4.astype(np.float16), w4.astype(np.float16)  # f16 storage, computed in f32
        yh = conv(xh.astype(f32), wh.astype(f32), padding=1, groups=4).astype(np.float16)
        yield Case("h3", [Tagged(xh.view(np.uint16), "f16"), Tagged(wh.view(np.uint16), "f16")], [n, h, w],
                   [Tagged(yh.view(np.uint16), "f16")], rtol=2e-3, atol=2e-3)
        xb, wb = bf16_bits(x4), bf16_bits(w4)  # bf16 storage, computed in f32, rounded once
        yb = bf16_bits(conv(bf16_to_f32(xb), bf16_to_f32(wb), padding=1, groups=4).astype(f32))
        yield Case("b3", [Tagged(xb, "bf16"), Tagged(wb, "bf16")], [n, h, w], [Tagged(yb, "bf16")], rtol=1e-2, atol=1e-2)
    # planes with no rows or no columns: with padding every window is padding, and the
    # output is the epilogue of 0 (the bias), never a read of x
    for n, h, w in ((1, 0, 0), (2, 0, 5), (1, 4, 0), (2, 3, 6)):
        x, w3, b = rn(n, 3, h, w), rn(3, 1, 3, 3), rn(3, 1, 1)
        xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))  # PyTorch refuses empty planes: pad them itself
        yield Case("bias_pad", [x, w3, b], [n, h, w], [(conv(xp, w3, groups=3) + b).astype(f32)], **tol)
    for n in (1, 3):
        x, w5 = rn(n, 6, 11, 8), rn(6, 1, 5, 5)
        yield Case("dw5s2", [x, w5], [n], [conv(x, w5, stride=2, padding=2, groups=6).astype(f32)], **tol)
        x, w7 = rn(n, 3, 6, 5), rn(3, 1, 7, 7)
        yield Case("dw7wide", [x, w7], [n], [conv(x, w7, stride=(1, 2), padding=(4, 5), groups=3).astype(f32)], **tol)
        x, wd = rn(n, 4, 13, 11), rn(4, 1, 3, 3)
        yield Case("dwdil", [x, wd], [n], [conv(x, wd, stride=(1, 2), dilation=(2, 3), padding=(0, 1), groups=4).astype(f32)],
                   **tol)
        x, wm4 = rn(n, 2, 9, 7), rn(8, 1, 3, 3)
        yield Case("mult4", [x, wm4], [n], [conv(x, wm4, stride=2, padding=1, groups=2).astype(f32)], **tol)
