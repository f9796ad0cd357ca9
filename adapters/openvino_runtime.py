"""OpenVINO: a one-node model on the CPU plugin, built with the opset API or read by the ONNX front end.

`openvino.opset` builds `ConvolutionBackpropData` (groups 1) or `GroupConvolutionBackpropData`
with the newest `openvino.opsetN` module that has them. OpenVINO's layouts are the canonical
ones (data (N, C_in, *spatial), weights (C_in, C_out, *k), no flip); grouped weights are the
same numbers reshaped to its (G, C_in/G, C_out/G, *k). The weights and bias are `Constant`s (as
in an IR), the input a `Parameter`. The padding is translated, by OpenVINO's own shape rule
(`openvino_span`, read from `convolution_backprop_shape_inference_util.hpp`):
- explicit `[begin, end]` crops are `pads_begin`/`pads_end`, `output_padding` as it is; `valid` is
  `auto_pad=valid`;
- without an `output_shape` input OpenVINO's `same_upper`/`same_lower` crop nothing, so `same`
  runs with the input `output_shape = in * stride`; with it, OpenVINO splits
  `max(total, 0)` with the *larger* half first for `same_upper` and the smaller first for
  `same_lower` (ONNX's naming the other way round), so canonical `same`/`same_upper` is OpenVINO
  `same_lower` and canonical `same_lower` (and ONNX's NOTSET `output_shape`) is `same_upper`;
- TensorFlow's `output_shape` is that input with `same_lower` (`same`) or `valid`; PyTorch's
  `output_size` form is `pads_begin`, `pads_end` and an `output_padding`.
Every window is checked against the canonical one before the model is built. OpenVINO's op
takes no bias: it is an `Add` node in the same model.

`openvino.onnx` reads the one-node ONNX model tconv runs on ONNX Runtime through OpenVINO's ONNX
front end (`Core.read_model` on its bytes): the front end's own translation of `auto_pad`,
`output_shape` and `group` is what that row tests.

Both compile for "CPU" with `INFERENCE_PRECISION_HINT` set to the case's dtype, since the plugin
otherwise runs float32 in bfloat16 on CPUs with AMX; the row's `path` is the precision the
compiled model reports and the kernel and precision of its Deconvolution node (on a CPU without
native float16/bfloat16, AVX2, the plugin converts those to float32 around it). The plugin rejects the hint
`f64` and computes float64 models in float32 (Convert nodes around an f32 Deconvolution in the
runtime model, measured: 1 + 2**-40 comes back as 1.0): such dtypes are `unsupported`, decided by
reading the runtime model of a probe, so a release that computes float64 runs them.
"""

from __future__ import annotations

import importlib
import io
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

import numpy as np

from adapters import onnx_model
from adapters.base import Adapter, import_framework, in_halves
from adapters.onnx_model import OnnxModelAdapter
from adapters.openvino_batch import Compiled, batchable, compiled_together
from adapters.padding import Span, canonical_spans, full_size, full_sizes
from harness.case import Case
from harness import model_cache
from harness.dtypes import numpy_dtype
from harness.runner import PREPARE_AHEAD

DEVICE = "CPU"
_OV_TYPES = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}
_HINTS = {"float16": "f16", "bfloat16": "bf16", "float32": "f32"}  # the CPU plugin refuses "f64"


def _ov():
    return import_framework("openvino")


@cache
def _opset() -> Any:
    """The newest `openvino.opsetN` module with both backprop-data ops (opset17 only adds new ops)."""
    _ov()
    for n in range(30, 0, -1):
        try:
            module = importlib.import_module(f"openvino.opset{n}")
        except ImportError:
            continue
        if hasattr(module, "convolution_backprop_data") and hasattr(module, "group_convolution_backprop_data"):
            return module
    raise ImportError("no openvino.opsetN module has convolution_backprop_data")


def compile_config(dtype: str) -> dict[str, str]:
    """The CPU plugin's configuration: compute in the case's dtype where it takes that hint."""
    hint = _HINTS.get(dtype)
    return {} if hint is None else {"INFERENCE_PRECISION_HINT": hint}


def to_tensor(values: np.ndarray, dtype: str) -> Any:
    """An array of dtype-exact values -> an `ov.Tensor` of that element type owning a copy
    (bfloat16 by its bits: OpenVINO's Python API does not take ml_dtypes arrays)."""
    ov = _ov()
    array = np.ascontiguousarray(np.asarray(values, dtype=np.float64).astype(numpy_dtype(dtype)))
    if dtype != "bfloat16":
        return ov.Tensor(array, shared_memory=False)
    tensor = ov.Tensor(ov.Type.bf16, ov.Shape(list(array.shape)))  # owned memory: a Constant may outlive `array`
    if array.size:
        tensor.data.view(np.uint16)[...] = array.view(np.uint16)
    return tensor


