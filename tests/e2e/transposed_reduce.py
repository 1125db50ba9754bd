import numpy as np


def cases(rng):
    for n, m in ((1, 3), (6, 11), (50, 129)):
        x = rng.standard_normal((n, m)).astype(np.float32)
        yield Case("col_sums", [x], [n, m], [(x.T * 2).sum(1)], rtol=1e-5, atol=1e-5)
        yield Case("window", [x], [n, m], [(x[:, 1:m - 1] - x[:, 0:m - 2]).max(1)])
        a = rng.standard_normal(n).astype(np.float32)
        b = rng.standard_normal(m).astype(np.float32)
        yield Case("outer_sum", [a, b], [n, m], [(a[:, None] * b).sum(-1)], rtol=1e-5, atol=1e-5)
