import numpy as np


def cases(rng):
    yield Case("c", [], [], [np.float32(1.5)])
    x = rng.standard_normal(5).astype(np.float32)
    yield Case("pp", [x], [5], [x, x])
    yield Case("sc", [np.float64(2.5)], [], [np.float64(2.5), np.float64(5.0)])
    yield Case("z", [np.zeros(0, np.float32)], [], [np.float32(0)])
