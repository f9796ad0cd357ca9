"""ONNX Runtime: the case as a one-node `ConvTranspose` model on the CPU execution provider.

The model is built by `adapters.onnx_model` (canonical layouts need no conversion); a dtype this
ONNX Runtime build has no CPU ConvTranspose kernel for is `unsupported`, in the runtime's words.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adapters.base import import_framework
from adapters.onnx_model import OnnxModelAdapter


class OnnxRuntime(OnnxModelAdapter):
    name = "onnxruntime.cpu"
    framework = "onnxruntime"
    runtime = "ONNX Runtime's CPU provider"

    def execute(self, model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
        ort = import_framework("onnxruntime")
        options = ort.SessionOptions()
        options.log_severity_level = 4  # errors come back as exceptions; no log lines
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return session.run(["Y"], inputs)[0]


ADAPTERS = (OnnxRuntime(),)
