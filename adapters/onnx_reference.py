"""The ONNX reference evaluator (`onnx.reference.ReferenceEvaluator`) on the one-node model.

The specification's own executable reference, which exporters and runtimes are tested against.
It runs in NumPy and is slow (hundreds of times PyTorch), so large cases are `unsupported`.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from adapters.base import Adapter, import_framework
from adapters.onnx_model import build_model, convtranspose_attributes, feeds, missing_kernel
from harness.case import Case
from harness.dtypes import numpy_dtype

MAX_MULTIPLY_ADDS = 20_000_000


def _run(case: Case) -> np.ndarray:
    reference = import_framework("onnx.reference")
    evaluator = reference.ReferenceEvaluator(build_model(case, convtranspose_attributes(case)))
    return np.asarray(evaluator.run(None, feeds(case, numpy_dtype(case.dtype)))[0])


@cache
def _missing_kernel(dtype: str) -> str | None:
    return missing_kernel(_run, dtype, "the ONNX reference evaluator")


class OnnxReference(Adapter):
    name = "onnx.reference"
    framework = "onnx"

    def supports(self, case: Case) -> str | None:
        work = case.batch * case.in_channels * case.out_channels // case.groups
        work *= int(np.prod(case.input_size)) * int(np.prod(case.kernel_size))
        if work > MAX_MULTIPLY_ADDS:
            return f"{work:,} multiply-adds: too slow for the reference evaluator (limit {MAX_MULTIPLY_ADDS:,})"
        return _missing_kernel(case.dtype)

    def run(self, case: Case) -> np.ndarray:
        return _run(case)


ADAPTERS = (OnnxReference(),)
