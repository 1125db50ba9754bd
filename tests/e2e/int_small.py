import numpy as np


def fdiv(a, b):
    out = np.zeros_like(a)
    nz = b != 0
    with np.errstate(over="ignore"):
        out[nz] = np.floor_divide(a[nz], b[nz])
    return out


def cases(rng):
    n = 300
    a = rng.integers(-128, 128, n).astype(np.int8)
    b = rng.integers(-128, 128, n).astype(np.int8)
    a[:3] = -128
    b[:3] = [-1, 0, 1]
    with np.errstate(over="ignore"):
        yield Case("t_i8", [a, b], [n], [a + b, a * b, fdiv(a, b)])
    ua = rng.integers(0, 256, n).astype(np.uint8)
    ub = rng.integers(0, 256, n).astype(np.uint8)
    ub[0] = 0
    with np.errstate(over="ignore", divide="ignore"):
        yield Case("t_u8", [ua, ub], [n], [ua + ub, ua - ub, np.where(ub == 0, 0, ua // np.where(ub == 0, 1, ub)).astype(np.uint8), ua > ub])
    la = rng.integers(-2**40, 2**40, n).astype(np.int64)
    lb = rng.integers(-2**20, 2**20, n).astype(np.int64)
    lb[0] = 0
    with np.errstate(over="ignore"):
        m = np.where(lb == 0, 0, np.mod(la, np.where(lb == 0, 1, lb)))
        yield Case("t_i64", [la, lb], [n], [la * lb + 1, m])
