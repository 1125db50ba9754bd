import numpy as np


def cases(rng):
    a = np.array([1.0, np.nan, -2.0, np.inf, -0.5, 3.0, np.nan], dtype=np.float32)
    b = np.array([np.nan, 2.0, -3.0, 1.0, -np.inf, 3.0, np.nan], dtype=np.float32)
    yield Case("mm", [a, b], [7], [np.minimum(a, b), np.maximum(a, b), np.maximum(a, np.float32(0))])
    yield Case("red", [a], [7], [np.float32(np.nan)] * 3)
    c = a[[0, 2, 4, 5]].copy()
    yield Case("red", [c], [4], [c.max(), c.min(), np.float32(c.sum())])
