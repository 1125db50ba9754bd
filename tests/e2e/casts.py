import numpy as np


def sat(x, dt):
    """Saturating truncation toward zero, NaN to 0, computed with Python integers."""
    info = np.iinfo(dt)
    out = []
    for v in np.asarray(x, dtype=np.float64).ravel():
        if np.isnan(v):
            out.append(0)
        elif v >= info.max:
            out.append(info.max)
        elif v <= info.min:
            out.append(info.min)
        else:
            out.append(int(np.trunc(v)))
    return np.array(out, dtype=dt).reshape(np.shape(x))


def cases(rng):
    for n in (1, 7, 500):
        x = (rng.standard_normal(n) * 50).astype(np.float32)
        yield Case("f2i", [x], [n], [sat(x, np.int32), sat(x, np.int8), sat(x, np.uint8), sat(x, np.int64)])
        big = np.array([3e9, -3e9, 300.5, -0.99, np.nan, np.inf, -np.inf] * n, dtype=np.float32)[:max(n, 7)]
        yield Case("f2i", [big], [len(big)], [sat(big, np.int32), sat(big, np.int8), sat(big, np.uint8), sat(big, np.int64)],
                   name="saturating")
        i = rng.integers(-5, 5, n).astype(np.int32)
        yield Case("i2f", [i], [n], [i.astype(np.float32), i.astype(np.float64), i != 0])
        b = rng.random(n) < 0.5
        yield Case("b2x", [b], [n], [b.astype(np.float32), b.astype(np.int32), b.astype(np.uint8)])
        d = rng.standard_normal(n) * 1e3
        y = d.astype(np.float32)
        yield Case("f2f", [d], [n], [y, y.astype(np.float64) - d], rtol=0, atol=0)
        l = rng.integers(-2**40, 2**40, n).astype(np.int64)
        yield Case("i2i", [l], [n], [l.astype(np.int8), l.astype(np.uint8), l.astype(np.int32)])
