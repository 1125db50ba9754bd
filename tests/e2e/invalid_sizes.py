import numpy as np


def cases(rng):
    f = np.float32
    x = rng.standard_normal((2, 3)).astype(f)
    yield Case("f", [x], [2, 3], [x * 2])
    yield Case("f", [x], [-1, 3], [np.zeros((2, 3), f)], rc=-1, name="negative N")
    yield Case("f", [x], [2, -6], [np.zeros((2, 3), f)], rc=-1, name="negative M")
    v = rng.standard_normal(6).astype(f)
    yield Case("halves", [v], [6], [v.reshape(2, 3)])
    yield Case("halves", [v], [5], [np.zeros((2, 3), f)], rc=-1, name="odd length")
    yield Case("tail", [v], [6], [v[3:]])
    yield Case("tail", [v], [2], [np.zeros(3, f)], rc=-1, name="too short")
    yield Case("first", [v], [6], [v[4]])
    yield Case("first", [v], [4], [f(0)], rc=-1, name="index past the end")
    yield Case("match", [v, v], [6, 6], [v + v])
    yield Case("match", [v, v], [6, 5], [np.zeros(6, f)], rc=-1, name="reshape count mismatch")
    yield Case("f", [x], [2**40, 2**40], [np.zeros((2, 3), f)], rc=-1, name="overflowing size")


def nomem_cases(rng):
    """A temporary of 2^44 bytes cannot be had (Linux refuses an allocation past RAM and
    swap): TRIC_ERR_NOMEM, outputs untouched, inputs never read."""
    f = np.float32
    v = rng.standard_normal(4).astype(f)
    yield Case("big", [v], [4], [(np.exp(v.astype(np.float64)) + 1).astype(f)], rtol=1e-6)
    yield Case("big", [v], [2**42], [np.zeros(4, f)], rc=-2, name="temporary too large to allocate")


_cases = cases


def cases(rng):
    yield from _cases(rng)
    yield from nomem_cases(rng)
