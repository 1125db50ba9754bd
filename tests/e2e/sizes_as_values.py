import numpy as np


def cases(rng):
    for n in (1, 10):
        x = rng.standard_normal(n).astype(np.float32)
        yield Case("center", [x], [n], [x - x.sum() / np.float32(n)], rtol=1e-5, atol=1e-6)
        y = rng.integers(-5, 5, (n, 3)).astype(np.int64)
        yield Case("ramp", [y], [n, 3], [y * 3 + n])
