import numpy as np

F32 = dict(rtol=2e-5, atol=1e-6)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def logsoftmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def ln(x):
    d = x - x.mean(axis=-1, keepdims=True)
    return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5)


def cases(rng):
    def f32(b, n):
        x = (rng.standard_normal((b, n)) * 5).astype(np.float32)
        return x, x.astype(np.float64)
    # rows of 4099 floats (each row's start at another offset from a 64-byte boundary);
    # rows of 1024 (aligned when the output is, exactly 16 MiB: streams); just below the
    # threshold (plain stores); rows of 8209 floats, past the 32 KiB stack row (the exp
    # cached in the output row, plain stores)
    for fn, ref, b, n, off in (("sm", softmax, 1024, 4099, 0), ("sm", softmax, 1024, 4099, 3),
                               ("sm", softmax, 4096, 1024, 0), ("sm", softmax, 4096, 1024, 1),
                               ("sm", softmax, 1000, 4096, 0), ("sm", softmax, 512, 8209, 0),
                               ("lsm", logsoftmax, 1024, 4099, 5), ("norm", ln, 1024, 4099, 1),
                               ("norm", ln, 1, (16 << 20) // 4 + 15, 2)):
        x, x64 = f32(b, n)
        tol = dict(rtol=2e-5, atol=2e-5) if fn == "lsm" else dict(rtol=1e-4, atol=1e-4) if fn == "norm" else F32
        yield Case(fn, [x], [b, n], [ref(x64).astype(np.float32)], name="%dx%d offset=%d" % (b, n, off),
                   out_offset=off, **tol)
    # a root that reads weights along the row as well as the per-row values
    x, x64 = f32(1024, 4099)
    g = rng.standard_normal(4099).astype(np.float32)
    bb = rng.standard_normal(4099).astype(np.float32)
    yield Case("norm_affine", [x, g, bb], [1024, 4099], [(ln(x64) * g + bb).astype(np.float32)], rtol=1e-4, atol=1e-4,
               out_offset=2)
    d = rng.standard_normal((1024, 2053)) * 5
    yield Case("sm64", [d], [1024, 2053], [softmax(d)], rtol=1e-12, atol=1e-14, out_offset=1)
    h = (rng.standard_normal((2048, 4099)) * 5).astype(np.float16)
    want = softmax(h.astype(np.float64)).astype(np.float16)
    yield Case("sm_h", [Tagged(h.view(np.uint16), "f16")], [2048, 4099], [Tagged(want.view(np.uint16), "f16")],
               rtol=1e-2, atol=1e-4, out_offset=3)
