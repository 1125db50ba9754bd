import numpy as np


def cases(rng):
    import torch
    F = torch.nn.functional
    f32 = np.float32

    def t(x):
        return torch.from_numpy(np.ascontiguousarray(x))

    def mp(x, k, s=None, p=0):
        return F.max_pool2d(t(x), k, s if s is not None else k, p).numpy()

    def ap(x, k, s=None, p=0):
        return F.avg_pool2d(t(x), k, s if s is not None else k, p).numpy()

    mx = dict(rtol=1e-6, atol=0)      # a max is one of the inputs: exact
    av = dict(rtol=1e-5, atol=1e-6)
    for n, c in ((1, 1), (2, 3), (3, 5)):
        x = rng.standard_normal((n, c, 13, 7)).astype(f32)
        yield Case("mp3s2p1", [x], [n, c], [mp(x, 3, 2, 1)], **mx)
        yield Case("ap3s2p1", [x], [n, c], [ap(x, 3, 2, 1)], **av)
        y = rng.standard_normal((n, c, 7, 13)).astype(f32)
        yield Case("mp2", [y], [n, c], [mp(y, 2)], **mx)
        yield Case("ap2", [y], [n, c], [ap(y, 2)], **av)
        yield Case("mp7", [y], [n, c], [mp(y, 7, 3, 3)], **mx)
        yield Case("ap7", [y], [n, c], [ap(y, 7, 3, 3)], **av)
        yield Case("mp_pairs", [y], [n, c], [mp(y, (2, 3), (1, 2), (1, 1))], **mx)
        yield Case("ap_pairs", [y], [n, c], [ap(y, (2, 3), (1, 2), (1, 1))], **av)
        yield Case("mp1s2", [y], [n, c], [mp(y, 1, 2)], **mx)
    for n, c, h, w in ((1, 1, 1, 1), (2, 3, 7, 13), (1, 2, 13, 7), (3, 1, 1, 13), (2, 2, 5, 1), (1, 4, 16, 17)):
        x = rng.standard_normal((n, c, h, w)).astype(f32)
        sz = [n, c, h, w]
        yield Case("mp_same", [x], sz, [mp(x, 3, 1, 1)], **mx)
        yield Case("ap_same", [x], sz, [ap(x, 3, 1, 1)], **av)
        yield Case("ap_k1", [x], sz, [ap(x, 1)], **av)
        yield Case("mp_k2p1", [x], sz, [mp(x, 2, 1, 1)], **mx)
        yield Case("ap_k2p1", [x], sz, [ap(x, 2, 1, 1)], **av)
        yield Case("mp9", [x], sz, [mp(x, 9, 1, 4)], **mx)
        yield Case("ap9", [x], sz, [ap(x, 9, 1, 4)], **av)
        if h >= 3 and w >= 2:
            yield Case("mp_valid", [x], sz, [mp(x, (3, 2), 1)], **mx)
        p = mp(x, 3, 2, 1)
        yield Case("mp_sym_s2", [x], sz, [(p * 2).sum((2, 3)), p.max((2, 3))], rtol=1e-5, atol=1e-5)
        if h >= 2 and w >= 3:
            yield Case("ap_sym_s2", [x], sz, [ap(x, (2, 3)).sum((2, 3))], rtol=1e-5, atol=1e-5)
        b = rng.standard_normal((c, 1, 1)).astype(f32)
        yield Case("mp_relu", [x, b], sz, [mp(np.maximum(x * f32(0.5) + b, 0), 3, 1, 1)], **mx)
        yield Case("gap", [x], sz, [F.adaptive_avg_pool2d(t(x), 1).numpy()], **av)
        xh = x.astype(np.float16)
        x32 = xh.astype(f32)  # f16 storage computes in f32, rounded once at the store
        tag = lambda a: Tagged(np.asarray(a, dtype=np.float16).view(np.uint16), "f16")
        yield Case("h_mp", [tag(xh)], sz, [tag(mp(x32, 3, 1, 1))], rtol=0, atol=0)
        yield Case("h_ap", [tag(xh)], sz, [tag(ap(x32, 3, 1, 1))], rtol=1e-3, atol=1e-3)
        yield Case("h_gap", [tag(xh)], sz, [tag(F.adaptive_avg_pool2d(t(x32), 1).numpy())], rtol=1e-3, atol=1e-3)
        xb = bf16_bits(x)
        xb32 = bf16_to_f32(xb)
        if h >= 2 and w >= 2:
            yield Case("b_mp", [Tagged(xb, "bf16")], sz, [Tagged(bf16_bits(mp(xb32, 2, 1)), "bf16")], rtol=0, atol=0)
        yield Case("b_ap", [Tagged(xb, "bf16")], sz, [Tagged(bf16_bits(ap(xb32, 3, 1, 1)), "bf16")], rtol=1e-2, atol=1e-2)
        xd = x.astype(np.float64)
        yield Case("d_ap", [xd], sz, [ap(xd, 3, 1, 1)], rtol=1e-12, atol=1e-12)
    yh = rng.standard_normal((2, 3, 7, 13)).astype(np.float16)
    yield Case("h_ap2", [Tagged(yh.view(np.uint16), "f16")], [2, 3],
               [Tagged(ap(yh.astype(f32), 2).astype(np.float16).view(np.uint16), "f16")], rtol=1e-3, atol=1e-3)
    # an empty plane: each window of mp_k2p1 is padding only (PyTorch refuses such input)
    e = np.zeros((2, 3, 0, 4), f32)
    yield Case("mp_k2p1", [e], [2, 3, 0, 4], [np.full((2, 3, 1, 5), -np.inf, f32)], name="empty H")
    yield Case("ap_k2p1", [e], [2, 3, 0, 4], [np.zeros((2, 3, 1, 5), f32)], name="empty H")
    # the window must fit: a runtime size error, outputs untouched
    z = rng.standard_normal((1, 2, 2, 5)).astype(f32)
    yield Case("mp_valid", [z], [1, 2, 2, 5], [np.zeros((1, 2, 0, 4), f32)], rc=-1, name="H below the kernel")
    z = rng.standard_normal((1, 2, 1, 5)).astype(f32)
    yield Case("ap_sym_s2", [z], [1, 2, 1, 5], [np.zeros((1, 2), f32)], rc=-1, name="H below the kernel")
    for n, c, h, w in ((1, 1, 1, 1), (2, 3, 7, 13), (1, 2, 19, 23)):
        x = rng.standard_normal((n, c, h, w)).astype(f32)
        flat = x.reshape(-1)
        k = max(1, flat.size // 10)
        flat[rng.choice(flat.size, k, replace=False)] = np.nan
        flat[rng.choice(flat.size, k, replace=False)] = -np.inf
        flat[rng.choice(flat.size, max(1, k // 2), replace=False)] = np.inf
        yield Case("mp_nan", [x], [n, c, h, w], [mp(x, 3, 1, 1)], **mx)
