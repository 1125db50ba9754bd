import numpy as np

# (M, K, N): empty operands, a single element, sizes below and above every target's tile
# and block sizes (mr 6 or 14, nr 8 to 64, kc 192 to 512, mc 60 to 672, nc 256 to 1344),
# primes so that every block ends in an edge
SIZES = ((0, 5, 3), (4, 0, 6), (3, 5, 0), (1, 1, 1), (7, 13, 1), (1, 389, 1367), (701, 389, 37),
         (13, 1031, 31), (29, 197, 1361), (67, 61, 257))


def cases(rng):
    f = np.float32
    for m, k, n in SIZES:
        a = rng.standard_normal((m, k)).astype(f)
        b = rng.standard_normal((k, n)).astype(f)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        tol = dict(rtol=1e-4, atol=1e-4 * max(1.0, np.sqrt(k)))
        yield Case("mm", [a, b], [m, k, n], [(a64 @ b64).astype(f)], **tol)
        yield Case("mm64", [a64, b64], [m, k, n], [a64 @ b64], rtol=1e-12, atol=1e-12 * max(1.0, k))
        ai = rng.integers(-1000, 1000, (m, k)).astype(np.int32)
        bi = rng.integers(-1000, 1000, (k, n)).astype(np.int32)
        yield Case("mmi", [ai, bi], [m, k, n], [(ai.astype(np.int64) @ bi).astype(np.int32)])
        a8 = rng.integers(-128, 128, (m, k)).astype(np.int8)
        b8 = rng.integers(-128, 128, (k, n)).astype(np.int8)
        yield Case("mmi8", [a8, b8], [m, k, n], [(a8.astype(np.int64) @ b8).astype(np.int8)])  # wraps
        ah = (rng.standard_normal((m, k)) / 4).astype(np.float16)
        bh = (rng.standard_normal((k, n)) / 4).astype(np.float16)
        want = (ah.astype(np.float64) @ bh.astype(np.float64)).astype(np.float16)
        yield Case("mh", [Tagged(ah.view(np.uint16), "f16"), Tagged(bh.view(np.uint16), "f16")], [m, k, n],
                   [Tagged(want.view(np.uint16), "f16")], rtol=2e-3, atol=2e-3 * max(1.0, np.sqrt(k) / 4))
        bt = np.ascontiguousarray(b.T)
        yield Case("mt", [a, bt], [m, k, n], [((a64 * 2 + 1) @ b64).astype(f)], rtol=1e-4,
                   atol=1e-4 * max(1.0, 3 * np.sqrt(k)))
        if m * k * n <= 2_000_000:
            A = a[None]
            B3 = rng.standard_normal((3, k, n)).astype(f)
            yield Case("bmm", [A, B3], [m, k, 3, n], [(A.astype(np.float64) @ B3).astype(f)], **tol)
