import numpy as np


def cases(rng):
    for n in (1, 7, 1000):
        x = rng.standard_normal(n).astype(np.float32)
        y = rng.standard_normal(n).astype(np.float32)
        a = np.float32(-1.25)
        yield Case("axpy", [a, x, y], [n], [a * x + y])
        xd, yd = x.astype(np.float64), y.astype(np.float64)
        yield Case("dot", [xd, yd], [n], [np.float64((xd * yd).sum())], rtol=1e-12)
        xi = rng.integers(-9, 9, n).astype(np.int32)
        yield Case("pick", [np.bool_(True), np.int32(5), xi], [n], [xi + 5])
        yield Case("pick", [np.bool_(False), np.int32(5), xi], [n], [xi - 5])
        yield Case("count", [x, np.float32(0.5)], [n], [np.int64((x > 0.5).sum())])
    yield Case("scal", [np.float32(3), np.float32(0.5)], [], [np.float32(2.5)])
