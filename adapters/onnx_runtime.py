"""ONNX Runtime: the case as a one-node `ConvTranspose` model on the CPU execution provider.

The model is built by `adapters.onnx_model` (canonical layouts need no conversion); a dtype this
ONNX Runtime build has no CPU ConvTranspose kernel for is `unsupported`, in the runtime's words.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adapters.base import import_framework
from adapters.onnx_model import OnnxModelAdapter


def cpu_session(model: bytes) -> Any:
    """An ONNX Runtime session of the model on the CPU provider, its errors as exceptions and no log
    lines: how every adapter that runs a model in ONNX Runtime (this one, the converters') opens it.

    Its intra-op threads sleep when idle instead of spinning (`allow_spinning` 0): tconv runs
    frameworks side by side, and the spinning took the other worker's core (PyTorch's, TensorFlow's
    and ONNX Runtime's workers of a warm run, 41.7-44.1 -> 34.2-40.6 s of CPU). The threads and the
    split of the work stay, so the results do: the reports are identical."""
    ort = import_framework("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class OnnxRuntime(OnnxModelAdapter):
    name = "onnxruntime.cpu"
    framework = "onnxruntime"
    runtime = "ONNX Runtime's CPU provider"

    def execute(self, model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return cpu_session(model.SerializeToString()).run(["Y"], inputs)[0]


ADAPTERS = (OnnxRuntime(),)
