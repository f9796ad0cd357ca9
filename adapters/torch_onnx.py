"""Two conversion paths: PyTorch's `nn.ConvTranspose{1,2,3}d` exported by `torch.onnx.export`,
with the TorchScript exporter and with the dynamo exporter (`dynamo=True`), and run in ONNX
Runtime's CPU provider.

This is how a trained PyTorch upsampling layer usually ships. The module is the one the
`torch.module` adapter runs (`adapters.pytorch.conv_transpose_module`: the case's weights, the
padding and output_padding of PyTorch's plan, `output_size=` where the case asks for a size), so
the row judges what the exporter wrote and the runtime computed, nothing else: the exporter's
translation of PyTorch's symmetric padding, `output_padding` and `output_size` into ONNX's
`pads`, `output_padding` and `output_shape`. The adapter crops what PyTorch's plan cannot
express, exactly as `torch.module` does (stated in the row's translation).

The dynamo exporter (`torch.export` -> torchlib's ATen-to-ONNX translation -> the ONNX
optimizer) is a different program from the TorchScript one and is the default from PyTorch 2.9.
Its public entry point rebuilds the torchlib registry on every call (2 of its 2.5 s per export on a
2-core EPYC, an hour for the built-in suite); `_dynamo_exported` builds the registry once per
process and calls the same pipeline with it, and falls back to the public call where that internal
entry point is missing. torch.export then lists every CompositeImplicitAutograd op of every
namespace twice per export; `_cia_ops_listed_once` keeps that list while the dispatcher's
registrations stay the same (0.39 -> 0.25-0.31 s an export, measured in one process). The model
written is byte for byte the public call's (tests/test_torch_onnx.py).

Even so, an export's fixed cost is most of it. `prepare` exports the next cases' layers as one
module (one input and one output per layer) and cuts each layer's nodes out of the result
(`onnx.utils.Extractor`): 0.03-0.05 s a layer instead of 0.29 s. The model cut out is the
single export's, node for node and value for value; only names and the exporter's metadata
differ (tests/test_torch_onnx.py). A batch that fails is halved until the failing layer is
alone, and that layer's row exports it by itself, so its error is its own.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import ClassVar

import numpy as np

from adapters.base import framework_installed, import_framework, in_halves, probe_error
from adapters.onnx_model import rename_cut_layer
from adapters.onnx_runtime import cpu_session
from adapters.pytorch import _crop, _output_size_fits, _plans, _Torch, _tensor, conv_transpose_module
from harness import model_cache
from harness.case import Case

OPSET = 17
DYNAMO_OPSET = 18  # the dynamo exporter's own opset (torchlib's); older ones go through a version converter


def model_layer(case: Case):  # noqa: ANN201 - a torch.nn.Module
    """The case's `nn.ConvTranspose{1,2,3}d` as a model calls it (`output_size=` when the case asks
    for a size), in eval mode: what every PyTorch conversion path converts."""
    torch = import_framework("torch")
    plans, _ = _plans(case)
    b = None if case.bias is None else _tensor(case.bias, case.dtype)
    module, output_size = conv_transpose_module(case, _tensor(case.kernel, case.dtype), b, plans)

    class Layer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = module

        def forward(self, x):  # noqa: ANN001, ANN202
            return self.conv(x) if output_size is None else self.conv(x, output_size=output_size)

    return Layer().eval()


def layer_sent(case: Case) -> dict[str, str]:
    """What `model_layer` holds: PyTorch's padding, and its `output_size=` or `output_padding`."""
    plans, _ = _plans(case)
    sent = {"padding": str(tuple(p[0] for p in plans))}
    if _output_size_fits(case, plans):
        sent["output_size"] = str(tuple(p[2].length for p in plans))
    else:
        sent["output_padding"] = str(tuple(p[1] for p in plans))
    return sent


def _exported(case: Case, *, dynamo: bool = False) -> bytes:
    """The ONNX bytes `torch.onnx.export` writes for the case's module (weights as initializers)."""
    torch = import_framework("torch")
    if dynamo:
        return _dynamo_exported(model_layer(case), _tensor(case.input, case.dtype))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():  # the TorchScript exporter's deprecation notice
        warnings.simplefilter("ignore")
        torch.onnx.export(model_layer(case), (_tensor(case.input, case.dtype),), buffer, dynamo=False,
                          opset_version=OPSET, input_names=["X"], output_names=["Y"])
    return buffer.getvalue()


@cache
def _torchlib_registry():  # noqa: ANN202 - torch's internal ONNXRegistry
    """torchlib's ATen-to-ONNX table, built once: the public call builds it on every export."""
    from torch.onnx._internal.exporter import _registration

    return _registration.ONNXRegistry().from_torchlib(opset_version=DYNAMO_OPSET)


