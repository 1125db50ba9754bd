import numpy as np


def cases(rng):
    for n in (1, 5, 257, 10007):
        a = (rng.standard_normal(n) * 3).astype(np.float32)
        b = (rng.standard_normal(n) * 3).astype(np.float32)
        b[: n // 4] = a[: n // 4]  # some equal pairs for the comparisons
        f = np.float32
        yield Case("t_arith", [a, b], [n], [(a + b) * f(2) - a / (np.abs(b) + f(1.5))], rtol=1e-6)
        m = np.abs(b) + f(0.5)
        yield Case("t_mod", [a, b], [n], [np.mod(a, m)], rtol=1e-5, atol=2e-6)
        yield Case("t_pow", [a, b], [n], [np.power((np.abs(a) + f(0.1)).astype(np.float64), b).astype(np.float32)],
                   rtol=2e-6)
        yield Case("t_powop", [a], [n], [(a.astype(np.float64) ** 2 + 2.0 ** a.astype(np.float64)).astype(np.float32)],
                   rtol=2e-6)
        yield Case("t_minmax", [a, b], [n], [np.minimum(a, b) * f(3) + np.maximum(a, b)])
        yield Case("t_cmp", [a, b], [n], [a < b, a <= b, a > b, a >= b, a == b, a != b])
