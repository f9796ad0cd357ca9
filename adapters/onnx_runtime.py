"""ONNX Runtime: the case as a one-node `ConvTranspose` model on the CPU execution provider.

The model is built by `adapters.onnx_model` (canonical layouts need no conversion). A dtype for
which this ONNX Runtime build has no CPU ConvTranspose kernel is `unsupported`, with the
runtime's own message; that is asked once per dtype with a tiny model.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from adapters.base import Adapter, import_framework
from adapters.onnx_model import build_model, convtranspose_attributes, feeds, missing_kernel
from harness.case import Case
from harness.dtypes import numpy_dtype


def _session(model):
    ort = import_framework("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 4  # errors come back as exceptions; no log lines
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _run(case: Case) -> np.ndarray:
    session = _session(build_model(case, convtranspose_attributes(case)))
    return session.run(["Y"], feeds(case, numpy_dtype(case.dtype)))[0]


@cache
def _missing_kernel(dtype: str) -> str | None:
    return missing_kernel(_run, dtype, "ONNX Runtime's CPU provider")


class OnnxRuntime(Adapter):
    name = "onnxruntime.cpu"
    framework = "onnxruntime"

    def supports(self, case: Case) -> str | None:
        return _missing_kernel(case.dtype)

    def run(self, case: Case) -> np.ndarray:
        return _run(case)


ADAPTERS = (OnnxRuntime(),)
