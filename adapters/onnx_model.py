"""The one-node ONNX model of a case, shared by the ONNX Runtime and reference-evaluator adapters.

ONNX's `ConvTranspose` already uses the canonical layouts (X (N, C, *spatial), W (C, M/group, *k),
no flip), so only the padding is translated:
- explicit `[begin, end]` crops are `pads`; `output_padding` is the attribute of that name;
- `valid` is `auto_pad=VALID`; `same`/`same_upper` and `same_lower` are `auto_pad=SAME_UPPER` and
  `SAME_LOWER` (the spec's split of the total padding, odd extra at the end or the start);
- ONNX's own `output_shape` (no padding: NOTSET; `same_upper`/`same_lower`) is sent as is, with
  `output_padding`; TF-style `output_shape` with `same` is `output_shape` with
  `auto_pad=SAME_UPPER`; with `valid`, and PyTorch's `output_size` form (an integer padding), it is
  `pads` plus `output_padding` (NOTSET with `output_shape` would split the padding).
The attributes are checked against the spec's output formula (`onnx_span`) before the model is
built. Where that formula has a negative total padding (a stride beyond the dilated kernel with
SAME_*, an `output_shape` past the full result) the spec says only how long the output is; ONNX's
own `test_convtranspose_output_shape` and ONNX Runtime put the missing zeros at the end, as
TensorFlow, Keras and JAX do, and so does the canonical answer the row is judged against.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from adapters.base import Adapter, import_framework, probe_error
from adapters.padding import canonical_spans, full_sizes, onnx_span
from harness.case import Case
from harness.dtypes import numpy_dtype

OPSET = 17
IR_VERSION = 8  # understood by every ONNX Runtime since 1.10
_ELEMENT_TYPES = {"float16": "FLOAT16", "bfloat16": "BFLOAT16", "float32": "FLOAT", "float64": "DOUBLE"}


def convtranspose_attributes(case: Case) -> dict[str, Any]:
    """The node's attributes, checked against the spec's own output formula (`onnx_span`)."""
    wants = canonical_spans(case)
    dims = list(zip(case.input_size, case.kernel_size, case.stride, case.dilation))
    fulls = full_sizes(case)
    attrs: dict[str, Any] = {"strides": list(case.stride), "dilations": list(case.dilation), "group": case.groups,
                             "kernel_shape": list(case.kernel_size)}
    word = case.padding_word
    if case.output_shape is None and word == "valid":
        attrs.update(auto_pad="VALID", output_padding=list(case.output_padding))
    elif case.output_shape is None and word in ("same", "same_upper", "same_lower"):
        attrs.update(auto_pad="SAME_LOWER" if word == "same_lower" else "SAME_UPPER",
                     output_padding=list(case.output_padding))
    elif case.output_shape is not None and word == "same":
        attrs.update(auto_pad="SAME_UPPER", output_shape=list(case.output_shape))
    elif case.output_shape is not None and case.output_shape_form == "onnx":  # ONNX's own output_shape
        if word is not None:
            attrs["auto_pad"] = word.upper()
        attrs.update(output_shape=list(case.output_shape), output_padding=list(case.output_padding))
    elif case.output_shape is None and word is None:  # ONNX's own form: pads and output_padding as given
        pairs = [tuple(p) for p in case.padding]
        attrs.update(pads=[b for b, _ in pairs] + [e for _, e in pairs], output_padding=list(case.output_padding))
    else:  # TF's valid or PyTorch's output_size: the window as pads plus an output_padding that zero-extends
        begins, ends, extra = [], [], []
        for f, w in zip(fulls, wants):
            begins.append(w.start)
            ends.append(max(0, f - w.stop))
            extra.append(max(0, w.stop - f))
        attrs.update(pads=begins + ends, output_padding=extra)
    spans = [
        onnx_span(n, k, s, d, pads=(attrs["pads"][i], attrs["pads"][i + case.rank]) if "pads" in attrs else (0, 0),
                  output_padding=attrs.get("output_padding", [0] * case.rank)[i],
                  auto_pad=attrs.get("auto_pad", "NOTSET"),
                  output_shape=attrs["output_shape"][i] if "output_shape" in attrs else None)
        for i, (n, k, s, d) in enumerate(dims)
    ]
    if spans != list(wants):  # the spec's formula must give the canonical window
        raise AssertionError(f"ONNX attributes {attrs} give {spans}, not {list(wants)}")
    return attrs


def build_model(case: Case, attrs: dict[str, Any]) -> Any:
    """A model with inputs X, W (and B) and one ConvTranspose node."""
    onnx = import_framework("onnx")
    helper, tensor = onnx.helper, onnx.TensorProto
    element = getattr(tensor, _ELEMENT_TYPES[case.dtype])
    inputs = [helper.make_tensor_value_info("X", element, list(case.input.shape)),
              helper.make_tensor_value_info("W", element, list(case.kernel.shape))]
    names = ["X", "W"]
    if case.bias is not None:
        inputs.append(helper.make_tensor_value_info("B", element, [case.out_channels]))
        names.append("B")
    node = helper.make_node("ConvTranspose", names, ["Y"], **attrs)
    output = helper.make_tensor_value_info("Y", element, None)
    graph = helper.make_graph([node], "tconv", inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tconv")
    model.ir_version = IR_VERSION
    return model


def feeds(case: Case, dtype: np.dtype) -> dict[str, np.ndarray]:
    """The input arrays in the model's element type."""
    values = {"X": case.input, "W": case.kernel}
    if case.bias is not None:
        values["B"] = case.bias
    return {k: np.asarray(v, dtype=np.float64).astype(dtype) for k, v in values.items()}


