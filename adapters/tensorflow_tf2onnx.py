"""A conversion path: the case's `tf.nn.conv{1,2,3}d_transpose` function converted to ONNX by
`tf2onnx` and run in ONNX Runtime's CPU provider.

How TensorFlow and Keras models reach ONNX runtimes. The graph is the one
`tensorflow.convNd_transpose` runs (`adapters.tensorflow_nn.graph_function`: channels-last input,
the forward conv's `(k..., C_out, C_in)` filter as a constant, TF's SAME/VALID/explicit padding
and `output_shape`, `tf.nn.bias_add`), so the row judges tf2onnx's translation of TF's layout,
its filter and its SAME rule into ONNX's `ConvTranspose` (plus the transposes around it), and
the runtime. The adapter crops TF's result to the canonical window as that adapter does.
"""

from __future__ import annotations

import logging
import warnings
from functools import cache

import numpy as np

from adapters.base import import_framework, probe_error
from adapters.layout import from_channels_last
from adapters.padding import canonical_spans, describe_reslice, to_canonical_window
from adapters.tensorflow_nn import _TensorFlowTranspose, graph_function, graph_supports
from harness.case import Case

OPSET = 17


def _onnx_bytes(case: Case) -> tuple[bytes, np.ndarray, list]:
    """The ONNX model tf2onnx makes of the case's graph, its input, and the spans of its result."""
    tf2onnx = import_framework("tf2onnx")
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # its INFO lines on every conversion
    layer, x, have = graph_function(case)
    with warnings.catch_warnings():  # tf2onnx's own deprecation notices about TF APIs
        warnings.simplefilter("ignore")
        model, _ = tf2onnx.convert.from_function(layer, input_signature=layer.input_signature, opset=OPSET)
    return model.SerializeToString(), x, have


class TensorFlowTf2Onnx(_TensorFlowTranspose):
    name = "tensorflow.tf2onnx"
    route = "conversion: tf.function -> tf2onnx -> ONNX Runtime CPU"

    def supports(self, case: Case) -> str | None:
        for needed in ("tf2onnx", "onnxruntime"):
            if not _importable(needed):
                return f"{needed} is not installed (the conversion path needs it)"
        return graph_supports(case) or self._missing(case.dtype, case.rank)

    def path(self, case: Case) -> str:
        return (f"tf2onnx {import_framework('tf2onnx').__version__}, "
                f"onnxruntime {import_framework('onnxruntime').__version__} cpu")

    def translation(self, case: Case) -> str | None:
        padding, sizes, have = self.plan(case)  # the plan graph_function follows (explicit pairs in 2-D)
        wants = canonical_spans(case)
        if have == list(wants):
            return None
        return f"TF's graph ran padding={self.sent(case)['padding']} with output_shape {sizes}, then {describe_reslice(have, wants)}"

    def run(self, case: Case) -> np.ndarray:
        ort = import_framework("onnxruntime")
        model, x, have = _onnx_bytes(case)
        options = ort.SessionOptions()
        options.log_severity_level = 4  # errors come back as exceptions; no log lines
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        y = session.run(None, {session.get_inputs()[0].name: x})[0]
        return to_canonical_window(from_channels_last(np.asarray(y)), have, case)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        raise NotImplementedError("a converted inference model has no gradients")

    def gradient_support(self, case: Case) -> str | None:
        return "a converted ONNX model is run for inference only (ONNX Runtime computes no gradients here)"

    @cache  # noqa: B019 - adapters are module-level singletons
    def _missing(self, dtype: str, rank: int) -> str | None:
        """Whether tf2onnx and ONNX Runtime carry a dtype at this rank (asked once, tiny case)."""
        error = probe_error(self.run, dtype, rank)
        if error is not None:
            return f"{dtype} {rank}-D through tf2onnx and ONNX Runtime: {' '.join(str(error).split())[:200]}"
        return None


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


ADAPTERS = (TensorFlowTf2Onnx(),)
