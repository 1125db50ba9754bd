import numpy as np


def cases(rng):
    for a, b, c in ((1, 1, 1), (2, 3, 5), (7, 11, 13), (3, 64, 129)):
        x = rng.standard_normal((a, b, c)).astype(np.float32)
        tol = dict(rtol=2e-5, atol=1e-5)
        yield Case("r_all", [x], [a, b, c], [np.float32(x.sum(dtype=np.float64)), x.max(), x.min(),
                                              np.float32(x.mean(dtype=np.float64))], **tol)
        yield Case("r_last", [x], [a, b, c], [x.sum(-1), x.max(2), x.mean(2, keepdims=True)], **tol)
        p = (rng.random((a, b, c)) + 0.5).astype(np.float32)
        yield Case("r_first", [p], [a, b, c], [p.sum(0), p.min(0), p.prod(0, keepdims=True)], **tol)
        yield Case("r_list", [x], [a, b, c], [x.sum((0, 2)), x.max(1, keepdims=True), x.mean((1, 2))], **tol)
        y = rng.standard_normal(c).astype(np.float32)
        yield Case("r_fused", [x, y], [a, b, c], [(np.exp(x.astype(np.float64)) * y + 1).sum((1, 2)).astype(np.float32)], rtol=1e-4, atol=1e-4)
        d = rng.standard_normal((a, b, c))
        yield Case("r_f64", [d], [a, b, c], [(d * d).sum((1, 2)), d.prod((0, 1))], rtol=1e-12, atol=1e-12)
