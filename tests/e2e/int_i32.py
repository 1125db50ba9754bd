import numpy as np


def floordiv0(a, b):
    with np.errstate(divide="ignore"):
        q = np.where(b == 0, 0, np.floor_divide(a, np.where(b == 0, 1, b)))
    return q.astype(a.dtype)


def mod0(a, b):
    return np.where(b == 0, 0, np.mod(a, np.where(b == 0, 1, b))).astype(a.dtype)


def cases(rng):
    for n in (1, 13, 1000):
        a = rng.integers(-1000, 1000, n).astype(np.int32)
        b = rng.integers(-20, 20, n).astype(np.int32)
        b[0] = 0
        big = np.array([2**31 - 1] * n, dtype=np.int32)
        with np.errstate(over="ignore"):
            yield Case("t_arith", [big, b], [n], [big * np.int32(3) + b - np.int32(7)], name="wrap")
            yield Case("t_arith", [a, b], [n], [a * np.int32(3) + b - np.int32(7)])
        yield Case("t_div", [a, b], [n], [floordiv0(a, b)])
        yield Case("t_mod", [a, b], [n], [mod0(a, b)])
        yield Case("t_minmax", [a, b], [n], [np.minimum(a, b), np.maximum(a, b), np.abs(a)])
        yield Case("t_pow", [a, b], [n], [np.power(a.astype(np.int64), np.abs(b) % 5).astype(np.int32)])
        yield Case("t_relu", [a], [n], [np.maximum(-a, 0)])
        yield Case("t_cmp", [a, b], [n], [(a < b) | (a == 0)])
