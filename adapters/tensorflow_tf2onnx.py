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
import re
import warnings
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from adapters.base import framework_installed, import_framework, module_installed, probe_error
from adapters.keras3 import KerasLayer, layer_extra, traced_layer
from adapters.layout import from_channels_last
from adapters.onnx_model import rename_cut_layer
from adapters.onnx_runtime import cpu_session
from adapters.padding import canonical_spans, describe_reslice, to_canonical_window
from adapters.tensorflow_nn import _TensorFlowTranspose, graph_function, graph_supports
from adapters.tf_prepared import Prepared, graph_layers, keras_layers
from harness import machine
from harness.case import Case

OPSET = 17


def _converted(function) -> bytes:  # noqa: ANN001 - a tf.function with an input signature
    """The ONNX model tf2onnx makes of a traced function."""
    return _from_function(function, function.input_signature).SerializeToString()


def _from_function(function, specs):  # noqa: ANN001, ANN202 - a tf.function and its signature; an onnx.ModelProto
    """`tf2onnx.convert.from_function` at OPSET, quietly, with its optimizer run in place.

    By default tf2onnx deep-copies the whole graph before each of its optimizer's passes, to roll
    back a pass that raises (`TF2ONNX_CATCH_ERRORS`, its own switch): most of a small layer's
    optimizing time. When no pass raises, the passes make the same graph either way; when one
    does, the conversion runs again as tf2onnx's default runs it, so the model is the default's.
    (tf2onnx 1.17 compares the switch's name, not its value, with "TRUE": any value turns the
    copies off.) Both paths on every built-in case, no model cache, one process: 45.5 -> 39.2 s
    with `autograph=False` on the traced layers (the same rows; the TFLite models byte for byte)."""
    tf2onnx = import_framework("tf2onnx")
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # its INFO lines on every conversion
    with warnings.catch_warnings():  # tf2onnx's own deprecation notices about TF APIs
        warnings.simplefilter("ignore")
        try:
            with machine.switched({_CATCH_ERRORS: "FALSE"}):  # tf2onnx reads it on each conversion
                return tf2onnx.convert.from_function(function, input_signature=specs, opset=OPSET)[0]
        except Exception:  # noqa: BLE001 - a pass that raised, or a refusal: tf2onnx's default decides
            return tf2onnx.convert.from_function(function, input_signature=specs, opset=OPSET)[0]


_CATCH_ERRORS = "TF2ONNX_CATCH_ERRORS"


def _converted_together(functions: Sequence[Callable], inputs: Sequence[np.ndarray], dtype: str) -> list[bytes]:
    """Each traced layer's ONNX model as `_converted` makes it, from one tf2onnx conversion of all of
    them side by side (one input and output each, nothing joined; ~35 ms a layer where one alone
    takes ~55 ms), cut apart (`_cut_out`)."""
    tf = import_framework("tensorflow")
    specs = [tf.TensorSpec(x.shape, getattr(tf, dtype)) for x in inputs]

    @tf.function(input_signature=specs, autograph=False)  # a call per layer, no Python control flow
    def together(*xs):  # noqa: ANN002, ANN202
        return [function(x) for function, x in zip(functions, xs)]

    model = _from_function(together, specs)
    if len(model.graph.input) != len(functions) or len(model.graph.output) != len(functions):
        raise ValueError("tf2onnx did not keep one input and one output per layer")
    return [_cut_out(model, index) for index in range(len(functions))]


_CALL_SCOPE = re.compile(r"^(?:Stateful)?PartitionedCall(?:_\d+)?/")  # the batch function's call of layer i


def _cut_out(model, index: int) -> bytes:  # noqa: ANN001 - an onnx.ModelProto
    """Layer `index` of the batch as a model of its own, named as a lone conversion names it (a
    runtime's error quotes the names): input `inputs`, output `Identity:0`, nodes and values without
    the batch's call scope."""
    import onnx.utils

    x, y = model.graph.input[index].name, model.graph.output[index].name
    part = onnx.utils.Extractor(model).extract_model([x], [y])

    def alone(name: str) -> str:
        return {x: "inputs", y: "Identity:0"}.get(name) or _CALL_SCOPE.sub("", name)

    rename_cut_layer(part, model, alone)
    for node in part.graph.node:
        node.name = alone(node.name)
    return part.SerializeToString()


_PREPARED = Prepared(lambda functions, inputs, dtype: _converted_together(functions, inputs, dtype))


def _in_onnxruntime(model: bytes, x: np.ndarray) -> np.ndarray:
    session = cpu_session(model)
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _onnx_bytes(case: Case, adapter: str) -> tuple[bytes, np.ndarray, list]:
    """The ONNX model tf2onnx makes of the case's graph (kept by `model_cache`), its input, and
    the spans of its result."""
    layer, x, have = graph_function(case)
    return _PREPARED.model(adapter, case, lambda: _converted(layer)), x, have


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

    def prepare(self, cases: Sequence[Case]) -> None:
        """Convert the graphs of the cases that will need it together (`_converted_together`)."""
        _PREPARED.convert_ahead(self.name, graph_layers(self, cases))

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
        model = _PREPARED.model(self.name, case, lambda: _converted(traced_layer(case, x, padding, output_padding)),
                                extra=layer_extra(x, padding, output_padding))
        return _in_onnxruntime(model, x)

    def prepare(self, cases: Sequence[Case]) -> None:
        """Convert the traced layers of the cases that will need it together (`_converted_together`)."""
        _PREPARED.convert_ahead(self.name, keras_layers(self, cases))

    _missing = TensorFlowTf2Onnx._missing  # the same question, asked of this adapter's own run


ADAPTERS = (TensorFlowTf2Onnx(), KerasTf2Onnx())
