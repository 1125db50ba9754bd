import numpy as np


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=-1, keepdims=True)


def logsoftmax(x):
    s = x - x.max(axis=-1, keepdims=True, initial=-np.inf)
    with np.errstate(divide="ignore"):  # rows of length 0
        return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def ln(x):
    d = x - x.mean(axis=-1, keepdims=True)
    return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5)


F32 = dict(rtol=2e-5, atol=1e-6)


def cases(rng):
    yield from special_cases(rng)
    # rows x cols: empty, single, small primes, a few thousand, rows past the cache bound
    for b, n in ((0, 5), (3, 0), (1, 1), (7, 13), (13, 7), (5, 1000), (2, 4099), (3, 100003), (4, 4097), (3, 8192),
                 (3, 8193), (2, 127)):
        x = (rng.standard_normal((b, n)) * 5).astype(np.float32)
        x64 = x.astype(np.float64)
        shape = "%dx%d" % (b, n)
        yield Case("sm", [x], [b, n], [softmax(x64).astype(np.float32)], name=shape, **F32)
        yield Case("lsm", [x], [b, n], [logsoftmax(x64).astype(np.float32)], name=shape, rtol=2e-5, atol=2e-5)
        if n > 1:
            yield Case("norm", [x], [b, n], [ln(x64).astype(np.float32)], name=shape, rtol=1e-4, atol=1e-4)
            g = rng.standard_normal(n).astype(np.float32)
            bb = rng.standard_normal(n).astype(np.float32)
            yield Case("norm_affine", [x, g, bb], [b, n], [(ln(x64) * g + bb).astype(np.float32)], name=shape,
                       rtol=1e-4, atol=1e-4)
            yield Case("chain2", [x, g], [b, n], [softmax(ln(x64) * g).astype(np.float32)], name=shape, **F32)
        yield Case("sm1", [x.reshape(-1)], [b * n], [softmax(x64.reshape(-1)).astype(np.float32)], name=shape, **F32)
        if n > 0:
            i = rng.integers(-1000, 1000, (b, n), dtype=np.int32)
            yield Case("imax", [i], [b, n], [(i * 2 - i.max(axis=-1, keepdims=True) + i.sum(axis=-1, keepdims=True)).astype(np.int32)],
                       name=shape, rtol=0, atol=0)
        d = rng.standard_normal((2, b, n)) * 5
        yield Case("sm3", [d], [2, b, n], [softmax(d)], name=shape, rtol=1e-12, atol=1e-14)
        if n > 1:
            yield Case("norm64", [d[0]], [b, n], [ln(d[0])], name=shape, rtol=1e-10, atol=1e-10)
        h = x.astype(np.float16)
        want = softmax(h.astype(np.float64)).astype(np.float16)
        yield Case("sm_h", [Tagged(h.view(np.uint16), "f16")], [b, n], [Tagged(want.view(np.uint16), "f16")],
                   name=shape, rtol=1e-2, atol=1e-4)
        if n > 1:
            xb = bf16_bits(x64)
            want = bf16_bits(ln(bf16_to_f32(xb).astype(np.float64)).astype(np.float32))
            yield Case("norm_bf", [Tagged(xb, "bf16")], [b, n], [Tagged(want, "bf16")], name=shape, rtol=3e-2,
                       atol=3e-2)
        yield Case("chain", [x], [b, n], [logsoftmax(softmax(x64) * 3).astype(np.float32)], name=shape, **F32)
        y = softmax(x64)
        yield Case("chain_shared", [x], [b, n], [y.astype(np.float32), logsoftmax(y * 3).astype(np.float32)],
                   name=shape, **F32)
        yield Case("sm_flat", [x], [b, n], [softmax(x64).astype(np.float32)], name=shape, **F32)
        yield Case("sm_axis0", [x], [b, n], [(softmax(x64.T).T).astype(np.float32)], name=shape, **F32)
        m = x.max(axis=-1, keepdims=True) if n else np.full((b, 1), -np.inf, np.float32)
        yield Case("with_max", [x], [b, n], [np.exp(x64 - m).astype(np.float32), m], name=shape, **F32)
        if b > 0:
            yield Case("shifted", [x], [b, n], [(x64 - np.roll(m, -1, axis=0)).astype(np.float32)], name=shape, **F32)
    for fn, n in (("sm_fit", 30011), ("sm_big", 40009)):
        x = (rng.standard_normal((3, n)) * 5).astype(np.float32)
        yield Case(fn, [x], [], [softmax(x.astype(np.float64)).astype(np.float32)], **F32)


