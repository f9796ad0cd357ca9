"""The ONNX reference evaluator (`onnx.reference.ReferenceEvaluator`) on the one-node model.

The specification's own executable reference, which exporters and runtimes are tested against.
It runs in NumPy and is slow (hundreds of times PyTorch), so large cases are `unsupported`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adapters.base import import_framework
from adapters.onnx_model import OnnxModelAdapter
from harness.case import Case

MAX_MULTIPLY_ADDS = 20_000_000


class OnnxReference(OnnxModelAdapter):
    name = "onnx.reference"
    framework = "onnx"
    runtime = "the ONNX reference evaluator"

    def execute(self, model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
        reference = import_framework("onnx.reference")
        return reference.ReferenceEvaluator(model).run(None, inputs)[0]

    def supports(self, case: Case) -> str | None:
        work = case.batch * case.in_channels * case.out_channels // case.groups
        work *= int(np.prod(case.input_size)) * int(np.prod(case.kernel_size))
        if work > MAX_MULTIPLY_ADDS:
            return f"{work:,} multiply-adds: too slow for the reference evaluator (limit {MAX_MULTIPLY_ADDS:,})"
        return super().supports(case)


ADAPTERS = (OnnxReference(),)
