"""A conversion path: PyTorch's `nn.ConvTranspose{1,2,3}d` converted by litert-torch
(`litert_torch.convert`, formerly ai-edge-torch) to a LiteRT flatbuffer, run by the LiteRT
interpreter (`ai-edge-litert`).

This is how PyTorch models reach phones without ONNX: `torch.export`, litert-torch's own
lowering of `aten.convolution(transposed=True)` to StableHLO, and the TFLite converter passes
that turn it into `TRANSPOSE_CONV`. The layer is the one the ONNX exporters export
(`adapters.torch_onnx.model_layer`: PyTorch's padding plan, `output_size=` where the case asks a
size), so the row judges what the converter wrote and the interpreter computed; what PyTorch's
plan cannot express is cropped exactly as `torch.module` crops it.

litert-torch caps `typing-extensions` below 4.13 (through xdsl), which moves pydantic back a
minor release and other tools with it, and it converts one case in ~1.5 s on a 2-core EPYC: it
runs in its own tox env (`tox -e litert_torch`), whose report is merged into the baseline, and
is listed as not installed elsewhere (`requires`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from functools import cache

import numpy as np

from adapters.base import import_framework, probe_error
from adapters.litert import _first_error, _interpret
from adapters.pytorch import _crop, _plans, _Torch, _tensor
from adapters.torch_onnx import TorchOnnxExport, _input, model_layer
from harness.case import Case


def _converted(case: Case) -> bytes:
    """The LiteRT flatbuffer litert-torch writes for the case's layer (weights as constants)."""
    import_framework("torch")
    litert_torch = import_framework("litert_torch")
    logging.getLogger("litert_torch").setLevel(logging.ERROR)
    quiet = io.StringIO()  # its progress lines go to stdout and stderr on every conversion
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        warnings.simplefilter("ignore")
        try:
            model = litert_torch.convert(model_layer(case), (_tensor(case.input, case.dtype),))
        except Exception as error:
            if "error: " not in str(error):  # PyTorch's own refusal (torch.export) or the converter's words
                raise
            # the converter's MLIR dump of file paths and source lines: its first `error:` line
            raise RuntimeError(f"litert_torch.convert: {_first_error(error)}") from error
    return model.model_content()


def _output_padding_over_padding(case: Case) -> bool:
    """Whether a dim has both PyTorch padding and output_padding (from `output_size=` too): the
    positions output_padding adds then lie inside the full result and hold computed values."""
    plans, _ = _plans(case)
    return any(p[0] > 0 and p[1] > 0 for p in plans)


class TorchLiteRt(_Torch):
    name = "torch.litert_torch"
    route = "conversion: litert_torch.convert -> LiteRT interpreter"
    requires = ("litert_torch", "ai_edge_litert")

    def supports(self, case: Case) -> str | None:
        return super().supports(case) or self._dtype_missing(case.dtype)

    def path(self, case: Case) -> str:
        """The converter and interpreter versions (the row's version is PyTorch's)."""
        litert_torch = import_framework("litert_torch")
        from importlib.metadata import version

        return f"litert-torch {litert_torch.__version__}, ai-edge-litert {version('ai-edge-litert')}"

    def sent(self, case: Case) -> dict[str, str]:
        """The layer's parameters (as the ONNX exporters send them) and whether an output_padding
        meets a padding in one dim (what litert-torch lowers as zeros padded after the result)."""
        sent = TorchOnnxExport.sent(self, case)
        sent["output_padding_over_padding"] = "yes" if _output_padding_over_padding(case) else "no"
        return sent

    def run(self, case: Case) -> np.ndarray:
        plans, _ = _plans(case)
        y = _interpret(_converted(case), _input(case))
        return _crop(np.asarray(y), case, plans)

    def gradient_support(self, case: Case) -> str | None:
        return "a LiteRT flatbuffer is run for inference only (the interpreter computes no gradients)"

    @cache  # noqa: B019 - adapters are module-level singletons
    def _dtype_missing(self, dtype: str) -> str | None:
        """Whether the converter and the interpreter carry this dtype at all (asked once, tiny case)."""
        error = probe_error(self.run, dtype)
        if error is not None:
            return f"{dtype} through litert_torch.convert and the LiteRT interpreter: {' '.join(str(error).split())[:200]}"
        return None


ADAPTERS = (TorchLiteRt(),)