class OnnxModelAdapter(Adapter):
    """Runs the one-node model of a case on some ONNX runtime (`execute`).

    A dtype the runtime has no ConvTranspose for at all is `unsupported`, with the runtime's own
    message; that is asked once per dtype, with a tiny case.
    """

    runtime: str

    def execute(self, model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def run(self, case: Case) -> np.ndarray:
        model = build_model(case, convtranspose_attributes(case))
        return np.asarray(self.execute(model, feeds(case, numpy_dtype(case.dtype))))

    def supports(self, case: Case) -> str | None:
        return self._missing_kernel(case.dtype)

    def sent(self, case: Case) -> dict[str, str]:
        attrs = convtranspose_attributes(case)
        shown = {k: str(v) for k, v in attrs.items() if k in ("auto_pad", "pads", "output_padding", "output_shape")}
        ops = attrs.get("output_padding", [0] * case.rank)
        shown["output_padding_beyond_stride"] = "yes" if any(op >= s for op, s in zip(ops, case.stride)) else "no"
        return shown

    def translation(self, case: Case) -> str | None:
        if case.output_shape is not None and "pads" in convtranspose_attributes(case):
            attrs = convtranspose_attributes(case)
            return (f"ONNX's output_shape splits the padding its own way, so output_shape {list(case.output_shape)} "
                    f"with padding {case.padding_label} runs as pads={attrs['pads']}, output_padding={attrs['output_padding']}")
        return None

    @cache  # noqa: B019 - adapters are module-level singletons
    def _missing_kernel(self, dtype: str) -> str | None:
        error = probe_error(self.run, dtype)
        if error is not None:
            return f"{self.runtime} has no ConvTranspose for {dtype}: {' '.join(str(error).split())[:200]}"
        return None


def rename_cut_layer(part: Any, whole: Any, alone: Callable[[str], str]) -> None:
    """Name a layer cut from a batch model (`onnx.utils.Extractor`) as the layer's own conversion
    names it, since a runtime's error quotes the names: every value (inputs, outputs, value_info,
    initializers, the nodes' inputs and outputs) through `alone`, and the batch's producer and graph
    name. The conversion paths that convert in batches (`torch.onnx_dynamo`, tf2onnx) each name
    their nodes themselves."""
    graph = part.graph
    for value in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        value.name = alone(value.name)
    for node in graph.node:
        node.input[:] = [alone(name) for name in node.input]
        node.output[:] = [alone(name) for name in node.output]
    part.producer_name, part.producer_version = whole.producer_name, whole.producer_version
    graph.name = whole.graph.name
