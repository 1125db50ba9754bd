import numpy as np


def cases(rng):
    for b, h, t, d in ((1, 1, 1, 1), (2, 3, 5, 8)):
        q, k, v = (rng.standard_normal((b, h, t, d)).astype(np.float32) for _ in range(3))
        mask = np.tril(np.ones((t, t), dtype=bool))
        s = q.astype(np.float64) @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
        s = np.where(mask, s, -1e9)
        e = np.exp(s - s.max(-1, keepdims=True))
        want = (e / e.sum(-1, keepdims=True)) @ v
        yield Case("mha", [q, k, v, mask], [b, h, t, d], [want.astype(np.float32)], rtol=1e-4, atol=1e-5)
