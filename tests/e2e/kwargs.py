import numpy as np


def cases(rng):
    x, a, b = (rng.standard_normal(6).astype(np.float32) for _ in range(3))
    yield Case("k", [x, a, b], [6], [x * a + b, x * a + b, np.float32(x.sum())], rtol=1e-6)