@contextmanager
def _cia_ops_listed_once() -> Iterator[None]:
    """torch.export's `_collect_all_valid_cia_ops`, kept while the op namespaces and the dispatcher's
    CompositeImplicitAutograd registrations stay the same (what the list is made of; torch itself
    caches the aten part of it). Restored on the way out; absent internals leave the export alone."""
    try:
        from torch._export import utils
        from torch.export import decomp_utils, exported_program
    except ImportError:
        yield
        return
    original = getattr(utils, "_collect_all_valid_cia_ops", None)
    users = [m for m in (exported_program, decomp_utils) if getattr(m, "_collect_all_valid_cia_ops", None) is original]
    if original is None or not users:
        yield
        return
    torch = import_framework("torch")

    def listed_once():  # noqa: ANN202 - a set of torch op overloads
        key = (tuple(torch.ops._dir), tuple(torch._C._dispatch_get_registrations_for_dispatch_key(
            "CompositeImplicitAutograd")))
        if _CIA_OPS.get("key") != key:
            _CIA_OPS.update(key=key, ops=frozenset(original()))
        return set(_CIA_OPS["ops"])

    for module in users:
        module._collect_all_valid_cia_ops = listed_once
    try:
        yield
    finally:
        for module in users:
            module._collect_all_valid_cia_ops = original


_CIA_OPS: dict[str, object] = {}


