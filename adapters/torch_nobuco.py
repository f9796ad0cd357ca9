"""A conversion path: PyTorch's `nn.ConvTranspose{1,2}d` converted by nobuco
(`nobuco.pytorch_to_keras`) to a Keras 2 model and run in TensorFlow.

How PyTorch models reach TensorFlow, TF Lite and TF.js without ONNX. The module is the one
`torch.module` and `torch.onnx_export` run (`adapters.pytorch.conv_transpose_module`: the case's
weights, the padding and output_padding of PyTorch's plan, `output_size=` where the case asks for a
size), so the row judges nobuco's translation (a Keras `ConvNDTranspose` with padding `valid`, the
weights transposed to Keras' layout, a dense kernel with zeros off the groups for `groups > 1`, a
slice for PyTorch's padding) and TensorFlow's kernel. The adapter crops what PyTorch's plan cannot
express, as `torch.module` does (stated in the row's translation).

Layout: the Keras model takes and returns channels-first tensors, as the PyTorch module does
(`inputs_channel_order` and `outputs_channel_order` `ChannelOrder.PYTORCH`): nobuco transposes to
NHWC and back inside the model, and each row's translation says so. The model is called eagerly in
TensorFlow (no TF Lite file). nobuco's own check of the converted model against PyTorch
(`full_validation`, on by default) runs as in any conversion; its report is not read.

nobuco 0.17 imports `keras.src.engine` (Keras 2: TensorFlow <= 2.15) and torchvision, which cannot
share the main environment (Keras 3): this adapter `requires` nobuco and runs in `tox -e nobuco`.
"""

from __future__ import annotations

import contextlib
import io
import re
from functools import cache
from typing import Any

import numpy as np

from adapters.base import import_framework, probe_error
from adapters.padding import dilated
from adapters.pytorch import _crop, _output_size_fits, _plans, _tensor, _Torch, torchvision_importable
from adapters.torch_onnx import layer_sent, model_layer
from harness.case import Case
from harness.dtypes import numpy_dtype


@cache
def _nobuco():
    """nobuco, imported once per process after TensorFlow and the torchvision fix-up."""
    import_framework("tensorflow")  # first, as tconv imports it: TF's C++ logging quiet
    torchvision_importable()
    return import_framework("nobuco")


def _converted(case: Case) -> tuple[Any, np.ndarray]:
    """The Keras model nobuco makes of the case's module (`adapters.torch_onnx.model_layer`: the
    module as a model calls it, `output_size=` when the case asks for a size), traced on the case's
    input; and that input, for the model's call."""
    torch = import_framework("torch")
    nobuco = _nobuco()
    import_framework("tensorflow").keras.backend.clear_session()  # no layers left over from the previous case
    log = io.StringIO()
    order = nobuco.ChannelOrder.PYTORCH
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), torch.no_grad():
            model = nobuco.pytorch_to_keras(model_layer(case), args=[_tensor(case.input, case.dtype)],
                                            inputs_channel_order=order, outputs_channel_order=order)
    except Exception as error:
        cause = _conversion_exception(log.getvalue())
        if cause is None:
            raise
        raise RuntimeError(f"nobuco could not convert {cause}") from error
    return model, _input(case)


def _input(case: Case) -> np.ndarray:
    """The input for the Keras model, in the case's dtype (bfloat16 through ml_dtypes)."""
    return np.asarray(case.input, dtype=np.float64).astype(numpy_dtype(case.dtype))


def _conversion_exception(log: str) -> str | None:
    """The node and the error nobuco's conversion report names ("Conversion exception on node
    'ConvTranspose2d': ..."), which its own exception ("Failed conversion: <module>") leaves out."""
    for line in re.sub(r"\x1b\[[0-9;]*m", "", log).splitlines():
        if line.startswith("Conversion exception on node"):
            return line.removeprefix("Conversion exception on node").strip()
    return None


class TorchNobuco(_Torch):
    name = "torch.nobuco"
    route = "conversion: nn.ConvTranspose -> nobuco -> Keras 2 / TensorFlow"
    requires = ("nobuco", "torchvision", "tensorflow")  # nobuco imports torchvision at its top

    def supports(self, case: Case) -> str | None:
        plans, _ = _plans(case)
        if case.rank == 3:
            nn = import_framework("torch").nn
            if nn.ConvTranspose3d not in _nobuco().commons.CONVERTER_DICT:
                return "nobuco has no converter for nn.ConvTranspose3d (nor F.conv_transpose3d)"
        if _output_size_fits(case, plans):
            return "nobuco converts no ConvTranspose called with output_size= (its converters assert it is None)"
        if any(p[1] for p in plans):
            return "nobuco converts no ConvTranspose with output_padding != 0 ('Output padding is not supported yet')"
        return super().supports(case) or self._dtype_missing(case.dtype)

    def path(self, case: Case) -> str:
        """The converter and the runtime, with their versions (the row's version is PyTorch's)."""
        from importlib.metadata import version

        return f"nobuco {version('nobuco')}, tensorflow {import_framework('tensorflow').__version__} (keras {version('keras')})"

    def sent(self, case: Case) -> dict[str, str]:
        sent = layer_sent(case)
        # nobuco runs Keras' `valid`, which appends zeros where the stride passes the dilated kernel
        beyond = any(s > dilated(k, d) for s, k, d in zip(case.stride, case.kernel_size, case.dilation))
        sent["stride_beyond_kernel"] = "yes" if beyond else "no"
        return sent

    def translation(self, case: Case) -> str | None:
        layout = ("nobuco's Keras model takes and returns channels-first tensors (channel order PYTORCH: it "
                  "transposes to NHWC and back inside)")
        return "; ".join(t for t in (super().translation(case), layout) if t)

    def run(self, case: Case) -> np.ndarray:
        plans, _ = _plans(case)
        model, x = _converted(case)
        y = model(x, training=False)
        return _crop(np.asarray(y), case, plans)

    def gradients(self, case: Case) -> dict[str, np.ndarray]:
        raise NotImplementedError("a converted inference model has no gradients")

    def gradient_support(self, case: Case) -> str | None:
        return "a converted Keras model is run for inference only (no gradients through the conversion)"

    @cache  # noqa: B019 - adapters are module-level singletons
    def _dtype_missing(self, dtype: str) -> str | None:
        """Whether nobuco and TensorFlow carry this dtype at all (asked once, tiny case)."""
        error = probe_error(self.run, dtype)
        if error is not None:
            return f"{dtype} through nobuco and TensorFlow: {' '.join(str(error).split())[:200]}"
        return None


ADAPTERS = (TorchNobuco(),)
