import numpy as np


def ipow(a, b):
    out = []
    for x, y in zip(a.tolist(), b.tolist()):
        if y < 0:
            out.append(1 if x == 1 else (-1 if y % 2 else 1) if x == -1 else 0)
        else:
            v = pow(x, y) & 0xFFFFFFFFFFFFFFFF
            out.append(v - (1 << 64) if v >= 1 << 63 else v)
    return np.array(out, dtype=np.int64)


def cases(rng):
    a = rng.integers(-6, 7, 64).astype(np.int64)
    b = rng.integers(-3, 30, 64).astype(np.int64)
    a[:4] = [1, -1, -1, 2]
    b[:4] = [-5, -3, -4, 70]
    yield Case("ip", [a, b], [64], [ipow(a, b)])
    x = (rng.standard_normal(100) * 3).astype(np.float32)
    s = np.float32(0.05)
    q = np.clip(np.floor(x / s + np.float32(0.5)), -128, 127).astype(np.int8)
    yield Case("quant", [x, s], [100], [q])
    yield Case("dequant", [q, s], [100], [q.astype(np.float32) * s])
