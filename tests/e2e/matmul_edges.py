import numpy as np

# Every target's tiles: mr is 6 or 14 rows, nr 8 to 128 columns (i8 on AVX-512), kc 192 to
# 512. Case c has M = 1 + c % 29 and N = 1 + c (i8: 1 + 2c), so that the last row tile is
# every height h in 1..mr and the last column tile every width w in 1..nr; K is 3 (one
# depth block) or 600 (more than one on every target: the masked add to C).


def cases(rng):
    for c in range(65):
        m, n = 1 + c % 29, 1 + c
        for k in (3, 600):
            a = rng.standard_normal((m, k))
            b = rng.standard_normal((k, n))
            tol = dict(rtol=1e-4, atol=1e-4 * np.sqrt(k))
            yield Case("mm", [a.astype(np.float32), b.astype(np.float32)], [m, k, n],
                       [(a.astype(np.float32).astype(np.float64) @ b.astype(np.float32)).astype(np.float32)], **tol)
            yield Case("mm64", [a, b], [m, k, n], [a @ b], rtol=1e-12, atol=1e-12 * k)
            ai = rng.integers(-1000, 1000, (m, k)).astype(np.int32)
            bi = rng.integers(-1000, 1000, (k, n)).astype(np.int32)
            yield Case("mmi", [ai, bi], [m, k, n], [(ai.astype(np.int64) @ bi).astype(np.int32)])
            n8 = 1 + 2 * c
            a8 = rng.integers(-128, 128, (m, k)).astype(np.int8)
            b8 = rng.integers(-128, 128, (k, n8)).astype(np.int8)
            yield Case("mmi8", [a8, b8], [m, k, n8], [(a8.astype(np.int64) @ b8).astype(np.int8)])  # wraps
