import numpy as np


def cases(rng):
    f = np.float32
    x = rng.standard_normal((8, 6, 5)).astype(f)
    yield Case("s_basic", [x], [], [x[0:4, :, 2]])
    y = rng.standard_normal((10, 7)).astype(f)
    yield Case("s_step", [y], [], [y[::2, 1:7:2]])
    z = rng.standard_normal(9).astype(f)
    yield Case("s_neg", [z], [], [z[-4:-1]])
    for n, m in ((1, 3), (2, 5), (9, 4)):
        w = rng.standard_normal((n, m)).astype(f)
        yield Case("s_sym", [w], [n, m], [w[1:] - w[:-1]])
        yield Case("s_index", [w], [n, m], [w[0] + w[-1]])
    for n, m in ((3, 3), (5, 8)):
        w = rng.standard_normal((n, m)).astype(f)
        yield Case("s_fused", [w], [n, m], [f(np.exp(w[1:3, 2:].astype(np.float64)).sum())], rtol=1e-5)
