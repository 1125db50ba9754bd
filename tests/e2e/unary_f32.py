import math
import numpy as np

erf = np.vectorize(math.erf)
REF = {
    "t_abs": np.abs, "t_neg": np.negative, "t_minus": np.negative,
    "t_exp": lambda x: np.exp(x.astype(np.float64)),
    "t_log": lambda x: np.log(np.abs(x) + np.float32(0.001)),
    "t_sqrt": lambda x: np.sqrt(np.abs(x)),
    "t_rsqrt": lambda x: 1 / np.sqrt(np.abs(x) + np.float32(0.01)),
    "t_tanh": lambda x: np.tanh(x.astype(np.float64)),
    "t_sigmoid": lambda x: 1 / (1 + np.exp(-x.astype(np.float64))),
    "t_relu": lambda x: np.maximum(x, 0),
    "t_sin": lambda x: np.sin(x.astype(np.float64)), "t_cos": lambda x: np.cos(x.astype(np.float64)),
    "t_floor": np.floor, "t_ceil": np.ceil,
    "t_erf": lambda x: erf(x.astype(np.float64)),
}


def cases(rng):
    # awkward lengths: 1, 7, a prime past a vector width, a large one
    for n in (1, 7, 131, 100003):
        x = (rng.standard_normal(n) * 4).astype(np.float32)
        for fn, ref in REF.items():
            want = np.asarray(ref(x)).astype(np.float32)
            yield Case(fn, [x], [n], [want], rtol=2e-6, atol=1e-7, name="n=%d" % n)
