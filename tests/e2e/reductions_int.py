import numpy as np


def cases(rng):
    for n, m in ((1, 1), (5, 9), (40, 33)):
        x = rng.integers(-1000, 1000, (n, m)).astype(np.int32)
        with np.errstate(over="ignore"):
            p = (np.mod(x, 3) + 1).prod(axis=1, dtype=np.int32)
        yield Case("ri", [x], [n, m], [x.sum(axis=1, dtype=np.int32), x.max(axis=0), x.min(), p])
        u = rng.integers(0, 256, (n, m)).astype(np.uint8)
        yield Case("ru", [u], [n, m], [u.max(axis=1), u.min(axis=0)])
