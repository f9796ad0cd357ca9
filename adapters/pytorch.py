"""PyTorch: `torch.nn.functional.conv_transpose{1,2,3}d` and the `nn.ConvTranspose{1,2,3}d` module.

PyTorch's layout *is* the canonical one (NCHW, weight (C_in, C_out/groups, *k), no flip), so the
translation is only the padding: PyTorch crops symmetrically and adds `output_padding` at the end.
Asymmetric crops and `same`/`same_lower`/`output_shape` windows run with the nearest symmetric
padding and the adapter crops the rest. The module gets the case's weights loaded into it, and
for `output_shape` cases is called with `output_size=` (its own way of choosing output_padding).
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from adapters.base import Adapter, import_framework
from adapters.padding import (needs_extension, symmetric_plans, symmetric_translation, to_canonical_window,
                              upstream_on_span)
from harness import machine
from harness.case import Case

_DTYPES = {"float16": "float16", "bfloat16": "bfloat16", "float32": "float32", "float64": "float64"}


def _torch():
    torch = import_framework("torch")
    return torch


def _tensor(values: np.ndarray, dtype: str):
    """A float64 array holding dtype-exact values -> a torch tensor of that dtype (exact)."""
    torch = _torch()
    return torch.from_numpy(np.array(values, dtype=np.float64)).to(getattr(torch, _DTYPES[dtype]))


def _to_numpy(y) -> np.ndarray:
    """A torch tensor -> NumPy in the same dtype (bfloat16 via ml_dtypes, exactly)."""
    torch = _torch()
    y = y.detach().cpu()
    if y.dtype == torch.bfloat16:
        import ml_dtypes

        return y.to(torch.float32).numpy().astype(ml_dtypes.bfloat16)
    return y.numpy()


_plans = symmetric_plans  # per dim: PyTorch padding and output_padding, PyTorch's span; the wanted spans


def _crop(y: np.ndarray, case: Case, plans) -> np.ndarray:
    """Crop what PyTorch's symmetric padding could not, or append the zeros past its output
    (only without a bias: `supports` refuses the rest)."""
    return to_canonical_window(y, [p[2] for p in plans], case)


@contextmanager
def mkldnn_setting() -> Iterator[None]:
    """oneDNN as the user asked: `TCONV_TORCH_MKLDNN=0` disables it (the native kernels that a CPU
    without oneDNN float16/bfloat16 support takes), anything else leaves PyTorch's default."""
    if machine.torch_mkldnn_requested():
        yield
        return
    with warnings.catch_warnings():  # flags() warns about TF32 on Intel GPUs, which tconv never uses
        warnings.filterwarnings("ignore", message="TF32 acceleration")
        with _torch().backends.mkldnn.flags(enabled=False):
            yield


# `torch._C._ConvBackend` values the Python binding leaves unnamed (its enum lists them as ???).
_UNNAMED_BACKENDS = {9: "MkldnnTranspose"}


def conv_backend(case: Case, padding: Sequence[int] | None = None, output_padding: Sequence[int] | None = None) -> str:
    """PyTorch's own choice of convolution backend for this case (`_select_conv_backend`, what
    `torch.nn.functional.conv_transpose*d` dispatches on), under the mkldnn setting in force; with
    `padding` and `output_padding` where the module is not PyTorch's plan of the case (a converter's)."""
    torch = _torch()
    plans, _ = _plans(case)
    padding = [p[0] for p in plans] if padding is None else list(padding)
    output_padding = [p[1] for p in plans] if output_padding is None else list(output_padding)
    dtype = getattr(torch, _DTYPES[case.dtype])
    x = torch.zeros(case.input.shape, dtype=dtype)
    w = torch.zeros(case.kernel.shape, dtype=dtype)
    b = None if case.bias is None else torch.zeros(case.bias.shape, dtype=dtype)
    with mkldnn_setting():
        backend = torch._C._select_conv_backend(x, w, b, list(case.stride), padding, list(case.dilation),
                                                True, output_padding, case.groups, None)
    name = backend.name if backend.name != "???" else _UNNAMED_BACKENDS.get(int(backend), f"backend {int(backend)}")
    return "mkldnn" if "Mkldnn" in name else f"native ({name})"


