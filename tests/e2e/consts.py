import numpy as np


def cases(rng):
    x = rng.standard_normal(11).astype(np.float32)
    yield Case("f", [x], [11], [x * np.float32(0.5) + 2 - 1])
    i = rng.integers(-100, 100, 11).astype(np.int32)
    yield Case("g", [i], [11], [i * 3 + 2001])
    d = rng.standard_normal(11)
    yield Case("h", [d], [11], [d * 2, d > 0.5])
