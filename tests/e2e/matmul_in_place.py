import numpy as np

# A is read in place when M * K <= L2 / 2 / element size: for f32 131072 (AVX-512),
# 65536 (AVX2), 32768 (SSE) elements; f64 half of those, i8 four times. With K = 1024
# (more than one depth block on every target), M = bound / 1024 is the last M read in
# place and M + 1 the first packed; N = 40 leaves an edge column panel.


def cases(rng):
    k, n = 1024, 40
    for dt, bounds, tol in ((np.float32, (32768, 65536, 131072), 1e-4), (np.float64, (16384, 32768, 65536), 1e-12),
                            (np.int8, (131072, 262144, 524288), None)):
        fn = {np.float32: "mm", np.float64: "mm64", np.int8: "mmi8"}[dt]
        for bound in bounds:
            for m in (bound // k, bound // k + 1):
                if dt == np.int8:
                    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
                    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
                    yield Case(fn, [a, b], [m, k, n], [(a.astype(np.int64) @ b).astype(np.int8)])  # wraps
                else:
                    a = rng.standard_normal((m, k)).astype(dt)
                    b = rng.standard_normal((k, n)).astype(dt)
                    want = (a.astype(np.float64) @ b.astype(np.float64)).astype(dt)
                    yield Case(fn, [a, b], [m, k, n], [want], rtol=tol, atol=tol * np.sqrt(k))
    for m, k, n in ((1, 1, 1), (14, 200, 33), (29, 517, 17), (64, 64, 64)):
        a = rng.standard_normal((3, m, k)).astype(np.float32)
        b = rng.standard_normal((3, k, n)).astype(np.float32)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        tol = dict(rtol=1e-4, atol=1e-4 * np.sqrt(k))
        yield Case("bmm", [a, b], [3, m, k, n], [(a64 @ b64).astype(np.float32)], **tol)
        yield Case("bmm_bcast", [a[:1], b], [m, k, 3, n], [(a64[:1] @ b64).astype(np.float32)], **tol)
        c = rng.standard_normal(n).astype(np.float32)
        yield Case("mm_relu", [a[0], b[0], c], [m, k, n], [np.maximum(a64[0] @ b64[0] + c, 0).astype(np.float32)], **tol)
