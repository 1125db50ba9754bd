import numpy as np


def cases(rng):
    for n in (1, 3, 7, 13, 31, 67):
        for dt, fn in ((np.float32, "sel"), (np.float64, "sel64")):
            x = rng.standard_normal(n).astype(dt)
            y = rng.standard_normal(n).astype(dt)
            yield Case(fn, [x, y], [n], [np.where(x > y, x, 0).astype(dt)], rtol=0, atol=0, name="n=%d" % n)
        x = rng.standard_normal(n).astype(np.float32)
        y = rng.standard_normal(n).astype(np.float32)
        yield Case("sel_else", [x, y], [n], [np.where(x > y, 0, y).astype(np.float32)], rtol=0, atol=0,
                   name="n=%d" % n)
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        yield Case("sel_both", [x, y], [n], [np.where(x < y, x, y)], rtol=0, atol=0, name="n=%d" % n)
        a = rng.integers(-100, 100, n, dtype=np.int32)
        b = rng.integers(-100, 100, n, dtype=np.int32)
        yield Case("sel_i32", [a, b], [n], [np.where(a > b, a, 0).astype(np.int32)], name="n=%d" % n)
