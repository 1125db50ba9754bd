import numpy as np


def cases(rng):
    f = np.float32
    for b in (1, 3):
        x = rng.standard_normal((b, 784)).astype(f)
        yield Case("r1", [x], [b], [x.reshape(b, 28, 28)])
        y = rng.standard_normal((b, 6)).astype(f)
        yield Case("r3", [y], [b], [np.exp(y.astype(np.float64)).reshape(-1, 2, 3).astype(f) + f(1)], rtol=1e-6)
    for n, m in ((1, 1), (4, 7)):
        x = rng.standard_normal((n, m)).astype(f)
        yield Case("r2", [x], [n, m], [(x * 2).reshape(-1)])
        yield Case("bt", [x[0], x[:, :1].copy()], [m, n], [np.broadcast_to(x[0], (n, m)) + np.broadcast_to(x[:, :1], (n, m))])
        a = rng.standard_normal((n, 3)).astype(f)
        bb = rng.standard_normal((m, 3)).astype(f)
        yield Case("cc", [a, bb], [n, m], [np.concatenate([a, bb * 2], axis=0)])
        c2 = rng.standard_normal((n, 2)).astype(f)
        yield Case("cc1", [a, c2], [n], [np.concatenate([a, c2, a], axis=-1)])
        v = rng.standard_normal(n).astype(f)
        yield Case("zf", [v], [n], [np.zeros((n, 2), f), np.full(3, 7, np.int32), v + f(0.5)])
    z = rng.standard_normal((2, 3, 4)).astype(f)
    yield Case("t1", [z], [2, 3, 4], [z.transpose()])
    yield Case("t2", [z], [2, 3, 4], [z.transpose(1, 2, 0) * 3])
