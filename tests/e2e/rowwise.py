import numpy as np


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=-1, keepdims=True)


def logsoftmax(x):
    s = x - x.max(axis=-1, keepdims=True, initial=-np.inf)
    with np.errstate(divide="ignore"):  # rows of length 0
        return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def ln(x):
    d = x - x.mean(axis=-1, keepdims=True)
    return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5)


F32 = dict(rtol=2e-5, atol=1e-6)


def cases(rng):
    # rows x cols: empty, single, small primes, a few thousand, rows past the cache bound
    for b, n in ((0, 5), (3, 0), (1, 1), (7, 13), (13, 7), (5, 1000), (2, 4099), (3, 100003)):
        x = (rng.standard_normal((b, n)) * 5).astype(np.float32)
        x64 = x.astype(np.float64)
        shape = "%dx%d" % (b, n)
        yield Case("sm", [x], [b, n], [softmax(x64).astype(np.float32)], name=shape, **F32)
        yield Case("lsm", [x], [b, n], [logsoftmax(x64).astype(np.float32)], name=shape, rtol=2e-5, atol=2e-5)
        if n > 1:
            yield Case("norm", [x], [b, n], [ln(x64).astype(np.float32)], name=shape, rtol=1e-4, atol=1e-4)
            g = rng.standard_normal(n).astype(np.float32)
            bb = rng.standard_normal(n).astype(np.float32)
            yield Case("norm_affine", [x, g, bb], [b, n], [(ln(x64) * g + bb).astype(np.float32)], name=shape,
                       rtol=1e-4, atol=1e-4)
            yield Case("chain2", [x, g], [b, n], [softmax(ln(x64) * g).astype(np.float32)], name=shape, **F32)
        yield Case("sm1", [x.reshape(-1)], [b * n], [softmax(x64.reshape(-1)).astype(np.float32)], name=shape, **F32)
        if n > 0:
            i = rng.integers(-1000, 1000, (b, n), dtype=np.int32)
            yield Case("imax", [i], [b, n], [(i * 2 - i.max(axis=-1, keepdims=True) + i.sum(axis=-1, keepdims=True)).astype(np.int32)],
                       name=shape, rtol=0, atol=0)
        d = rng.standard_normal((2, b, n)) * 5
        yield Case("sm3", [d], [2, b, n], [softmax(d)], name=shape, rtol=1e-12, atol=1e-14)
        if n > 1:
            yield Case("norm64", [d[0]], [b, n], [ln(d[0])], name=shape, rtol=1e-10, atol=1e-10)
        h = x.astype(np.float16)
        want = softmax(h.astype(np.float64)).astype(np.float16)
        yield Case("sm_h", [Tagged(h.view(np.uint16), "f16")], [b, n], [Tagged(want.view(np.uint16), "f16")],
                   name=shape, rtol=1e-2, atol=1e-4)
        if n > 1:
            xb = bf16_bits(x64)
            want = bf16_bits(ln(bf16_to_f32(xb).astype(np.float64)).astype(np.float32))
            yield Case("norm_bf", [Tagged(xb, "bf16")], [b, n], [Tagged(want, "bf16")], name=shape, rtol=3e-2,
                       atol=3e-2)
        yield Case("chain", [x], [b, n], [logsoftmax(softmax(x64) * 3).astype(np.float32)], name=shape, **F32)
        y = softmax(x64)
        yield Case("chain_shared", [x], [b, n], [y.astype(np.float32), logsoftmax(y * 3).astype(np.float32)],
                   name=shape, **F32)
        yield Case("sm_flat", [x], [b, n], [softmax(x64).astype(np.float32)], name=shape, **F32)
        yield Case("sm_axis0", [x], [b, n], [(softmax(x64.T).T).astype(np.float32)], name=shape, **F32)
        m = x.max(axis=-1, keepdims=True) if n else np.full((b, 1), -np.inf, np.float32)
        yield Case("with_max", [x], [b, n], [np.exp(x64 - m).astype(np.float32), m], name=shape, **F32)
        if b > 0:
            yield Case("shifted", [x], [b, n], [(x64 - np.roll(m, -1, axis=0)).astype(np.float32)], name=shape, **F32)
    for fn, n in (("sm_fit", 30011), ("sm_big", 40009)):
        x = (rng.standard_normal((3, n)) * 5).astype(np.float32)
        yield Case(fn, [x], [], [softmax(x.astype(np.float64)).astype(np.float32)], **F32)
