import numpy as np


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def logsoftmax(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def cases(rng):
    for b, n in ((1, 1), (3, 10), (17, 1000)):
        x = (rng.standard_normal((b, n)) * 10).astype(np.float32)
        x64 = x.astype(np.float64)
        yield Case("sm", [x], [b, n], [softmax(x64, -1).astype(np.float32)], rtol=1e-5, atol=1e-7)
        yield Case("sm0", [x], [b, n], [softmax(x64, 0).astype(np.float32)], rtol=1e-5, atol=1e-7)
        yield Case("lsm", [x], [b, n], [logsoftmax(x64, -1).astype(np.float32)], rtol=1e-5, atol=1e-5)
        d = rng.standard_normal((b, n, 3)) * 10
        yield Case("lsm64", [d], [b, n, 3], [logsoftmax(d, 1)], rtol=1e-12, atol=1e-12)