class _Torch(Adapter):
    framework = "torch"

    def supports(self, case: Case) -> str | None:
        plans, wants = _plans(case)
        if case.bias is not None and needs_extension([p[2] for p in plans], wants):
            return ("the window runs further past the full result than an output_padding PyTorch accepts "
                    "(< max(stride, dilation)) reaches, and PyTorch would add the bias to the zeros there")
        return None

    def sent(self, case: Case) -> dict[str, str]:
        plans, _ = _plans(case)
        return {"padding": str(tuple(p[0] for p in plans)), "output_padding": str(tuple(p[1] for p in plans))}

    def path(self, case: Case) -> str:
        return conv_backend(case)

    def output(self, case: Case, x, w, b, plans):
        raise NotImplementedError

    def run(self, case: Case) -> np.ndarray:
        torch = _torch()
        plans, _ = _plans(case)
        b = None if case.bias is None else _tensor(case.bias, case.dtype)
        with torch.no_grad(), mkldnn_setting():
            y = self.output(case, _tensor(case.input, case.dtype), _tensor(case.kernel, case.dtype), b, plans)
        return _crop(_to_numpy(y), case, plans)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        """Autograd: `y.backward(g)`, g the case's upstream gradient placed on PyTorch's output."""
        plans, wants = _plans(case)
        x = _tensor(case.input, case.dtype).requires_grad_()
        w = _tensor(case.kernel, case.dtype).requires_grad_()
        b = None if case.bias is None else _tensor(case.bias, case.dtype).requires_grad_()
        with mkldnn_setting():
            y = self.output(case, x, w, b, plans)
            y.backward(_tensor(upstream_on_span(case.upstream, wants, [p[2] for p in plans]), case.dtype))
        w_grad, b_grad = (w.grad, None if b is None else b.grad)
        if isinstance(self, TorchModule):  # the module's own parameters hold the gradients
            w_grad, b_grad = (p.grad if p is not None else None for p in self.parameters)
        grads = {"grad_input": _to_numpy(x.grad), "grad_weight": _to_numpy(w_grad)}
        if b_grad is not None:
            grads["grad_bias"] = _to_numpy(b_grad)
        return grads

    def translation(self, case: Case) -> str | None:
        return symmetric_translation("PyTorch", *_plans(case))


class TorchFunctional(_Torch):
    name = "torch.functional"

    def output(self, case: Case, x, w, b, plans):
        """PyTorch's result (a tensor, before the adapter's crop) for the tensors x, w, b."""
        functional = _torch().nn.functional
        conv = {1: functional.conv_transpose1d, 2: functional.conv_transpose2d, 3: functional.conv_transpose3d}[case.rank]
        return conv(x, w, b, stride=case.stride, padding=tuple(p[0] for p in plans),
                    output_padding=tuple(p[1] for p in plans), groups=case.groups, dilation=case.dilation)


def _output_size_fits(case: Case, plans) -> bool:
    """Whether the module takes an `output_shape` case's size as `output_size=`: PyTorch accepts
    sizes up to `stride - 1` past its minimum (an output_padding reaching the dilation is not one)."""
    return case.output_shape is not None and all(p[1] < s for p, s in zip(plans, case.stride))


class TorchModule(_Torch):
    name = "torch.module"

    def sent(self, case: Case) -> dict[str, str]:
        plans, _ = _plans(case)
        if not _output_size_fits(case, plans):
            return super().sent(case)
        return {"padding": str(tuple(p[0] for p in plans)), "output_size": str(tuple(p[2].length for p in plans))}

    def output(self, case: Case, x, w, b, plans):
        """The module's result with w and b as its parameters (gradients land in .grad of them)."""
        module, output_size = conv_transpose_module(case, w, b, plans)
        self.parameters = (module.weight, module.bias)
        if output_size is not None:  # the module picks output_padding itself from the requested size
            return module(x, output_size=output_size)
        return module(x)


_TORCHVISION_OPS = ("nms", "qnms")  # what torchvision's import registers fake kernels for unconditionally


def torchvision_importable() -> None:
    """Let `import torchvision` work beside the CPU build of PyTorch: for the converters that
    import torchvision (nobuco at its top, onnx2torch for its NMS and RoIAlign converters); call it
    before importing them.

    PyPI serves torchvision only as the CUDA build, whose C++ ops (`_C.so`) need PyTorch's CUDA
    libraries; without them its import dies registering fake kernels for `torchvision::nms` and
    `qnms` ("operator torchvision::nms does not exist"). When `_C.so` cannot be loaded, the two
    schemas (torchvision's own) are declared first. Nothing of torchvision runs in a conversion
    of a transposed convolution; with a torchvision whose ops load, this does nothing.
    """
    torch = _torch()
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    libraries = sorted(Path(next(iter(spec.submodule_search_locations))).glob("_C*.so"))
    try:
        for library in libraries[:1]:
            torch.ops.load_library(str(library))
        return
    except OSError:
        pass
    for op in _TORCHVISION_OPS:
        with contextlib.suppress(RuntimeError):  # already declared (a second call)
            torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


def conv_transpose_module(case: Case, w, b, plans):
    """`nn.ConvTranspose{1,2,3}d` holding w and b, and the `output_size=` to call it with (None
    when the case runs with an explicit output_padding): also what the ONNX exporters export."""
    torch = _torch()
    module_class = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}[case.rank]
    use_output_size = _output_size_fits(case, plans)
    with warnings.catch_warnings():  # an empty weight (C_in or C_out 0) warns that init is a no-op
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        module = module_class(
            case.in_channels, case.out_channels, case.kernel_size, stride=case.stride,
            padding=tuple(p[0] for p in plans),
            output_padding=0 if use_output_size else tuple(p[1] for p in plans),
            groups=case.groups, bias=case.bias is not None, dilation=case.dilation,
            dtype=getattr(torch, _DTYPES[case.dtype]),
        )
    with torch.no_grad():
        module.weight.copy_(w)
        if b is not None:
            module.bias.copy_(b)
    return module, ([p[2].length for p in plans] if use_output_size else None)


ADAPTERS = (TorchFunctional(), TorchModule())
