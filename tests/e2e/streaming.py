import numpy as np

MIB16 = 16 << 20


def gelu(x):
    x = x.astype(np.float64)
    return (0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))).astype(np.float32)


def cases(rng):
    f32 = np.float32
    # just above the threshold (a prime count of elements), and just below it
    for n, offset in ((MIB16 // 4 + 13, 0), (MIB16 // 4 + 13, 1), (MIB16 // 4 + 13, 12), (MIB16 // 4 - 1, 3)):
        x = (rng.standard_normal(n) * 3).astype(f32)
        yield Case("gelu", [x], [n], [gelu(x)], rtol=1e-5, atol=1e-6, name="n=%d offset=%d" % (n, offset),
                   out_offset=offset)
    n = MIB16 // 4 + 7
    x = rng.standard_normal(n).astype(f32)
    yield Case("pass", [x], [n], [x], rtol=0, atol=0, out_offset=5)
    n = MIB16 // 2 + 3
    x = rng.standard_normal(n).astype(f32)
    yield Case("to_half", [x], [n], [Tagged((x * 2).astype(np.float16).view(np.uint16), "f16")], rtol=0, atol=0,
               out_offset=7)
    n = MIB16 + 1
    a = rng.integers(-128, 128, n, dtype=np.int8)
    b = rng.integers(-128, 128, n, dtype=np.int8)
    yield Case("add_i8", [a, b], [n], [(a + b).astype(np.int8)], out_offset=33)
    r, c = 1031, MIB16 // 8 // 1031 + 1
    x = rng.standard_normal((r, c))
    y = rng.standard_normal((r, c))
    yield Case("axpy", [np.float64(-1.5), x, y], [r, c], [-1.5 * x + y], rtol=1e-15, atol=1e-15, out_offset=1)
