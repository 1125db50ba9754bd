import numpy as np


def cases(rng):
    f = np.float32
    s = rng.standard_normal(5).astype(f)
    x1 = rng.standard_normal(5).astype(f)
    yield Case("e1", [x1, s], [5], [x1 * s + 1])
    x2 = rng.standard_normal((3, 5)).astype(f)
    yield Case("e2", [x2, s], [3, 5], [x2 * s + 1, np.sqrt((x2 * x2).sum(-1))], rtol=1e-5)
    x3 = rng.standard_normal((2, 4, 5)).astype(f)
    y = x3 * s + 1
    yield Case("e3", [x3, s], [2, 4, 5], [np.sqrt((y * y).sum(-1))], rtol=1e-5)
