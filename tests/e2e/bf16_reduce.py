import numpy as np


def cases(rng):
    for b, n in ((1, 1), (4, 100)):
        xb = bf16_bits(rng.standard_normal((b, n)) * 3)
        x = bf16_to_f32(xb).astype(np.float64)
        e = np.exp(x - x.max(-1, keepdims=True))
        want = bf16_bits((e / e.sum(-1, keepdims=True)).astype(np.float32))
        yield Case("sm", [Tagged(xb, "bf16")], [b, n], [Tagged(want, "bf16")], rtol=1e-2, atol=1e-3)
