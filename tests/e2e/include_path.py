import numpy as np

FLAGS = ["-I", __file__.rsplit("/", 1)[0] + "/incl"]


def cases(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    yield Case("f", [x], [3, 4], [x * 2 + 1])