def row_extreme(x, mx):
    """max (mx) or min of each row as llvm.maximum/minimum fold it: NaN when the row holds
    one, +0 above -0; the identity for an empty row."""
    out = np.empty((x.shape[0], 1), np.float32)
    for i, row in enumerate(x):
        if len(row) == 0:
            out[i] = -np.inf if mx else np.inf
        elif np.isnan(row).any():
            out[i] = np.nan
        else:
            m = row.max() if mx else row.min()
            if m == 0:  # the sign: +0 when any +0 (max), -0 when any -0 (min)
                pos = (row == 0) & ~np.signbit(row)
                m = np.float32(0.0) if (pos.any() if mx else (~pos & (row == 0)).sum() == 0) else np.float32(-0.0)
            out[i] = m
    return out


def special_cases(rng):
    """Rows with NaN, infinities, signed zeros, sums that overflow or are subnormal."""
    f, inf, nan = np.float32, np.inf, np.nan
    rows = [[1, 2, 3, nan, 5, 6, 7], [nan] * 7, [inf, 1, 2, 3, 4, 5, 6], [-inf] * 7, [-inf, 0, 1, 2, -inf, 3, 4],
            [-0.0, -0.0, 0.0, -0.0, -1, -2, -3], [-0.0] * 7, [0.0, 0.0, -0.0, 1e-45, 1, 2, 3], [3e38, 3e38, 3e38, -1, 0, 1, 2],
            [-3e38, -3e38, -3e38, 1, 0, -1, -2], [1, 2, 3, 4, 5, 6, -inf], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0]]
    x = np.array(rows, f)
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        sm = softmax(x64).astype(f)
        lsm = logsoftmax(x64).astype(f)
        mx = (x - row_extreme(x, True)).astype(f)
        mn = (x - row_extreme(x, False)).astype(f)
    yield Case("sm", [x], list(x.shape), [sm], name="special rows", **F32)
    yield Case("lsm", [x], list(x.shape), [lsm], name="special rows", rtol=2e-5, atol=2e-5)
    yield Case("mx", [x], list(x.shape), [mx], name="special rows", rtol=0, atol=0, signed_zeros=True)
    yield Case("mn", [x], list(x.shape), [mn], name="special rows", rtol=0, atol=0, signed_zeros=True)
    # the same rows, longer (the vector loop and its remainder both see the special value)
    for n in (13, 100):
        xl = np.tile(x, (1, (n + 6) // 7))[:, :n].copy()
        rng.shuffle(xl.T)
        with np.errstate(invalid="ignore", over="ignore"):
            yield Case("mx", [xl], list(xl.shape), [(xl - row_extreme(xl, True)).astype(f)], name="special rows %d" % n,
                       rtol=0, atol=0, signed_zeros=True)
            yield Case("mn", [xl], list(xl.shape), [(xl - row_extreme(xl, False)).astype(f)], name="special rows %d" % n,
                       rtol=0, atol=0, signed_zeros=True)
            yield Case("sm", [xl], list(xl.shape), [softmax(xl.astype(np.float64)).astype(f)], name="special rows %d" % n,
                       **F32)
    # divisions by a per-row sum: normal, subnormal (1/s overflows), huge (1/s subnormal), 0, inf, NaN
    d = np.array([[1, 2, 3, 4], [1e-40, 2e-40, 3e-40, 1e-40], [1e38, 5e37, 2e37, 1e37], [1, -1, 2, -2],
                  [1, inf, 2, 3], [1, nan, 2, 3], [-1e-39, 1e-45, 0, 0], [2e-38, 3e-38, 1e-38, 1e-38]], f)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        want = (d / d.sum(axis=-1, keepdims=True, dtype=f)).astype(f)
    yield Case("dv", [d], list(d.shape), [want], name="per-row sums", rtol=2e-7, atol=0)
    dd = np.array([[1, 2, 3, 4], [1e-310, 2e-310, 3e-310, 1e-310], [1e308, 5e307, 2e307, 1e307], [1, -1, 2, -2]])
    with np.errstate(invalid="ignore", divide="ignore"):
        yield Case("dv64", [dd], list(dd.shape), [dd / dd.sum(axis=-1, keepdims=True)], name="per-row sums",
                   rtol=1e-15, atol=0)
    g = (rng.standard_normal((9, 31)) * 3).astype(f)
    yield Case("dv", [g], list(g.shape), [(g / g.sum(axis=-1, keepdims=True, dtype=f)).astype(f)], name="9x31",
               rtol=2e-6, atol=1e-7)
