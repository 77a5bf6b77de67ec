"""Type aliases shared across the package (no runtime dependencies beyond numpy)."""

from __future__ import annotations

from typing import NewType

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

AdGroupId = NewType("AdGroupId", str)
"""A TikTok ad group id; always a string (the API sends numbers in old payloads)."""

__all__ = ["AdGroupId", "BoolArray", "FloatArray", "IntArray"]