def from_tensor(tensor: Any) -> np.ndarray:
    """An output `ov.Tensor` -> NumPy, a copy (bfloat16 read back by its bits as ml_dtypes)."""
    if tensor.get_element_type() == _ov().Type.bf16:
        return np.array(tensor.data.view(np.uint16), copy=True).view(numpy_dtype("bfloat16"))
    return np.array(tensor.data, copy=True)


def openvino_span(size: int, kernel: int, stride: int, dilation: int, *, pads: tuple[int, int] = (0, 0),
                  output_padding: int = 0, auto_pad: str = "explicit", output_shape: int | None = None) -> Span:
    """OpenVINO's ConvolutionBackpropData window for one dim (its shape inference, as written).

    Without `output_shape`, every auto_pad but explicit means pads 0. With it, the output has that
    length; `same_upper`/`same_lower` split `max(full + output_padding - out, 0)`, the larger half
    first for `same_upper`; explicit pads start at `pads_begin`, valid at 0.
    """
    full = full_size(size, kernel, stride, dilation)
    if output_shape is None:
        begin, end = pads if auto_pad == "explicit" else (0, 0)
        return Span(begin, full + output_padding - begin - end)
    if auto_pad in ("same_upper", "same_lower"):
        total = max(full + output_padding - output_shape, 0)
        return Span(total - total // 2 if auto_pad == "same_upper" else total // 2, output_shape)
    return Span(pads[0] if auto_pad == "explicit" else 0, output_shape)


def backprop_attributes(case: Case) -> dict[str, Any]:
    """The op's attributes (and `output_shape` input), checked against the canonical window."""
    wants = canonical_spans(case)
    word, form = case.padding_word, case.output_shape_form
    attrs: dict[str, Any] = {"strides": list(case.stride), "dilations": list(case.dilation),
                             "output_padding": list(case.output_padding), "auto_pad": "explicit"}
    if case.output_shape is None and word == "valid":
        attrs["auto_pad"] = "valid"
    elif case.output_shape is None and word in ("same", "same_upper", "same_lower"):
        attrs.update(auto_pad="same_upper" if word == "same_lower" else "same_lower",
                     output_shape=[n * s for n, s in zip(case.input_size, case.stride)])
    elif form == "tensorflow":
        attrs.update(auto_pad="same_lower" if word == "same" else "valid", output_shape=list(case.output_shape))
    elif form == "onnx":
        attrs.update(auto_pad="same_lower" if word == "same_upper" else "same_upper",
                     output_shape=list(case.output_shape))
    elif case.output_shape is None:  # explicit crops: OpenVINO's own pads
        attrs.update(pads_begin=[p[0] for p in case.padding], pads_end=[p[1] for p in case.padding])
    else:  # PyTorch's output_size: its crop as pads, the positions past it as output_padding
        fulls = full_sizes(case)
        attrs.update(pads_begin=[w.start for w in wants], pads_end=[max(0, f - w.stop) for f, w in zip(fulls, wants)],
                     output_padding=[max(0, w.stop - f) for f, w in zip(fulls, wants)])
    pads = list(zip(attrs["pads_begin"], attrs["pads_end"])) if "pads_begin" in attrs else [(0, 0)] * case.rank
    spans = [
        openvino_span(n, k, s, d, pads=pads[i],
                      output_padding=attrs["output_padding"][i], auto_pad=attrs["auto_pad"],
                      output_shape=attrs["output_shape"][i] if "output_shape" in attrs else None)
        for i, (n, k, s, d) in enumerate(zip(case.input_size, case.kernel_size, case.stride, case.dilation))
    ]
    if spans != list(wants):  # OpenVINO's own rule must give the canonical window
        raise AssertionError(f"OpenVINO attributes {attrs} give {spans}, not {list(wants)}")
    return attrs


def build_model(case: Case, attrs: dict[str, Any]) -> Any:
    """Parameter X, Constant weights, one (Group)ConvolutionBackpropData node, and an Add for the bias."""
    ov, ops = _ov(), _opset()
    element = getattr(ov.Type, _OV_TYPES[case.dtype])
    x = ops.parameter(list(case.input.shape), element, name="X")
    kernel = case.kernel
    if case.groups > 1:  # (C_in, C_out/G, *k) -> OpenVINO's (G, C_in/G, C_out/G, *k): a reshape
        kernel = kernel.reshape(case.groups, case.in_channels // case.groups, *kernel.shape[1:])
    w = ops.constant(to_tensor(kernel, case.dtype))
    options = {k: v for k, v in attrs.items() if k != "output_shape"}
    shape = None if "output_shape" not in attrs else ops.constant(np.array(attrs["output_shape"], dtype=np.int64))
    op = ops.group_convolution_backprop_data if case.groups > 1 else ops.convolution_backprop_data
    y = op(x, w, options.pop("strides"), shape, **options)
    if case.bias is not None:
        b = to_tensor(case.bias.reshape((1, -1) + (1,) * case.rank), case.dtype)
        y = ops.add(y, ops.constant(b))
    return ov.Model([y], [x], "tconv")


Nodes = tuple[tuple[frozenset[str], dict[str, str]], ...]  # per Deconvolution node: what it was made of, its info


def deconvolution_info(nodes: Nodes, layer: str | None = None) -> dict[str, str]:
    """The runtime model's Deconvolution node as the plugin describes it (`primitiveType`,
    `runtimePrecision`, ...), the one made of the backprop node named `layer` where a compiled
    batch has several; empty when it has none."""
    for made_of, info in nodes:
        if layer is None or layer in made_of:
            return dict(info)
    return {}


def deconvolution_nodes(compiled: Any) -> Nodes:
    """Each Deconvolution node of a compiled model: the names of the nodes it was made of, and its
    runtime info."""
    nodes = []
    for node in compiled.get_runtime_model().get_ordered_ops():
        info = node.get_rt_info()
        if "layerType" in info and info["layerType"].astype(str) == "Deconvolution":
            made_of = {node.get_friendly_name()}
            if "originalLayersNames" in info:
                made_of.update(info["originalLayersNames"].astype(str).split(","))
            nodes.append((frozenset(made_of), {key: info[key].astype(str) for key in info}))
    return tuple(nodes)


def compiled_precision(layer: Compiled) -> str:
    """The precision the compiled model reports, with the kernel and precision of the layer's Deconvolution node."""
    hint = layer.model.get_property("INFERENCE_PRECISION_HINT")
    precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
    if layer.shared.runtime_nodes is None:  # read once per compiled model: a batch's layers all ask it
        layer.shared.runtime_nodes = deconvolution_nodes(layer.model)
    node = deconvolution_info(layer.shared.runtime_nodes, layer.node)
    if not node:
        return precision
    return f"{precision} ({node.get('primitiveType', '?')}, runtime {node.get('runtimePrecision', '?')})"


def _probe_case(dtype: str) -> Case:
    """A tiny case of a dtype, to ask the runtime what it does with that dtype."""
    from harness.casefile import case_from_mapping

    return case_from_mapping({"id": "probe", "input": [[1, 2], [3, 4]], "kernel": [[1, 0], [2, -1]], "dtype": dtype})


@cache
def _core() -> Any:
    """One `openvino.Core` per process."""
    return _ov().Core()


_PREPARED: OrderedDict[str, Compiled] = OrderedDict()  # layer_key -> a layer `prepare` compiled in a batch


class _OpenVino:
    """What both entry points share: compiling for the CPU plugin with the precision hint, one
    layer at a time or (`prepare`) the next cases' small layers in one compile."""

    framework = "openvino"
    name: str

    def version(self) -> str:
        """The distribution's PEP 440 version (`openvino.__version__` carries a build suffix,
        `2026.4.1-22982-...`, that no known-discrepancy version range can match)."""
        from harness.environment import installed_version

        return installed_version("openvino") or "unknown"

    def model(self, case: Case) -> Any:
        """The case's one-layer `ov.Model`."""
        raise NotImplementedError

    def compile(self, case: Case) -> Compiled:
        """The case's model compiled by itself for the CPU plugin with `compile_config`."""
        model = self.model(case)
        return Compiled.alone(_core().compile_model(model, DEVICE, compile_config(case.dtype)), model)

    @lru_cache(maxsize=4)  # noqa: B019 - adapters are module-level singletons; path() and run() share it
    def compiled(self, case: Case) -> Compiled:
        """The layer `prepare` compiled in a batch, else `compile`; once for path() and run() of a case."""
        return _PREPARED.pop(model_cache.layer_key(self.name, case), None) or self.compile(case)

    def prepare(self, cases: Sequence[Case]) -> None:
        """Compile the small layers of the cases in one model per dtype (`adapters.openvino_batch`),
        those of unsupported cases too: every row compiles its layer for its `path` (for float64, the
        kernel and precision the plugin would take), and a layer that fails is left to its row."""
        todo: dict[str, dict[str, Case]] = {}
        for case in cases:
            key = model_cache.layer_key(self.name, case)
            if key not in _PREPARED and batchable(case):
                todo.setdefault(case.dtype, {})[key] = case
        for dtype, batch in todo.items():
            config = compile_config(dtype)
            layers = in_halves(list(batch.values()), lambda chosen: compiled_together(
                [self.model(case) for case in chosen], lambda model: _core().compile_model(model, DEVICE, config)))
            _PREPARED.update({key: layers[i] for i, key in enumerate(batch) if i in layers})
        while len(_PREPARED) > 2 * PREPARE_AHEAD:  # layers handed ahead whose rows never came
            _PREPARED.popitem(last=False)

    def path(self, case: Case) -> str:
        try:
            return compiled_precision(self.compiled(case))
        except RuntimeError as error:  # the row's message has the error: it did not compile
            return f"none (compile_model failed: {' '.join(str(error).split())[-80:]})"

    def precision_hint(self, case: Case) -> str:
        """The INFERENCE_PRECISION_HINT sent, `none` where the plugin takes no hint for the dtype."""
        return compile_config(case.dtype).get("INFERENCE_PRECISION_HINT", "none (f64 refused)")

    @cache  # noqa: B019
    def lowered_dtype(self, dtype: str) -> str | None:
        """Why the plugin cannot compute this dtype as itself (it computes it in another), or None.
        Asked of the runtime model of a probe; float16/bfloat16 computed in float32 are accepted."""
        if dtype != "float64":
            return None
        runtime = deconvolution_info(deconvolution_nodes(self.compile(_probe_case(dtype)).model)).get("runtimePrecision")
        if runtime in (None, "f64"):
            return None
        return (f"OpenVINO's CPU plugin computes float64 in {runtime}: it converts the f64 model's inputs to "
                f"{runtime} around its Deconvolution node (and refuses INFERENCE_PRECISION_HINT f64)")


class OpenVinoOpset(_OpenVino, Adapter):
    name = "openvino.opset"

    def model(self, case: Case) -> Any:
        return build_model(case, backprop_attributes(case))

    def supports(self, case: Case) -> str | None:
        return self.lowered_dtype(case.dtype)

    def run(self, case: Case) -> np.ndarray:
        return from_tensor(self.compiled(case).infer({"X": to_tensor(case.input, case.dtype)}))

    def sent(self, case: Case) -> dict[str, str]:
        attrs = backprop_attributes(case)
        shown = {"op": "GroupConvolutionBackpropData" if case.groups > 1 else "ConvolutionBackpropData"}
        shown.update({k: str(v) for k, v in attrs.items() if k not in ("strides", "dilations")})
        shown["precision_hint"] = self.precision_hint(case)
        return shown

    def translation(self, case: Case) -> str | None:
        attrs = backprop_attributes(case)
        notes = []
        if case.output_shape is None and "output_shape" in attrs:
            notes.append(f"{case.padding_word} runs as auto_pad={attrs['auto_pad']} with the output_shape input "
                         f"{attrs['output_shape']} (without it OpenVINO's same_* crop nothing)")
        elif attrs["auto_pad"].startswith("same") and case.padding_word != attrs["auto_pad"]:
            notes.append(f"{case.padding_label} runs as auto_pad={attrs['auto_pad']}")
        if attrs["auto_pad"].startswith("same"):
            notes.append("OpenVINO's same_upper crops the larger half first, ONNX's the smaller")
        if case.bias is not None:
            notes.append("the bias is an Add node after the op (OpenVINO's op takes none)")
        return "; ".join(notes) or None


class OpenVinoOnnx(_OpenVino, OnnxModelAdapter):
    name = "openvino.onnx"
    runtime = "OpenVINO's ONNX front end"

    def model(self, case: Case) -> Any:
        model = onnx_model.build_model(case, onnx_model.convtranspose_attributes(case))
        return _core().read_model(io.BytesIO(model.SerializeToString()))

    def supports(self, case: Case) -> str | None:
        return OnnxModelAdapter.supports(self, case) or self.lowered_dtype(case.dtype)

    def run(self, case: Case) -> np.ndarray:
        arrays = onnx_model.feeds(case, np.dtype(np.float64))
        return from_tensor(self.compiled(case).infer({name: to_tensor(values, case.dtype)
                                                      for name, values in arrays.items()}))

    def sent(self, case: Case) -> dict[str, str]:
        shown = OnnxModelAdapter.sent(self, case)
        shown["precision_hint"] = self.precision_hint(case)
        return shown


ADAPTERS = (OpenVinoOpset(), OpenVinoOnnx())
