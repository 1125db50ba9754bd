import numpy as np

FLAGS = ["-I", __file__.rsplit("/", 1)[0]]


def gelu(x):
    return 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def layernorm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    d = x - mu
    return d / np.sqrt((d * d).mean(-1, keepdims=True) + 1e-5) * g + b


def cases(rng):
    f = np.float32
    for bsz in (1, 5):
        x = rng.standard_normal((bsz, 16)).astype(f)
        w1 = (rng.standard_normal((16, 32)) / 4).astype(f)
        b1 = rng.standard_normal(32).astype(f)
        w2 = (rng.standard_normal((32, 16)) / 4).astype(f)
        b2 = rng.standard_normal(16).astype(f)
        d = [a.astype(np.float64) for a in (x, w1, b1, w2, b2)]
        want = gelu(d[0] @ d[1] + d[2]) @ d[3] + d[4]
        yield Case("mlp", [x, w1, b1, w2, b2], [bsz], [want.astype(f)], rtol=1e-4, atol=1e-4)
        w = (rng.standard_normal((16, 16)) / 4).astype(f)
        g = rng.standard_normal(16).astype(f)
        be = rng.standard_normal(16).astype(f)
        xd = x.astype(np.float64)
        blk = xd + gelu(xd @ w + b2) * 2
        yield Case("res", [x, w, b2, g, be], [bsz, 16], [layernorm(blk, g, be).astype(f)], rtol=1e-5, atol=1e-5)
    v = rng.standard_normal(9).astype(f)
    yield Case("eps", [v], [9], [v + f(2e-5)])
