import numpy as np


def cases(rng):
    f = np.float32
    for m, k, n in ((1, 1, 1), (7, 3, 5), (13, 64, 17), (100, 37, 129)):
        a = rng.standard_normal((m, k)).astype(f)
        b = rng.standard_normal((k, n)).astype(f)
        c = rng.standard_normal(n).astype(f)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        tol = dict(rtol=1e-4, atol=1e-4)
        yield Case("mm", [a, b], [m, k, n], [(a64 @ b64).astype(f)], **tol)
        yield Case("mm_fused", [a, b, c], [m, k, n], [np.maximum(np.tanh(a64) @ (b64 * 2) + c, 0).astype(f)], **tol)
        v = rng.standard_normal(k).astype(f)
        yield Case("vm", [v, b], [k, n], [(v.astype(np.float64) @ b64).astype(f)], **tol)
        yield Case("mv", [a, v], [m, k], [(a64 @ v.astype(np.float64)).astype(f)], **tol)
        yield Case("vv", [v, v], [k], [f(v.astype(np.float64) @ v)], **tol)
        A = rng.standard_normal((3, m, k)).astype(f)
        B = rng.standard_normal((3, k, n)).astype(f)
        yield Case("bmm", [A, B], [3, m, k, n], [(A.astype(np.float64) @ B).astype(f)], **tol)
        yield Case("bmm_bcast", [A[:1], B], [m, k, 3, n], [(A[:1].astype(np.float64) @ B).astype(f)], **tol)
        yield Case("bmm_shared", [A, b], [3, m, k, n], [(A.astype(np.float64) @ b64).astype(f)], **tol)
        yield Case("mm_t", [np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)], [k, m, n], [(a64 @ b64).astype(f)], **tol)
        yield Case("mm64", [a64, b64], [m, k, n], [a64 @ b64], rtol=1e-12, atol=1e-12)
        ai = rng.integers(-50, 50, (m, k)).astype(np.int32)
        bi = rng.integers(-50, 50, (k, n)).astype(np.int32)
        yield Case("mmi", [ai, bi], [m, k, n], [ai @ bi])
