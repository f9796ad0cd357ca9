"""A conversion path: tconv's one-node ONNX `ConvTranspose` model converted by onnx2torch and run in
PyTorch.

The model is the one `onnxruntime.cpu`, `onnx.reference` and `onnx.onnx2tf` run (`adapters.onnx_model`:
canonical layouts, the case's padding as `pads`/`auto_pad`/`output_padding`/`output_shape`), with W
and B as initializers (`adapters.onnx2tf_conv.with_constant_weights`): onnx2torch reads a
ConvTranspose's weights only from initializers, as they are in a shipped model.
`onnx2torch.convert(model)` rebuilds it as a `torch.fx.GraphModule` holding one
`nn.ConvTranspose{1,2,3}d` (its converter, `onnx2torch/node_converters/conv.py`, maps `strides`,
`dilations`, `group`, symmetric `pads` and `output_padding` to the module's arguments and puts W and
B in as the module's weight and bias), and the row is that module's result in PyTorch (eager call),
so it judges onnx2torch's translation of ONNX's attributes into PyTorch's, and PyTorch's kernel
(the row's `path` names it, as `torch.module`'s does: `native (SlowTranspose2d)`, `mkldnn`).

What the converter refuses outright (`NotImplementedError`: `auto_pad` SAME_UPPER/SAME_LOWER,
asymmetric `pads`) is `unsupported`, in its words, asked by converting the case's model
(`refusal`); what it converts wrongly is a row that fails. It does not read `output_shape`.

Layout: none to translate. ONNX's X, W and Y are PyTorch's NCHW, (C_in, C_out/group, *k) and NCHW,
and onnx2torch inserts no transposes: the GraphModule takes the input and returns the output
channels-first (each row's translation says so).

Gradients: the converted module is a PyTorch module whose weight and bias are leaf parameters (the
converter assigns W and B to `weight.data` and `bias.data`), so `gradients()` is PyTorch's autograd
through it: `y.backward(upstream)`, then the input's and the parameters' `.grad`, all in the
canonical layouts already.

onnx2torch requires torchvision and imports it at its top; PyPI serves torchvision only as its CUDA
build, which is kept out of the main environment: this adapter `requires` onnx2torch and runs in
`tox -e onnx2torch` (`adapters.pytorch.torchvision_importable` makes that import work beside
PyTorch's CPU build).
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

import numpy as np

from adapters.base import import_framework, probe_error
from adapters.onnx2tf_conv import with_constant_weights
from adapters.onnx_model import OnnxModelAdapter, build_model, convtranspose_attributes, feeds
from adapters.pytorch import _tensor, _to_numpy, conv_backend, mkldnn_setting, torchvision_importable
from harness.case import Case
from harness.dtypes import numpy_dtype


@cache
def _onnx2torch() -> Any:
    """onnx2torch, imported once per process after the torchvision fix-up."""
    import_framework("torch")
    torchvision_importable()
    return import_framework("onnx2torch")


def converted(case: Case) -> Any:
    """The `torch.fx.GraphModule` onnx2torch makes of the case's one-node model (W, B initializers)."""
    model = build_model(case, convtranspose_attributes(case))
    model = with_constant_weights(model, feeds(case, numpy_dtype(case.dtype)))
    with warnings.catch_warnings():  # its module for an empty W (C_in or C_out 0) warns that init is a no-op
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        return _onnx2torch().convert(model)


def _conv_module(graph_module: Any) -> Any:
    """The `nn.ConvTranspose{1,2,3}d` inside the converted GraphModule (its parameters are W and B)."""
    modules = import_framework("torch").nn.modules.conv
    found = [m for m in graph_module.modules() if isinstance(m, modules._ConvTransposeNd)]
    if len(found) != 1:
        raise AssertionError(f"onnx2torch's GraphModule holds {len(found)} ConvTranspose modules, not 1: "
                             f"{graph_module}")
    return found[0]


