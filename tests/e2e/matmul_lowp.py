import numpy as np


def cases(rng):
    for m, k, n in ((1, 1, 1), (5, 17, 9), (16, 64, 33)):
        a = (rng.standard_normal((m, k)) / 4).astype(np.float16)
        b = (rng.standard_normal((k, n)) / 4).astype(np.float16)
        want = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float16)
        yield Case("mh", [Tagged(a.view(np.uint16), "f16"), Tagged(b.view(np.uint16), "f16")], [m, k, n],
                   [Tagged(want.view(np.uint16), "f16")], rtol=2e-3, atol=2e-3)
        ab = bf16_bits(rng.standard_normal((m, k)))
        bb = bf16_bits(rng.standard_normal((k, n)))
        prod = bf16_to_f32(ab).astype(np.float64) @ bf16_to_f32(bb)
        yield Case("mb", [Tagged(ab, "bf16"), Tagged(bb, "bf16")], [m, k, n], [bf16_to_f32(bf16_bits(prod))],
                   rtol=1e-2, atol=1e-2)
        ai = rng.integers(-128, 128, (m, k)).astype(np.int8)
        bi = rng.integers(-128, 128, (k, n)).astype(np.int8)
        yield Case("mi8", [ai, bi], [m, k, n], [ai.astype(np.int32) @ bi.astype(np.int32)])
