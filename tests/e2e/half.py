import numpy as np


def cases(rng):
    for n in (1, 8, 333):
        a = rng.standard_normal(n).astype(np.float16)
        b = rng.standard_normal(n).astype(np.float16)
        af, bf = a.astype(np.float32), b.astype(np.float32)
        want = (af * bf + np.exp(af) - 1).astype(np.float16)
        yield Case("h_ops", [Tagged(a.view(np.uint16), "f16"), Tagged(b.view(np.uint16), "f16")], [n],
                   [Tagged(want.view(np.uint16), "f16")], rtol=1e-3, atol=1e-3)
        x = (rng.standard_normal(n) * 100).astype(np.float32)
        h = x.astype(np.float16)
        yield Case("h_cast", [x], [n], [Tagged(h.view(np.uint16), "f16"), h.astype(np.float32)], rtol=0, atol=0)
        ab, bb = bf16_bits(rng.standard_normal(n)), bf16_bits(rng.standard_normal(n))
        want = bf16_bits(np.tanh(bf16_to_f32(ab)) + bf16_to_f32(bb) * 2)
        yield Case("bf_ops", [Tagged(ab, "bf16"), Tagged(bb, "bf16")], [n], [Tagged(want, "bf16")], rtol=1e-2, atol=1e-2)
        yield Case("bf_cast", [x], [n], [Tagged(bf16_bits(x), "bf16"), bf16_to_f32(bf16_bits(x))], rtol=0, atol=0)
        m = rng.standard_normal((3, n)).astype(np.float16)
        yield Case("h_sum", [Tagged(m.view(np.uint16), "f16")], [3, n],
                   [Tagged(m.astype(np.float32).sum(axis=1).astype(np.float16).view(np.uint16), "f16")], rtol=2e-3, atol=2e-3)
        s = np.float16(1.5)
        yield Case("h_scalar", [Tagged(a.view(np.uint16), "f16"), Tagged(np.array(s).view(np.uint16), "f16")], [n],
                   [Tagged((af * np.float32(1.5)).astype(np.float16).view(np.uint16), "f16")], rtol=1e-3, atol=1e-3)
    for r, c in ((1, 1), (3, 7), (300, 301)):  # 90300 elements: past f16's largest finite value
        m = (rng.standard_normal((r, c)) + 2).astype(np.float16)
        m64 = m.astype(np.float64)
        yield Case("h_mean", [Tagged(m.view(np.uint16), "f16")], [r, c],
                   [Tagged(m64.mean(axis=1).astype(np.float16).view(np.uint16), "f16"),
                    Tagged(np.array(m64.mean()).astype(np.float16).view(np.uint16), "f16")], rtol=1e-3, atol=1e-3)
        bb = bf16_bits(rng.standard_normal((r, c)) + 2)
        yield Case("bf_mean", [Tagged(bb, "bf16")], [r, c],
                   [Tagged(bf16_bits(bf16_to_f32(bb).astype(np.float64).mean(axis=0, keepdims=True)), "bf16")],
                   rtol=1e-2, atol=1e-2)
