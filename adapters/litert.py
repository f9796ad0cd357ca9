"""LiteRT (TensorFlow Lite): the case's `tf.nn.conv{1,2,3}d_transpose` function converted by
TensorFlow's TFLite converter and run by the `ai-edge-litert` interpreter on the CPU.

This is how a TensorFlow upsampling layer reaches phones and microcontrollers: the converter
lowers the graph to TFLite builtins (`TRANSPOSE_CONV` for 1-D and 2-D, `CONV_3D_TRANSPOSE`) and
LiteRT's kernels compute it. The graph is the one `tensorflow.convNd_transpose` runs
(`adapters.tensorflow_nn.graph_function`: channels-last input, the `(k..., C_out, C_in)` filter
as a constant, TF's SAME/VALID/explicit padding and `output_shape`, then `tf.nn.bias_add`), so a
difference from that adapter's row is the converter's or LiteRT's. TFLite's transposed
convolutions take SAME or VALID only (the converter finds no builtin for TF's explicit pairs), so
where that adapter sends explicit pairs this one runs VALID; the adapter crops TF's result to the
canonical window as that adapter does (stated in the row's translation).

The converter keeps the case's dtype in the graph; a dtype it or LiteRT cannot carry (LiteRT's
transposed convolutions are float32 and quantized integers) is `unsupported`, in their words,
asked once per dtype and rank. TensorFlow must be installed too (it makes the model).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from adapters import tflite_batch
from adapters.base import Adapter, framework_installed, import_framework, probe_error
from adapters.keras3 import KerasLayer, layer_extra, traced_layer
from adapters.layout import from_channels_last
from adapters.padding import canonical_spans, describe_reslice, to_canonical_window
from adapters.tf_prepared import Prepared, graph_layers, keras_layers
from harness.case import Case


def _flatbuffer(case: Case) -> bytes:
    """The TFLite model TensorFlow's converter makes of the case's graph."""
    from adapters.tensorflow_nn import graph_function

    tf = import_framework("tensorflow")
    layer, _, _ = graph_function(case, explicit_padding=False)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([layer.get_concrete_function()], layer)
    return converter.convert()


_PREPARED = Prepared(lambda functions, inputs, dtype: tflite_batch.converted_together(functions, inputs, dtype))


def _interpret(model: bytes, x: np.ndarray) -> np.ndarray:
    """One inference of the model in LiteRT's interpreter."""
    interpreter_module = import_framework("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def _first_error(error: Exception) -> str:
    """The converter's first `error:` line without its source location (its message is an MLIR
    dump of file paths and source lines), else the exception's text."""
    for line in str(error).splitlines():
        if "error: " in line:
            return line.split("error: ", 1)[1].strip()[:200]
    return " ".join(str(error).split())[:200]


def _undilatable(case: Case) -> str | None:
    """Why TFLite cannot carry a dilated 1-D or 2-D case (CONV_3D_TRANSPOSE has a dilation)."""
    if case.rank < 3 and any(d > 1 for d in case.dilation):
        return ("TFLite's TRANSPOSE_CONV has no dilation (TransposeConvOptions: padding and strides only): "
                "the converter finds no builtin for a dilated 1-D or 2-D transposed conv")
    return None


class LiteRtTfNn(Adapter):
    name = "litert.tf_nn"
    framework = "litert"
    route = "conversion: tf.nn.conv_transpose graph -> TFLite converter -> LiteRT interpreter"

    def supports(self, case: Case) -> str | None:
        if not framework_installed("tensorflow"):
            return "tensorflow is not installed (its TFLite converter makes the LiteRT model)"
        from adapters.tensorflow_nn import graph_supports

        return (_undilatable(case) or graph_supports(case, explicit_padding=False)
                or self._missing(case.dtype, case.rank))

    def sent(self, case: Case) -> dict[str, str]:
        from adapters.tensorflow_nn import graph_adapter

        return graph_adapter(explicit_padding=False).sent(case)

    def path(self, case: Case) -> str:
        return f"tensorflow {import_framework('tensorflow').__version__} converter"

    def translation(self, case: Case) -> str | None:
        from adapters.tensorflow_nn import graph_adapter

        padding, sizes, have = graph_adapter(explicit_padding=False).plan(case)
        wants = canonical_spans(case)
        if have == list(wants):
            return None
        return f"TF's graph ran padding={self.sent(case)['padding']} with output_shape {sizes}, then {describe_reslice(have, wants)}"

    def run(self, case: Case) -> np.ndarray:
        from adapters.tensorflow_nn import graph_function

        _, x, have = graph_function(case, explicit_padding=False)
        y = _interpret(_PREPARED.model(self.name, case, lambda: _flatbuffer(case)), x)
        return to_canonical_window(from_channels_last(y), have, case)

    def prepare(self, cases: Sequence[Case]) -> None:
        """Convert the layers of the cases that will need it together (`adapters.tflite_batch`)."""
        _PREPARED.convert_ahead(self.name, graph_layers(self, cases, explicit_padding=False))

    @cache  # noqa: B019 - adapters are module-level singletons
    def _missing(self, dtype: str, rank: int) -> str | None:
        """Whether the converter and LiteRT carry a dtype at this rank (asked once, tiny case)."""
        error = probe_error(self.run, dtype, rank)
        if error is not None:
            return f"{dtype} {rank}-D through the TFLite converter and LiteRT: {_first_error(error)}"
        return None


class LiteRtKerasLayer(KerasLayer):
    """`keras.layers.Conv{1,2,3}DTranspose` (Keras on TensorFlow) converted by the TFLite converter:
    the layer `keras.layer` runs, with its padding word and output_padding, traced as a function."""

    name = "litert.keras_layer"
    framework = "litert"
    route = "conversion: keras.layers.ConvTranspose -> TFLite converter -> LiteRT interpreter"

    def version(self) -> str:
        return Adapter.version(self)

    def supports(self, case: Case) -> str | None:
        if not framework_installed("keras") or not framework_installed("tensorflow"):
            return "keras and tensorflow are needed (the converter converts a Keras layer on TensorFlow)"
        return _undilatable(case) or super().supports(case) or self._missing(case.dtype, case.rank)

    def path(self, case: Case) -> str:
        return f"tensorflow {import_framework('tensorflow').__version__} converter"

    def gradient_support(self, case: Case) -> str | None:
        return "a converted LiteRT model is run for inference only (no gradients)"

    def compute(self, case: Case, x: object, padding: str, output_padding, watch=lambda tensor: None) -> object:
        """The layer, traced with a fixed input signature, converted, and run by LiteRT."""
        tf = import_framework("tensorflow")
        x = np.asarray(x)

        def alone() -> bytes:
            model = traced_layer(case, x, padding, output_padding)
            return tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model).convert()

        return _interpret(_PREPARED.model(self.name, case, alone, extra=layer_extra(x, padding, output_padding)), x)

    def prepare(self, cases: Sequence[Case]) -> None:
        """Convert the traced layers of the cases that will need it together (`adapters.tflite_batch`)."""
        _PREPARED.convert_ahead(self.name, keras_layers(self, cases))

    _missing = LiteRtTfNn._missing


ADAPTERS = (LiteRtTfNn(), LiteRtKerasLayer())
