import numpy as np


def cases(rng):
    for n in (1, 8):
        a = rng.standard_normal((n, 2)).astype(np.float32)
        b = rng.standard_normal((n, 3)).astype(np.float32)
        want = np.concatenate([np.exp(a.astype(np.float64)), b.astype(np.float64) ** 2], 1).sum(1)
        yield Case("cm", [a, b], [n], [want.astype(np.float32)], rtol=1e-5)
        x = rng.standard_normal(n).astype(np.float32)
        yield Case("stack3", [x], [n], [np.concatenate([x, x * 2, -x])])
