import numpy as np


def cases(rng):
    for n, m in ((1, 1), (3, 7), (31, 17)):
        a = rng.standard_normal((n, 1)).astype(np.float32)
        b = rng.standard_normal(m).astype(np.float32)
        yield Case("col_row", [a, b], [n, m], [a * b + np.float32(1)])
        x = rng.standard_normal((2, n, m)).astype(np.float32)
        t = rng.standard_normal((2, 1, 1)).astype(np.float32)
        yield Case("batch", [x, b, t], [2, n, m], [x * b - t])
        s = np.float32(0.75)
        yield Case("scalar_param", [x[0], s], [n, m], [x[0] * s + s])
        yield Case("ones", [a.reshape(1, n), b.reshape(m, 1)], [n, m], [a.reshape(1, n) + b.reshape(m, 1)])
