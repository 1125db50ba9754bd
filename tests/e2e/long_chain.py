import numpy as np


def cases(rng):
    for n in (1, 37, 1000):
        x = rng.standard_normal(n).astype(np.float32)
        a = x.copy()
        for _ in range(450):
            a = a * np.float32(0.5) + x
        yield Case("chain", [x], [n], [a], rtol=1e-5, atol=1e-6)
