import math
import numpy as np

erf = np.vectorize(math.erf)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def cases(rng):
    f = np.float32
    for n in (1, 7, 4099):
        x = (rng.standard_normal(n) * 3).astype(f)
        xd = x.astype(np.float64)
        yield Case("gelu", [x], [n], [(0.5 * xd * (1 + np.tanh(0.7978845608028654 * (xd + 0.044715 * xd ** 3)))).astype(f)],
                   rtol=1e-5, atol=1e-6)
        yield Case("gelu_erf", [x], [n], [(0.5 * xd * (1 + erf(xd / math.sqrt(2)))).astype(f)], rtol=1e-5, atol=1e-6)
    for b in (1, 3):
        x = rng.standard_normal((b, 784)).astype(f)
        w1 = (rng.standard_normal((784, 64)) / 28).astype(f)
        b1 = rng.standard_normal(64).astype(f)
        w2 = (rng.standard_normal((64, 10)) / 8).astype(f)
        b2 = rng.standard_normal(10).astype(f)
        h = np.maximum(x.astype(np.float64) @ w1 + b1, 0)
        yield Case("mlp", [x, w1, b1, w2, b2], [b], [softmax(h @ w2 + b2).astype(f)], rtol=1e-4, atol=1e-5)
    for bt, t, d in ((1, 1, 4), (2, 5, 16)):
        x = rng.standard_normal((bt, t, d)).astype(f)
        g = rng.standard_normal(d).astype(f)
        be = rng.standard_normal(d).astype(f)
        xd = x.astype(np.float64)
        xc = xd - xd.mean(-1, keepdims=True)
        ln = xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + 1e-5) * g + be
        yield Case("layernorm", [x, g, be], [bt, t, d], [ln.astype(f)], rtol=1e-4, atol=1e-4)
        q, k, v = (rng.standard_normal((bt, t, d)).astype(f) for _ in range(3))
        s = q.astype(np.float64) @ k.transpose(0, 2, 1) / math.sqrt(d)
        yield Case("attention", [q, k, v], [bt, t, d], [(softmax(s) @ v).astype(f)], rtol=1e-4, atol=1e-5)