def refusal(case: Case) -> str | None:
    """What onnx2torch's ConvTranspose converter refuses outright, in its words: it raises
    `NotImplementedError` for `auto_pad` SAME_UPPER/SAME_LOWER and for asymmetric `pads` (asked by
    converting the case's model; any other failure is the row's, in `run`)."""
    try:
        converted(case)
    except NotImplementedError as error:
        attrs = convtranspose_attributes(case)
        shown = ", ".join(f"{k}={attrs[k]}" for k in ("auto_pad", "pads") if k in attrs)
        return f"onnx2torch converts no ConvTranspose with {shown}: {' '.join(str(error).split())[:200]}"
    except Exception:  # noqa: BLE001 - not a refusal: the dtype probe or the row says what it is
        return None
    return None


def module_arguments(case: Case) -> tuple[list[int], list[int]] | None:
    """The padding and output_padding onnx2torch gives the `nn.ConvTranspose` it builds (its
    converter: symmetric `pads` halved, 0 for VALID, `output_padding` as is, `output_shape` unread),
    None where it refuses the model."""
    attrs = convtranspose_attributes(case)
    auto_pad, pads = attrs.get("auto_pad", "NOTSET"), attrs.get("pads", [0] * 2 * case.rank)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") or (auto_pad == "NOTSET" and pads[:case.rank] != pads[case.rank:]):
        return None
    padding = pads[:case.rank] if auto_pad == "NOTSET" else [0] * case.rank
    return padding, list(attrs.get("output_padding", [0] * case.rank))


class Onnx2Torch(OnnxModelAdapter):
    name = "onnx.onnx2torch"
    framework = "onnx"
    route = "conversion: one-node ONNX model -> onnx2torch -> PyTorch (torch.fx GraphModule)"
    runtime = "onnx2torch and PyTorch"
    requires = ("onnx2torch", "torch", "torchvision")  # onnx2torch imports torchvision at its top

    def run(self, case: Case) -> np.ndarray:
        torch = import_framework("torch")
        graph_module = converted(case)
        with torch.no_grad(), mkldnn_setting():
            y = graph_module(_tensor(case.input, case.dtype))
        return _to_numpy(y)

    def supports(self, case: Case) -> str | None:
        return refusal(case) or self._missing_kernel(case.dtype)

    def path(self, case: Case) -> str:
        """The converter and the runtime, with their versions (the row's version is onnx's), and the
        kernel PyTorch takes for the converted module (`native (SlowTranspose2d)`, `mkldnn`)."""
        from importlib.metadata import version

        path = f"onnx2torch {version('onnx2torch')}, torch {import_framework('torch').__version__}"
        arguments = module_arguments(case)
        try:
            return path if arguments is None else f"{path}, {conv_backend(case, *arguments)}"
        except RuntimeError:  # PyTorch refuses the shapes before choosing (C_in = 0): the row will say so
            return path

    def translation(self, case: Case) -> str | None:
        layout = "onnx2torch's GraphModule takes and returns NCHW tensors (ONNX's layout is PyTorch's: no transposes)"
        return "; ".join(t for t in (super().translation(case), layout) if t)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """PyTorch's autograd through the converted module: `y.backward(upstream)`, then the input's
        and the converted ConvTranspose module's weight and bias `.grad` (canonical layouts)."""
        graph_module = converted(case)
        conv = _conv_module(graph_module)
        x = _tensor(case.input, case.dtype).requires_grad_()
        with mkldnn_setting():
            y = graph_module(x)
            if tuple(y.shape) != case.upstream.shape:  # the forward row says how it differs
                raise ValueError(f"shape {tuple(y.shape)} != expected {case.upstream.shape} (the converted model's "
                                 "output, against which no sum(y * upstream) is taken)")
            y.backward(_tensor(case.upstream, case.dtype))
        grads = {"grad_input": _to_numpy(x.grad), "grad_weight": _to_numpy(conv.weight.grad)}
        if case.bias is not None:
            grads["grad_bias"] = _to_numpy(conv.bias.grad)
        return grads

    @cache  # noqa: B019 - adapters are module-level singletons
    def _missing_kernel(self, dtype: str) -> str | None:
        """Whether onnx2torch and PyTorch carry a dtype at all (asked once per dtype, tiny case)."""
        error = probe_error(self.run, dtype)
        if error is not None:
            return f"{dtype} through onnx2torch and PyTorch: {' '.join(str(error).split())[:200]}"
        return None


ADAPTERS = (Onnx2Torch(),)
