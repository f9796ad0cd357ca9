"""The dtypes a case may name, and rounding to them.

Arrays inside the harness stay float64; a case's values are first rounded to its dtype (so every
framework sees the same numbers) and the reference is the float64 oracle rounded the same way.
bfloat16 comes from `ml_dtypes`, the package JAX and TensorFlow use for it.
"""

from __future__ import annotations

from functools import cache

import ml_dtypes
import numpy as np

DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64")


@cache
def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype of a case dtype name (bfloat16 from ml_dtypes)."""
    if name == "bfloat16":
        return np.dtype(ml_dtypes.bfloat16)
    if name not in DTYPE_NAMES:
        raise ValueError(f"unknown dtype {name!r}; expected one of {DTYPE_NAMES}")
    return np.dtype(name)


def round_to(values: np.ndarray, name: str) -> np.ndarray:
    """Round to the dtype (overflow becomes +/-inf, as a cast does) and hand back float64."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float64).astype(numpy_dtype(name)).astype(np.float64)


@cache
def unit_roundoff(name: str) -> float:
    """Half the machine epsilon: the largest relative error of one rounding to nearest."""
    return float(ml_dtypes.finfo(numpy_dtype(name)).eps) / 2


@cache
def smallest_subnormal(name: str) -> float:
    """The spacing of the dtype's numbers near zero."""
    return float(ml_dtypes.finfo(numpy_dtype(name)).smallest_subnormal)


@cache
def largest(name: str) -> float:
    """The largest finite value of the dtype."""
    return float(ml_dtypes.finfo(numpy_dtype(name)).max)


@cache
def smallest_normal(name: str) -> float:
    """The smallest positive normal value: below it, FTZ/DAZ hardware modes read and write zero."""
    return float(ml_dtypes.finfo(numpy_dtype(name)).smallest_normal)
