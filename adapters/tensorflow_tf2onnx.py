"""Two conversion paths through `tf2onnx`, run in ONNX Runtime's CPU provider: the case's
`tf.nn.conv{1,2,3}d_transpose` function (`tensorflow.tf2onnx`), and the `keras.layers.Conv{1,2,3}DTranspose`
layer that `keras.layer` runs, traced as a `tf.function` (`keras.tf2onnx`: tf2onnx's
`from_keras` is for Keras 2 models; a Keras 3 layer on TensorFlow converts as the function it is).

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

from adapters.base import framework_installed, import_framework, module_installed, probe_error
from adapters.keras3 import KerasLayer, layer_extra, traced_layer
from adapters.layout import from_channels_last
from adapters.onnx_runtime import cpu_session
from adapters.padding import canonical_spans, describe_reslice, to_canonical_window
from adapters.tensorflow_nn import _TensorFlowTranspose, graph_function, graph_supports
from harness import model_cache
from harness.case import Case

OPSET = 17


def _converted(function) -> bytes:  # noqa: ANN001 - a tf.function with an input signature
    """The ONNX model tf2onnx makes of a traced function."""
    tf2onnx = import_framework("tf2onnx")
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # its INFO lines on every conversion
    with warnings.catch_warnings():  # tf2onnx's own deprecation notices about TF APIs
        warnings.simplefilter("ignore")
        model, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=OPSET)
    return model.SerializeToString()


def _in_onnxruntime(model: bytes, x: np.ndarray) -> np.ndarray:
    session = cpu_session(model)
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _onnx_bytes(case: Case, adapter: str) -> tuple[bytes, np.ndarray, list]:
    """The ONNX model tf2onnx makes of the case's graph (kept by `model_cache`), its input, and
    the spans of its result."""
    layer, x, have = graph_function(case)
    return model_cache.converted(adapter, case, lambda: _converted(layer)), x, have


class TensorFlowTf2Onnx(_TensorFlowTranspose):
    name = "tensorflow.tf2onnx"
    route = "conversion: tf.function -> tf2onnx -> ONNX Runtime CPU"

    def supports(self, case: Case) -> str | None:
        return _converter_missing() or graph_supports(case) or self._missing(case.dtype, case.rank)

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
        model, x, have = _onnx_bytes(case, self.name)
        return to_canonical_window(from_channels_last(_in_onnxruntime(model, x)), have, case)

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


def _converter_missing() -> str | None:
    """Why neither path can run here: tf2onnx or ONNX Runtime not installed."""
    for needed in ("tf2onnx", "onnxruntime"):
        if not module_installed(needed):
            return f"{needed} is not installed (the conversion path needs it)"
    return None


class KerasTf2Onnx(KerasLayer):
    """`keras.layers.Conv{1,2,3}DTranspose` (Keras on TensorFlow, the layer `keras.layer` builds with
    its padding word and output_padding) traced as a function, converted by tf2onnx, run in ONNX
    Runtime; `keras.layer`'s own reading of the result to the canonical window."""

    name = "keras.tf2onnx"
    route = "conversion: keras.layers.ConvTranspose -> tf2onnx -> ONNX Runtime CPU"

    def supports(self, case: Case) -> str | None:
        missing = _converter_missing()
        if missing:
            return missing
        if not framework_installed("tensorflow"):
            return "tensorflow is needed (tf2onnx converts the Keras layer traced on TensorFlow)"
        return super().supports(case) or self._missing(case.dtype, case.rank)

    def path(self, case: Case) -> str:
        return TensorFlowTf2Onnx.path(self, case)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        raise NotImplementedError("a converted inference model has no gradients")

    def gradient_support(self, case: Case) -> str | None:
        return TensorFlowTf2Onnx.gradient_support(self, case)

    def compute(self, case: Case, x: object, padding: str, output_padding, watch=lambda tensor: None) -> object:
        """The layer, traced with a fixed input signature, converted by tf2onnx and run by ONNX Runtime."""
        x = np.asarray(x)
        model = model_cache.converted(self.name, case, lambda: _converted(traced_layer(case, x, padding, output_padding)),
                                      extra=layer_extra(x, padding, output_padding))
        return _in_onnxruntime(model, x)

    _missing = TensorFlowTf2Onnx._missing  # the same question, asked of this adapter's own run


ADAPTERS = (TensorFlowTf2Onnx(), KerasTf2Onnx())
