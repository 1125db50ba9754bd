import math
import numpy as np

erf = np.vectorize(math.erf)
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 88.7, 89.0, -103.0, -104.0, 709.0, 710.0,
           -745.0, 1e30, -1e30, 0.5, 3.0, 5.9, 6.1, 20.0, -20.0]


def ref(fn, x):
    with np.errstate(all="ignore"):
        if fn == "sigmoid":
            return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
        if fn == "erf":
            return erf(x)
        return getattr(np, fn)(x)


def cases(rng):
    x64 = np.array(SPECIAL, dtype=np.float64)
    x32 = x64.astype(np.float32)
    xs = x32.astype(np.float64)
    with np.errstate(all="ignore"):
        outs = [ref(fn, xs).astype(np.float32) for fn in ("exp", "log", "tanh", "sigmoid", "erf")]
    # sin and cos are NaN past |x| = 1e16, where tric's argument reduction stops (documented)
    with np.errstate(all="ignore"):
        trig = [np.where(np.abs(xs) > 1e16, np.nan, ref(fn, xs)).astype(np.float32) for fn in ("sin", "cos")]
    yield Case("m32", [x32], [len(x32)], outs + trig, rtol=1e-5, atol=1e-37, signed_zeros=True)
    yield Case("m64", [x64], [len(x64)], [ref(fn, x64) for fn in ("exp", "log", "tanh", "sigmoid", "erf")],
               rtol=1e-13, atol=1e-300, signed_zeros=True)
    bases = np.array([2.0, -2.0, -2.0, 0.0, 0.0, -0.0, 1.0, -1.0, np.nan, 4.0, 0.5, np.inf, -np.inf, -8.0], dtype=np.float64)
    exps = np.array([10.0, 3.0, 0.5, -1.0, 2.0, 3.0, np.nan, np.inf, 0.0, -0.5, 100.0, -1.0, 3.0, 1.0 / 3], dtype=np.float64)
    with np.errstate(all="ignore"):
        want = np.power(bases, exps)
    yield Case("p64", [bases, exps], [len(bases)], [want], rtol=1e-13, atol=0, signed_zeros=True)
    with np.errstate(all="ignore"):
        want32 = np.power(bases.astype(np.float32).astype(np.float64), exps.astype(np.float32)).astype(np.float32)
    yield Case("p32", [bases.astype(np.float32), exps.astype(np.float32)], [len(bases)], [want32], rtol=1e-6, atol=0, signed_zeros=True)
