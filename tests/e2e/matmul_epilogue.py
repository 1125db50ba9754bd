import numpy as np
from math import erf

SIZES = ((0, 3, 5), (4, 0, 6), (1, 1, 1), (7, 13, 5), (37, 389, 61), (3, 1031, 67))
verf = np.vectorize(erf)


def cases(rng):
    f = np.float32
    for m, k, n in SIZES:
        a = rng.standard_normal((m, k)).astype(f)
        w = (rng.standard_normal((k, n)) / np.sqrt(max(k, 1))).astype(f)
        b = rng.standard_normal(n).astype(f)
        y = a.astype(np.float64) @ w.astype(np.float64)
        tol = dict(rtol=1e-4, atol=1e-4)
        yb = y + b
        yield Case("bias", [a, w, b], [m, k, n], [yb.astype(f)], **tol)
        s, t = rng.standard_normal((m, 1)).astype(f), rng.standard_normal((m, 1)).astype(f)
        yield Case("row_affine", [a, w, s, t], [m, k, n], [(y * s + t).astype(f)], **tol)
        s2, t2 = rng.standard_normal(n).astype(f), rng.standard_normal(n).astype(f)
        yield Case("col_affine", [a, w, s2, t2], [m, k, n], [(y * s2 + t2).astype(f)], **tol)
        r = rng.standard_normal((m, n)).astype(f)
        yield Case("residual", [a, w, r], [m, k, n], [(r + y).astype(f)], **tol)
        yield Case("relu_bias", [a, w, b], [m, k, n], [np.maximum(yb, 0).astype(f)], **tol)
        ge = 0.5 * yb * (1 + verf(yb / np.sqrt(2))) if yb.size else yb
        yield Case("gelu_e", [a, w, b], [m, k, n], [ge.astype(f)], **tol)
        gt = 0.5 * yb * (1 + np.tanh(0.7978845608028654 * (yb + 0.044715 * yb ** 3)))
        yield Case("gelu_t", [a, w, b], [m, k, n], [gt.astype(f)], **tol)
        yield Case("tanh_e", [a, w], [m, k, n], [np.tanh(y).astype(f)], **tol)
        yield Case("sigmoid_e", [a, w], [m, k, n], [(1 / (1 + np.exp(-y))).astype(f)], **tol)
        yield Case("clamp_e", [a, w], [m, k, n], [np.clip(y, -1.0, 1.5).astype(f)], **tol)
        yh = (a @ w + b).astype(np.float16)  # f32 products, rounded once to f16
        yield Case("to_f16", [a, w, b], [m, k, n], [Tagged(yb.astype(np.float16).view(np.uint16), "f16")],
                   rtol=2e-3, atol=2e-3)
        # truncation toward zero of values away from integers (a tie could round either way)
        yi = (a @ w * np.float32(10)).astype(np.float64)
        if np.all(np.abs(yi - np.round(yi)) > 1e-3):
            yield Case("to_i32", [a, w], [m, k, n], [np.trunc(y * 10).astype(np.int32)])
        yield Case("to_f64", [a, w], [m, k, n], [(a @ w).astype(np.float64) * 3.0], rtol=1e-5, atol=1e-5)
        A = rng.standard_normal((2, m, k)).astype(f)
        yield Case("batched", [A, w, b], [2, m, k, n], [np.maximum(A.astype(np.float64) @ w + b, 0).astype(f)], **tol)
        ai = rng.integers(-100, 100, (m, k)).astype(np.int32)
        wi = rng.integers(-100, 100, (k, n)).astype(np.int32)
        bi = rng.integers(-100, 100, n).astype(np.int32)
        yield Case("int_bias", [ai, wi, bi], [m, k, n], [(ai.astype(np.int64) @ wi + bi).astype(np.int32)])
        yield Case("two_users", [a, w], [m, k, n], [(y * 2).astype(f), (y + 1).astype(f)], **tol)
        yield Case("also_raw", [a, w], [m, k, n], [y.astype(f), np.maximum(y, 0).astype(f)], **tol)
        if n:
            e = np.exp(ge - ge.max(axis=-1, keepdims=True)) if m else ge
            sm = e / e.sum(axis=-1, keepdims=True) if m else ge
            yield Case("into_softmax", [a, w, b], [m, k, n], [sm.astype(f)], **tol)
        if n:
            h = r + gt
            dd = h - h.mean(axis=-1, keepdims=True)
            ln = dd / np.sqrt((dd * dd).mean(axis=-1, keepdims=True) + 1e-5)
            yield Case("into_layernorm", [a, w, b, r], [m, k, n], [ln.astype(f)], **tol)
        v = (rng.standard_normal((k, n)) / np.sqrt(max(k, 1))).astype(f)
        yield Case("two_products", [a, w, v], [m, k, n], [np.maximum(y + a.astype(np.float64) @ v, 0).astype(f)], **tol)
