import numpy as np


def cases(rng):
    for n, m in ((1, 1), (10, 3), (1000, 31)):
        x = rng.standard_normal((n, m))
        mu = x.mean(0)
        var = ((x - mu) ** 2).mean(0)
        yield Case("stats", [x], [n, m], [mu, var, np.sqrt(var), np.abs(x - mu).max(0)], rtol=1e-12, atol=1e-12)
