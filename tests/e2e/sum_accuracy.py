import numpy as np

# Relative error bounds (1e-6) against the float64 sum of the same values. The previous
# single vectorised fold was off by 5e-5 on 16M uniform f32 values at x86-64's vector width
# (1.5e-6 with AVX-512's), by 3e-6 on a 4096x4096 full sum; pairwise summation stays
# within a few 1e-7 plus the final rounding to f32 (6e-8).
BIG = 1 << 24


def cases(rng):
    for n in (0, 1, 7, 13, 1000, 65537, 1000003, BIG):
        x = rng.random(n, dtype=np.float32)
        x64 = x.astype(np.float64)
        s = x64.sum()
        yield Case("s32", [x], [n], [np.float32(s)], rtol=1e-6, atol=1e-6, name="n=%d" % n)
        yield Case("m32", [x], [n], [np.float32(s / n) if n else np.float32(np.nan)], rtol=1e-6, atol=1e-7,
                   name="n=%d" % n)
        if n < BIG:  # (the matrix runs every case 24 times: 128 MB inputs cost more than they add)
            d = rng.random(n) + 1e-3 * rng.standard_normal(n)
            yield Case("s64", [d], [n], [np.float64(np.sum(d.astype(np.longdouble)))], rtol=1e-14, atol=1e-14,
                       name="n=%d" % n)
    # (rows, cols): the flat reduced suffix (s2d) and rows (srow); long runs either way
    small = ((0, 5), (3, 0), (1, 1), (7, 13), (13, 7))
    for fn, shapes in (("s2d", small + ((4096, 4096), (3355447, 5))), ("srow", small + ((5, 3355447),)),
                       ("sexp", small + ((1031, 1031),))):
        for a, b in shapes:
            x = rng.random((a, b), dtype=np.float32)
            x64 = x.astype(np.float64)
            if fn == "s2d":
                want = np.float32(x64.sum())
            elif fn == "srow":
                want = x64.sum(axis=1).astype(np.float32)
            else:
                x = (x - 0.5) * 4
                want = np.float32((np.exp(x.astype(np.float64)) * 0.5).sum())
            yield Case(fn, [x], [a, b], [want], rtol=1e-6, atol=1e-6, name="%dx%d" % (a, b))
    for a, b, c in ((1, 1, 1), (3, 5, 7), (1031, 2, 4099), (2, 3, 0)):
        x = rng.random((a, b, c), dtype=np.float32)
        yield Case("smid", [x], [a, b, c], [x.astype(np.float64).sum(axis=(0, 2)).astype(np.float32)], rtol=1e-6,
                   atol=1e-6, name="%dx%dx%d" % (a, b, c))
    for n in (0, 1, 13, 1000003):
        h = (rng.random(n) * 0.1).astype(np.float16)  # the sum stays below f16's 65504
        want = np.float32(np.float16(h.astype(np.float64).sum()))
        yield Case("sh", [Tagged(h.view(np.uint16), "f16")], [n], [want], rtol=1e-3, atol=1e-3, name="n=%d" % n)
    for a, b in ((1, 1), (3, 1000003), (7, 13)):
        bits = bf16_bits(rng.random((a, b)))
        want = bf16_to_f32(bf16_bits(bf16_to_f32(bits).astype(np.float64).mean(axis=1)))
        yield Case("sb", [Tagged(bits, "bf16")], [a, b], [want], rtol=8e-3, atol=1e-6, name="%dx%d" % (a, b))