def _dynamo_exported(layer, x) -> bytes:  # noqa: ANN001 - torch objects
    """What `torch.onnx.export(layer, (x,), dynamo=True)` writes (optimizer on, its default)."""
    torch = import_framework("torch")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" notices
    names = {"input_names": ["X"], "output_names": ["Y"], "opset_version": DYNAMO_OPSET, "verbose": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            try:
                from torch.onnx._internal.exporter import _core
            except ImportError:  # another PyTorch layout: the public call, registry and all
                program = torch.onnx.export(layer, (x,), dynamo=True, **names)
            else:
                with _cia_ops_listed_once():
                    program = _core.export(layer, (x,), registry=_torchlib_registry(), **names)
        except Exception as error:
            _raise_cause_of_export_failure(error)
            raise
    return program.model_proto.SerializeToString()


def _dynamo_exported_together(cases: list[Case]) -> list[bytes]:
    """Each case's model as `_exported(case, dynamo=True)` computes it, from one export of all their
    layers side by side (one input `X<i>` and output `Y<i>` each), cut apart."""
    torch = import_framework("torch")
    from torch.onnx._internal.exporter import _core  # no fast path without it: the rows export alone

    class Together(torch.nn.Module):
        def __init__(self, layers: list) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(layers)

        def forward(self, *xs):  # noqa: ANN002, ANN202
            return tuple(layer(x) for layer, x in zip(self.layers, xs))

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    inputs = tuple(_tensor(case.input, case.dtype) for case in cases)
    with warnings.catch_warnings(), _cia_ops_listed_once():
        warnings.simplefilter("ignore")
        program = _core.export(Together([model_layer(case) for case in cases]).eval(), inputs,
                               registry=_torchlib_registry(), opset_version=DYNAMO_OPSET, verbose=False,
                               input_names=[f"X{i}" for i in range(len(cases))],
                               output_names=[f"Y{i}" for i in range(len(cases))])
    return [_cut_out(program.model_proto, i) for i in range(len(cases))]


def _cut_out(model, index: int) -> bytes:  # noqa: ANN001 - an onnx.ModelProto
    """The nodes from `X<index>` to `Y<index>` as a model of their own, named as the single export
    names them (a runtime's error quotes the names): input `X`, output `Y`, weights without the
    batch's `layers.<i>.` and nodes numbered within the layer; the batch's producer."""
    import onnx.utils

    part = onnx.utils.Extractor(model).extract_model([f"X{index}"], [f"Y{index}"])
    graph = part.graph

    def alone(name: str) -> str:
        return {f"X{index}": "X", f"Y{index}": "Y"}.get(name) or re.sub(r"^layers\.\d+\.", "", name)

    # the order the nodes read them in, as an export of the layer alone lists them (the extractor has its
    # own, and the batch's may be another layer's where the exporter merged equal weights)
    read = [name for node in graph.node for name in node.input] + [v.name for v in model.graph.value_info]
    position = {name: n for n, name in reversed(list(enumerate(read)))}
    for field in (graph.initializer, graph.value_info):
        kept = sorted((v for v in field if v.name in position and v.name not in (f"X{index}", f"Y{index}")),
                      key=lambda value: position[value.name])
        del field[:]
        field.extend(kept)  # the extractor's own value_info of X<i> and Y<i> goes
    rename_cut_layer(part, model, alone)
    seen: dict[str, int] = {}
    for node in graph.node:
        base = re.sub(r"_\d+$", "", node.name)
        node.name = base if base not in seen else f"{base}_{seen[base]}"
        seen[base] = seen.get(base, 0) + 1
    return part.SerializeToString()


_PREPARED: dict[str, bytes] = {}  # layer_key -> the model `prepare` exported for a row still to run


def _raise_cause_of_export_failure(error: Exception) -> None:
    """Raise what PyTorch itself said when torch.export (step 1 of 3) failed: the exporter wraps
    it in a page of advice with terminal colours, and the row should carry PyTorch's words."""
    if type(error).__name__ == "TorchExportError" and isinstance(error.__cause__, Exception):
        raise error.__cause__ from error


def _in_onnxruntime(model: bytes, x: np.ndarray) -> np.ndarray:
    return cpu_session(model).run(["Y"], {"X": x})[0]


def _input(case: Case) -> np.ndarray:
    """The input in the exported model's element type (bfloat16 through ml_dtypes)."""
    from harness.dtypes import numpy_dtype

    return np.asarray(case.input, dtype=np.float64).astype(numpy_dtype(case.dtype))


class TorchOnnxExport(_Torch):
    name = "torch.onnx_export"
    route = "conversion: torch.onnx.export (TorchScript) -> ONNX Runtime CPU"
    dynamo: ClassVar[bool] = False

    def supports(self, case: Case) -> str | None:
        if not framework_installed("onnxruntime"):
            return "onnxruntime is not installed (the exported model runs there)"
        return super().supports(case) or self._dtype_missing(case.dtype)

    def path(self, case: Case) -> str:
        """The runtime the exported model ran in, with its version (the row's version is PyTorch's)."""
        return f"onnxruntime {import_framework('onnxruntime').__version__} cpu"

    def sent(self, case: Case) -> dict[str, str]:
        plans, _ = _plans(case)
        sent = layer_sent(case)
        # what the exported node carries: ONNX Runtime refuses output_padding >= stride (a known entry)
        beyond = any(p[1] >= s for p, s in zip(plans, case.stride)) and not _output_size_fits(case, plans)
        sent["output_padding_beyond_stride"] = "yes" if beyond else "no"
        return sent

    def run(self, case: Case) -> np.ndarray:
        plans, _ = _plans(case)
        model = model_cache.converted(self.name, case, lambda: _PREPARED.pop(model_cache.layer_key(self.name, case), None)
                                      or _exported(case, dynamo=self.dynamo))
        y = _in_onnxruntime(model, _input(case))
        return _crop(np.asarray(y), case, plans)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        raise NotImplementedError("an exported inference model has no gradients")

    def gradient_support(self, case: Case) -> str | None:
        return "an exported ONNX model is run for inference only (ONNX Runtime computes no gradients here)"

    @cache  # noqa: B019 - adapters are module-level singletons
    def _dtype_missing(self, dtype: str) -> str | None:
        """Whether the exporter and ONNX Runtime carry this dtype at all (asked once, tiny case)."""
        error = probe_error(self.run, dtype)
        if error is not None:
            return f"{dtype} through {self.route.removeprefix('conversion: ')}: {' '.join(str(error).split())[:200]}"
        return None


class TorchOnnxDynamo(TorchOnnxExport):
    """The same layer through the dynamo exporter: another translation of the same padding plan."""

    name = "torch.onnx_dynamo"
    route = "conversion: torch.onnx.export(dynamo=True) -> ONNX Runtime CPU"
    dynamo = True

    def supports(self, case: Case) -> str | None:
        if importlib.util.find_spec("onnxscript") is None:
            return "onnxscript is not installed (the dynamo exporter translates with its torchlib)"
        return super().supports(case)

    def prepare(self, cases: Sequence[Case]) -> None:
        """Export the layers of the cases that will need it together, one batch per dtype."""
        todo: dict[str, dict[str, Case]] = {}
        for case in cases:
            key = model_cache.layer_key(self.name, case)
            if key not in _PREPARED and not model_cache.kept(self.name, key) and self.supports(case) is None:
                todo.setdefault(case.dtype, {})[key] = case
        for batch in todo.values():
            models = in_halves(list(batch.values()), _dynamo_exported_together)
            _PREPARED.update({key: models[i] for i, key in enumerate(batch) if i in models})


ADAPTERS = (TorchOnnxExport(), TorchOnnxDynamo())
