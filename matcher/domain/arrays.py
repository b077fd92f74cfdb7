"""Type names for the numpy arrays the engine and the generator pass around.

One definition, so that every module spells an array of scores, of row numbers or of
flags the same way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["BoolArray", "FloatArray", "IntArray"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
