import numpy as np


def cases(rng):
    for n in (1, 9, 100):
        a = rng.random(n) < 0.5
        b = rng.random(n) < 0.5
        yield Case("t_logic", [a, b], [n], [a & b, a | ~b, a == b, a != True])
        m = 5
        c = rng.random((n, 1)) < 0.5
        x = rng.standard_normal((n, m)).astype(np.float32)
        y = rng.standard_normal(m).astype(np.float32)
        yield Case("t_select", [c, x, y], [n, m], [np.where(c, x, y * np.float32(2))])
